// Resource names have one spelling; etags and timestamps convert both ways.
#include "libs/api/resource.hpp"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/api/status.hpp"

namespace passerelle::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const ResourcePattern kProposal("nomenclatures/{nomenclature}/proposals/{proposal}");

TEST(ResourcePatternTest, SplitsVariablesAndFormatsBack) {
  auto v = kProposal.Parse("nomenclatures/aptic/proposals/12", "name");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_THAT(*v, ElementsAre("aptic", "12"));
  EXPECT_EQ(kProposal.Format({"aptic", "12"}), "nomenclatures/aptic/proposals/12");
}

TEST(ResourcePatternTest, RefusesEveryOtherSpelling) {
  for (const std::string& bad : std::vector<std::string>{
           "", "nomenclatures/aptic", "nomenclatures/aptic/proposals/12/",
           "/nomenclatures/aptic/proposals/12", "nomenclatures//proposals/12",
           "nomenclatures/aptic/versions/12", "nomenclatures/aptic/proposals/12/comments/1",
           "nomenclatures/aptic/proposals/1 ", "nomenclatures/apt\tic/proposals/1",
           std::string("nomenclatures/a\0b/proposals/1", 31), "nomenclatures/\xff/proposals/1",
           "NOMENCLATURES/aptic/proposals/1"}) {
    auto v = kProposal.Parse(bad, "parent");
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    auto violations = Violations(v.status());
    ASSERT_EQ(violations.size(), 1u) << bad;
    EXPECT_EQ(violations[0].field, "parent");
    EXPECT_THAT(violations[0].description, HasSubstr(kProposal.pattern()));
  }
}

TEST(ResourcePatternTest, HugeNamesAreRefusedWithoutBeingEchoed) {
  const std::string huge = "nomenclatures/" + std::string(1 << 20, 'a') + "/proposals/1";
  auto v = kProposal.Parse(huge, "name");
  ASSERT_FALSE(v.ok());
  EXPECT_LT(v.status().ToString().size(), 1000u);
}

TEST(LayerNameTest, OneRuleForEveryServiceNamingALayer) {
  const ResourcePattern coverage("areaLayers/{layer}/coverage");
  for (std::string layer :
       {std::string("qpv"), std::string("quartiers-2024"), std::string(40, 'a')}) {
    EXPECT_TRUE(IsLayerId(layer)) << layer;
    auto v = ParseLayerName(coverage, "areaLayers/" + layer + "/coverage", "name");
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, layer);
  }
  for (std::string layer :
       {std::string("QPV"), std::string("qpv_2024"), std::string("Épeule"), std::string(41, 'a'),
        std::string("q.v"), std::string("-"), std::string("-qpv")}) {
    EXPECT_FALSE(IsLayerId(layer)) << layer;
    auto v = ParseLayerName(coverage, "areaLayers/" + layer + "/coverage", "name");
    ASSERT_FALSE(v.ok()) << layer;
    auto violations = Violations(v.status());
    ASSERT_EQ(violations.size(), 1u) << layer;
    EXPECT_EQ(violations[0].field, "name");
    EXPECT_THAT(violations[0].description,
                HasSubstr("[pattern] areaLayers/{layer}/coverage, la couche en 1 à 40"));
  }
  EXPECT_FALSE(IsLayerId(""));
  // What the pattern itself refuses keeps Parse's words.
  auto v = ParseLayerName(coverage, "areaLayers/qpv", "name");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(Violations(v.status())[0].description, HasSubstr("[pattern] de la forme"));
}

TEST(IsNameSegmentTest, WhatANameCanHoldAsOneVariable) {
  const ResourcePattern pattern("layers/{layer}/areas/{code}");
  for (std::string code : {"59512", "A-1", "Épeule", "x.y_z"}) {
    EXPECT_TRUE(IsNameSegment(code)) << code;
    EXPECT_TRUE(pattern.Parse("layers/l/areas/" + code, "name").ok()) << code;
  }
  for (std::string code :
       {std::string(), std::string("B C"), std::string("D/E"), std::string("A\0B", 3),
        std::string("\xff"), std::string("a\tb"), std::string(2000, 'x')}) {
    EXPECT_FALSE(IsNameSegment(code)) << code.substr(0, 20);
    EXPECT_FALSE(pattern.Parse("layers/l/areas/" + code, "name").ok()) << code.substr(0, 20);
  }
}

TEST(ParsePositiveIdTest, OnlyTheCanonicalSpelling) {
  EXPECT_EQ(ParsePositiveId("1"), 1);
  EXPECT_EQ(ParsePositiveId("9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", "0", "01", "+1", "-1", "1e3", " 1", "1 ", "0x10",
                          "9223372036854775808", "99999999999999999999"}) {
    EXPECT_FALSE(ParsePositiveId(bad).has_value()) << bad;
  }
}

TEST(IsCanonicalUuidTest, LowercaseHyphenatedOnly) {
  EXPECT_TRUE(IsCanonicalUuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
  EXPECT_FALSE(IsCanonicalUuid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
  EXPECT_FALSE(IsCanonicalUuid("0f8fad5bd9cb469fa16570867728950e"));
  EXPECT_FALSE(IsCanonicalUuid("{0f8fad5b-d9cb-469f-a165-70867728950e}"));
  EXPECT_FALSE(IsCanonicalUuid("0f8fad5b-d9cb-469f-a165-70867728950g"));
}

TEST(ToTimestampTest, NanosAreNeverNegative) {
  google::protobuf::Timestamp ts;
  ToTimestamp(absl::FromUnixMicros(-1), &ts);
  EXPECT_EQ(ts.seconds(), -1);
  EXPECT_EQ(ts.nanos(), 999999000);
  ToTimestamp(absl::FromUnixMicros(1'500'000), &ts);
  EXPECT_EQ(ts.seconds(), 1);
  EXPECT_EQ(ts.nanos(), 500000000);
}

std::vector<std::string> FieldsOf(const std::vector<FieldViolation>& bad) {
  std::vector<std::string> fields;
  for (const auto& v : bad) fields.push_back(v.field);
  return fields;
}

UpdateMaskRules Rules(bool star) {
  return {.writable = [](std::string_view p) { return p == "nom" || p == "telephone"; },
          .of = "d'un lieu",
          .listed = "nom, telephone",
          .immutable = {{"id", "est fixé à la création"}},
          .star = star};
}

TEST(CheckUpdateMaskTest, EachPathIsWritableAndNamedOnce) {
  std::vector<FieldViolation> bad;
  CheckUpdateMask({"nom", "telephone"}, Rules(false), &bad);
  EXPECT_TRUE(bad.empty());
  CheckUpdateMask({"nom", "adresse", "id", "nom"}, Rules(false), &bad);
  ASSERT_THAT(FieldsOf(bad),
              ElementsAre("update_mask.paths[1]", "update_mask.paths[2]", "update_mask.paths[3]"));
  EXPECT_THAT(bad[0].description,
              HasSubstr("[field] « adresse » n'est pas un champ modifiable d'un "
                        "lieu ; champs : nom, telephone"));
  EXPECT_THAT(bad[1].description, HasSubstr("[immutable] « id » est fixé à la création"));
  EXPECT_THAT(bad[2].description, HasSubstr("[unique]"));
}

TEST(CheckUpdateMaskTest, StarAloneOnlyWhereTheResourceAllowsIt) {
  std::vector<FieldViolation> bad;
  CheckUpdateMask({"*"}, Rules(true), &bad);
  EXPECT_TRUE(bad.empty());
  CheckUpdateMask({"*"}, Rules(false), &bad);
  EXPECT_THAT(FieldsOf(bad), ElementsAre("update_mask.paths[0]"));
  bad.clear();
  CheckUpdateMask({"*", "nom"}, Rules(true), &bad);
  EXPECT_THAT(FieldsOf(bad), ElementsAre("update_mask.paths[0]"));
}

TEST(CheckUpdateMaskTest, HostilePathsAreBoundedAndALongMaskRefusedWhole) {
  std::vector<FieldViolation> bad;
  const std::string huge(100000, 'x');
  CheckUpdateMask({huge, std::string("no\0m", 4), "\xC3\x28"}, Rules(false), &bad);
  ASSERT_EQ(bad.size(), 3u);
  for (const auto& v : bad) EXPECT_LT(v.description.size(), 300u) << v.description;
  bad.clear();
  CheckUpdateMask(std::vector<std::string>(201, "nom"), Rules(false), &bad);
  ASSERT_THAT(FieldsOf(bad), ElementsAre("update_mask"));
  EXPECT_THAT(bad[0].description, HasSubstr("[size] au plus 200 chemins ; reçu 201"));
}

TEST(NotFoundTest, NamesTheResourceInFrenchQuotedAndWithItsReason) {
  absl::Status s = NotFound("areaLayers/qpv", "AREA_LAYER_NOT_FOUND");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "areaLayers/qpv n'existe pas");
  EXPECT_TRUE(s.GetPayload("type.googleapis.com/google.rpc.ErrorInfo").has_value());
  EXPECT_FALSE(NotFound("venues/x").GetPayload("type.googleapis.com/google.rpc.ErrorInfo"));
  // A hostile name is quoted: no control character, no invalid UTF-8, never its whole length.
  absl::Status hostile = NotFound(std::string("venues/a\0\nb\xff", 12) + std::string(10000, 'a'));
  EXPECT_THAT(std::string(hostile.message()), HasSubstr("venues/a\uFFFD"));
  EXPECT_LT(hostile.message().size(), 500u);
}

TEST(CheckNumberTest, NamesTheValueExactlyAndTheBounds) {
  std::vector<FieldViolation> bad;
  EXPECT_TRUE(CheckNumber(&bad, "latitude", 90, -90, 90));
  EXPECT_FALSE(CheckNumber(&bad, "latitude", 90.00000000000001, -90, 90));
  EXPECT_FALSE(CheckNumber(&bad, "latitude", 91.5, -90, 90));
  EXPECT_FALSE(CheckNumber(&bad, "latitude", std::nan(""), -90, 90));
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_EQ(bad[0].description, "[range] de -90 à 90, reçu 90.00000000000001");
  EXPECT_EQ(bad[1].description, "[range] de -90 à 90, reçu 91.5");
  EXPECT_EQ(bad[2].description, "[number] un nombre de -90 à 90, reçu NaN");
}

}  // namespace
}  // namespace passerelle::api
