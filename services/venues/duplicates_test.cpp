// The duplicate scorer: on a labelled fixture of invented pairs (precision and recall at the
// threshold, with floors), and its rules one by one.
#include "services/venues/duplicates.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "libs/csv/csv.hpp"

namespace passerelle::venues {
namespace {

DuplicateSide Side(std::string nom, std::string adresse, double lat, double lon,
                   std::string insee = "59512", std::string postcode = "59100") {
  return {.nom = std::move(nom),
          .adresse = std::move(adresse),
          .code_postal = std::move(postcode),
          .code_insee = std::move(insee),
          .commune = "Roubaix",
          .latitude = lat,
          .longitude = lon};
}

// The floors the scorer must keep on the fixture (docs/venues.md gives the figures).
constexpr double kPrecisionFloor = 0.95;
constexpr double kRecallFloor = 0.90;

TEST(DuplicateFixture, PrecisionAndRecallAtTheThreshold) {
  std::ifstream in(DUPLICATE_PAIRS);
  ASSERT_TRUE(in) << DUPLICATE_PAIRS;
  std::stringstream text;
  text << in.rdbuf();
  auto table = csv::Parse(text.str());
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_GE(table->rows.size(), 200u);
  int tp = 0, fp = 0, fn = 0, tn = 0;
  for (const auto& row : table->rows) {
    const auto& c = row.cells;
    ASSERT_EQ(c.size(), 16u) << "line " << row.line;
    auto side = [&](size_t at) {
      return DuplicateSide{.nom = c[at],
                           .adresse = c[at + 1],
                           .code_postal = c[at + 2],
                           .code_insee = c[at + 3],
                           .commune = c[at + 4],
                           .latitude = std::stod(c[at + 5]),
                           .longitude = std::stod(c[at + 6])};
    };
    const DuplicateSide a = side(2), b = side(9);
    const DuplicateScore s = ScoreDuplicate(a, b);
    EXPECT_DOUBLE_EQ(s.score, ScoreDuplicate(b, a).score) << "line " << row.line;
    const bool linked = s.score >= kDuplicateThreshold;
    const bool same = c[0] == "same";
    if (linked != same) {
      std::cout << (same ? "missed " : "wrongly linked ") << "line " << row.line << " (" << c[1]
                << ", score " << s.score << ", " << s.distance_m << " m): « " << c[2] << " », « "
                << c[3] << " » / « " << c[9] << " », « " << c[10] << " »\n";
    }
    if (linked && same) ++tp;
    if (linked && !same) ++fp;
    if (!linked && same) ++fn;
    if (!linked && !same) ++tn;
  }
  const double precision = tp / static_cast<double>(tp + fp);
  const double recall = tp / static_cast<double>(tp + fn);
  std::cout << "duplicate scorer at threshold " << kDuplicateThreshold << " on "
            << table->rows.size() << " pairs: precision " << precision << ", recall " << recall
            << " (" << tp << " true links, " << fp << " false, " << fn << " missed, " << tn
            << " rightly apart)\n";
  EXPECT_GE(precision, kPrecisionFloor);
  EXPECT_GE(recall, kRecallFloor);
}

TEST(DuplicateScore, TheSameCentreWrittenDifferently) {
  const DuplicateScore s =
      ScoreDuplicate(Side("Centre social de l'Épeule", "12 rue de l'Épeule", 50.6900, 3.1700),
                     Side("CTRE SOC. EPEULE", "12 r. de l'Epeule", 50.69005, 3.17003));
  EXPECT_GE(s.score, kDuplicateThreshold);
  EXPECT_EQ(s.matched_fields,
            (std::vector<std::string>{"nom", "adresse", "code_insee", "code_postal", "position"}));
  EXPECT_GT(s.distance_m, 0);
  EXPECT_LT(s.distance_m, 10);
}

TEST(DuplicateScore, CcasAndItsFullName) {
  EXPECT_GE(ScoreDuplicate(
                Side("CCAS de Roubaix", "8 place de la Liberté", 50.69, 3.17),
                Side("Centre communal d'action sociale", "8 pl. de la Liberte", 50.69001, 3.17))
                .score,
            kDuplicateThreshold);
}

TEST(DuplicateScore, TwoFranceServicesOfOneTownAreApart) {
  const DuplicateScore s =
      ScoreDuplicate(Side("France Services Roubaix Nord", "3 rue Pierre Motte", 50.69, 3.17),
                     Side("France Services Roubaix Sud", "5 rue Pierre Motte", 50.6902, 3.17));
  EXPECT_LT(s.score, kDuplicateThreshold);
}

TEST(DuplicateScore, TwoKindsInOneBuildingAreApart) {
  EXPECT_LT(ScoreDuplicate(Side("Centre social Alma", "2 rue de l'Alma", 50.69, 3.17),
                           Side("Médiathèque de l'Alma", "2 rue de l'Alma", 50.69, 3.17))
                .score,
            kDuplicateThreshold);
}

TEST(DuplicateScore, FarOrInAnotherTownIsZero) {
  // 2 km apart.
  EXPECT_EQ(ScoreDuplicate(Side("Médiathèque Jean Lévy", "2 rue Pierre Motte", 50.69, 3.17),
                           Side("Médiathèque Jean Lévy", "2 rue Pierre Motte", 50.708, 3.17))
                .score,
            0);
  // Next door, across the town boundary.
  EXPECT_EQ(ScoreDuplicate(Side("Mairie", "1 rue de Lille", 50.69, 3.17),
                           Side("Mairie", "1 rue de Lille", 50.69, 3.17, "59163", "59170"))
                .score,
            0);
  // Without a position, nothing says they are one place.
  DuplicateSide nowhere = Side("Mairie", "1 rue de Lille", 0, 0);
  nowhere.latitude.reset();
  EXPECT_EQ(ScoreDuplicate(nowhere, Side("Mairie", "1 rue de Lille", 50.69, 3.17)).score, 0);
}

TEST(DuplicateScore, PostcodeDecidesWhenAnInseeCodeIsMissing) {
  EXPECT_GE(ScoreDuplicate(Side("Médiathèque Jean Lévy", "2 rue Pierre Motte", 50.69, 3.17),
                           Side("Mediatheque Jean Levy", "2 r. Pierre Motte", 50.69, 3.17, ""))
                .score,
            kDuplicateThreshold);
}

// A bulk load writes every few milliseconds: passes wait for a 2 s pause, but run at least once
// a minute; with no writes they run every time they are asked.
TEST(DetectionPacer, WaitsForWritesToPauseButNotLongerThanTheLongestDelay) {
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  DetectionPacer pacer(absl::Seconds(2), absl::Seconds(60), t0);
  EXPECT_FALSE(pacer.ShouldRun(t0 + absl::Seconds(1), t0 + absl::Milliseconds(999)));
  EXPECT_FALSE(pacer.ShouldRun(t0 + absl::Seconds(30), t0 + absl::Seconds(29)));
  // Writes still going 60 s after the last pass: it runs anyway, then waits again.
  EXPECT_TRUE(pacer.ShouldRun(t0 + absl::Seconds(60), t0 + absl::Seconds(59)));
  EXPECT_FALSE(pacer.ShouldRun(t0 + absl::Seconds(61), t0 + absl::Seconds(61)));
  EXPECT_FALSE(pacer.ShouldRun(t0 + absl::Seconds(119), t0 + absl::Seconds(118)));
  EXPECT_TRUE(pacer.ShouldRun(t0 + absl::Seconds(120), t0 + absl::Seconds(119)));
  // A pause of 2 s: it runs, and keeps running while nothing is written.
  EXPECT_TRUE(pacer.ShouldRun(t0 + absl::Seconds(122), t0 + absl::Seconds(120)));
  EXPECT_TRUE(pacer.ShouldRun(t0 + absl::Seconds(123), t0 + absl::Seconds(120)));
  EXPECT_FALSE(pacer.ShouldRun(t0 + absl::Seconds(124), t0 + absl::Seconds(123)));
}

}  // namespace
}  // namespace passerelle::venues
