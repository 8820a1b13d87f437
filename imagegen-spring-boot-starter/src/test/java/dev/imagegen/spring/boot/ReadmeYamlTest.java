package dev.imagegen.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.imagegen.ImageGenerationRequest;
import dev.imagegen.ImageGenerationService;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.core.env.PropertySource;
import org.springframework.core.io.ByteArrayResource;

/** The application.yml the READMEs show starts an application with fal and Replicate and no warning. */
class ReadmeYamlTest {

  private static final Pattern YAML = Pattern.compile("```yaml\\n(.*?)```", Pattern.DOTALL);

  @ParameterizedTest
  @ValueSource(strings = {"README.md", "../README.md"})
  void theReadmesApplicationYmlConfiguresFalAndReplicateWithoutWarnings(String readme) throws IOException {
    Matcher m = YAML.matcher(Files.readString(Path.of(readme), StandardCharsets.UTF_8));
    assertThat(m.find()).as("a yaml block in " + readme).isTrue();
    PropertySource<?> yaml = new YamlPropertySourceLoader()
        .load("application.yml", new ByteArrayResource(m.group(1).getBytes(StandardCharsets.UTF_8))).get(0);
    new ApplicationContextRunner()
        .withInitializer(FakeEnvironmentVariables.none())
        .withConfiguration(AutoConfigurations.of(ImageGenerationAutoConfiguration.class))
        .withInitializer(c -> c.getEnvironment().getPropertySources().addFirst(yaml))
        .withPropertyValues("FAL_KEY=fal-test-key", "REPLICATE_API_TOKEN=r8_test_token")
        .run(context -> {
          assertThat(context).hasNotFailed();
          ImageGenerationService service = context.getBean(ImageGenerationService.class);
          assertThat(service.providers()).containsExactlyInAnyOrder("fal", "replicate");
          assertThat(service.configurationWarnings()).isEmpty();
          // priority 1 first, Replicate the failover target
          assertThat(service.selectOptimalProvider(ImageGenerationRequest.of("a harbour at dawn"))).hasValue("fal");
        });
  }

}
