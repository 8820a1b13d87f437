package dev.imagegen.spi;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.imagegen.internal.Support;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A provider context outside any service, for testing the shared support directly. */
final class TestContext implements ProviderContext {
  final ProviderConfig config;
  final Redactor redactor = new Redactor();
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
  final ObjectMapper json = Support.mapper();
  final ProviderHttp http;
  final ImageDownloader downloader;

  TestContext(ProviderConfig config) {
    this.config = config;
    config.secrets().forEach(redactor::register);
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(2)).build();
    this.http = new ProviderHttp(this, client, Support.USER_AGENT, null, r -> null);
    this.downloader = new ImageDownloader(this, http);
  }

  @Override public String providerId() { return config.providerId(); }
  @Override public ProviderConfig config() { return config; }
  @Override public ObjectMapper json() { return json; }
  @Override public ScheduledExecutorService scheduler() { return scheduler; }
  @Override public Logger log() { return new RedactingLogger(LoggerFactory.getLogger("test"), redactor); }
  @Override public Redactor redactor() { return redactor; }
  @Override public ProviderHttp http() { return http; }
  @Override public ImageDownloader downloader() { return downloader; }
}
