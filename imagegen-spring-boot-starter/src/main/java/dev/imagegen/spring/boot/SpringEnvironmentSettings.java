package dev.imagegen.spring.boot;

import dev.imagegen.ConfigurationException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.EnumerablePropertySource;
import org.springframework.core.env.Environment;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.PropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/**
 * Reads the {@code imagegen.*} properties of a Spring {@link Environment} into the flat, dotted,
 * kebab-case names that {@code ImageGenerationService.Builder.configureFrom} reads: nested YAML
 * keys are already dotted by Spring; {@code apiKey} and {@code api_key} become {@code api-key}
 * (Spring's relaxed forms); a segment in brackets ({@code [black-forest-labs/flux-schnell]}) is
 * kept as written, without the brackets. Environment variables are not read here: they are passed
 * to core as they are, which reads {@code IMAGEGEN_*} and each provider's customary variables.
 */
final class SpringEnvironmentSettings {

  static final String PREFIX = "imagegen.";

  private SpringEnvironmentSettings() {}

  /**
   * The {@code imagegen.*} properties of every enumerable property source but the environment
   * variables', by canonical name; of two spellings of one name the higher-precedence source wins.
   *
   * @throws ConfigurationException naming every property whose value cannot be resolved (a
   *     placeholder with no value)
   */
  static Properties imagegenProperties(Environment environment) {
    Map<String, String> byCanonical = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    if (environment instanceof ConfigurableEnvironment configurable) {
      for (PropertySource<?> source : configurable.getPropertySources()) {
        if (!(source instanceof EnumerablePropertySource<?> enumerable) || isEnvironmentVariables(source)) {
          continue;
        }
        for (String name : enumerable.getPropertyNames()) {
          String canonical = canonical(name);
          if (!canonical.startsWith(PREFIX) || byCanonical.containsKey(canonical)) {
            continue;
          }
          try {
            String value = environment.getProperty(name);
            if (value != null) {
              byCanonical.put(canonical, value);
            }
          } catch (IllegalArgumentException e) {
            // an unresolvable placeholder: the message names the placeholder, never a value
            problems.add(name + " (" + source.getName() + "): " + e.getMessage());
          }
        }
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigurationException(problems);
    }
    Properties out = new Properties();
    byCanonical.forEach(out::setProperty);
    return out;
  }

  private static boolean isEnvironmentVariables(PropertySource<?> source) {
    return source instanceof SystemEnvironmentPropertySource
        || StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME.equals(source.getName());
  }

  /**
   * The environment variables as Spring sees them: the source of its {@code systemEnvironment}
   * property source (the process's variables, unless the application or a test replaced them),
   * else the process's.
   */
  static Map<String, String> environmentVariables(Environment environment) {
    Map<String, ?> raw = System.getenv();
    if (environment instanceof ConfigurableEnvironment configurable) {
      PropertySource<?> source = configurable.getPropertySources().get(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME);
      raw = source instanceof MapPropertySource map ? map.getSource() : configurable.getSystemEnvironment();
    }
    Map<String, String> out = new HashMap<>();
    raw.forEach((k, v) -> {
      if (v != null) {
        out.put(k, v.toString());
      }
    });
    return out;
  }

  /**
   * The name with each dotted segment in kebab case ({@code imagegen.fal.apiKey} and
   * {@code imagegen.fal.api_key} are {@code imagegen.fal.api-key}, {@code baseURL} is
   * {@code base-url}); a bracketed segment is kept verbatim without its brackets.
   */
  static String canonical(String name) {
    StringBuilder out = new StringBuilder(name.length() + 8);
    int i = 0;
    while (i < name.length()) {
      char c = name.charAt(i);
      if (c == '[') {
        int end = name.indexOf(']', i);
        if (end < 0) {
          out.append(name, i, name.length());
          break;
        }
        if (out.length() > 0 && out.charAt(out.length() - 1) != '.') {
          out.append('.'); // a.b[c] is a.b.c
        }
        out.append(name, i + 1, end);
        i = end + 1;
        continue;
      }
      if (c == '_') {
        out.append('-');
      } else if (Character.isUpperCase(c)) {
        char before = i > 0 ? name.charAt(i - 1) : '.'; // as written: TTL is one word
        if (Character.isLowerCase(before) || Character.isDigit(before)) {
          out.append('-'); // apiKey is api-key, baseURL is base-url
        }
        out.append(Character.toLowerCase(c));
      } else {
        out.append(c);
      }
      i++;
    }
    return out.toString();
  }
}
