/**
 * The provider SPI and the support every provider shares: implement {@link dev.imagegen.spi.ImageProviderFactory} and {@link dev.imagegen.spi.ImageProvider}, and use {@link dev.imagegen.spi.ProviderHttp}, {@link dev.imagegen.spi.JobPoller} and {@link dev.imagegen.spi.ImageDownloader} instead of writing HTTP, polling or download code. Never imports {@code dev.imagegen.internal}.
 */
@NullMarked
package dev.imagegen.spi;

import org.jspecify.annotations.NullMarked;
