package dev.imagegen.provider.openai;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.imagegen.ImageFormat;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.provider.openai.OpenAIModels.Family;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * One call, planned from a request: the model, whether it is an edit, the fields under their wire
 * names (a JSON body for {@code /images/generations}; the same fields as form parts for
 * {@code /images/edits}), the input images (images first, then the mask) and the warnings about
 * what was not sent.
 *
 * @param model the model id sent
 * @param family its family
 * @param edit whether the call goes to {@code /images/edits}
 * @param body the fields, in wire order
 * @param n images asked for
 * @param inputs the input images, the mask last
 * @param seed the request's seed (sent to compatible servers only)
 * @param warnings what the result reports
 */
record OpenAIRequest(String model, Family family, boolean edit, ObjectNode body, int n, List<InputImage> inputs,
    @Nullable Long seed, List<String> warnings) {

  /**
   * Plans a request.
   *
   * @param p the provider
   * @param r the request
   * @return the plan
   * @throws InvalidRequestException listing every problem, before anything is sent
   */
  static OpenAIRequest plan(OpenAIProvider p, ImageGenerationRequest r) {
    String id = p.id();
    String model = p.modelOf(r);
    if (model == null) {
      throw InvalidRequestException.notServedHere("model '" + r.model() + "' is shut down (" + OpenAIProvider.RETIRED_MODELS
          + " lists it); use a live model such as " + p.defaultModel(), id);
    }
    boolean compatible = p.flavour() == OpenAIFlavour.COMPATIBLE;
    Family family = OpenAIModels.family(model, compatible);
    List<String> problems = new ArrayList<>();
    List<String> warnings = new ArrayList<>(p.capabilities().warnings(r));

    int n = r.numImages();
    if (n > family.maxImages) {
      problems.add(model + " makes at most " + family.maxImages + " image" + (family.maxImages == 1 ? "" : "s") + " per call, "
          + n + " were asked for");
    }
    String prompt = r.prompt() == null ? "" : r.prompt();
    if (prompt.length() > family.maxPrompt) {
      problems.add("prompt is " + prompt.length() + " characters; " + model + " takes at most " + family.maxPrompt);
    }
    String size = null;
    if (r.width() != null && r.height() != null) {
      String why = OpenAIModels.sizeProblem(family, model, r.width(), r.height());
      if (why != null) {
        problems.add(why);
      }
      size = r.width() + "x" + r.height();
      if (family == Family.GPT_IMAGE && (long) r.width() * r.height() > OpenAIModels.EXPERIMENTAL_PIXELS) {
        warnings.add("size " + size + " is above 2560x1440, which OpenAI calls experimental for " + model);
      }
    }

    List<InputImage> images = new ArrayList<>(r.inputImages(InputImage.Role.INIT));
    images.addAll(r.inputImages(InputImage.Role.REFERENCE));
    InputImage mask = r.mask();
    boolean edit = !images.isEmpty() || mask != null;
    if (edit && compatible) {
      problems.add("edits are not sent to an OpenAI-compatible server (only /images/generations is)");
    }
    if (mask != null && images.isEmpty()) {
      problems.add("a mask needs an image to edit (an init or reference image)");
    }
    if (images.size() > OpenAIModels.MAX_EDIT_IMAGES) {
      problems.add(images.size() + " input images; an edit takes at most " + OpenAIModels.MAX_EDIT_IMAGES);
    }
    if (edit && (family == Family.DALL_E_3 || (family == Family.DALL_E_2 && images.size() > 1))) {
      problems.add(model + " cannot edit " + (family == Family.DALL_E_3 ? "images" : "several images"));
    }

    // the options: configuration defaults, then the request's providerOptions
    Map<String, Object> opts = new LinkedHashMap<>(p.defaults());
    r.providerOptions(id).forEach((k, v) -> {
      String why = OpenAIOptions.problem(k, v);
      if (why != null) {
        problems.add(why);
      }
      opts.put(k, v);
    });

    ImageFormat format = ImageFormat.fromName(r.outputFormat());
    if (r.outputFormat() != null && format == null) {
      problems.add("output format '" + r.outputFormat() + "' is not png, jpeg or webp");
    }

    ObjectNode body = JsonNodeFactory.instance.objectNode();
    body.put("model", p.wireModel(model));
    body.put("prompt", prompt);
    body.put("n", n);
    if (size != null) {
      body.put("size", size);
    }
    if (family.gptImage()) {
      gptImageFields(body, opts, format, edit, family, model, problems, warnings);
    } else {
      dallEAndCompatibleFields(body, opts, format, family, model, p.responseFormat(), problems, warnings);
    }
    if (compatible) {
      if (r.width() != null && r.height() != null) {
        body.put("width", r.width()); // Together reads width/height, LocalAI reads size
        body.put("height", r.height());
      }
      String negative = r.effectiveNegativePrompt();
      if (negative != null && !negative.isBlank()) {
        body.put("negative_prompt", negative);
      }
      if (r.seed() != null) {
        body.put("seed", r.seed());
      }
    } else if (r.seed() != null) {
      warnings.add("seed not sent: the Images API takes no seed");
    }
    Object user = opts.get("user");
    if (user != null) {
      body.put("user", user.toString());
    }
    if (r.strength() != null) {
      warnings.add("strength not sent: the Images API takes no strength (an edit follows the prompt and the mask)");
    }
    if (!problems.isEmpty()) {
      throw new InvalidRequestException(problems, id, null);
    }
    List<InputImage> inputs = new ArrayList<>(images);
    if (mask != null) {
      inputs.add(mask);
    }
    return new OpenAIRequest(model, family, edit, body, n, List.copyOf(inputs), r.seed(), List.copyOf(warnings));
  }

  private static void gptImageFields(ObjectNode body, Map<String, Object> opts, @Nullable ImageFormat format, boolean edit,
      Family family, String model, List<String> problems, List<String> warnings) {
    String quality = text(opts.get("quality"));
    if (quality != null) {
      if (quality.equals("standard") || quality.equals("hd")) {
        problems.add("quality '" + quality + "' is DALL·E's; " + model + " takes low, medium, high or auto");
      } else {
        body.put("quality", quality);
      }
    }
    String background = text(opts.get("background"));
    if (background != null) {
      body.put("background", background);
    }
    if (format != null) {
      body.put("output_format", format == ImageFormat.JPEG ? "jpeg" : format.extension());
    }
    if ("transparent".equals(background) && OpenAIModels.noTransparency(model)) {
      problems.add(model + " makes no transparent background (use opaque or auto)");
    }
    if ("transparent".equals(background) && format == ImageFormat.JPEG) {
      problems.add("a transparent background needs png or webp output, not jpeg");
    }
    Object compression = opts.get("output_compression");
    if (compression != null) {
      if (format == ImageFormat.JPEG || format == ImageFormat.WEBP) {
        body.put("output_compression", Integer.parseInt(compression.toString().strip()));
      } else {
        warnings.add("output_compression not sent: it applies to jpeg and webp output only");
      }
    }
    String moderation = text(opts.get("moderation"));
    if (moderation != null) {
      if (edit) {
        warnings.add("moderation not sent: a multipart edit takes none");
      } else {
        body.put("moderation", moderation);
      }
    }
    String fidelity = text(opts.get("input_fidelity"));
    if (fidelity != null) {
      if (!edit) {
        warnings.add("input_fidelity not sent: it applies to edits only");
      } else if (model.toLowerCase(Locale.ROOT).startsWith("gpt-image-1-mini")) {
        warnings.add("input_fidelity not sent: " + model + " does not take it");
      } else {
        body.put("input_fidelity", fidelity);
      }
    }
    if (opts.get("style") != null) {
      warnings.add("style not sent: only dall-e-3 takes it");
    }
    // GPT image models always answer in base64 and take no response_format
  }

  private static void dallEAndCompatibleFields(ObjectNode body, Map<String, Object> opts, @Nullable ImageFormat format,
      Family family, String model, @Nullable String responseFormat, List<String> problems, List<String> warnings) {
    String quality = text(opts.get("quality"));
    if (quality != null && family == Family.DALL_E_3) {
      if (quality.equals("standard") || quality.equals("hd")) {
        body.put("quality", quality);
      } else if (!quality.equals("auto")) {
        problems.add("quality '" + quality + "': dall-e-3 takes standard or hd");
      }
    } else if (quality != null && !quality.equals("auto")) {
      warnings.add("quality not sent: " + model + " does not take it");
    }
    String style = text(opts.get("style"));
    if (style != null) {
      if (family == Family.DALL_E_3) {
        body.put("style", style);
      } else {
        warnings.add("style not sent: only dall-e-3 takes it");
      }
    }
    if (family == Family.COMPATIBLE && format != null) {
      body.put("output_format", format == ImageFormat.JPEG ? "jpeg" : format.extension());
    }
    for (String gptOnly : List.of("background", "moderation", "output_compression", "input_fidelity")) {
      if (opts.get(gptOnly) != null) {
        warnings.add(gptOnly + " not sent: " + model + " does not take it (GPT image models only)");
      }
    }
    // DALL·E: base64 unless URLs are asked for (they live 60 minutes); a compatible server: its own spelling
    String rf = family == Family.COMPATIBLE ? responseFormat : "url".equals(responseFormat) ? "url" : "b64_json";
    if (rf != null) {
      body.put("response_format", rf);
    }
  }

  private static @Nullable String text(@Nullable Object v) {
    return v == null ? null : v.toString().strip().toLowerCase(Locale.ROOT);
  }
}
