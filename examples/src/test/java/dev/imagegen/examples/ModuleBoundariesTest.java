package dev.imagegen.examples;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import dev.imagegen.spi.ImageProvider;
import dev.imagegen.spi.ImageProviderFactory;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The boundaries between imagegen's modules, checked on the compiled classes of every module on
 * this module's class path (so a fully qualified name cannot slip past, and a module that is
 * missing fails the check instead of passing it): a provider module shows only its factory,
 * providers never depend on each other nor on core's internals, the testkit speaks wire formats
 * without knowing a provider's classes, and the examples use only the public API.
 */
class ModuleBoundariesTest {
  private static final List<String> PROVIDER_PACKAGES = List.of("dev.imagegen.provider.fal", "dev.imagegen.provider.horde",
      "dev.imagegen.provider.huggingface", "dev.imagegen.provider.replicate", "dev.imagegen.provider.runpod",
      "dev.imagegen.provider.sdwebui", "dev.imagegen.local.djl");
  private static final String INTERNAL = "dev.imagegen.internal..";
  private static JavaClasses all;

  @BeforeAll
  static void read() {
    all = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .withImportOption(location -> !location.contains("/test-classes/") && !location.contains("-tests.jar"))
        .importPackages("dev.imagegen");
    for (String pkg : PROVIDER_PACKAGES) {
      assertThat(all.stream().filter(c -> c.getPackageName().equals(pkg)).count())
          .as("classes of " + pkg + " on the class path (a rule over nothing would pass)").isGreaterThan(2);
    }
    for (String pkg : List.of("dev.imagegen", "dev.imagegen.spi", "dev.imagegen.internal", "dev.imagegen.testkit",
        "dev.imagegen.testkit.stubs", "dev.imagegen.examples", "dev.imagegen.examples.plugin")) {
      assertThat(all.stream().filter(c -> c.getPackageName().equals(pkg)).count()).as("classes of " + pkg).isPositive();
    }
  }

  /** What a provider module may show: its factory, and an interface of its own extending the SPI's provider. */
  private static final DescribedPredicate<JavaClass> PROVIDER_API = DescribedPredicate.describe(
      "a provider factory or an interface extending ImageProvider",
      c -> c.isAssignableTo(ImageProviderFactory.class) || c.isInterface() && c.isAssignableTo(ImageProvider.class));

  @Test
  void aProviderModuleShowsOnlyItsFactory() {
    classes().that().resideInAnyPackage("dev.imagegen.provider..", "dev.imagegen.local..").and().arePublic()
        .and().areTopLevelClasses().should(be(PROVIDER_API))
        .because("a provider is used through its factory and the SPI; everything else may change").check(all);
  }

  private static ArchCondition<JavaClass> be(DescribedPredicate<JavaClass> p) {
    return ArchCondition.from(p);
  }

  @Test
  void providersNeverDependOnEachOther() {
    slices().matching("dev.imagegen.(provider.*|local.*)..").should().notDependOnEachOther().check(all);
  }

  @Test
  void nothingOutsideCoreTouchesCoresInternals() {
    noClasses().that().resideOutsideOfPackages("dev.imagegen", "dev.imagegen.spi..", INTERNAL).should()
        .dependOnClassesThat().resideInAPackage(INTERNAL).check(all);
  }

  @Test
  void theTestkitSpeaksWireFormatsWithoutKnowingAProvidersClasses() {
    noClasses().that().resideInAPackage("dev.imagegen.testkit..").should().dependOnClassesThat()
        .resideInAnyPackage("dev.imagegen.provider..", "dev.imagegen.local..", "dev.imagegen.examples..").check(all);
  }

  @Test
  void theExamplesUseOnlyThePublicApi() {
    noClasses().that().resideInAPackage("dev.imagegen.examples..").should().dependOnClassesThat(
        resideInAnyPackage("dev.imagegen.provider..", "dev.imagegen.local..").and(not(PROVIDER_API))
            .or(resideInAnyPackage(INTERNAL))).check(all);
  }

  @Test
  void coreNeverDependsOnWhatIsBuiltOnIt() {
    noClasses().that().resideInAnyPackage("dev.imagegen", "dev.imagegen.spi..", INTERNAL).should().dependOnClassesThat()
        .resideInAnyPackage("dev.imagegen.provider..", "dev.imagegen.local..", "dev.imagegen.testkit..",
            "dev.imagegen.examples..").check(all);
  }
}
