package dev.imagegen.internal;

import dev.imagegen.Cost;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.RoutingStrategy;
import dev.imagegen.spi.ProviderCapabilities;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** Routing: which providers a request goes to, in which order, and why the others are not asked. */
final class Router {
  private final Map<String, ProviderSlot> slots;
  private final RoutingStrategy strategy;

  /** The route of one request: the providers to try in order, and the ones skipped with their reasons. */
  record Route(List<ProviderSlot> candidates, Map<String, String> skipped) {}

  Router(Map<String, ProviderSlot> slots, RoutingStrategy strategy) {
    this.slots = slots;
    this.strategy = strategy;
  }

  /**
   * The providers for a request: ordered by the strategy, those that cannot honour a hard input
   * (or, for a strict request, any input) or for which the request is wrong (its prompt too long,
   * its sampler unknown) left out with the reason.
   */
  Route route(ImageGenerationRequest request, @Nullable String onlyProvider) {
    List<ProviderSlot> candidates = new ArrayList<>();
    Map<String, String> skipped = new LinkedHashMap<>();
    for (ProviderSlot s : order(request, onlyProvider)) {
      ProviderCapabilities caps = s.provider.capabilities();
      List<String> reasons = new ArrayList<>(caps.whyNot(request));
      reasons.addAll(caps.invalid(request, s.id()));
      if (reasons.isEmpty()) {
        candidates.add(s);
      } else {
        skipped.put(s.id(), String.join("; ", reasons));
      }
    }
    return new Route(candidates, skipped);
  }

  /** Every provider in routing order. */
  List<ProviderSlot> order(ImageGenerationRequest request, @Nullable String onlyProvider) {
    if (onlyProvider != null) {
      return List.of(slots.get(onlyProvider));
    }
    List<ProviderSlot> list = new ArrayList<>(slots.values());
    Comparator<ProviderSlot> byPriority = Comparator.<ProviderSlot>comparingInt(s -> s.priority).thenComparingInt(s -> s.order);
    if (strategy == RoutingStrategy.CHEAPEST) {
      Map<ProviderSlot, Cost> est = new LinkedHashMap<>();
      list.forEach(s -> est.put(s, s.costModel.estimate(request)));
      list.sort(Comparator.<ProviderSlot, Integer>comparing(s -> est.getOrDefault(s, Cost.unknown()).isKnown() ? 0 : 1)
          .thenComparing(s -> est.getOrDefault(s, Cost.unknown()).amountOrZero())
          .thenComparing(byPriority));
    } else if (strategy == RoutingStrategy.FASTEST) {
      Map<ProviderSlot, Long> med = new LinkedHashMap<>();
      list.forEach(s -> med.put(s, s.metrics.latency.medianNanos()));
      list.sort(Comparator.<ProviderSlot, Integer>comparing(s -> med.getOrDefault(s, -1L) < 0 ? 1 : 0)
          .thenComparing(s -> med.getOrDefault(s, -1L))
          .thenComparing(byPriority));
    } else {
      list.sort(byPriority);
    }
    return list;
  }
}
