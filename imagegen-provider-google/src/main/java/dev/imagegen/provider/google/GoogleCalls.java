package dev.imagegen.provider.google;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ContentPolicyException;
import dev.imagegen.GeneratedImage;
import dev.imagegen.GenerationCancelledException;
import dev.imagegen.ImageFormat;
import dev.imagegen.ProgressEvent;
import dev.imagegen.ProviderUnavailableException;
import dev.imagegen.provider.google.GoogleWire.Candidate;
import dev.imagegen.provider.google.GoogleWire.ModalityTokenCount;
import dev.imagegen.provider.google.GoogleWire.Part;
import dev.imagegen.provider.google.GoogleWire.Response;
import dev.imagegen.provider.google.GoogleWire.UsageMetadata;
import dev.imagegen.spi.GenerationContext;
import dev.imagegen.spi.HttpImageProvider;
import dev.imagegen.spi.ProviderResult;
import dev.imagegen.spi.ProviderSupport;
import java.net.http.HttpRequest;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The calls of one generation: one {@code generateContent} per image (the API makes one image per
 * call), at most {@code parallel-calls} at once, each answered with JSON whose parts hold the image
 * inline. An answer is read whole: a blocked prompt ({@code promptFeedback.blockReason}) or an
 * image-less candidate with a safety {@code finishReason} is a {@link ContentPolicyException}; an
 * image-less candidate for any other reason ({@code NO_IMAGE}, {@code STOP} with text only,
 * {@code MAX_TOKENS}) is a {@link ProviderUnavailableException} that says "no image" and quotes
 * the model's text. The tokens of every answered call are summed into the result's metadata, for
 * {@link GooglePrices}. Immutable and thread-safe.
 */
final class GoogleCalls {
  /** Config key: calls in flight at once for one request of several images. */
  static final String PARALLEL_CALLS = "parallel-calls";

  /** finishReason / blockReason values that are a refusal of the content. */
  static final Set<String> CONTENT_REASONS = Set.of("IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "SAFETY",
      "PROHIBITED_CONTENT", "RECITATION", "BLOCKLIST", "SPII");

  /**
   * What one request sends.
   *
   * @param model the model id called
   * @param path {@code /models/{model}:generateContent}
   * @param body the JSON body, the same for every call
   * @param calls how many calls (images)
   * @param wanted the output format asked for, or null
   * @param warnings what the result reports
   */
  record Plan(String model, String path, ObjectNode body, int calls, @Nullable ImageFormat wanted, List<String> warnings) {}

  /** The tokens one answer reported. */
  record Usage(long prompt, long image, long text, long thought) {
    static final Usage NONE = new Usage(0, 0, 0, 0);

    static Usage of(@Nullable UsageMetadata u) {
      if (u == null) {
        return NONE;
      }
      long image = 0;
      long text = 0;
      boolean detailed = false;
      if (u.candidatesTokensDetails() != null) {
        for (ModalityTokenCount m : u.candidatesTokensDetails()) {
          if (m == null || m.tokenCount() == null) {
            continue;
          }
          detailed = true;
          if ("IMAGE".equalsIgnoreCase(m.modality())) {
            image += m.tokenCount();
          } else {
            text += m.tokenCount();
          }
        }
      }
      if (!detailed && u.candidatesTokenCount() != null) {
        image = u.candidatesTokenCount(); // no breakdown: bill all output as image output (the dearer rate)
      }
      return new Usage(orZero(u.promptTokenCount()), image, text, orZero(u.thoughtsTokenCount()));
    }

    Usage plus(Usage o) {
      return new Usage(prompt + o.prompt, image + o.image, text + o.text, thought + o.thought);
    }

    private static long orZero(@Nullable Long v) {
      return v == null ? 0 : v;
    }
  }

  /** One call's image and what the answer said besides. */
  private record Shot(GeneratedImage image, @Nullable String modelVersion, @Nullable String responseId, String text,
      int extraImages) {}

  private final String id;
  private final HttpImageProvider provider;
  private final int parallel;

  /**
   * Reads the call settings.
   *
   * @param id the provider id
   * @param provider builds the requests, with the key
   * @param parallel calls in flight at once
   */
  GoogleCalls(String id, HttpImageProvider provider, int parallel) {
    this.id = id;
    this.provider = provider;
    this.parallel = parallel;
  }

  /** Runs a plan's calls, at most {@code parallel} at once; stops starting calls after a failure. */
  CompletableFuture<ProviderResult> run(Plan plan, GenerationContext ctx) {
    int n = plan.calls();
    Shot[] shots = new Shot[n];
    Throwable[] errors = new Throwable[n];
    Usage[] usages = new Usage[n];
    AtomicInteger next = new AtomicInteger();
    AtomicBoolean failed = new AtomicBoolean();
    List<CompletableFuture<Void>> workers = new ArrayList<>();
    for (int k = 0; k < Math.min(parallel, n); k++) {
      workers.add(work(plan, ctx, next, failed, shots, errors, usages));
    }
    return CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new))
        .thenCompose(v -> finish(plan, shots, errors, usages, next.get()));
  }

  private CompletableFuture<Void> work(Plan plan, GenerationContext ctx, AtomicInteger next, AtomicBoolean failed,
      @Nullable Shot[] shots, @Nullable Throwable[] errors, @Nullable Usage[] usages) {
    if (failed.get() || ctx.isCancelled()) {
      return CompletableFuture.completedFuture(null);
    }
    int i = next.getAndIncrement();
    if (i >= shots.length) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Shot> f;
    try {
      f = call(plan, ctx, i, usages);
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    return f.handle((s, e) -> {
      if (e != null) {
        errors[i] = ProviderSupport.unwrap(e);
        failed.set(true);
      } else {
        shots[i] = s;
      }
      return null;
    }).thenCompose(v -> work(plan, ctx, next, failed, shots, errors, usages));
  }

  /** One call: POST, read the answer, decode its image. */
  private CompletableFuture<Shot> call(Plan plan, GenerationContext ctx, int i, @Nullable Usage[] usages) {
    HttpRequest post = provider.postJson(ctx, plan.path(), plan.body());
    ctx.progress(ProgressEvent.of(id, ProgressEvent.Stage.SUBMITTED));
    return ctx.http().call(post, 1).thenCompose(r -> {
      Response res = ctx.http().parse(r, Response.class);
      usages[i] = Usage.of(res.usageMetadata());
      return read(ctx, plan, res);
    });
  }

  /** The image of an answer, or why there is none. */
  private CompletableFuture<Shot> read(GenerationContext ctx, Plan plan, Response res) {
    var feedback = res.promptFeedback();
    if (feedback != null && feedback.blockReason() != null && !feedback.blockReason().isBlank()) {
      throw new CompletionException(new ContentPolicyException("prompt blocked (promptFeedback.blockReason "
          + feedback.blockReason() + (feedback.blockReasonMessage() == null ? "" : ": " + clip(feedback.blockReasonMessage()))
          + ")", id));
    }
    List<Candidate> candidates = res.candidates() == null ? List.of()
        : res.candidates().stream().filter(Objects::nonNull).toList();
    if (candidates.isEmpty()) {
      throw new CompletionException(ProviderUnavailableException.failOver("no image: the answer (HTTP 200) has no candidate"
          + " and no promptFeedback", id, null));
    }
    Candidate c = candidates.get(0);
    List<Part> parts = c.content() == null || c.content().parts() == null ? List.of()
        : c.content().parts().stream().filter(Objects::nonNull).toList();
    List<String> images = new ArrayList<>();
    List<String> texts = new ArrayList<>();
    for (Part p : parts) {
      if (p.isThought()) {
        continue; // a thought (text or a draft image) is never the result
      }
      GoogleWire.Blob blob = p.inlineData();
      String data = blob == null ? null : blob.data();
      if (data != null && !data.isBlank()) {
        images.add(data);
      } else if (p.text() != null && !p.text().isBlank()) {
        texts.add(p.text());
      }
    }
    String text = clip(String.join(" ", texts));
    String reason = c.finishReason() == null ? "" : c.finishReason().toUpperCase(Locale.ROOT);
    if (images.isEmpty()) {
      String why = "finishReason " + (reason.isEmpty() ? "absent" : reason)
          + (c.finishMessage() == null ? "" : " (" + clip(c.finishMessage()) + ")")
          + (text.isEmpty() ? "" : "; the model said: \"" + text + "\"");
      if (CONTENT_REASONS.contains(reason)) {
        throw new CompletionException(new ContentPolicyException("image blocked: " + why, id));
      }
      String hint = reason.equals("MAX_TOKENS") ? "; the output was cut off (maxOutputTokens)"
          : reason.isEmpty() || reason.equals("STOP") ? "; the model answered with text only" : "";
      throw new CompletionException(ProviderUnavailableException.failOver("no image in the answer (HTTP 200): " + why + hint,
          id, null));
    }
    return ctx.downloader().image(images.get(0), null, false)
        .thenApply(img -> new Shot(img, res.modelVersion(), res.responseId(), text, images.size() - 1));
  }

  private CompletableFuture<ProviderResult> finish(Plan plan, @Nullable Shot[] shots, @Nullable Throwable[] errors,
      @Nullable Usage[] usages, int started) {
    int n = shots.length;
    List<Shot> ok = new ArrayList<>();
    Throwable firstError = null;
    int firstErrorIndex = -1;
    for (int i = 0; i < n; i++) {
      if (shots[i] != null) {
        ok.add(shots[i]);
      } else if (errors[i] != null && firstError == null) {
        firstError = errors[i];
        firstErrorIndex = i;
      }
    }
    if (ok.isEmpty()) {
      return CompletableFuture.failedFuture(firstError != null ? firstError
          : new GenerationCancelledException("no image requested before the attempt ended", id));
    }
    Usage total = Usage.NONE;
    int answered = 0;
    for (Usage u : usages) {
      if (u != null) {
        total = total.plus(u);
        answered++;
      }
    }
    ProviderResult.Builder b = ProviderResult.builder(plan.model());
    plan.warnings().forEach(b::warning);
    ok.forEach(s -> b.image(s.image()));
    Set<String> versions = ok.stream().map(Shot::modelVersion).filter(Objects::nonNull).collect(Collectors.toCollection(
        LinkedHashSet::new));
    b.metadata("model_version", versions.isEmpty() ? null : String.join(",", versions));
    String ids = ok.stream().map(Shot::responseId).filter(Objects::nonNull).collect(Collectors.joining(","));
    b.metadata("response_ids", ids.isEmpty() ? null : ids);
    String said = ok.stream().map(Shot::text).filter(t -> !t.isEmpty()).collect(Collectors.joining(" | "));
    b.metadata("model_text", said.isEmpty() ? null : clip(said));
    b.metadata("calls", Math.min(started, n));
    b.metadata(GooglePrices.PROMPT_TOKENS, total.prompt());
    b.metadata(GooglePrices.IMAGE_TOKENS, total.image());
    b.metadata(GooglePrices.TEXT_TOKENS, total.text());
    b.metadata(GooglePrices.THOUGHT_TOKENS, total.thought());
    int extra = ok.stream().mapToInt(Shot::extraImages).sum();
    if (extra > 0) {
      b.warning(id + ": " + extra + " more image(s) came back than asked for (one per call); the first of each answer was kept");
    }
    ImageFormat wanted = plan.wanted();
    if (wanted != null) {
      ok.stream().map(s -> s.image().mediaType()).distinct().filter(t -> !t.equals(wanted.mediaType())).forEach(t -> b.warning(
          id + ": returned " + t + ", not the " + wanted.name().toLowerCase(Locale.ROOT) + " asked for (the Gemini API does "
              + "not take an output format)"));
    }
    if (ok.size() < n) {
      b.metadata("images_requested", n);
      b.metadata("images_returned", ok.size());
      String why = firstError == null ? "the attempt ended"
          : "call " + (firstErrorIndex + 1) + " failed: " + firstError.getMessage();
      b.warning("only " + ok.size() + " of " + n + " images: " + why + "; no further call was made; the cost counts the "
          + "tokens of all " + answered + " answered call(s)");
    }
    return CompletableFuture.completedFuture(b.build());
  }

  private static String clip(@Nullable String text) {
    return ProviderSupport.clip(text, 300);
  }
}
