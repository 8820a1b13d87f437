package dev.imagegen.spi;

import java.io.ByteArrayOutputStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A {@code multipart/form-data} body (RFC 7578) for providers whose API takes one: text fields and
 * files, in the order added, with a random boundary. Field names and file names are quoted, and
 * a {@code "}, CR or LF in them is percent-encoded as browsers do, so no name can break the
 * framing; text values are UTF-8.
 *
 * <pre>{@code
 * Multipart form = Multipart.form()
 *     .field("prompt", request.prompt())
 *     .file("image[]", "image-0.png", "image/png", bytes);
 * HttpRequest post = postMultipart(ctx, "/images/edits", form);
 * }</pre>
 *
 * <p>The body has a known length ({@code Content-Length} is sent, never chunked), and it can be
 * sent more than once (a retry of a call that is safe to retry).
 */
public final class Multipart {

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final char[] BOUNDARY_CHARS =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".toCharArray();

  private final String boundary;
  private final List<Part> parts = new ArrayList<>();

  private Multipart(String boundary) {
    this.boundary = boundary;
  }

  /** An empty form with a fresh random boundary. */
  public static Multipart form() {
    StringBuilder b = new StringBuilder("imagegen-");
    for (int i = 0; i < 24; i++) {
      b.append(BOUNDARY_CHARS[RANDOM.nextInt(BOUNDARY_CHARS.length)]);
    }
    return new Multipart(b.toString());
  }

  /**
   * Adds a text field.
   *
   * @param name the field name
   * @param value its value, written as UTF-8
   * @return this form
   */
  public Multipart field(String name, String value) {
    parts.add(new Part(Objects.requireNonNull(name, "name"), null, null,
        Objects.requireNonNull(value, "value for " + name).getBytes(StandardCharsets.UTF_8)));
    return this;
  }

  /**
   * Adds a text field when the value is not null; does nothing otherwise.
   *
   * @param name the field name
   * @param value its value (any object, written with {@code toString()}), or null
   * @return this form
   */
  public Multipart fieldIfSet(String name, @Nullable Object value) {
    return value == null ? this : field(name, value.toString());
  }

  /**
   * Adds a file.
   *
   * @param name the field name, e.g. {@code image} or {@code image[]}
   * @param fileName the file name sent with it
   * @param contentType its media type, e.g. {@code image/png}
   * @param bytes its content
   * @return this form
   */
  public Multipart file(String name, String fileName, String contentType, byte[] bytes) {
    parts.add(new Part(Objects.requireNonNull(name, "name"), Objects.requireNonNull(fileName, "fileName"),
        Objects.requireNonNull(contentType, "contentType"), Objects.requireNonNull(bytes, "bytes for " + name).clone()));
    return this;
  }

  /** The field names, in order, one per part (a repeated field appears once per part). */
  public List<String> names() {
    List<String> names = new ArrayList<>(parts.size());
    for (Part p : parts) {
      names.add(p.name);
    }
    return List.copyOf(names);
  }

  /** The boundary that separates the parts. */
  public String boundary() {
    return boundary;
  }

  /** The {@code Content-Type} header value, {@code multipart/form-data; boundary=...}. */
  public String contentType() {
    return "multipart/form-data; boundary=" + boundary;
  }

  /** The encoded body. */
  public byte[] toByteArray() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Part p : parts) {
      StringBuilder head = new StringBuilder("--").append(boundary).append("\r\n")
          .append("Content-Disposition: form-data; name=\"").append(quoted(p.name)).append('"');
      if (p.fileName != null) {
        head.append("; filename=\"").append(quoted(p.fileName)).append('"');
      }
      head.append("\r\n");
      if (p.contentType != null) {
        head.append("Content-Type: ").append(p.contentType.replaceAll("[\r\n]", "")).append("\r\n");
      }
      head.append("\r\n");
      out.writeBytes(head.toString().getBytes(StandardCharsets.UTF_8));
      out.writeBytes(p.bytes);
      out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    out.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
    return out.toByteArray();
  }

  /** The body to send, with its length known. */
  public HttpRequest.BodyPublisher body() {
    return HttpRequest.BodyPublishers.ofByteArray(toByteArray());
  }

  private static String quoted(String name) {
    return name.replace("\"", "%22").replace("\r", "%0D").replace("\n", "%0A");
  }

  /** The parts' names and sizes; never their content. */
  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("Multipart[");
    for (int i = 0; i < parts.size(); i++) {
      Part p = parts.get(i);
      b.append(i == 0 ? "" : ", ").append(p.name);
      if (p.fileName != null) {
        b.append(" (").append(p.contentType).append(", ").append(p.bytes.length).append(" bytes)");
      }
    }
    return b.append(']').toString();
  }

  private record Part(String name, @Nullable String fileName, @Nullable String contentType, byte[] bytes) {}
}
