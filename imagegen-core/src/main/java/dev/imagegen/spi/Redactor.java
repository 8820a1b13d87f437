package dev.imagegen.spi;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import org.jspecify.annotations.Nullable;

/**
 * Scrubs known secrets from text before it reaches a log line or an exception message. Thread-safe.
 * Each service has one, which knows every credential of every configured provider; values shorter
 * than 4 characters are not registered (they would blank out ordinary text).
 *
 * <p>Each secret is scrubbed in the forms it takes on the way back from a server as well as raw:
 * URL-encoded, JSON-escaped ({@code \/}, {@code \"}, {@code \\}, and every punctuation character
 * as <code>&#92;u00XX</code>), and, for a {@code user:password} value, its HTTP Basic base64.
 * {@link #registerHeaderValue} also registers the token part of an {@code Authorization} value
 * and, for Basic, the decoded {@code user:password} and the password alone.
 */
public final class Redactor {
  /** What a secret is replaced with. */
  public static final String MASK = "****";
  private static final int MIN_LENGTH = 4;

  /** Every form to scrub, longest first so that a longer form is never half-replaced by a shorter one. */
  private final Set<String> originals = new CopyOnWriteArraySet<>();
  private volatile String[] forms = new String[0];

  /**
   * Registers a secret to scrub, with its derived forms.
   *
   * @param secret the secret, or null (ignored)
   */
  public void register(@Nullable Secret secret) {
    if (secret != null) {
      register(secret.reveal());
    }
  }

  /**
   * Registers the value of a credential header as sent ({@code Authorization: Bearer x},
   * {@code Basic base64(user:password)}, {@code Key id:secret}, {@code apikey: x}): the whole
   * value, the token after the scheme and, for Basic, the decoded {@code user:password} and the
   * password.
   *
   * @param value the header value, or null (ignored)
   */
  public void registerHeaderValue(@Nullable String value) {
    if (value == null) {
      return;
    }
    String v = value.strip();
    if (originals.contains(v)) {
      return;
    }
    register(v);
    int space = v.indexOf(' ');
    if (space > 0) {
      String scheme = v.substring(0, space);
      String token = v.substring(space + 1).strip();
      register(token);
      if (scheme.equalsIgnoreCase("Basic")) {
        try {
          String decoded = new String(Base64.getDecoder().decode(token), StandardCharsets.UTF_8);
          register(decoded);
          int colon = decoded.indexOf(':');
          if (colon >= 0) {
            register(decoded.substring(colon + 1));
          }
        } catch (IllegalArgumentException e) {
          // not base64: the raw forms are registered
        }
      }
    }
  }

  private synchronized void register(String secret) {
    if (secret.length() < MIN_LENGTH || !originals.add(secret)) {
      return;
    }
    Set<String> all = new LinkedHashSet<>(Arrays.asList(forms));
    all.addAll(derivedForms(secret));
    all.removeIf(f -> f.length() < MIN_LENGTH);
    String[] next = all.toArray(new String[0]);
    Arrays.sort(next, Comparator.comparingInt(String::length).reversed());
    forms = next;
  }

  /** The forms a secret may take in a server's answer. */
  static Set<String> derivedForms(String s) {
    Set<String> f = new LinkedHashSet<>();
    f.add(s);
    String url = URLEncoder.encode(s, StandardCharsets.UTF_8);
    f.add(url);
    f.add(url.replace("+", "%20"));
    f.add(lowerHexEscapes(url));
    String json = s.replace("\\", "\\\\").replace("\"", "\\\"");
    f.add(json);
    f.add(json.replace("/", "\\/"));
    f.add(unicodeEscaped(s, false));
    f.add(unicodeEscaped(s, true));
    if (s.indexOf(':') > 0) {
      String basic = Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
      f.add(basic);
    }
    return f;
  }

  private static String lowerHexEscapes(String url) {
    StringBuilder b = new StringBuilder(url.length());
    for (int i = 0; i < url.length(); i++) {
      char c = url.charAt(i);
      if (c == '%' && i + 2 < url.length()) {
        b.append('%').append(Character.toLowerCase(url.charAt(i + 1))).append(Character.toLowerCase(url.charAt(i + 2)));
        i += 2;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  /** Every character but letters and digits as <code>&#92;u00XX</code> (how some JSON writers escape {@code + / < > & =}). */
  private static String unicodeEscaped(String s, boolean upper) {
    StringBuilder b = new StringBuilder(s.length() * 2);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        b.append(c);
      } else {
        String hex = String.format(upper ? "%04X" : "%04x", (int) c);
        b.append("\\u").append(hex);
      }
    }
    return b.toString();
  }

  /**
   * Replaces every registered secret, in each of its forms, in a text with {@value #MASK}.
   *
   * @param text the text, or null
   * @return the scrubbed text (null stays null)
   */
  public @Nullable String redact(@Nullable String text) {
    String[] all = forms;
    if (text == null || all.length == 0) {
      return text;
    }
    String out = text;
    for (String s : all) {
      if (out.contains(s)) {
        out = out.replace(s, MASK);
      }
    }
    return out;
  }
}
