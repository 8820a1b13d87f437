package dev.imagegen.spi;

import java.util.Map;
import java.util.Objects;

/**
 * A remote job found again without its request, for {@link ImageProvider#resume} and
 * {@link ImageProvider#cancel(JobHandle, ProviderContext)}: the provider's job id and the handles
 * the provider registered with {@link GenerationContext#remoteJobStarted(String, Map, java.util.function.Supplier)}
 * (status and cancel URLs, an endpoint id). The handles come from a journal a person could edit:
 * a provider checks every URL against its own base before sending a credential to it.
 *
 * @param provider the provider id
 * @param remoteJobId the provider's job id
 * @param handles the provider's handles, never a credential
 */
public record JobHandle(String provider, String remoteJobId, Map<String, String> handles) {

  /** Copies the handles; nothing may be null. */
  public JobHandle {
    Objects.requireNonNull(provider, "provider");
    Objects.requireNonNull(remoteJobId, "remoteJobId");
    handles = Map.copyOf(handles);
  }

  /**
   * A handle's value.
   *
   * @param name the handle's name
   * @return its value, or null when the job has none
   */
  public @org.jspecify.annotations.Nullable String handle(String name) {
    return handles.get(name);
  }
}
