package dev.imagegen.spi;

import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import org.jspecify.annotations.Nullable;

/**
 * Scrubs known secrets from text before it reaches a log line or an exception message. Thread-safe.
 * Each service has one, which knows every credential of every configured provider; values shorter
 * than 4 characters are not registered (they would blank out ordinary text).
 */
public final class Redactor {
  /** What a secret is replaced with. */
  public static final String MASK = "****";

  private final Set<String> secrets = new CopyOnWriteArraySet<>();

  /**
   * Registers a secret to scrub.
   *
   * @param secret the secret, or null (ignored)
   */
  public void register(@Nullable Secret secret) {
    if (secret != null && secret.reveal().length() >= 4) {
      secrets.add(secret.reveal());
    }
  }

  /**
   * Replaces every registered secret in a text with {@value #MASK}.
   *
   * @param text the text, or null
   * @return the scrubbed text (null stays null)
   */
  public @Nullable String redact(@Nullable String text) {
    if (text == null || secrets.isEmpty()) {
      return text;
    }
    String out = text;
    for (String s : secrets) {
      if (out.contains(s)) {
        out = out.replace(s, MASK);
      }
    }
    return out;
  }
}
