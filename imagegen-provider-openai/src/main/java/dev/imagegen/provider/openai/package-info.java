/**
 * imagegen provider for the OpenAI Images API: text to image ({@code POST /v1/images/generations})
 * and edits with several reference images and a mask ({@code POST /v1/images/edits}, multipart)
 * on the GPT image models, on OpenAI itself, on an Azure OpenAI deployment, or on an
 * OpenAI-compatible server (Together, LocalAI). Only
 * {@link dev.imagegen.provider.openai.OpenAIProviderFactory} is public.
 *
 * @see <a href="https://platform.openai.com/docs/api-reference/images">OpenAI Images API</a>
 * @see <a href="https://learn.microsoft.com/azure/ai-foundry/openai/how-to/dall-e">Azure OpenAI image generation</a>
 */
@NullMarked
package dev.imagegen.provider.openai;

import org.jspecify.annotations.NullMarked;
