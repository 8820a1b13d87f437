package dev.imagegen.internal;

import dev.imagegen.BudgetPolicy;
import dev.imagegen.BudgetStore;
import dev.imagegen.JobJournal;
import dev.imagegen.Preset;
import dev.imagegen.RoutingStrategy;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ProviderConfig;
import java.net.http.HttpClient;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;

/**
 * What the public builder collected. The engine works on its own {@link #copy()}, so changing a
 * builder after {@code build()} changes no running service.
 */
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
  public boolean failoverOnUnknownOutcome;
  public int maxPending = 10_000;
  public Clock clock = Clock.systemUTC();
  public BudgetPolicy budget = BudgetPolicy.UNLIMITED;
  public @Nullable BudgetStore budgetStore;
  /** Where providers' requests-per-minute limits are shared; null: each service limits on its own. */
  public dev.imagegen.@Nullable RateLimitStore rateLimitStore;
  /** Where providers' auth and credit cool-downs are shared; null: each service finds out on its own. */
  public dev.imagegen.@Nullable CooldownStore cooldownStore;
  public @Nullable JobJournal journal;
  /** This service's instance id in the job journal (default: a random one). */
  public String instanceId = "i-" + java.util.UUID.randomUUID().toString().replace("-", "").substring(0, 16);
  /** Whether build runs {@code recover()} in the background. */
  public boolean recoverOnBuild;
  /** Where recovered jobs are delivered. */
  public java.util.function.@Nullable Consumer<dev.imagegen.RecoveredJob> onRecovered;
  public @Nullable HttpClient httpClient;
  public @Nullable ScheduledExecutorService scheduler;
  public Duration shutdownGrace = Duration.ofSeconds(5);
  public dev.imagegen.@Nullable CacheConfig cache;
  public final List<Preset> presets = new ArrayList<>();
  /** Who observes generations, in registration order. */
  public final List<dev.imagegen.GenerationListener> listeners = new ArrayList<>();
  /** The longest one health check waits. */
  public Duration healthTimeout = Duration.ofSeconds(5);
  /** How long a provider's health result is reused by the all-providers check. */
  public Duration healthCacheTtl = Duration.ofSeconds(10);
  /** How far a webhook delivery's timestamp may be from this host's clock. */
  public Duration webhookTolerance = Duration.ofMinutes(5);
  /** What a generation and the health check say when no provider is configured. */
  public String noProviderMessage = "no provider is configured";

  /** A copy: the lists are copied, the stores and clients are shared. */
  public EngineSettings copy() {
    EngineSettings c = new EngineSettings();
    c.providers.addAll(providers);
    c.routing = routing;
    c.defaultTimeout = defaultTimeout;
    c.maxRetries = maxRetries;
    c.retryBase = retryBase;
    c.retryMax = retryMax;
    c.maxRetryAfter = maxRetryAfter;
    c.breakerFailures = breakerFailures;
    c.breakerOpenFor = breakerOpenFor;
    c.authCooldown = authCooldown;
    c.creditsCooldown = creditsCooldown;
    c.defaultMaxConcurrent = defaultMaxConcurrent;
    c.failoverOnContentPolicy = failoverOnContentPolicy;
    c.failoverOnInvalidRequest = failoverOnInvalidRequest;
    c.failoverOnUnknownOutcome = failoverOnUnknownOutcome;
    c.maxPending = maxPending;
    c.clock = clock;
    c.budget = budget;
    c.budgetStore = budgetStore;
    c.rateLimitStore = rateLimitStore;
    c.cooldownStore = cooldownStore;
    c.journal = journal;
    c.instanceId = instanceId;
    c.recoverOnBuild = recoverOnBuild;
    c.onRecovered = onRecovered;
    c.httpClient = httpClient;
    c.scheduler = scheduler;
    c.shutdownGrace = shutdownGrace;
    c.cache = cache;
    c.presets.addAll(presets);
    c.listeners.addAll(listeners);
    c.healthTimeout = healthTimeout;
    c.healthCacheTtl = healthCacheTtl;
    c.noProviderMessage = noProviderMessage;
    c.webhookTolerance = webhookTolerance;
    return c;
  }
}
