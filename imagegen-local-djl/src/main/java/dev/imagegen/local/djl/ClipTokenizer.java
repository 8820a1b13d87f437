package dev.imagegen.local.djl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * CLIP's byte-level BPE tokenizer, built from the slow tokenizer's {@code vocab.json} and
 * {@code merges.txt} and behaving as the fast one ({@code CLIPTokenizerFast}): NFC, whitespace
 * runs to one space, lower case; CLIP's pre-tokenising regex; byte-to-unicode mapping; BPE with
 * {@code </w>} on each word's last symbol; BOS + at most 75 ids + EOS, padded to 77.
 *
 * <p>Immutable after construction; thread-safe. Word results are cached (bounded).
 */
final class ClipTokenizer {
  static final int MAX_LENGTH = 77;
  private static final Pattern PATTERN = Pattern.compile(
      "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
      Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);
  private static final String[] BYTE_TO_UNICODE = bytesToUnicode();

  private final Map<String, Integer> vocab;
  private final Map<String, Integer> mergeRanks;
  private final int bos;
  private final int eos;
  private final int pad;
  private final int unk;
  private final Map<String, int[]> cache = new LinkedHashMap<>(256, 0.75f, true) {
    private static final long serialVersionUID = 1L;

    @Override
    protected boolean removeEldestEntry(Map.Entry<String, int[]> eldest) {
      return size() > 10_000;
    }
  };

  ClipTokenizer(Map<String, Integer> vocab, List<String> merges, int pad) {
    this.vocab = Map.copyOf(vocab);
    Map<String, Integer> ranks = new HashMap<>();
    for (int i = 0; i < merges.size(); i++) {
      ranks.putIfAbsent(merges.get(i), i);
    }
    this.mergeRanks = ranks;
    this.bos = id("<|startoftext|>", 49406);
    this.eos = id("<|endoftext|>", 49407);
    this.unk = eos;
    this.pad = pad;
  }

  private int id(String token, int fallback) {
    Integer v = vocab.get(token);
    return v == null ? fallback : v;
  }

  /**
   * Loads a tokenizer folder of the optimum export ({@code vocab.json}, {@code merges.txt}, and
   * the pad token from {@code special_tokens_map.json} or {@code tokenizer_config.json}).
   *
   * @param dir the folder
   * @param defaultPad the pad id when the folder names none (49407 for {@code tokenizer}, 0 for {@code tokenizer_2})
   * @param json a JSON mapper
   * @throws IOException when a file cannot be read or parsed
   */
  static ClipTokenizer load(Path dir, int defaultPad, ObjectMapper json) throws IOException {
    JsonNode v = json.readTree(dir.resolve("vocab.json").toFile());
    Map<String, Integer> vocab = new HashMap<>(v.size() * 2);
    for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      vocab.put(e.getKey(), e.getValue().asInt());
    }
    List<String> merges = new ArrayList<>();
    for (String line : Files.readAllLines(dir.resolve("merges.txt"), StandardCharsets.UTF_8)) {
      if (line.startsWith("#version") || line.isBlank()) {
        continue;
      }
      merges.add(line.strip());
    }
    String padToken = padToken(dir.resolve("special_tokens_map.json"), json);
    if (padToken == null) {
      padToken = padToken(dir.resolve("tokenizer_config.json"), json);
    }
    int pad = defaultPad;
    if (padToken != null && vocab.containsKey(padToken)) {
      pad = vocab.get(padToken);
    }
    return new ClipTokenizer(vocab, merges, pad);
  }

  private static @Nullable String padToken(Path file, ObjectMapper json) throws IOException {
    if (!Files.isRegularFile(file)) {
      return null;
    }
    JsonNode p = json.readTree(file.toFile()).path("pad_token");
    if (p.isTextual()) {
      return p.asText();
    }
    if (p.isObject() && p.path("content").isTextual()) {
      return p.path("content").asText();
    }
    return null;
  }

  int padId() {
    return pad;
  }

  /** The result of encoding a prompt: 77 ids, and whether content was cut to fit. */
  record Encoding(long[] ids, boolean truncated, int contentTokens) {}

  /**
   * Encodes a prompt to 77 ids: BOS, at most 75 content ids, EOS, padding.
   *
   * @param text the prompt
   */
  Encoding encode(String text) {
    List<Integer> content = tokenize(text);
    boolean truncated = content.size() > MAX_LENGTH - 2;
    int n = Math.min(content.size(), MAX_LENGTH - 2);
    long[] ids = new long[MAX_LENGTH];
    ids[0] = bos;
    for (int i = 0; i < n; i++) {
      ids[i + 1] = content.get(i);
    }
    ids[n + 1] = eos;
    for (int i = n + 2; i < MAX_LENGTH; i++) {
      ids[i] = pad;
    }
    return new Encoding(ids, truncated, content.size());
  }

  /** The content ids of a prompt, without BOS, EOS or padding. */
  List<Integer> tokenize(String text) {
    String normalized = Normalizer.normalize(text, Normalizer.Form.NFC).replaceAll("\\s+", " ").strip()
        .toLowerCase(Locale.ROOT);
    List<Integer> out = new ArrayList<>();
    Matcher m = PATTERN.matcher(normalized);
    while (m.find()) {
      String token = m.group();
      StringBuilder mapped = new StringBuilder();
      for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
        mapped.append(BYTE_TO_UNICODE[b & 0xff]);
      }
      for (int id : bpe(mapped.toString())) {
        out.add(id);
      }
    }
    return out;
  }

  private int[] bpe(String word) {
    synchronized (cache) {
      int[] hit = cache.get(word);
      if (hit != null) {
        return hit;
      }
    }
    List<String> symbols = new ArrayList<>();
    int[] cps = word.codePoints().toArray();
    for (int i = 0; i < cps.length; i++) {
      String s = new String(cps, i, 1);
      symbols.add(i == cps.length - 1 ? s + "</w>" : s);
    }
    while (symbols.size() > 1) {
      int best = -1;
      int bestRank = Integer.MAX_VALUE;
      for (int i = 0; i < symbols.size() - 1; i++) {
        Integer r = mergeRanks.get(symbols.get(i) + " " + symbols.get(i + 1));
        if (r != null && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) {
        break;
      }
      String first = symbols.get(best);
      String second = symbols.get(best + 1);
      List<String> merged = new ArrayList<>(symbols.size());
      for (int i = 0; i < symbols.size(); i++) {
        if (i < symbols.size() - 1 && symbols.get(i).equals(first) && symbols.get(i + 1).equals(second)) {
          merged.add(first + second);
          i++;
        } else {
          merged.add(symbols.get(i));
        }
      }
      symbols = merged;
    }
    int[] ids = new int[symbols.size()];
    for (int i = 0; i < ids.length; i++) {
      Integer id = vocab.get(symbols.get(i));
      ids[i] = id == null ? unk : id;
    }
    synchronized (cache) {
      cache.put(word, ids);
    }
    return ids;
  }

  /** GPT-2's reversible byte to printable-unicode table. */
  private static String[] bytesToUnicode() {
    List<Integer> bs = new ArrayList<>();
    for (int b = '!'; b <= '~'; b++) {
      bs.add(b);
    }
    for (int b = 0xA1; b <= 0xAC; b++) {
      bs.add(b);
    }
    for (int b = 0xAE; b <= 0xFF; b++) {
      bs.add(b);
    }
    String[] table = new String[256];
    for (int b : bs) {
      table[b] = new String(Character.toChars(b));
    }
    int n = 0;
    for (int b = 0; b < 256; b++) {
      if (table[b] == null) {
        table[b] = new String(Character.toChars(256 + n));
        n++;
      }
    }
    return table;
  }
}
