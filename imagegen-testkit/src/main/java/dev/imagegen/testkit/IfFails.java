package dev.imagegen.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * What to check when a kit test fails: {@link ProviderKit} appends this hint to the message of
 * every assertion that fails in the annotated test, so a plugin author reading a red test sees
 * where to look, e.g. {@code "check the error mapping of 401/403 ..."}. A subclass may put it on
 * its own tests too.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface IfFails {
  /**
   * The hint, starting with "check", in words a plugin author acts on.
   *
   * @return the hint
   */
  String value();
}
