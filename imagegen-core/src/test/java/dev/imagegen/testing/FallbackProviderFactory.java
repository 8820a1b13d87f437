package dev.imagegen.testing;

import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import dev.imagegen.spi.ProviderConfig;

/** A provider enabled only when nothing else is configured, like AI Horde's anonymous key. */
public final class FallbackProviderFactory implements ImageProviderFactory {
  @Override public String id() { return "fallback"; }
  @Override public boolean isConfigured(ProviderConfig config) { return config.apiKey().isPresent(); }
  @Override public boolean enabledWhenNothingConfigured() { return true; }
  @Override public ImageProvider create(ProviderConfig config) { return new ScriptedProvider("fallback"); }
}
