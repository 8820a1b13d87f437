/**
 * LangChain4j's {@code ImageModel} backed by imagegen: {@link dev.imagegen.langchain4j.ImagegenImageModel}
 * generates and edits with failover and returns the images with the provider, model, cost and
 * attempts in the response metadata.
 */
@NullMarked
package dev.imagegen.langchain4j;

import org.jspecify.annotations.NullMarked;
