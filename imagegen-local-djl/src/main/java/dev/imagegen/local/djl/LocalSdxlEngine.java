package dev.imagegen.local.djl;

import dev.imagegen.spi.ImageProvider;
import java.util.List;

/**
 * The local SDXL provider as its owner sees it: an {@link ImageProvider} plus control of the
 * loaded pipelines. Get one from {@link LocalSdxlProviderFactory#create} and hand it to
 * {@code ImageGenerationService.builder().provider(engine, config)} to keep a reference for
 * {@link #purge()}. Thread-safe.
 */
public interface LocalSdxlEngine extends ImageProvider {

  /**
   * Unloads every loaded pipeline, freeing its memory: idle ones at once, one that is generating
   * when its generation ends. The next request loads its model again.
   *
   * @return how many pipelines were unloaded
   */
  int purge();

  /** The aliases of the loaded pipelines, least recently used first. */
  List<String> loadedModels();
}
