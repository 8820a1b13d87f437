package dev.imagegen.spi;

import static com.github.tomakehurst.wiremock.client.WireMock.aMultipart;
import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Request;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The multipart body OpenAI's edits and Stability's endpoints take, read back by a real parser. */
class MultipartTest {
  private static WireMockServer server;

  @BeforeAll
  static void start() {
    server = new WireMockServer(options().dynamicPort());
    server.start();
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  @Test
  void fieldsAndRepeatedFilesArriveAsAServerParsesThem() throws Exception {
    server.resetAll();
    server.stubFor(post(urlEqualTo("/edits")).willReturn(aResponse().withStatus(200).withBody("{}")));
    byte[] first = {(byte) 0x89, 'P', 'N', 'G', 0, 1, 2, '\r', '\n', '-', '-'};
    byte[] second = {1, 2, 3};
    Multipart form = Multipart.form()
        .field("prompt", "a café at dusk, \"quoted\"\r\nsecond line")
        .fieldIfSet("n", 2)
        .fieldIfSet("user", null)
        .file("image[]", "a.png", "image/png", first)
        .file("image[]", "b.png", "image/png", second);
    TestContext ctx = new TestContext(ProviderConfig.builder("acme").baseUrl(server.baseUrl()).build());
    var request = ctx.http().request(java.net.URI.create(server.baseUrl() + "/edits"))
        .header("Content-Type", form.contentType()).POST(form.body()).build();

    assertThat(ctx.http().call(request).get().status()).isEqualTo(200);

    server.verify(postRequestedFor(urlEqualTo("/edits"))
        .withHeader("Content-Type", equalTo("multipart/form-data; boundary=" + form.boundary()))
        .withHeader("Content-Length", equalTo(String.valueOf(form.toByteArray().length)))
        .withRequestBodyPart(aMultipart("prompt").withBody(equalTo("a café at dusk, \"quoted\"\r\nsecond line")).build())
        .withRequestBodyPart(aMultipart("n").withBody(equalTo("2")).build()));
    LoggedRequest logged = server.findAll(postRequestedFor(urlEqualTo("/edits"))).get(0);
    List<Request.Part> images = logged.getParts().stream().filter(p -> p.getName().equals("image[]")).toList();
    assertThat(images).hasSize(2);
    assertThat(images.get(0).getBody().asBytes()).isEqualTo(first);
    assertThat(images.get(1).getBody().asBytes()).isEqualTo(second);
    assertThat(images.get(0).getHeader("Content-Type").firstValue()).isEqualTo("image/png");
    assertThat(logged.getParts()).extracting(Request.Part::getName).doesNotContain("user");
    assertThat(form.names()).containsExactly("prompt", "n", "image[]", "image[]");
  }

  @Test
  void aQuoteOrLineBreakInANameCannotBreakTheFraming() {
    Multipart form = Multipart.form().file("x\"; name=\"evil", "a\r\nContent-Type: text/html", "image/png", new byte[] {1});
    String text = new String(form.toByteArray(), StandardCharsets.ISO_8859_1);
    assertThat(text).contains("name=\"x%22; name=%22evil\"; filename=\"a%0D%0AContent-Type: text/html\"");
    assertThat(text.lines().filter(l -> l.startsWith("Content-Type:")).toList()).containsExactly("Content-Type: image/png");
  }

  @Test
  void eachFormHasItsOwnBoundaryAndToStringShowsNoContent() {
    Multipart a = Multipart.form().field("prompt", "secret prompt").file("image", "i.png", "image/png", new byte[] {9, 9});
    assertThat(a.boundary()).isNotEqualTo(Multipart.form().boundary());
    assertThat(a.toString()).isEqualTo("Multipart[prompt, image (image/png, 2 bytes)]").doesNotContain("secret");
    assertThat(new String(a.toByteArray(), StandardCharsets.UTF_8)).endsWith("--" + a.boundary() + "--\r\n");
  }
}
