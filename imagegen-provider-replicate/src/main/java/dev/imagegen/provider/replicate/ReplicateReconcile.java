package dev.imagegen.provider.replicate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.ImageBytes;
import dev.imagegen.spi.Reconciliation;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;

/**
 * The lookup of {@link ReplicateProvider#reconcile} for one create whose answer was lost, then
 * the adoption of its prediction. Replicate documents no idempotency key, but List predictions
 * ({@code GET /predictions}, most recent first) shows every prediction of the account with its
 * {@code model}, {@code version}, {@code source}, {@code created_at} and the {@code input} it was
 * created with. After a short settling delay ({@value ReplicateProvider#RECONCILE_DELAY}), the
 * first page is read (with {@code created_after} a little before the create was sent), and the
 * next one at most once when the first does not reach back that far. A prediction is the
 * create's when it has the create's model (or version), source {@code api}, was created no
 * earlier than {@link #CLOCK_SKEW} before the create was sent, is not one this provider already
 * knows, and echoes exactly the input fields the create sent (numbers by value; file inputs sent
 * as data URIs only need to be present: Replicate may echo them as file URLs). One that lacks its
 * input or creation time, or echoes the fields sent plus others, might be the create's.
 *
 * <ul>
 *   <li>exactly one such prediction, and none that might be: it is adopted (registered for
 *       cancellation, waited for like a created one): {@code FOUND} with its images;
 *       {@code CANCELLED} when it ended {@code canceled} or {@code aborted}; {@code UNKNOWN}
 *       when it failed;</li>
 *   <li>none, on a listing that reaches back before the create: {@code NOT_SUBMITTED}, so the
 *       service may create it again;</li>
 *   <li>several, one that might be, a listing that does not reach back far enough in two pages,
 *       or a listing that fails (any error, 404 included, or the deadline):
 *       {@code UNKNOWN}, the attempt stops as possibly billed.</li>
 * </ul>
 */
final class ReplicateReconcile {
  /**
   * How much earlier than the create was sent a prediction's {@code created_at} may be and still be
   * that create's: the clocks of this host and of Replicate may differ by a few seconds.
   */
  static final Duration CLOCK_SKEW = Duration.ofSeconds(5);
  private static final String ID = ReplicateProvider.ID;

  private final ReplicateProvider provider;
  /** The attempt whose create got no answer. */
  private final ReplicatePrediction sent;
  private final GenerationContext ctx;
  /** Created no earlier than this, a prediction may be the create's. */
  private final Instant from;
  private final List<ReplicateWire.Prediction> matches = new ArrayList<>();
  private final List<ReplicateWire.Prediction> unsure = new ArrayList<>();
  /** Whether the pages read reach back to before {@link #from}, or to the last page. */
  private boolean complete;

  ReplicateReconcile(ReplicateProvider provider, ReplicatePrediction sent, GenerationContext ctx) {
    this.provider = provider;
    this.sent = sent;
    this.ctx = ctx;
    this.from = sent.sentAt.minus(CLOCK_SKEW);
  }

  /** List, match, then adopt (as an attempt at {@code request} in this context), retry or stop; never fails. */
  CompletableFuture<Reconciliation> run(ImageGenerationRequest request) {
    CompletableFuture<Reconciliation> found;
    try {
      ReplicatePrediction run = new ReplicatePrediction(provider, request, ctx);
      Duration settle = Collections.min(List.of(provider.reconcileDelay, ctx.remaining().dividedBy(2)));
      URI first = provider.url("/predictions?created_after="
          + URLEncoder.encode(from.truncatedTo(ChronoUnit.MILLIS).toString(), StandardCharsets.UTF_8));
      found = ctx.delay(settle).thenCompose(v -> list(first)).thenCompose(page -> {
        if (add(page)) {
          return CompletableFuture.completedFuture(null);
        }
        URI next = provider.within(page.next());
        return next == null ? CompletableFuture.completedFuture(null) : list(next).thenAccept(this::add);
      }).thenCompose(v -> decide(run));
    } catch (RuntimeException e) {
      found = CompletableFuture.failedFuture(e);
    }
    return found.exceptionally(e -> ctx.isCancelled() ? Reconciliation.unknown()
        : unknown("List predictions could not settle it (" + ReplicateProvider.failure(e).getMessage() + ")", null));
  }

  private CompletableFuture<ReplicateWire.Page> list(URI uri) {
    return ctx.http().json(provider.request(ctx, uri).GET().build(), ReplicateWire.Page.class);
  }

  /**
   * Sorts a page's predictions; whether the pages read so far are complete: the page is the last,
   * or its oldest (last) prediction was created before {@link #from}.
   */
  private boolean add(ReplicateWire.Page page) {
    List<ReplicateWire.Prediction> results = page.results();
    if (results == null) {
      throw new CompletionException(ProviderUnavailableException.failOver("List predictions answered without 'results'", ID,
          null));
    }
    for (ReplicateWire.Prediction p : results) {
      Fit fit = p == null ? Fit.OTHER : fit(p);
      if (fit != Fit.OTHER) {
        (fit == Fit.MATCH ? matches : unsure).add(p);
      }
    }
    Instant oldest = results.isEmpty() || results.get(results.size() - 1) == null ? null
        : ReplicateWire.instant(results.get(results.size() - 1).createdAt());
    complete = page.next() == null || page.next().isBlank() || oldest != null && oldest.isBefore(from);
    return complete;
  }

  private CompletableFuture<Reconciliation> decide(ReplicatePrediction run) {
    String why = null; // why the listing cannot settle the create's outcome
    if (matches.size() > 1) {
      why = matches.size() + " predictions created since have its input (" + ids(matches) + "); none is adopted";
    } else if (!unsure.isEmpty()) {
      why = "List predictions shows " + unsure.size() + " that may be its prediction but lack their input or creation time ("
          + ids(unsure) + ")";
    } else if (!complete) {
      why = "two pages of List predictions do not reach back to when it was sent";
    }
    if (why != null) {
      return CompletableFuture.completedFuture(unknown(why, null));
    }
    if (matches.isEmpty()) {
      ctx.log().info("{}: the prediction create for {} got no answer and List predictions shows no prediction it made; it "
          + "may be sent again", ID, sent.target.displayName());
      return CompletableFuture.completedFuture(new Reconciliation(Reconciliation.State.NOT_SUBMITTED, null, null));
    }
    ReplicateWire.Prediction p = matches.get(0);
    String id = Objects.requireNonNull(p.id()); // a match has an id
    if (!provider.known.add(id)) {
      return CompletableFuture.completedFuture(unknown("its prediction " + id + " is accounted for by another generation",
          null));
    }
    return run.adopt(p).handle((r, e) -> {
      if (e == null) {
        return new Reconciliation(Reconciliation.State.FOUND, r, id);
      }
      ImageGenerationException x = ReplicateProvider.failure(e);
      if (ctx.isCancelled()) {
        throw new CompletionException(x);
      }
      if (x instanceof GenerationCancelledException || x instanceof ProviderUnavailableException pu && pu.notBilled()) {
        ctx.log().info("{}: prediction {}, found for a create that got no answer, was stopped at Replicate: {}", ID, id,
            x.getMessage());
        return new Reconciliation(Reconciliation.State.CANCELLED, null, id);
      }
      return unknown("its prediction " + id + " brought no images (" + x.getMessage() + ")", id);
    });
  }

  /** Logs why the create's outcome stays unknown; the lookup's answer, naming the prediction found if any. */
  private Reconciliation unknown(String why, @Nullable String id) {
    ctx.log().warn("{}: the prediction create for {} got no answer and {}; nothing is resubmitted, and it may be billed "
        + "(check https://replicate.com/predictions)", ID, sent.target.displayName(), why);
    return new Reconciliation(Reconciliation.State.UNKNOWN, null, id);
  }

  private static String ids(List<ReplicateWire.Prediction> ps) {
    return String.join(", ", ps.stream().map(p -> p.id() == null ? "(no id)" : p.id()).toList());
  }

  private Fit fit(ReplicateWire.Prediction p) {
    String id = p.id();
    Instant created = ReplicateWire.instant(p.createdAt());
    if (!sameModel(p, sent.target) || p.source() != null && !"api".equalsIgnoreCase(p.source().strip())
        || id != null && provider.known.contains(id) || created != null && created.isBefore(from)) {
      return Fit.OTHER;
    }
    JsonNode in = p.input();
    if (in == null || !in.isObject() || Boolean.TRUE.equals(p.dataRemoved())) {
      return Fit.UNSURE;
    }
    if (!sameInput(sent.input, in)) {
      return Fit.OTHER;
    }
    return !addsFields(sent.input, in) && created != null && id != null && !id.isBlank() ? Fit.MATCH : Fit.UNSURE;
  }

  /** How a listed prediction relates to the create being reconciled. */
  private enum Fit {
    /** Certainly another prediction. */
    OTHER,
    /**
     * Could be the create's: its input or creation time is missing, or its input holds every field
     * sent and more (Replicate echoes the input as sent, so it is most likely another request, but
     * a default Replicate filled in cannot be ruled out).
     */
    UNSURE,
    /** The create's model, source, time and input. */
    MATCH
  }

  /** Whether a prediction was made by the target's create: same version when one is sent, else same model. */
  private static boolean sameModel(ReplicateWire.Prediction p, ReplicateModels.Target t) {
    String version = t.version();
    if (version != null) {
      String v = p.version() == null ? "" : p.version().strip().toLowerCase(Locale.ROOT);
      return v.equals(version) || v.endsWith(":" + version); // a target's version is in lower case
    }
    return t.model() != null && p.model() != null && t.model().equalsIgnoreCase(p.model().strip());
  }

  /**
   * Whether an echoed input holds every field sent, with the same value: numbers compared by value
   * ({@code 9} and {@code 9.0} are the same), a file sent as a data URI only present (Replicate
   * may keep the file and echo its URL). Fields the echo adds are not looked at here
   * ({@link #addsFields}).
   */
  static boolean sameInput(JsonNode sent, JsonNode echoed) {
    return sent.isObject() && echoed.isObject() && sent.properties().stream().allMatch(f -> {
      JsonNode e = echoed.get(f.getKey());
      return e == null || e.isNull() ? f.getValue().isNull() : sameValue(f.getValue(), e);
    });
  }

  /** Whether an echoed input has a (non-null) top-level field that was not sent. */
  static boolean addsFields(JsonNode sent, JsonNode echoed) {
    return echoed.properties().stream().anyMatch(f -> !f.getValue().isNull() && !sent.has(f.getKey()));
  }

  private static boolean sameValue(JsonNode a, JsonNode b) {
    if (a.isNumber()) {
      return b.isNumber() && a.decimalValue().compareTo(b.decimalValue()) == 0;
    }
    if (a.isTextual()) {
      return b.isTextual() && (ImageBytes.isDataUri(a.asText()) ? !b.asText().isBlank() : a.asText().equals(b.asText()));
    }
    if (a.isArray()) {
      return b.isArray() && a.size() == b.size() && IntStream.range(0, a.size()).allMatch(i -> sameValue(a.get(i), b.get(i)));
    }
    if (a.isObject()) {
      return b.isObject() && a.size() == b.size() && sameInput(a, b);
    }
    return a.equals(b);
  }
}
