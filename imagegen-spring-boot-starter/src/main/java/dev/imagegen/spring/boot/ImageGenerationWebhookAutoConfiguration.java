package dev.imagegen.spring.boot;

import dev.imagegen.ImageGenerationService;
import dev.imagegen.WebhookReceiver;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.io.InputStream;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;
import org.springframework.http.MediaType;
import org.springframework.web.servlet.function.RouterFunction;
import org.springframework.web.servlet.function.RouterFunctions;
import org.springframework.web.servlet.function.ServerRequest;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * Mounts the service's {@link WebhookReceiver} in a servlet web application when
 * {@code imagegen.webhooks.endpoint.enabled=true}: {@code POST <path>/<provider-id>} (path
 * {@code imagegen.webhooks.endpoint.path}, default {@value #DEFAULT_PATH}) hands the headers and the
 * raw body to the receiver, which verifies the provider's signature and nudges the pending job, and
 * answers with its status and plain-text message. Set each provider's {@code webhook-url} to the
 * public URL of that path, e.g. {@code imagegen.replicate.webhook-url=https://app.example.com/imagegen/webhooks/replicate}.
 * Off by default: an endpoint that accepts requests from the internet is the operator's choice.
 */
@AutoConfiguration(after = ImageGenerationAutoConfiguration.class)
@ConditionalOnClass({RouterFunction.class, HttpServletRequest.class, ImageGenerationService.class})
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnBooleanProperty("imagegen.webhooks.endpoint.enabled")
@ConditionalOnBean(ImageGenerationService.class)
public class ImageGenerationWebhookAutoConfiguration {
  /** Where the endpoint is mounted unless {@code imagegen.webhooks.endpoint.path} says otherwise. */
  public static final String DEFAULT_PATH = "/imagegen/webhooks";

  /** Created by Spring. */
  public ImageGenerationWebhookAutoConfiguration() {}

  /**
   * The endpoint.
   *
   * @param service the service whose receiver handles the deliveries
   * @param environment where the path is read
   * @return the route
   */
  @Bean
  public RouterFunction<ServerResponse> imagegenWebhookEndpoint(ImageGenerationService service, Environment environment) {
    String path = environment.getProperty("imagegen.webhooks.endpoint.path", DEFAULT_PATH).replaceAll("/+$", "");
    WebhookReceiver receiver = service.webhooks();
    return RouterFunctions.route().POST(path + "/{provider}", request -> handle(receiver, request)).build();
  }

  private static ServerResponse handle(WebhookReceiver receiver, ServerRequest request) throws IOException {
    HttpServletRequest servlet = request.servletRequest();
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (String name : Collections.list(servlet.getHeaderNames())) {
      headers.put(name, Collections.list(servlet.getHeaders(name)));
    }
    byte[] body;
    try (InputStream in = servlet.getInputStream()) {
      body = in.readNBytes(WebhookReceiver.MAX_BODY_BYTES + 1); // one byte more: the receiver answers 413
    }
    return ServerResponse.async(receiver.handleAsync(request.pathVariable("provider"), headers, body)
        .thenApply(r -> ServerResponse.status(r.status()).contentType(MediaType.TEXT_PLAIN).body(r.message())));
  }
}
