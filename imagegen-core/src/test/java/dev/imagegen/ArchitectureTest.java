package dev.imagegen;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaField;
import com.tngtech.archunit.core.domain.JavaMember;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The rules DESIGN.md sets for core, checked on the compiled classes (so a fully qualified name
 * cannot slip past an import check): the SPI never touches internal, no public signature of the
 * API or the SPI exposes an internal type, internal types are public only where another package
 * uses them, and core never knows a provider.
 */
class ArchitectureTest {
  private static final String INTERNAL = "dev.imagegen.internal..";
  private static JavaClasses core;

  @BeforeAll
  static void read() {
    core = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .withImportOption(location -> !location.contains("/test-classes/"))
        .importPackages("dev.imagegen");
    // a rule over nothing passes: make sure the classes are really there
    for (String pkg : new String[] {"dev.imagegen", "dev.imagegen.spi", "dev.imagegen.internal"}) {
      assertThat(core.stream().filter(c -> c.getPackageName().equals(pkg)).count()).as("classes read from " + pkg)
          .isGreaterThan(5);
    }
  }

  @Test
  void theSpiNeverTouchesInternal() {
    noClasses().that().resideInAPackage("dev.imagegen.spi..").should().dependOnClassesThat().resideInAPackage(INTERNAL)
        .check(core);
  }

  @Test
  void coreNeverKnowsAProvider() {
    noClasses().that().resideInAPackage("dev.imagegen..").should().dependOnClassesThat()
        .resideInAnyPackage("dev.imagegen.provider..", "dev.imagegen.local..", "dev.imagegen.testkit..").check(core);
  }

  @Test
  void noPublicSignatureOfTheApiOrTheSpiExposesAnInternalType() {
    classes().that().resideInAnyPackage("dev.imagegen", "dev.imagegen.spi").and().arePublic()
        .should(exposeNoInternalType()).check(core);
  }

  @Test
  void internalTypesArePublicOnlyWhereAnotherPackageUsesThem() {
    classes().that().resideInAPackage(INTERNAL).and().arePublic().and().areTopLevelClasses()
        .should(beUsedOutside("dev.imagegen.internal")).check(core);
  }

  private static ArchCondition<JavaClass> exposeNoInternalType() {
    return new ArchCondition<>("expose no type of dev.imagegen.internal in a public or protected signature") {
      @Override
      public void check(JavaClass c, ConditionEvents events) {
        Set<JavaClass> exposed = new HashSet<>();
        c.getRawSuperclass().ifPresent(exposed::add);
        exposed.addAll(c.getRawInterfaces());
        for (JavaMember m : c.getMembers()) {
          if (!m.getModifiers().contains(JavaModifier.PUBLIC) && !m.getModifiers().contains(JavaModifier.PROTECTED)) {
            continue;
          }
          if (m instanceof JavaField f) {
            exposed.addAll(f.getType().getAllInvolvedRawTypes());
          } else if (m instanceof JavaCodeUnit u) {
            exposed.addAll(u.getReturnType().getAllInvolvedRawTypes());
            u.getParameterTypes().forEach(t -> exposed.addAll(t.getAllInvolvedRawTypes()));
            u.getThrowsClause().getTypes().forEach(exposed::add);
          }
        }
        for (JavaClass t : exposed) {
          if (t.getPackageName().startsWith("dev.imagegen.internal")) {
            events.add(SimpleConditionEvent.violated(c, c.getName() + " exposes " + t.getName()));
          }
        }
      }
    };
  }

  private static ArchCondition<JavaClass> beUsedOutside(String pkg) {
    return new ArchCondition<>("be used by a class outside " + pkg) {
      @Override
      public void check(JavaClass c, ConditionEvents events) {
        boolean used = c.getDirectDependenciesToSelf().stream()
            .anyMatch(d -> !d.getOriginClass().getPackageName().startsWith(pkg));
        if (!used) {
          events.add(SimpleConditionEvent.violated(c, c.getName() + " is public but only " + pkg + " uses it: make it "
              + "package-private"));
        }
      }
    };
  }
}
