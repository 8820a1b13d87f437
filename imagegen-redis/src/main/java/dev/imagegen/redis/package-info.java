/**
 * A {@link dev.imagegen.BudgetStore} in Redis, so that several instances of an application share
 * one budget: {@link dev.imagegen.redis.RedisBudgetStore}.
 */
@NullMarked
package dev.imagegen.redis;

import org.jspecify.annotations.NullMarked;
