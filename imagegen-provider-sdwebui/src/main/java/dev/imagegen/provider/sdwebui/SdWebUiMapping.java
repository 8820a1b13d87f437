package dev.imagegen.provider.sdwebui;

import dev.imagegen.ErrorKind;
import dev.imagegen.ImageGenerationException;
import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InvalidRequestException;
import dev.imagegen.Lora;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Maps an imagegen request to the WebUI's txt2img/img2img fields, checking sampler, scheduler,
 * LoRAs and checkpoint against the WebUI's lists where they are known (the WebUI itself silently
 * falls back to defaults for unknown names, quirk 4 of the protocol notes).
 */
final class SdWebUiMapping {
  /** Request option (providerOptions "sdwebui") naming the scheduler. */
  static final String OPTION_SCHEDULER = "scheduler";
  /** Request option merged into the WebUI's override_settings. */
  static final String OPTION_OVERRIDE_SETTINGS = "override_settings";

  /** WebUI fields a request may pass through providerOptions "sdwebui", as the WebUI names them. */
  static final Set<String> PASS_THROUGH = Set.of(
      "styles", "subseed", "subseed_strength", "seed_resize_from_h", "seed_resize_from_w", "restore_faces", "tiling",
      "enable_hr", "hr_scale", "hr_upscaler", "hr_second_pass_steps", "hr_resize_x", "hr_resize_y", "hr_sampler_name",
      "hr_scheduler", "hr_prompt", "hr_negative_prompt", "distilled_cfg_scale", "alwayson_scripts", "script_name",
      "script_args", "resize_mode", "mask_blur", "mask_blur_x", "mask_blur_y", "inpainting_fill", "inpaint_full_res",
      "inpaint_full_res_padding", "inpainting_mask_invert", "image_cfg_scale", "include_init_images", "eta", "s_churn",
      "s_tmin", "s_tmax", "s_noise", "override_settings_restore_afterwards");

  /** Fields imagegen sets from the request itself; an option may not override them. */
  private static final Set<String> FROM_REQUEST = Set.of("prompt", "negative_prompt", "seed", "sampler_name",
      "sampler_index", "batch_size", "n_iter", "steps", "cfg_scale", "width", "height", "init_images", "mask",
      "send_images", "save_images", "force_task_id");

  private SdWebUiMapping() {}

  /** What to send, before the input images are attached. */
  record Plan(SdWebUiWire.Generate body, Map<String, Object> extra, @Nullable String checkpoint) {}

  /** The options a request passes, checked before anything is sent. */
  record Options(@Nullable String scheduler, Map<String, Object> overrideSettings, Map<String, Object> extra) {}

  static Options options(ImageGenerationRequest request, String providerId) {
    Map<String, Object> given = request.providerOptions(providerId);
    List<String> v = new ArrayList<>();
    String scheduler = null;
    Map<String, Object> overrides = new LinkedHashMap<>();
    Map<String, Object> extra = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : given.entrySet()) {
      String k = e.getKey();
      Object val = e.getValue();
      if (k.equals(OPTION_SCHEDULER) && val instanceof String s && !s.isBlank()) {
        scheduler = s.strip();
      } else if (k.equals(OPTION_OVERRIDE_SETTINGS) && val instanceof Map<?, ?> m) {
        m.forEach((mk, mv) -> overrides.put(String.valueOf(mk), mv));
      } else if (PASS_THROUGH.contains(k)) {
        extra.put(k, val);
      } else {
        v.add(switch (k) {
          case OPTION_SCHEDULER -> "option '" + k + "' must be a scheduler name such as Karras";
          case OPTION_OVERRIDE_SETTINGS -> "option '" + k + "' must be an object of WebUI settings";
          default -> FROM_REQUEST.contains(k) ? "option '" + k + "' is set from the request itself (use the request's field)"
              : "unknown option '" + k + "' (known: " + OPTION_SCHEDULER + ", " + OPTION_OVERRIDE_SETTINGS + ", "
                  + String.join(", ", new TreeSet<>(PASS_THROUGH)) + ")";
        });
      }
    }
    if (!v.isEmpty()) {
      throw new InvalidRequestException(v, providerId, null);
    }
    return new Options(scheduler, overrides, extra);
  }

  static Plan plan(ImageGenerationRequest r, SdWebUiSettings s, Options o, SdWebUiCatalog.Snapshot known, String providerId,
      String taskId) {
    List<String> v = new ArrayList<>();
    String sampler = r.sampler() != null ? r.sampler() : s.defaultSampler;
    String scheduler = o.scheduler() != null ? o.scheduler() : s.defaultScheduler;
    String samplerName = null;
    if (sampler != null) {
      String[] resolved = sampler(sampler, scheduler, known, v);
      samplerName = resolved[0];
      if (scheduler == null) {
        scheduler = resolved[1];
      }
    }
    if (scheduler != null) {
      scheduler = scheduler(scheduler, known, v);
    }
    String prompt = r.prompt() + loras(r.loras(), known, v);
    if (!v.isEmpty()) {
      throw new InvalidRequestException(v, providerId, null);
    }
    String model = r.model() != null ? r.model() : s.defaultModel;
    String checkpoint = model == null ? null : checkpoint(model, s, known, providerId);
    Map<String, Object> overrides = new LinkedHashMap<>(o.overrideSettings());
    if (checkpoint != null) {
      overrides.put("sd_model_checkpoint", checkpoint);
    }
    boolean img2img = r.initImage() != null;
    SdWebUiWire.Generate body = new SdWebUiWire.Generate(
        prompt,
        r.effectiveNegativePrompt(),
        r.seed() != null ? r.seed() : -1L,
        samplerName,
        scheduler,
        r.numImages(),
        r.steps() != null ? r.steps() : s.defaultSteps,
        r.guidanceScale(),
        r.width(),
        r.height(),
        overrides.isEmpty() ? null : overrides,
        null,
        null,
        img2img ? r.strength() : null,
        taskId);
    return new Plan(body, o.extra(), checkpoint);
  }

  /**
   * {@code [sampler_name, scheduler or null]}; an old combined name such as "DPM++ 2M Karras" is
   * split when 1.9+ lists show it.
   */
  private static @Nullable String[] sampler(String wanted, @Nullable String scheduler, SdWebUiCatalog.Snapshot k,
      List<String> v) {
    List<SdWebUiWire.Sampler> samplers = k.samplers();
    if (samplers == null || samplers.isEmpty()) {
      return new String[] {wanted, null};
    }
    SdWebUiWire.Sampler match = findSampler(wanted, samplers);
    if (match != null) {
      return new String[] {match.name(), null};
    }
    List<SdWebUiWire.Scheduler> schedulers = k.schedulers();
    if (scheduler == null && schedulers != null) {
      for (SdWebUiWire.Scheduler sc : schedulers) {
        for (String label : schedulerNames(sc)) {
          String suffix = " " + label.toLowerCase(Locale.ROOT);
          if (wanted.toLowerCase(Locale.ROOT).endsWith(suffix)) {
            SdWebUiWire.Sampler base = findSampler(wanted.substring(0, wanted.length() - suffix.length()), samplers);
            if (base != null) {
              return new String[] {base.name(), sc.label() != null ? sc.label() : sc.name()};
            }
          }
        }
      }
    }
    v.add("sampler '" + wanted + "' is not offered by this WebUI (offers: " + samplers.stream().map(SdWebUiWire.Sampler::name)
        .filter(n -> n != null).collect(Collectors.joining(", ")) + ")");
    return new String[] {wanted, null};
  }

  /** The sampler of that name (ignoring case), else of a name or alias that compares loosely ({@link #norm}). */
  private static SdWebUiWire.@Nullable Sampler findSampler(String wanted, List<SdWebUiWire.Sampler> samplers) {
    String w = wanted.strip();
    String n = norm(w);
    List<SdWebUiWire.Sampler> named = samplers.stream().filter(s -> s.name() != null).toList();
    return named.stream().filter(s -> w.equalsIgnoreCase(s.name())).findFirst()
        .or(() -> named.stream().filter(s -> n.equals(norm(String.valueOf(s.name()))) || s.aliases() != null
            && s.aliases().stream().anyMatch(a -> a != null && (a.equalsIgnoreCase(w) || norm(a).equals(n)))).findFirst())
        .orElse(null);
  }

  private static String scheduler(String wanted, SdWebUiCatalog.Snapshot k, List<String> v) {
    List<SdWebUiWire.Scheduler> schedulers = k.schedulers();
    if (schedulers == null || schedulers.isEmpty()) {
      return wanted;
    }
    String n = norm(wanted);
    for (SdWebUiWire.Scheduler sc : schedulers) {
      for (String name : schedulerNames(sc)) {
        if (name.equalsIgnoreCase(wanted) || norm(name).equals(n)) {
          return sc.label() != null ? sc.label() : name;
        }
      }
    }
    v.add("scheduler '" + wanted + "' is not offered by this WebUI (offers: " + schedulers.stream()
        .map(sc -> sc.label() != null ? sc.label() : sc.name()).filter(x -> x != null).collect(Collectors.joining(", ")) + ")");
    return wanted;
  }

  private static List<String> schedulerNames(SdWebUiWire.Scheduler sc) {
    List<@Nullable String> out = new ArrayList<>(Arrays.asList(sc.label(), sc.name()));
    if (sc.aliases() != null) {
      out.addAll(sc.aliases());
    }
    return out.stream().filter(Objects::nonNull).toList();
  }

  /** The LoRA prompt syntax for the request's LoRAs, each checked against the WebUI's list when known. */
  private static String loras(List<Lora> loras, SdWebUiCatalog.Snapshot k, List<String> v) {
    StringBuilder sb = new StringBuilder();
    for (Lora l : loras) {
      String name = l.name().strip();
      if (name.indexOf(':') >= 0 || name.indexOf('<') >= 0 || name.indexOf('>') >= 0) {
        v.add("LoRA name '" + name + "' cannot hold ':', '<' or '>' (it goes into <lora:name:weight>)");
        continue;
      }
      List<SdWebUiWire.Lora> installed = k.loras();
      if (installed != null) {
        String asked = name;
        SdWebUiWire.Lora match = installed.stream()
            .filter(x -> asked.equalsIgnoreCase(x.name()) || asked.equalsIgnoreCase(x.alias())).findFirst().orElse(null);
        if (match == null) {
          v.add("LoRA '" + name + "' is not installed on this WebUI (installed: " + (installed.isEmpty() ? "none"
              : installed.stream().map(SdWebUiWire.Lora::name).filter(x -> x != null).limit(30)
                  .collect(Collectors.joining(", "))) + ")");
          continue;
        }
        if (match.name() != null && !name.equalsIgnoreCase(match.alias())) {
          name = match.name();
        }
      }
      sb.append(" <lora:").append(name).append(':').append(weight(l.weight())).append('>');
    }
    return sb.toString();
  }

  static String weight(double w) {
    String s = BigDecimal.valueOf(w).stripTrailingZeros().toPlainString();
    return s.equals("-0") ? "0" : s;
  }

  /**
   * The value for {@code override_settings.sd_model_checkpoint}: a configured alias resolved, and,
   * when the WebUI's list is known, the installed checkpoint's title (the WebUI silently ignores a
   * checkpoint it does not have).
   *
   * @throws ImageGenerationException when the checkpoint is not installed: another provider may
   *     have the model, so failover may help
   */
  static String checkpoint(String model, SdWebUiSettings s, SdWebUiCatalog.Snapshot k, String providerId) {
    String target = s.checkpointFor(model);
    List<SdWebUiWire.SdModel> installed = k.models();
    if (installed == null) {
      return target;
    }
    SdWebUiWire.SdModel m = findModel(target, installed);
    if (m != null) {
      return m.title() != null ? m.title() : target;
    }
    Set<String> names = new LinkedHashSet<>();
    installed.forEach(x -> names.add(x.modelName() != null ? x.modelName() : String.valueOf(x.title())));
    throw new ImageGenerationException("model '" + model + "'" + (target.equals(model) ? "" : " (checkpoint '" + target + "')")
        + " is not installed on this WebUI (installed: " + (names.isEmpty() ? "none" : String.join(", ", names))
        + "); map aliases with imagegen." + providerId + ".models=alias=checkpoint", providerId,
        ErrorKind.NO_CAPABLE_PROVIDER, false, true, null);
  }

  static SdWebUiWire.@Nullable SdModel findModel(String target, List<SdWebUiWire.SdModel> installed) {
    for (SdWebUiWire.SdModel m : installed) {
      if (names(m).stream().anyMatch(n -> n.equalsIgnoreCase(target))) {
        return m;
      }
    }
    return null;
  }

  /** Every name the WebUI accepts for a checkpoint: title, model name, file name, hashes. */
  static List<String> names(SdWebUiWire.SdModel m) {
    List<@Nullable String> out = new ArrayList<>(Arrays.asList(m.title(), m.modelName()));
    if (m.filename() != null) {
      String f = m.filename().replace('\\', '/');
      String base = f.substring(f.lastIndexOf('/') + 1);
      out.add(base);
      out.add(base.lastIndexOf('.') > 0 ? base.substring(0, base.lastIndexOf('.')) : null);
    }
    out.add(m.hash());
    out.add(m.sha256());
    out.add(m.sha256() != null && m.sha256().length() > 10 ? m.sha256().substring(0, 10) : null);
    return out.stream().filter(Objects::nonNull).toList();
  }

  /** Whether the checkpoint the WebUI reports having used is the one asked for. */
  static boolean sameModel(String asked, String used, @Nullable List<SdWebUiWire.SdModel> installed) {
    if (asked.equalsIgnoreCase(used)) {
      return true;
    }
    if (installed != null) {
      SdWebUiWire.SdModel m = findModel(asked, installed);
      if (m != null) {
        return names(m).stream().anyMatch(n -> n.equalsIgnoreCase(used));
      }
    }
    String a = asked.toLowerCase(Locale.ROOT);
    return a.startsWith(used.toLowerCase(Locale.ROOT) + ".") || a.startsWith(used.toLowerCase(Locale.ROOT) + " ");
  }

  /** Sampler names compared loosely: "dpmpp_2m" = "DPM++ 2M", "k_euler_a" = "Euler a". */
  static String norm(String s) {
    String t = s.strip().toLowerCase(Locale.ROOT).replace("++", "pp");
    if (t.startsWith("k_")) {
      t = t.substring(2);
    }
    return t.replaceAll("[^a-z0-9]", "");
  }
}
