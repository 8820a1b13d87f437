package dev.imagegen.spi;

import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.AbstractLogger;
import org.slf4j.helpers.MessageFormatter;

/**
 * An SLF4J logger that formats each line itself and scrubs every secret known to a
 * {@link Redactor} (from the message, its arguments and the exception's message) before passing
 * it on. Providers get one from {@link ProviderContext#log()}. Thread-safe.
 */
public final class RedactingLogger extends AbstractLogger {
  private static final long serialVersionUID = 1L;

  private final transient Logger delegate;
  private final transient Redactor redactor;

  /**
   * Wraps a logger.
   *
   * @param delegate the logger lines go to
   * @param redactor the secrets to scrub
   */
  public RedactingLogger(Logger delegate, Redactor redactor) {
    this.delegate = delegate;
    this.redactor = redactor;
    this.name = delegate.getName();
  }

  @Override
  protected @Nullable String getFullyQualifiedCallerName() {
    return null;
  }

  @Override
  protected void handleNormalizedLoggingCall(Level level, @Nullable Marker marker, String messagePattern,
      Object @Nullable [] arguments, @Nullable Throwable throwable) {
    String line = redactor.redact(MessageFormatter.basicArrayFormat(messagePattern, arguments));
    if (throwable != null) {
      String t = redactor.redact(throwable.getClass().getName() + ": " + throwable.getMessage());
      line = line + " [" + t + "]";
    }
    delegate.atLevel(level).log(line);
  }

  @Override public boolean isTraceEnabled() { return delegate.isTraceEnabled(); }
  @Override public boolean isTraceEnabled(Marker marker) { return delegate.isTraceEnabled(marker); }
  @Override public boolean isDebugEnabled() { return delegate.isDebugEnabled(); }
  @Override public boolean isDebugEnabled(Marker marker) { return delegate.isDebugEnabled(marker); }
  @Override public boolean isInfoEnabled() { return delegate.isInfoEnabled(); }
  @Override public boolean isInfoEnabled(Marker marker) { return delegate.isInfoEnabled(marker); }
  @Override public boolean isWarnEnabled() { return delegate.isWarnEnabled(); }
  @Override public boolean isWarnEnabled(Marker marker) { return delegate.isWarnEnabled(marker); }
  @Override public boolean isErrorEnabled() { return delegate.isErrorEnabled(); }
  @Override public boolean isErrorEnabled(Marker marker) { return delegate.isErrorEnabled(marker); }
}
