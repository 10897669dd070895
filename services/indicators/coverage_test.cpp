// The coverage model and the needs file, without servers: hours on the reference week, the
// replacement rule that makes replays harmless, the computation against brute force, and every
// rule of a needs file.
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/api/status.hpp"
#include "services/indicators/coverage_model.hpp"
#include "services/indicators/coverage_needs.hpp"

namespace passerelle::indicators::coverage {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::MatchesRegex;

TEST(WeekOf, ReadsTheReferenceWeekByQuarters) {
  auto week = WeekOf("Mo-Fr 09:00-12:00; Sa 18:30-20:00");
  ASSERT_TRUE(week.has_value());
  EXPECT_EQ(week->count(), 5u * 3 + 2);
  EXPECT_TRUE(week->test(9));            // Monday 09:00
  EXPECT_FALSE(week->test(12));          // Monday 12:00
  EXPECT_TRUE(week->test(4 * 24 + 11));  // Friday 11:00
  EXPECT_TRUE(week->test(5 * 24 + 18));  // Saturday 18:30 is in the 18:00 hour
  EXPECT_TRUE(week->test(5 * 24 + 19));
  EXPECT_FALSE(week->test(6 * 24 + 10));  // Sunday
  EXPECT_EQ(ParseWeekText(WeekText(*week)), week);
}

TEST(WeekOf, UnknownWhenEmptyOrNotUnderstood) {
  EXPECT_FALSE(WeekOf("").has_value());
  EXPECT_FALSE(WeekOf("du lundi au vendredi").has_value());
  EXPECT_FALSE(WeekOf("Mo-Fr 09:00-12:00; SH off").has_value());
  EXPECT_FALSE(ParseWeekText("0101").has_value());
  EXPECT_FALSE(ParseWeekText(std::string(168, '2')).has_value());
}

TEST(ServiceOffer, NamesTheStandardsServices) {
  EXPECT_EQ(ServiceOffer("SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES"),
            "services/aide-aux-demarches-administratives");
}

VenueRow Row(const std::string& name, absl::Time t, bool active = true) {
  VenueRow v;
  v.name = name;
  v.nom = name;
  v.active = active;
  v.latitude = 50.69;
  v.longitude = 3.17;
  v.offers = {"items/1"};
  v.update_time = t;
  return v;
}

TEST(ReadModel, OnlyANewerRowReplacesSoReplaysChangeNothing) {
  ReadModel m;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(m.ApplyVenue(Row("venues/1", t0 + absl::Seconds(10))));
  const uint64_t g = m.generation();
  // An older event replayed after a snapshot: ignored, the generation (cache) untouched.
  auto old = Row("venues/1", t0);
  old.latitude = 10;
  EXPECT_FALSE(m.ApplyVenue(old));
  EXPECT_FALSE(m.ApplyVenue(Row("venues/1", t0 + absl::Seconds(10))));  // redelivered
  EXPECT_EQ(m.generation(), g);
  EXPECT_EQ(m.Venue("venues/1")->latitude, 50.69);
  // A withdrawal at the same instant wins; the same update again does not revive it.
  EXPECT_TRUE(m.ApplyVenue(Row("venues/1", t0 + absl::Seconds(10), false)));
  EXPECT_FALSE(m.ApplyVenue(Row("venues/1", t0 + absl::Seconds(10))));
  EXPECT_FALSE(m.Venue("venues/1")->active);
  // A later reinstatement does.
  EXPECT_TRUE(m.ApplyVenue(Row("venues/1", t0 + absl::Seconds(11))));
  EXPECT_TRUE(m.Venue("venues/1")->active);
}

TEST(Compute, MatchesBruteForce) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> lat(50.60, 50.75), lon(3.05, 3.30);
  ReadModel m;
  std::vector<Offer> items;
  for (int i = 0; i < 12; ++i) items.push_back({"items/" + std::to_string(i), "item"});
  m.SetReferential("nomenclatures/n/versions/1", items);
  LayerRow layer{"quartiers", "Quartiers", {}};
  for (int a = 0; a < 60; ++a) {
    char code[8];
    std::snprintf(code, sizeof code, "q%02d", a);
    layer.areas.push_back({code, code, lat(rng), lon(rng), "{}"});
  }
  m.SetLayers({layer});
  std::vector<VenueRow> venues;
  for (int v = 0; v < 400; ++v) {
    VenueRow r = Row("venues/" + std::to_string(v), absl::FromUnixSeconds(v + 1), v % 17 != 0);
    r.latitude = lat(rng);
    r.longitude = lon(rng);
    for (int i = 0; i < 12; ++i) {
      if (rng() % 5 == 0) r.offers.push_back("items/" + std::to_string(i));
    }
    std::sort(r.offers.begin(), r.offers.end());
    r.offers.erase(std::unique(r.offers.begin(), r.offers.end()), r.offers.end());
    if (rng() % 4 != 0) {
      WeekBits w;
      for (int h = 0; h < 168; ++h) {
        if (rng() % 9 == 0) w.set(static_cast<size_t>(h));
      }
      r.hours = w;
    }
    r.areas = {"quartiers:" + layer.areas[rng() % layer.areas.size()].code, "qpv:x"};
    venues.push_back(r);
    m.ApplyVenue(r);
  }
  auto index = m.Snapshot();
  const auto& held = index->layers.at("quartiers");
  std::vector<uint32_t> offers;
  for (uint32_t o = 0; o < index->offers.size(); ++o) offers.push_back(o);
  const double reach = 1500;
  for (int threads : {1, 2}) {
    LayerCoverage c = Compute(index, held, offers, reach, threads);
    for (size_t a = 0; a < held.areas.size(); ++a) {
      const AreaRow& area = held.areas[a];
      int inside = 0;
      for (const auto& v : venues) {
        inside += v.active && v.areas[0] == "quartiers:" + area.code;
      }
      EXPECT_EQ(c.venue_count[a], inside);
      for (size_t o = 0; o < offers.size(); ++o) {
        const std::string& name = index->offers[offers[o]].name;
        std::optional<double> best;
        WeekBits open;
        int count = 0;
        for (const auto& v : venues) {
          if (!v.active || !std::binary_search(v.offers.begin(), v.offers.end(), name)) continue;
          const double d =
              SphereMeters(area.centre_latitude, area.centre_longitude, *v.latitude, *v.longitude);
          if (!best || d < *best) best = d;
          if (d <= reach && v.hours) open |= *v.hours;
          count += v.areas[0] == "quartiers:" + area.code;
        }
        const OfferFigures& f = c.At(a, o);
        ASSERT_EQ(f.nearest_meters.has_value(), best.has_value()) << name;
        if (best) {
          EXPECT_NEAR(*f.nearest_meters, *best, 1e-6) << area.code << " " << name;
          const auto& nv = index->venues[static_cast<size_t>(f.nearest_venue)];
          EXPECT_NEAR(SphereMeters(area.centre_latitude, area.centre_longitude, *nv.row->latitude,
                                   *nv.row->longitude),
                      *best, 1e-6);
        }
        EXPECT_EQ(f.open_within_reach, open) << area.code << " " << name;
        EXPECT_EQ(f.venue_count, count);
      }
    }
  }
  // National services are offers too, after the items.
  EXPECT_EQ(index->offers.size(), 12u + 9u);
  EXPECT_EQ(index->offers[12].name, "services/aide-aux-demarches-administratives");
  EXPECT_EQ(index->offers[12].label, "Aide aux démarches administratives");
}

TEST(SphereMeters, IsPostgisSphere) {
  // One degree of latitude on the sphere of radius 6,371,008.8 m.
  EXPECT_NEAR(SphereMeters(50, 3, 51, 3), 111195.08, 0.01);
  EXPECT_EQ(SphereMeters(50.69, 3.17, 50.69, 3.17), 0);
}

std::set<std::string> Codes() {
  return {"ALMA",     "EPEULE", "PILE",  "CENTRE", "HOMMELET", "MOULIN",   "FRESNOY",
          "BARBIEUX", "CUL",    "TROIS", "SAINTE", "NOUVEAU",  "ENTREPONT"};
}

TEST(ParseNeeds, ReadsCommaAndSemicolonFilesWithDecimalCommas) {
  auto a = ParseNeeds(
      "code,population,score_global,acces_information\nALMA,7200,131.5,140\nPILE,5100,,\n",
      Codes());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->errors.empty());
  EXPECT_EQ(a->rows.at("ALMA").population, 7200);
  EXPECT_EQ(a->rows.at("ALMA").score, 131.5);
  EXPECT_EQ(a->rows.at("ALMA").components.at("acces_information"), 140);
  EXPECT_FALSE(a->rows.at("PILE").score.has_value());
  auto b = ParseNeeds("code;population;score_global\r\nALMA;7200;131,5\r\n", Codes());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->rows.at("ALMA").score, 131.5);
  // Windows-1252 header and values are read (detected), not refused.
  auto c = ParseNeeds(std::string("code;population;score_global\nEPEULE;10\xA0"
                                  "000;1\n"),
                      Codes());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->errors.size(), 1u);  // a no-break space inside a number is not a number
}

TEST(ParseNeeds, ScoreGlobalColumnIsOptional) {
  // Without the column, rows have no score (their need is their population alone); the
  // components present are still read and checked.
  auto r =
      ParseNeeds("code;population;acces_information\nALMA;7200;140,5\nPILE;5100;-1\n", Codes());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows.at("ALMA").population, 7200);
  EXPECT_FALSE(r->rows.at("ALMA").score.has_value());
  EXPECT_EQ(r->rows.at("ALMA").components.at("acces_information"), 140.5);
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].field, "acces_information");
  EXPECT_EQ(r->errors[0].rule, "range");
  auto bare = ParseNeeds("code,population\nALMA,1\n", Codes());
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->rows.at("ALMA").population, 1);
  EXPECT_FALSE(bare->rows.at("ALMA").score.has_value());
}

TEST(ParseNeeds, ReportsEachBadRowWithItsRule) {
  auto r = ParseNeeds(
      "code,population,score_global\n"
      "NOWHERE,10,100\n"      // 2 exists
      "ALMA,10,100\n"         // 3 ok
      "ALMA,11,100\n"         // 4 unique
      "PILE,NaN,100\n"        // 5 number
      "EPEULE,-5,100\n"       // 6 range
      "CENTRE,1e3,100\n"      // 7 number (no exponent)
      "HOMMELET,10,1e308\n"   // 8 number
      "MOULIN,0x10,100\n"     // 9 number
      "FRESNOY,10.5,100\n"    // 10 range (not whole)
      "BARBIEUX,10,100001\n"  // 11 range
      ",10,100\n"             // 12 required
      "CUL,10\n"              // 13 columns
      "TROIS,10,-0\n",        // 14 ok, stored as 0
      Codes());
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::pair<int64_t, std::string>> got;
  for (const auto& e : r->errors) got.emplace_back(e.row, e.rule);
  EXPECT_THAT(got, ElementsAre(std::pair<int64_t, std::string>{2, "exists"},
                               std::pair<int64_t, std::string>{4, "unique"},
                               std::pair<int64_t, std::string>{5, "number"},
                               std::pair<int64_t, std::string>{6, "range"},
                               std::pair<int64_t, std::string>{7, "number"},
                               std::pair<int64_t, std::string>{8, "number"},
                               std::pair<int64_t, std::string>{9, "number"},
                               std::pair<int64_t, std::string>{10, "range"},
                               std::pair<int64_t, std::string>{11, "range"},
                               std::pair<int64_t, std::string>{12, "required"},
                               std::pair<int64_t, std::string>{13, "columns"}));
  EXPECT_EQ(r->errors[2].field, "population");
  EXPECT_EQ(r->errors[2].value, "NaN");
  EXPECT_EQ(r->rows.size(), 2u);
  EXPECT_EQ(r->rows.at("TROIS").score, 0.0);
  EXPECT_FALSE(std::signbit(*r->rows.at("TROIS").score));
}

TEST(ParseNeeds, RefusesWhatIsNotANeedsFile) {
  for (std::string bad :
       {std::string(""), std::string("\n\n"), std::string("<html><body>oops</body></html>"),
        std::string("{\"code\": 1}"), std::string("\x89PNG\r\n\x1a\n\0\0", 10),
        std::string("code,score_global\nALMA,1\n"), std::string("population\n1\n"),
        std::string("code,population,score_global,couleur\nALMA,1,1,bleu\n"),
        std::string("\xff\xfe"
                    "c\0o\0d\0e\0",
                    10)}) {
    auto r = ParseNeeds(bad, Codes());
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(api::Violations(r.status()),
                ElementsAre(Field(&api::FieldViolation::field, "csv")));
    // Each refusal names its rule first, as row errors do (tester 28).
    EXPECT_THAT(
        api::Violations(r.status()),
        ElementsAre(Field(&api::FieldViolation::description, MatchesRegex(R"(\[[a-z0-9]+\] .*)"))))
        << bad;
  }
}

TEST(ParseNeeds, HostileCells) {
  // "ÉPEULE" makes the file UTF-8 (a well-formed multi-byte sequence): the cut bytes are then
  // reported where they are rather than read as Windows-1252.
  auto r = ParseNeeds(std::string("code,population,score_global\nAL\0MA,1,1\nPILE,\xff\xfe,1\n"
                                  "CENTRE,",
                                  56) +
                          std::string(100000, '9') + ",1\n\xc3\x89PEULE,1,1\n",
                      Codes());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->errors.size(), 4u);
  EXPECT_EQ(r->errors[0].rule, "control");
  EXPECT_EQ(r->errors[1].rule, "utf8");
  EXPECT_EQ(r->errors[2].rule, "number");  // 100,000 digits: no number people write
  EXPECT_LE(r->errors[2].value.size(), 200u);
  EXPECT_EQ(r->errors[3].rule, "exists");
  EXPECT_TRUE(r->rows.empty());
}

}  // namespace
}  // namespace passerelle::indicators::coverage
