package dev.imagegen.spi;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;

/**
 * What the service lends a provider for calls outside a generation ({@code health},
 * {@code testConnection}, {@code listModels}): its configuration and the shared support.
 * Created by the service; thread-safe.
 */
public interface ProviderContext {

  /** The provider's id. */
  String providerId();

  /** The provider's configuration. */
  ProviderConfig config();

  /** The shared JSON mapper (unknown properties ignored, nulls not written). */
  ObjectMapper json();

  /** The shared scheduler for delays; never block its threads. */
  ScheduledExecutorService scheduler();

  /** A logger whose lines have every known secret scrubbed. */
  Logger log();

  /** The service's redactor. */
  Redactor redactor();

  /** HTTP support bound to this provider: user agent, timeouts, error mapping, redaction. */
  ProviderHttp http();

  /** Download of result images with size limit, timeout and retries. */
  ImageDownloader downloader();
}
