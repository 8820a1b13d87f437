/**
 * WireMock stubs that speak each provider's real wire protocol, one class per provider
 * ({@link dev.imagegen.testkit.stubs.HordeStubs}, {@link dev.imagegen.testkit.stubs.ReplicateStubs},
 * {@link dev.imagegen.testkit.stubs.FalStubs}, {@link dev.imagegen.testkit.stubs.RunPodStubs},
 * {@link dev.imagegen.testkit.stubs.HuggingFaceStubs}, {@link dev.imagegen.testkit.stubs.SdWebUiStubs},
 * {@link dev.imagegen.testkit.stubs.OpenAIStubs}, {@link dev.imagegen.testkit.stubs.StabilityStubs},
 * {@link dev.imagegen.testkit.stubs.GoogleStubs}, {@link dev.imagegen.testkit.stubs.BflStubs},
 * {@link dev.imagegen.testkit.stubs.BedrockStubs}),
 * and {@link dev.imagegen.testkit.stubs.Stubs}, which finds them by provider id.
 *
 * <p>Each class implements {@link dev.imagegen.testkit.ProviderStubs}: the provider modules' kit
 * tests use them, and the examples reuse them as a sandbox (local servers that answer like the
 * providers, with faults on request). The bodies, status codes and headers follow the protocol
 * documents in {@code ../shared/protocols/} (named in each class), not the provider modules' own
 * code: this package depends on no provider module, so a stub that agrees with a provider's
 * mapping proves the mapping matches the documents, not merely itself.
 *
 * <p>A stubs object registers mappings on the {@link com.github.tomakehurst.wiremock.WireMockServer}
 * it is given; it is not thread-safe (call it from the thread that sets up the server).
 */
@NullMarked
package dev.imagegen.testkit.stubs;

import org.jspecify.annotations.NullMarked;
