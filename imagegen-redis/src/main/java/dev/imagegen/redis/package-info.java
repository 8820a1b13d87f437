/**
 * A {@link dev.imagegen.BudgetStore} in Redis, so that several instances of an application share
 * one budget: {@link dev.imagegen.redis.RedisBudgetStore}; and a {@link dev.imagegen.JobJournal}
 * in Redis with instance leases, so that one instance resumes or cancels the remote jobs of another
 * that died: {@link dev.imagegen.redis.RedisJobJournal}.
 */
@NullMarked
package dev.imagegen.redis;

import org.jspecify.annotations.NullMarked;
