package dev.imagegen.internal;

import dev.imagegen.BudgetPolicy;
import dev.imagegen.BudgetStore;
import dev.imagegen.JobJournal;
import dev.imagegen.RoutingStrategy;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;

/** What the public builder collected; read once by {@link Engine}. */
public final class EngineSettings {
  /** A provider and its configuration. */
  public record Entry(ImageProvider provider, ProviderConfig config) {}

  public final List<Entry> providers = new ArrayList<>();
  public RoutingStrategy routing = RoutingStrategy.PRIORITY;
  public Duration defaultTimeout = Duration.ofMinutes(5);
  public int maxRetries = 2;
  public Duration retryBase = Duration.ofMillis(500);
  public Duration retryMax = Duration.ofSeconds(10);
  public Duration maxRetryAfter = Duration.ofSeconds(10);
  public int breakerFailures = 5;
  public Duration breakerOpenFor = Duration.ofSeconds(30);
  public Duration authCooldown = Duration.ofMinutes(5);
  public Duration creditsCooldown = Duration.ofHours(1);
  public int defaultMaxConcurrent = 16;
  public boolean failoverOnContentPolicy;
  public boolean failoverOnInvalidRequest;
  public BudgetPolicy budget = BudgetPolicy.UNLIMITED;
  public @Nullable BudgetStore budgetStore;
  public @Nullable JobJournal journal;
  public @Nullable HttpClient httpClient;
  public @Nullable ScheduledExecutorService scheduler;
  public Duration shutdownGrace = Duration.ofSeconds(5);
  public dev.imagegen.@Nullable CacheConfig cache;
  public final List<dev.imagegen.Preset> presets = new ArrayList<>();
}
