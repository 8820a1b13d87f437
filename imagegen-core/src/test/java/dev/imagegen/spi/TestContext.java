package dev.imagegen.spi;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
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
  final ObjectMapper json = JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .serializationInclusion(JsonInclude.Include.NON_NULL).build();
  final ProviderHttp http;
  final ImageDownloader downloader;

  TestContext(ProviderConfig config) {
    this.config = config;
    config.secrets().forEach(redactor::register);
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(2)).build();
    this.http = new ProviderHttp(this, client, "imagegen-java/test", null, r -> null);
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
