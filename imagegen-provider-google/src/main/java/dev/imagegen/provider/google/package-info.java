/**
 * imagegen provider for Google's Gemini API image models: one
 * {@code POST https://generativelanguage.googleapis.com/v1beta/models/{model}:generateContent} per
 * image, with {@code responseModalities} including {@code IMAGE}; the image comes back inline
 * ({@code inlineData}, base64) among the answer's parts. Only
 * {@link dev.imagegen.provider.google.GoogleProviderFactory} is public.
 *
 * @see <a href="https://ai.google.dev/gemini-api/docs/image-generation">Gemini API: image generation</a>
 * @see <a href="https://ai.google.dev/api/generate-content">Gemini API: generateContent</a>
 */
@NullMarked
package dev.imagegen.provider.google;

import org.jspecify.annotations.NullMarked;
