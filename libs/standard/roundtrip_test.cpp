// Property tests: random valid venues survive the national CSV and the GeoJSON unchanged.
// A failure prints its seed; PASSERELLE_ROUNDTRIP_SEED=<seed> replays it.
#include <algorithm>
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "libs/standard/exchange.hpp"
#include "libs/standard/roundtrip_generator.hpp"
#include "libs/standard/venue.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::standard {

namespace v1 = ::passerelle::venues::v1;
namespace {

constexpr int kVenues = 400;

class RoundTripTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = roundtrip::Seed();
    RecordProperty("seed", std::to_string(seed_));
    roundtrip::Generator gen(standard_, seed_);
    for (int i = 0; i < kVenues; ++i) {
      venues_.push_back(gen.Venue(i));
      venues_.back().set_name(absl::StrCat("venues/00000000-0000-4000-8000-", 100000000000 + i));
    }
    for (const auto& v : venues_) pointers_.push_back(&v);
  }
  std::string Replay() const {
    return absl::StrCat("seed ", seed_, " (replay: PASSERELLE_ROUNDTRIP_SEED=", seed_, ")");
  }

  const Standard& standard_ = Standard::V102();
  uint64_t seed_ = 0;
  std::vector<v1::Venue> venues_;
  std::vector<const v1::Venue*> pointers_;
};

TEST_F(RoundTripTest, GeneratedVenuesAreValidAndAlreadyNormal) {
  SCOPED_TRACE(Replay());
  std::map<std::string, std::set<int>> enum_values;
  for (const auto& v : venues_) {
    Validated checked = ValidateRow(standard_, RawFromProto(standard_, v));
    ASSERT_TRUE(checked.violations.empty())
        << v.id() << ": " << checked.violations[0].field << " " << checked.violations[0].rule << " "
        << checked.violations[0].message;
    EXPECT_TRUE(checked.normalisations.empty()) << checked.normalisations[0];
  }
  // Every enumeration value of the standard turns up.
  const auto* desc = v1::Venue::descriptor();
  for (const FieldSpec& f : standard_.fields()) {
    if (f.values.empty()) continue;
    std::set<int> seen;
    for (const auto& v : venues_) {
      const auto* field = desc->FindFieldByName(f.name);
      for (int k = 0; k < v.GetReflection()->FieldSize(v, field); ++k) {
        seen.insert(v.GetReflection()->GetRepeatedEnumValue(v, field, k));
      }
    }
    EXPECT_EQ(seen.size(), f.values.size()) << f.name;
  }
}

TEST_F(RoundTripTest, NationalCsvGivesBackTheSameVenues) {
  SCOPED_TRACE(Replay());
  const std::string csv = WriteNationalCsv(standard_, pointers_);
  auto parsed = ParseNationalCsv(standard_, csv, "roundtrip");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->rows, kVenues);
  for (const auto& r : parsed->rejected) {
    ADD_FAILURE() << "line " << r.line << " (" << r.source_id
                  << ") rejected: " << r.violations[0].field << " " << r.violations[0].rule << " "
                  << r.violations[0].message;
  }
  EXPECT_TRUE(parsed->ignored_columns.empty());
  EXPECT_TRUE(parsed->normalisations.empty())
      << "values in normal form were rewritten: " << parsed->normalisations[0];
  ASSERT_EQ(parsed->valid.size(), venues_.size());
  for (size_t i = 0; i < venues_.size(); ++i) {
    v1::Venue back;
    ToProto(standard_, parsed->valid[i].venue, &back);
    EXPECT_EQ(roundtrip::Differences(roundtrip::StandardOnly(standard_, venues_[i]),
                                     roundtrip::StandardOnly(standard_, back)),
              "")
        << "venue " << venues_[i].id();
  }
}

TEST_F(RoundTripTest, GeoJsonGivesBackTheSameValuesAndCoordinates) {
  SCOPED_TRACE(Replay());
  const auto doc = nlohmann::json::parse(WriteGeoJson(standard_, pointers_));
  const auto& features = doc.at("features");
  std::vector<const v1::Venue*> located;
  for (const auto& v : venues_) {
    if (v.has_latitude() && v.has_longitude()) located.push_back(&v);
  }
  ASSERT_EQ(features.size(), located.size()) << "one feature per located venue";
  for (size_t i = 0; i < located.size(); ++i) {
    const v1::Venue& v = *located[i];
    const auto& feature = features[i];
    EXPECT_EQ(feature.at("id"), v.name());
    // Coordinates: the same doubles, longitude first (RFC 7946).
    const auto& coordinates = feature.at("geometry").at("coordinates");
    EXPECT_EQ(coordinates.at(0).get<double>(), v.longitude()) << v.id();
    EXPECT_EQ(coordinates.at(1).get<double>(), v.latitude()) << v.id();
    // Properties: the standard's text of every other field; read back as a row, the same venue.
    const auto& props = feature.at("properties");
    EXPECT_EQ(props.at("name"), v.name());
    auto raw = RawFromProto(standard_, v);
    std::map<std::string, std::string> read;
    for (const FieldSpec& f : standard_.fields()) {
      if (f.kind == FieldKind::kNumber) continue;
      ASSERT_TRUE(props.contains(f.name)) << f.name;
      EXPECT_EQ(props.at(f.name).get<std::string>(), raw[f.name]) << v.id() << " " << f.name;
      read[f.name] = props.at(f.name).get<std::string>();
    }
    read["longitude"] = roundtrip::PlainDecimal(coordinates.at(0).get<double>());
    read["latitude"] = roundtrip::PlainDecimal(coordinates.at(1).get<double>());
    Validated checked = ValidateRow(standard_, read);
    ASSERT_TRUE(checked.violations.empty()) << v.id() << ": " << checked.violations[0].field;
    Venue venue;
    venue.standard = checked.record;
    v1::Venue back;
    ToProto(standard_, venue, &back);
    EXPECT_EQ(roundtrip::Differences(roundtrip::StandardOnly(standard_, v),
                                     roundtrip::StandardOnly(standard_, back)),
              "")
        << "venue " << v.id();
  }
}

}  // namespace
}  // namespace passerelle::standard
