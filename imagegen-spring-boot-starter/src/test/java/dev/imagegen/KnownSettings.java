package dev.imagegen;

import java.util.List;

/** Test access to core's one list of service and module settings (package-private in core). */
public final class KnownSettings {
  private KnownSettings() {}

  /** Every service setting, as the part after {@code imagegen.}. */
  public static List<String> service() {
    return EnvironmentConfiguration.SERVICE_SETTINGS;
  }

  /** Every setting an optional module reads, as the part after {@code imagegen.}. */
  public static List<String> modules() {
    return EnvironmentConfiguration.MODULE_SETTINGS;
  }
}
