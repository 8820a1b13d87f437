/**
 * imagegen's AI Horde provider: {@link dev.imagegen.provider.horde.HordeProviderFactory} is the
 * only public type. Wire protocol: the Horde's v2 API,
 * <a href="https://aihorde.net/api/">https://aihorde.net/api/</a> (swagger) and
 * <a href="https://github.com/Haidra-Org/AI-Horde/blob/main/README_integration.md">README_integration.md</a>.
 */
@NullMarked
package dev.imagegen.provider.horde;

import org.jspecify.annotations.NullMarked;
