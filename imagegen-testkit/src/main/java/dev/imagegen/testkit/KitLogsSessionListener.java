package dev.imagegen.testkit;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Installs the kit's log capture ({@link KitLogs#install()}) when a JUnit test run starts, before
 * any test class loads: SLF4J binds once per JVM, so a provider's own tests that run before the
 * kit's would otherwise bind it to nothing, and the kit could not check that no secret reaches a
 * log line. Does nothing when the class path has an application's binding. Registered in
 * {@code META-INF/services/org.junit.platform.launcher.LauncherSessionListener}.
 */
public final class KitLogsSessionListener implements LauncherSessionListener {
  /** Created by the JUnit Platform. */
  public KitLogsSessionListener() {}

  @Override
  public void launcherSessionOpened(LauncherSession session) {
    KitLogs.install();
  }
}
