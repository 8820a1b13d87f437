package dev.imagegen.local.djl;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLIP BPE tokenizer on a toy vocabulary written as the optimum export's slow-tokenizer files. */
class ClipTokenizerTest {
  static final String VOCAB = """
      {"!": 0, "!</w>": 1, ",</w>": 2, "a</w>": 3, "c": 4, "a": 5, "t</w>": 6, "ca": 7, "cat</w>": 8,
       "d": 9, "o": 10, "g</w>": 11, "do": 12, "dog</w>": 13, "<|startoftext|>": 14, "<|endoftext|>": 15}
      """;
  static final String MERGES = "#version: 0.2\nc a\nca t</w>\nd o\ndo g</w>\n";

  /** Writes a toy tokenizer folder; pad token given in special_tokens_map.json, or none. */
  static Path write(Path dir, String padToken) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("vocab.json"), VOCAB);
    Files.writeString(dir.resolve("merges.txt"), MERGES);
    if (padToken != null) {
      Files.writeString(dir.resolve("special_tokens_map.json"),
          "{\"bos_token\": {\"content\": \"<|startoftext|>\"}, \"pad_token\": \"" + padToken + "\"}");
    }
    return dir;
  }

  @Test
  void normalisesSplitsAndMerges(@TempDir Path tmp) throws IOException {
    ClipTokenizer t = ClipTokenizer.load(write(tmp.resolve("tokenizer"), "<|endoftext|>"), 49407, new ObjectMapper());
    assertThat(t.tokenize("A   CAT, dog!")).containsExactly(3, 8, 2, 13, 1);
    ClipTokenizer.Encoding e = t.encode("A   CAT, dog!");
    assertThat(e.ids()).hasSize(77);
    assertThat(Arrays.copyOf(e.ids(), 8)).containsExactly(14, 3, 8, 2, 13, 1, 15, 15);
    assertThat(e.ids()[76]).isEqualTo(15);
    assertThat(e.truncated()).isFalse();
  }

  @Test
  void padIdsDifferBetweenTheTwoTokenizers(@TempDir Path tmp) throws IOException {
    ClipTokenizer one = ClipTokenizer.load(write(tmp.resolve("tokenizer"), "<|endoftext|>"), 49407, new ObjectMapper());
    ClipTokenizer two = ClipTokenizer.load(write(tmp.resolve("tokenizer_2"), "!"), 0, new ObjectMapper());
    assertThat(one.padId()).isEqualTo(15);
    assertThat(two.padId()).isEqualTo(0);
    assertThat(two.encode("dog").ids()).startsWith(14, 13, 15, 0, 0);
    // no pad token named: the default passed in
    ClipTokenizer three = ClipTokenizer.load(write(tmp.resolve("tokenizer_3"), null), 0, new ObjectMapper());
    assertThat(three.padId()).isEqualTo(0);
  }

  @Test
  void unknownSymbolsBecomeUnkAndLongPromptsKeepBosAndEos(@TempDir Path tmp) throws IOException {
    ClipTokenizer t = ClipTokenizer.load(write(tmp, "<|endoftext|>"), 49407, new ObjectMapper());
    assertThat(t.tokenize("zz")).containsExactly(15, 15); // one unk per unknown symbol (no fusing)
    ClipTokenizer.Encoding e = t.encode("cat ".repeat(100));
    assertThat(e.truncated()).isTrue();
    assertThat(e.contentTokens()).isEqualTo(100);
    assertThat(e.ids()[0]).isEqualTo(14);
    assertThat(e.ids()[75]).isEqualTo(8);
    assertThat(e.ids()[76]).isEqualTo(15);
  }
}
