package dev.imagegen.spi;

import java.util.Objects;

/**
 * A credential. Its {@link #toString()} never shows the value; only {@link #reveal()} does, and
 * only code that puts it on the wire should call that. Every secret a service knows is also
 * scrubbed from log lines and exception messages.
 */
public final class Secret {
  private final String value;

  private Secret(String value) {
    this.value = Objects.requireNonNull(value, "value");
  }

  /**
   * Wraps a credential.
   *
   * @param value the credential
   */
  public static Secret of(String value) {
    return new Secret(value);
  }

  /** The credential itself, for an HTTP header. */
  public String reveal() {
    return value;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Secret s && s.value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }

  @Override
  public String toString() {
    return "Secret[****]";
  }
}
