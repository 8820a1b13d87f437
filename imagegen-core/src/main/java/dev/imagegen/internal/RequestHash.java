package dev.imagegen.internal;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.InputImage;
import dev.imagegen.Lora;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The content address of a request: SHA-256 over a canonical text of every field that changes the
 * images (the final prompt, negative prompt, model, size, count, seed, steps, guidance, sampler,
 * LoRAs, strength, output format, input images' hashes and roles, provider options in key order)
 * and a namespace. Fields that do not change the images (timeout, preset name, style names once
 * expanded) are left out.
 */
final class RequestHash {
  private RequestHash() {}

  static String of(ImageGenerationRequest r, String namespace) {
    StringBuilder sb = new StringBuilder(256);
    field(sb, "ns", namespace);
    field(sb, "prompt", r.prompt());
    field(sb, "negative", r.negativePrompt());
    field(sb, "model", r.model());
    field(sb, "width", r.width());
    field(sb, "height", r.height());
    field(sb, "n", r.numImages());
    field(sb, "seed", r.seed());
    field(sb, "steps", r.steps());
    field(sb, "guidance", r.guidanceScale());
    field(sb, "sampler", r.sampler());
    field(sb, "strength", r.strength());
    field(sb, "format", r.outputFormat());
    if (r.strict()) { // only when set, so the keys of existing entries stay the same
      field(sb, "strict", "true");
    }
    for (Lora l : r.loras()) {
      field(sb, "lora", l.name() + "@" + l.weight());
    }
    for (InputImage i : r.inputImages()) {
      field(sb, "image", i.role() + ":" + i.sha256());
    }
    Map<String, Object> opts = new TreeMap<>();
    r.providerOptions().forEach((p, m) -> m.forEach((k, v) -> opts.put(p + "." + k, v)));
    opts.forEach((k, v) -> field(sb, "opt." + k, v));
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(sb.toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void field(StringBuilder sb, String name, @Nullable Object value) {
    String v = String.valueOf(value);
    // length-prefixed so that no two different requests share a canonical text
    sb.append(name).append('=').append(v.length()).append(':').append(v).append('\n');
  }
}
