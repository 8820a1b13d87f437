package dev.imagegen.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.spi.ImageDownloader;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import dev.imagegen.spi.ProviderContext;
import dev.imagegen.spi.ProviderHttp;
import dev.imagegen.spi.RedactingLogger;
import dev.imagegen.spi.Redactor;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A provider's context outside a generation. */
final class BaseContext implements ProviderContext {
  final Support support;
  final ImageProvider provider;
  private final ProviderConfig config;
  private final Logger log;
  private final ProviderHttp http;
  private final ImageDownloader downloader;

  BaseContext(Support support, ImageProvider provider, ProviderConfig config) {
    this.support = support;
    this.provider = provider;
    this.config = config;
    this.log = new RedactingLogger(LoggerFactory.getLogger("dev.imagegen.provider." + provider.id()),
        support.redactor);
    this.http = new ProviderHttp(this, support.http, Support.USER_AGENT, null, r -> provider.mapError(r, this));
    this.downloader = new ImageDownloader(this, http);
  }

  @Override public String providerId() { return provider.id(); }
  @Override public ProviderConfig config() { return config; }
  @Override public ObjectMapper json() { return support.json; }
  @Override public ScheduledExecutorService scheduler() { return support.scheduler; }
  @Override public Logger log() { return log; }
  @Override public Redactor redactor() { return support.redactor; }
  @Override public ProviderHttp http() { return http; }
  @Override public ImageDownloader downloader() { return downloader; }
}
