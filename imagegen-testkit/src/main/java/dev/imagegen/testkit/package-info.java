/**
 * The provider contract test kit: {@link dev.imagegen.testkit.ProviderKit}, the JUnit 5 suite a
 * provider's test extends, {@link dev.imagegen.testkit.ProviderStubs}, what the provider's test
 * supplies, and {@link dev.imagegen.testkit.StubImages}, real images for stubs to answer with.
 * See the module's README for the scenarios.
 */
@NullMarked
package dev.imagegen.testkit;

import org.jspecify.annotations.NullMarked;
