package dev.imagegen.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.Attempt;
import dev.imagegen.Cost;
import dev.imagegen.GeneratedImage;
import dev.imagegen.ImageGenerationResponse;
import dev.imagegen.Timings;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class QuickstartTest {
  @Test
  void printsAttemptsProviderTimingsAndCost() {
    byte[] webp = new byte[40];
    System.arraycopy("RIFF".getBytes(), 0, webp, 0, 4);
    System.arraycopy("WEBPVP8L".getBytes(), 0, webp, 8, 8);
    webp[20] = 0x2f;
    ImageGenerationResponse r = new ImageGenerationResponse("id", ImageGenerationResponse.Status.COMPLETED,
        List.of(GeneratedImage.of(webp, 42L, null, false)), "horde", "AlbedoBase XL (SDXL)", Duration.ofMillis(1500),
        new Timings(Duration.ofMillis(900), Duration.ofMillis(500), Duration.ofMillis(100), Duration.ofMillis(1500)), Cost.free(),
        List.of(new Attempt("fal", Attempt.Outcome.FAILED, dev.imagegen.ErrorKind.AUTHENTICATION, "fal: credentials refused",
            Duration.ofMillis(30), 1, null, false, false, null),
            new Attempt("horde", Attempt.Outcome.SUCCEEDED, null, null, Duration.ofMillis(1470), 1, "job", false, false, null)),
        Map.of(), List.of());
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    PrintStream old = System.out;
    System.setOut(new PrintStream(buf, true));
    try {
      Quickstart.print(r);
    } finally {
      System.setOut(old);
    }
    assertThat(buf.toString()).contains("fal          FAILED").contains("credentials refused")
        .contains("served by horde (model AlbedoBase XL (SDXL)) in 1500 ms: queue 900 ms, run 500 ms, download 100 ms")
        .contains("cost: 0 USD (free)").contains("image/webp 1x1, seed 42");
  }
}
