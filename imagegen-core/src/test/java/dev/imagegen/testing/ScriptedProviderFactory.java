package dev.imagegen.testing;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;
import java.util.List;
import java.util.Map;

/** Registered in test scope through META-INF/services: proves discovery and environment config. */
public final class ScriptedProviderFactory implements ImageProviderFactory {
  @Override public String id() { return "scripted"; }
  @Override public Map<String, List<String>> customaryEnvironment() { return Map.of("api-key", List.of("SCRIPTED_TOKEN")); }
  @Override public boolean isConfigured(ProviderConfig config) { return config.apiKey().isPresent(); }
  @Override public ImageProvider create(ProviderConfig config) { return new ScriptedProvider("scripted"); }
}
