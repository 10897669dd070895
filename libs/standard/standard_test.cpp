// Unit tests of the standard's rules, read from schema v1.0.2.
#include "libs/standard/standard.hpp"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/csv/csv.hpp"

namespace passerelle::standard {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const Standard& S() { return Standard::V102(); }

std::map<std::string, std::string> ValidRow() {
  return {{"id", "lieu-1"},          {"pivot", "43493312300029"}, {"nom", "Médiathèque"},
          {"commune", "Roubaix"},    {"code_postal", "59100"},    {"adresse", "2 rue Pierre Motte"},
          {"date_maj", "2024-04-02"}};
}

TEST(StandardTest, ReadsAllFieldsInOrderWithTheirRules) {
  ASSERT_EQ(S().fields().size(), 32u);
  EXPECT_EQ(S().fields()[0].name, "id");
  EXPECT_EQ(S().fields()[4].name, "code_postal");
  int required = 0;
  for (const auto& f : S().fields()) required += f.required ? 1 : 0;
  EXPECT_EQ(required, 7);
  EXPECT_EQ(S().Find("services")->values.size(), 9u);
  EXPECT_EQ(S().Find("services")->kind, FieldKind::kList);
  EXPECT_EQ(S().Find("modalites_accompagnement")->values,
            (std::vector<std::string>{"En autonomie", "Accompagnement individuel",
                                      "Dans un atelier collectif", "À distance"}));
  EXPECT_EQ(S().Find("latitude")->kind, FieldKind::kNumber);
  EXPECT_EQ(S().Find("date_maj")->kind, FieldKind::kDate);
  EXPECT_EQ(S().Find("courriels")->kind, FieldKind::kList);
  EXPECT_EQ(S().Find("nom")->kind, FieldKind::kText);
  EXPECT_EQ(S().Find("pivot")->kind, FieldKind::kText);
  EXPECT_EQ(S().Find("typologie")->kind, FieldKind::kList);
}

TEST(StandardTest, TheStandardsOwnExampleIsValid) {
  std::ifstream in(std::string(PASSERELLE_SOURCE_DIR) +
                   "/../shared/data/standard/exemple-valide.csv");
  std::stringstream ss;
  ss << in.rdbuf();
  auto t = csv::Parse(ss.str());
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->rows.size(), 1u);
  std::map<std::string, std::string> raw;
  for (size_t i = 0; i < t->header.size(); ++i) raw[t->header[i]] = t->rows[0].cells[i];
  Validated v = ValidateRow(S(), raw);
  for (const auto& x : v.violations) ADD_FAILURE() << x.field << " " << x.value << " " << x.message;
  EXPECT_THAT(v.record["typologie"], ElementsAre("TIERS_LIEUX", "ASSO"));
}

TEST(StandardTest, EachKindOfViolationNamesFieldValueAndRule) {
  auto row = ValidRow();
  row.erase("nom");
  row["code_postal"] = "591";
  row["latitude"] = "abc";
  row["longitude"] = "200";
  row["date_maj"] = "02/04/2024";
  row["services"] = "Aide aux démarches administratives|Cuisine";
  row["telephone"] = "12";
  Validated v = ValidateRow(S(), row);
  std::map<std::string, std::string> rules;
  for (const auto& x : v.violations) rules[x.field] = x.rule;
  EXPECT_EQ(rules["nom"], "required");
  EXPECT_EQ(rules["code_postal"], "pattern");
  EXPECT_EQ(rules["latitude"], "number");
  EXPECT_EQ(rules["longitude"], "range");
  EXPECT_EQ(rules["date_maj"], "date");
  EXPECT_EQ(rules["services"], "enum");
  EXPECT_EQ(rules["telephone"], "pattern");
  for (const auto& x : v.violations) {
    if (x.field == "services") {
      EXPECT_EQ(x.value, "Cuisine");
      EXPECT_THAT(x.message, HasSubstr("n'est pas une valeur admise"));
    }
  }
  // The valid value of the list is kept.
  EXPECT_THAT(v.record["services"], ElementsAre("Aide aux démarches administratives"));
}

TEST(StandardTest, ValuesThatWouldMisleadAReaderAreRefused) {
  auto row = ValidRow();
  row["nom"] = "\u200B\u200B";                 // shows nothing
  row["adresse"] = "2 rue \u202Eettom\u202C";  // displays in another order
  row["date_maj"] = "0000-01-01";
  row["site_web"] = "javascript:alert(1)|https://exemple.fr";
  row["prise_rdv"] = "data:text/html,x";
  Validated v = ValidateRow(S(), row);
  std::map<std::string, std::string> rules;
  for (const auto& x : v.violations) rules[x.field] = x.rule;
  EXPECT_EQ(rules["nom"], "required");
  EXPECT_EQ(rules["adresse"], "bidi");
  EXPECT_EQ(rules["date_maj"], "range");
  EXPECT_EQ(rules["site_web"], "url");
  EXPECT_EQ(rules["prise_rdv"], "url");
  EXPECT_THAT(v.record["site_web"], ElementsAre("https://exemple.fr"));  // the good value kept
}

// What a copy-paste leaves at a value's ends (a byte order mark, a zero-width or no-break space)
// is trimmed as spaces are; a noncharacter (U+FFFF...) is never text and is refused (tester 25).
TEST(StandardTest, InvisibleEdgesAreTrimmedAndNoncharactersRefused) {
  auto row = ValidRow();
  row["nom"] = "\uFEFF M\u00E9diath\u00E8que\u00A0\u200B\u2060\u3000";
  row["commune"] = "Rou\uFEFFbaix";  // inside a value: kept, nothing guessed
  row["adresse"] = "2 rue \xEF\xBF\xBF";
  Validated v = ValidateRow(S(), row);
  EXPECT_THAT(v.record["nom"], ElementsAre("Médiathèque"));
  EXPECT_THAT(v.record["commune"], ElementsAre("Rou\uFEFFbaix"));
  ASSERT_EQ(v.violations.size(), 1u);
  EXPECT_EQ(v.violations[0].field, "adresse");
  EXPECT_EQ(v.violations[0].rule, "control");
  // A value of invisible characters only is still empty.
  row = ValidRow();
  row["nom"] = "\uFEFF\u00A0";
  v = ValidateRow(S(), row);
  ASSERT_EQ(v.violations.size(), 1u);
  EXPECT_EQ(v.violations[0].rule, "required");
}

// A date the parser takes in a loose form is stored in its one form, so that what the registry
// exports reads back the same (found by the national_csv fuzz target).
TEST(StandardTest, DatesAreStoredInTheirOneForm) {
  for (const char* loose : {"+2024-04-2", "02024-4-02", "2024-04-02T10:00:00Z"}) {
    auto row = ValidRow();
    row["date_maj"] = loose;
    Validated v = ValidateRow(S(), row);
    EXPECT_TRUE(v.violations.empty()) << loose;
    EXPECT_THAT(v.record["date_maj"], ElementsAre("2024-04-02")) << loose;
    auto again = ValidRow();
    again["date_maj"] = v.record["date_maj"][0];
    EXPECT_TRUE(ValidateRow(S(), again).violations.empty()) << loose;
  }
}

TEST(StandardTest, CoordinatesGoTogether) {
  auto row = ValidRow();
  row["latitude"] = "50.69";
  Validated v = ValidateRow(S(), row);
  ASSERT_EQ(v.violations.size(), 1u);
  EXPECT_EQ(v.violations[0].field, "longitude");
  EXPECT_EQ(v.violations[0].rule, "coordinates");
}

TEST(StandardTest, AddressesAndZerosHaveOneSpelling) {
  auto row = ValidRow();
  row["site_web"] = "www.exemple.fr/lieu|HTTP://Exemple.fr";
  row["latitude"] = "-0";
  row["longitude"] = "-0,0";
  Validated v = ValidateRow(S(), row);
  ASSERT_TRUE(v.violations.empty()) << v.violations[0].field << ": " << v.violations[0].message;
  EXPECT_THAT(v.record["site_web"],
              ElementsAre("https://www.exemple.fr/lieu", "HTTP://Exemple.fr"));
  EXPECT_THAT(v.record["latitude"], ElementsAre("0"));
  EXPECT_THAT(v.record["longitude"], ElementsAre("0.0"));
}

TEST(StandardTest, ProducersSpellingVariantsAreNormalised) {
  auto row = ValidRow();
  row["formations_labels"] = "Étapes numériques (La Poste)";
  row["modalites_acces"] = "Ce lieu n’accueille pas de public";
  row["services"] = "aide aux demarches administratives | Comprehension du monde numérique";
  row["telephone"] = "03 20 12 34 56";
  row["code_postal"] = "9100";
  row["latitude"] = "50,6942";
  row["longitude"] = "3.1746";
  row["pivot"] = "434 933 123 00029";
  Validated v = ValidateRow(S(), row);
  EXPECT_TRUE(v.violations.empty()) << v.violations[0].field << ": " << v.violations[0].message;
  EXPECT_THAT(v.record["formations_labels"], ElementsAre("Étapes numériques(La Poste)"));
  EXPECT_THAT(v.record["modalites_acces"], ElementsAre("Ce lieu n'accueille pas de public"));
  EXPECT_THAT(v.record["services"], ElementsAre("Aide aux démarches administratives",
                                                "Compréhension du monde numérique"));
  EXPECT_THAT(v.record["telephone"], ElementsAre("+33320123456"));
  EXPECT_THAT(v.record["code_postal"], ElementsAre("09100"));
  EXPECT_THAT(v.record["latitude"], ElementsAre("50.6942"));
  EXPECT_THAT(v.record["pivot"], ElementsAre("43493312300029"));
  EXPECT_GE(v.normalisations.size(), 7u);
}

TEST(StandardTest, VersionZeroPointOneListsUseSemicolons) {
  auto row = ValidRow();
  row["services"] = "Aide aux démarches administratives;Loisirs et créations numériques";
  Validated v = ValidateRow(S(), row, ';');
  EXPECT_TRUE(v.violations.empty());
  EXPECT_EQ(v.record["services"].size(), 2u);
}

}  // namespace
}  // namespace passerelle::standard
