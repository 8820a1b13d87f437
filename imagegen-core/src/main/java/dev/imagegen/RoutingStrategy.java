package dev.imagegen;

/**
 * How {@code generateImageWithFailover} orders the capable providers.
 */
public enum RoutingStrategy {
  /** By configured priority (lower first), then by registration order. The default. */
  PRIORITY,
  /** By estimated cost, cheapest first; unknown prices last. Ties by priority. */
  CHEAPEST,
  /** By observed median latency, fastest first; providers not yet observed keep priority order after observed ones. */
  FASTEST
}
