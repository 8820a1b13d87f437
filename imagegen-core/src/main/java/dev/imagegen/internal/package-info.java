/**
 * imagegen's engine: routing, failover, retries, rate limits, budgets, metrics, cache and jobs. Not an API: nothing outside imagegen-core may import it, and it changes without notice.
 */
@NullMarked
package dev.imagegen.internal;

import org.jspecify.annotations.NullMarked;
