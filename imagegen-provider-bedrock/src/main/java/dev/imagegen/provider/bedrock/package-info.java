/**
 * Amazon Bedrock's image models as an imagegen provider: {@code InvokeModel}
 * ({@code POST /model/{modelId}/invoke} on {@code bedrock-runtime}) through the AWS SDK for Java
 * v2's asynchronous client, which signs with SigV4. Amazon Nova Canvas and Titan Image Generator v2
 * (text to image, inpainting with a mask, variation of reference images) and Stability's models on
 * Bedrock (text to image; image to image on SD3.5 Large), each with its own body. Enabled by
 * configuring {@code imagegen.bedrock.region} and credentials; see
 * {@link dev.imagegen.provider.bedrock.BedrockProviderFactory}.
 *
 * @see <a href="https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html">InvokeModel</a>
 */
@NullMarked
package dev.imagegen.provider.bedrock;

import org.jspecify.annotations.NullMarked;
