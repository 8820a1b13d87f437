package dev.imagegen.micrometer;

import dev.imagegen.Attempt;
import dev.imagegen.ErrorKind;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ModelInfo;
import java.util.Collection;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/** The tag names and the low-cardinality values both the meters and the observations use. */
final class Semconv {
  static final String OPERATION = "gen_ai.operation.name";
  static final String PROVIDER = "gen_ai.provider.name";
  static final String REQUEST_MODEL = "gen_ai.request.model";
  static final String RESPONSE_MODEL = "gen_ai.response.model";
  static final String ERROR_TYPE = "error.type";
  static final String OUTCOME = "imagegen.attempt.outcome";
  static final String COST_SOURCE = "imagegen.cost.source";
  static final String BUDGET_SCOPE = "imagegen.budget.scope";
  static final String GENERATION_ID = "imagegen.generation.id";
  static final String REMOTE_JOB_ID = "imagegen.remote_job.id";
  static final String ATTEMPT_NUMBER = "imagegen.attempt.number";
  static final String CACHED = "imagegen.cached";
  static final String PROMPT = "imagegen.prompt";

  static final String GENERATE = "generate_image";
  static final String EDIT = "edit_image";
  /** The provider tag when no provider served or failed (no capable provider, all failed). */
  static final String NO_PROVIDER = "none";
  /** The error type of a success, unless error.type is only set on failure. */
  static final String NO_ERROR = "none";
  /** The model tag of a request that names no model. */
  static final String DEFAULT_MODEL = "default";
  /** The model tag of a request whose model is not a known one. */
  static final String OTHER_MODEL = "other";

  private Semconv() {}

  /** {@code edit_image} when the request has an input image, else {@code generate_image}. */
  static String operation(ImageGenerationRequest request) {
    return request.inputImages().isEmpty() ? GENERATE : EDIT;
  }

  static String errorType(ErrorKind kind) {
    return kind.name().toLowerCase(Locale.ROOT);
  }

  static String outcome(Attempt.Outcome outcome) {
    return outcome.name().toLowerCase(Locale.ROOT);
  }

  static String provider(@Nullable String provider) {
    return provider == null ? NO_PROVIDER : provider;
  }

  /**
   * The models whose names may become a tag value: the request's model is user input, so any other
   * name is tagged {@link #OTHER_MODEL} and the number of distinct values stays bounded.
   */
  static final class KnownModels {
    private final Set<String> names = ConcurrentHashMap.newKeySet();

    void addAll(Collection<String> models) {
      for (String m : models) {
        if (m != null && !m.isBlank()) {
          names.add(m);
        }
      }
    }

    void addListed(Collection<ModelInfo> models) {
      for (ModelInfo m : models) {
        names.add(m.id());
        names.addAll(m.aliases());
      }
    }

    String tag(@Nullable String requested) {
      if (requested == null || requested.isBlank()) {
        return DEFAULT_MODEL;
      }
      return names.contains(requested) ? requested : OTHER_MODEL;
    }
  }
}
