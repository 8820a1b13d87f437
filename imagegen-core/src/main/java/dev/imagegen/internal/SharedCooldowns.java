package dev.imagegen.internal;

import dev.imagegen.CooldownStore;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * One service's subscription to its {@link CooldownStore}: a cool-down another instance published
 * is applied to this service's slot for that provider (never published again), and logged once at
 * INFO when it starts or extends one.
 */
final class SharedCooldowns {
  private final AutoCloseable subscription;
  private final Logger log;

  private SharedCooldowns(AutoCloseable subscription, Logger log) {
    this.subscription = subscription;
    this.log = log;
  }

  /** Subscribes, or returns null without a store (or when the store's subscribe throws: logged at WARN). */
  static @Nullable SharedCooldowns subscribe(@Nullable CooldownStore store, Map<String, ProviderSlot> slots, Logger log) {
    if (store == null) {
      return null;
    }
    try {
      return new SharedCooldowns(store.subscribe(c -> {
        ProviderSlot slot = slots.get(c.providerId());
        if (slot != null && slot.coolDownFromPeer(c.remaining(), c.kind(), c.reason())) {
          log.info("{} is cooling down for {}: {} (seen by another instance); generations here skip it until then",
              c.providerId(), AttemptLog.human(c.remaining()), c.reason());
        }
      }), log);
    } catch (RuntimeException e) {
      log.warn("the cool-down store {} could not subscribe ({}); cool-downs are not shared with this instance", store,
          e.toString());
      return null;
    }
  }

  /** Stops the delivery. */
  void close() {
    try {
      subscription.close();
    } catch (Exception e) {
      log.warn("closing the cool-down subscription failed: {}", e.toString());
    }
  }
}
