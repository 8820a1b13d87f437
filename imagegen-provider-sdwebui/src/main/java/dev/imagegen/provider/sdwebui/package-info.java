/**
 * A self-hosted Stable Diffusion WebUI (AUTOMATIC1111 or Forge, started with {@code --api}) as an
 * imagegen provider: {@code POST /sdapi/v1/txt2img} and {@code /sdapi/v1/img2img}, progress from
 * {@code GET /sdapi/v1/progress}, cancel with {@code POST /sdapi/v1/interrupt}. Enabled by
 * configuring {@code imagegen.sdwebui.base-url}; see {@link dev.imagegen.provider.sdwebui.SdWebUiProviderFactory}.
 *
 * @see <a href="https://github.com/AUTOMATIC1111/stable-diffusion-webui/wiki/API">the WebUI's API</a>
 */
@NullMarked
package dev.imagegen.provider.sdwebui;

import org.jspecify.annotations.NullMarked;
