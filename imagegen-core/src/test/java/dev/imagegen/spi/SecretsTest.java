package dev.imagegen.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;

class SecretsTest {
  private static final String KEY = "r8_SECRETSECRETSECRET";

  @Test
  void configAndSecretNeverShowTheKey() {
    ProviderConfig c = ProviderConfig.builder("replicate").apiKey(KEY).set("webhook-secret", "whsec_abcdef")
        .set("base-url", "https://api.example.com").build();
    assertThat(c.toString()).doesNotContain(KEY).doesNotContain("whsec_abcdef").contains("api-key=****")
        .contains("base-url=https://api.example.com");
    assertThat(Secret.of(KEY).toString()).isEqualTo("Secret[****]");
    assertThat(c.secrets()).extracting(Secret::reveal).containsExactlyInAnyOrder(KEY, "whsec_abcdef");
  }

  @Test
  void everyDerivedFormOfASecretIsRedacted() {
    String key = "ab/cd+ef:gh\\\"ij";
    Redactor r = new Redactor();
    r.register(Secret.of(key));
    String basic = java.util.Base64.getEncoder().encodeToString(key.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    String url = java.net.URLEncoder.encode(key, java.nio.charset.StandardCharsets.UTF_8);
    String json = key.replace("\\", "\\\\").replace("\"", "\\\"");
    for (String form : List.of(key, url, url.replace("+", "%20"), json, json.replace("/", "\\/"), basic,
        "ab\\u002fcd\\u002bef\\u003agh\\u005c\\u0022ij")) {
      assertThat(r.redact("x " + form + " y")).as(form).isEqualTo("x " + Redactor.MASK + " y");
    }
  }

  @Test
  void aBasicAuthorizationHeaderRegistersItsPasswordAndPair() {
    Redactor r = new Redactor();
    String basic = java.util.Base64.getEncoder().encodeToString("admin:s3cr3t-pw".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    r.registerHeaderValue("Basic " + basic);
    assertThat(r.redact("Authorization: Basic " + basic)).doesNotContain(basic);
    assertThat(r.redact("pair admin:s3cr3t-pw")).doesNotContain("s3cr3t-pw");
    assertThat(r.redact("password s3cr3t-pw")).isEqualTo("password " + Redactor.MASK);
  }

  @Test
  void loggerScrubsMessagesArgumentsAndThrowables() {
    List<String> lines = new ArrayList<>();
    LegacyAbstractLogger sink = new LegacyAbstractLogger() {
      @Override protected String getFullyQualifiedCallerName() { return null; }
      @Override protected void handleNormalizedLoggingCall(Level level, Marker marker, String msg, Object[] args, Throwable t) {
        lines.add(org.slf4j.helpers.MessageFormatter.basicArrayFormat(msg, args) + (t == null ? "" : " " + t.getMessage()));
      }
      @Override public boolean isTraceEnabled() { return true; }
      @Override public boolean isDebugEnabled() { return true; }
      @Override public boolean isInfoEnabled() { return true; }
      @Override public boolean isWarnEnabled() { return true; }
      @Override public boolean isErrorEnabled() { return true; }
    };
    Redactor r = new Redactor();
    r.register(Secret.of(KEY));
    RedactingLogger log = new RedactingLogger(sink, r);
    log.info("calling with key " + KEY);
    log.warn("header {} failed", "Bearer " + KEY);
    log.error("boom", new IllegalStateException("echoed " + KEY));
    assertThat(lines).hasSize(3).allSatisfy(l -> assertThat(l).doesNotContain(KEY).contains("****"));
  }
}
