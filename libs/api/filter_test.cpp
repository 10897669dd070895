// Unit tests of the AIP-160 filter subset.
#include "libs/api/filter.hpp"

#include <gtest/gtest.h>

#include "libs/api/status.hpp"

namespace passerelle::api {
namespace {

TEST(Filter, ParsesComparisonsJoinedByAnd) {
  auto f =
      ParseFilter(R"(commune = "Roubaix" AND services:"Aide aux démarches" AND state!=withdrawn)");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->size(), 3u);
  EXPECT_EQ((*f)[0].field, "commune");
  EXPECT_EQ((*f)[0].op, Comparison::Op::kEquals);
  EXPECT_EQ((*f)[0].value, "Roubaix");
  EXPECT_EQ((*f)[1].op, Comparison::Op::kHas);
  EXPECT_EQ((*f)[1].value, "Aide aux démarches");
  EXPECT_EQ((*f)[2].op, Comparison::Op::kNotEquals);
  EXPECT_EQ((*f)[2].value, "withdrawn");
  EXPECT_TRUE(ParseFilter("").ok());
  EXPECT_TRUE(ParseFilter("   ").ok());
  auto escaped = ParseFilter(R"(nom = "Le \"Lieu\" \\ 1")");
  ASSERT_TRUE(escaped.ok());
  EXPECT_EQ((*escaped)[0].value, "Le \"Lieu\" \\ 1");
}

TEST(Filter, RefusesWhatIsOutsideTheSubsetWithThePosition) {
  struct Case {
    const char* filter;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {"a = 1 OR b = 2", "[filter] position 7 : OR n'est pas pris en charge"},
           {"a = 1 and b = 2",
            "[filter] position 7 : les opérateurs s'écrivent en majuscules : AND"},
           {"commune = ", "[filter] position 11 : valeur manquante"},
           {"commune", "=, != ou : attendu"},
           {"a = \"open", "[filter] position 5 : guillemet non fermé"},
           {"(a = 1)", "ni parenthèses"},
           {"NOT a = 1", "NOT n'est pas pris en charge"},
           {"a = 1 b = 2", "AND attendu"},
           {"a > 1", "ne sont pas pris en charge"},
           {"= 1", "nom de champ attendu"},
           {"a = 1 AND", "nom de champ attendu"},
       }) {
    auto f = ParseFilter(c.filter);
    ASSERT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << c.filter;
    auto v = Violations(f.status());
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].field, "filter");
    EXPECT_NE(v[0].description.find(c.says), std::string::npos)
        << c.filter << " -> " << v[0].description;
  }
}

// A caller refusing a comparison points at it as the grammar's errors do: from 1, in bytes.
TEST(Filter, ACallersRefusalNamesTheComparisonsPosition) {
  auto f = ParseFilter("state = OPEN AND  couleur = bleu");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->size(), 2u);
  const FieldViolation v = FilterViolation((*f)[1], "[field] pas de filtre sur couleur");
  EXPECT_EQ(v.field, "filter");
  EXPECT_EQ(v.description, "[field] position 19 : pas de filtre sur couleur");
  EXPECT_EQ(FilterViolation((*f)[0], "x").description, "[filter] position 1 : x");
  // Only a leading tag followed by a space is moved.
  EXPECT_EQ(FilterViolation((*f)[0], "[x]y").description, "[filter] position 1 : [x]y");
}

TEST(Filter, RefusesHostileBytesAndSizes) {
  EXPECT_FALSE(ParseFilter(std::string("a = \"x\0y\"", 9)).ok());
  EXPECT_FALSE(ParseFilter("a = \"\xFF\xFE\"").ok());
  EXPECT_FALSE(ParseFilter(std::string(5000, 'a')).ok());
  std::string many;
  for (int i = 0; i < 30; ++i) many += (i ? " AND " : "") + std::string("a = 1");
  EXPECT_FALSE(ParseFilter(many).ok());
}

}  // namespace
}  // namespace passerelle::api
