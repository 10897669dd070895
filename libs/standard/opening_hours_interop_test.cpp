// Differential test: the registry's opening_hours against the reference's recorded answers
// (tests/interop/opening_hours_reference.json, made by tools/opening_hours_reference.sh).
// Every string both accept must give the same open/closed/unknown at every instant; the strings
// only one side accepts must be exactly the reviewed list tests/interop/opening_hours_one_side.txt.
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "libs/standard/opening_hours.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::standard {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

char Letter(HoursState s) {
  switch (s) {
    case HoursState::kOpen:
      return 'o';
    case HoursState::kClosed:
      return 'c';
    case HoursState::kUnknown:
      return 'u';
  }
  return '?';
}

TEST(OpeningHoursInteropTest, AgreesWithTheReferenceOnEveryStringBothAccept) {
  const std::string dir = std::string(PASSERELLE_SOURCE_DIR) + "/tests/interop/";
  const auto doc = nlohmann::json::parse(Read(dir + "opening_hours_reference.json"));
  absl::TimeZone paris;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Paris", &paris));
  std::vector<absl::CivilMinute> instants;
  for (const auto& i : doc.at("instants")) {
    const absl::CivilMinute local = absl::ToCivilMinute(absl::FromUnixSeconds(i.at("unix")), paris);
    // The recorded local time is the one evaluated: the fixture and tzdata agree.
    ASSERT_EQ(absl::FormatCivilTime(local).substr(0, 16), i.at("local").get<std::string>());
    instants.push_back(local);
  }
  ASSERT_GE(instants.size(), 100u);
  size_t both = 0, disagreements = 0;
  std::set<std::string> one_side;
  for (const auto& c : doc.at("cases")) {
    const std::string value = c.at("value");
    const auto ours = OpeningHours::Parse(value);
    const bool theirs = !c.at("states").is_null();
    if (!ours || !theirs) {
      if (ours.has_value() != theirs) {
        one_side.insert(std::string(theirs ? "reference-only\t" : "registry-only\t") +
                        nlohmann::json(value).dump());
      }
      continue;
    }
    ++both;
    const std::string expected = c.at("states");
    std::string got;
    for (const auto& at : instants) got += Letter(ours->At(at).state);
    if (got != expected) {
      ++disagreements;
      std::string where;
      for (size_t k = 0; k < got.size() && where.size() < 200; ++k) {
        if (got[k] != expected[k]) {
          where +=
              absl::StrCat(" ", doc["instants"][k]["local"].get<std::string>(),
                           " ours=", std::string(1, got[k]), " ref=", std::string(1, expected[k]));
        }
      }
      ADD_FAILURE() << "disagreement on " << nlohmann::json(value).dump() << ":" << where;
    }
  }
  std::cout << doc["cases"].size() << " strings x " << instants.size() << " instants; " << both
            << " accepted by both, " << disagreements << " disagreeing, " << one_side.size()
            << " accepted by one side only\n";
  EXPECT_EQ(disagreements, 0u);
  EXPECT_GE(doc["cases"].size(), 300u);

  // The reviewed list (docs/venues.md): a string moving in or out of it is a change to review.
  std::set<std::string> reviewed;
  std::istringstream list(Read(dir + "opening_hours_one_side.txt"));
  for (std::string line; std::getline(list, line);) {
    if (!line.empty() && line[0] != '#') reviewed.insert(line);
  }
  for (const auto& s : one_side) {
    EXPECT_TRUE(reviewed.count(s)) << "accepted by one side only, not in the reviewed list: " << s;
  }
  for (const auto& s : reviewed) {
    EXPECT_TRUE(one_side.count(s))
        << "in the reviewed list but now accepted by both or neither: " << s;
  }
  if (getenv("PASSERELLE_PRINT_ONE_SIDE") != nullptr) {
    for (const auto& s : one_side) std::cout << s << "\n";
  }
}

}  // namespace
}  // namespace passerelle::standard
