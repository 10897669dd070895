// Unit tests of the typed environment reader.
#include "libs/config/config.hpp"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passerelle::config {
namespace {

using ::testing::HasSubstr;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ConfigTest, DefaultsApplyWhenUnsetOrEmpty) {
  Reader r(Env({{"B", ""}}));
  EXPECT_EQ(r.Int("A", 7, 0, 10, "a"), 7);
  EXPECT_EQ(r.String("B", "def", "b"), "def");
  EXPECT_TRUE(r.Finish().ok());
  EXPECT_EQ(r.entries().size(), 2u);
}

TEST(ConfigTest, ParsesTypedValues) {
  Reader r(Env({{"P", "8080"}, {"D", "5s"}, {"F", "no"}, {"L", "info"}, {"A", "0.0.0.0:9"}}));
  EXPECT_EQ(r.Port("P", 1, "p"), 8080);
  EXPECT_EQ(r.Duration("D", std::chrono::milliseconds(1), "d"), std::chrono::seconds(5));
  EXPECT_FALSE(r.Bool("F", true, "f"));
  EXPECT_EQ(r.OneOf("L", "warn", {"debug", "info", "warn"}, "l"), "info");
  EXPECT_EQ(r.ListenAddress("A", "127.0.0.1:1", "a"), "0.0.0.0:9");
  EXPECT_TRUE(r.Finish().ok());
}

TEST(ConfigTest, EveryBadValueIsReportedWithNameExpectationAndValue) {
  Reader r(Env({{"PORT", "http"}, {"WAIT", "soon"}, {"LEVEL", "loud"}, {"ADDR", "nowhere"}}));
  r.Port("PORT", 1, "");
  r.Duration("WAIT", std::chrono::milliseconds(1), "");
  r.OneOf("LEVEL", "info", {"debug", "info"}, "");
  r.ListenAddress("ADDR", "127.0.0.1:1", "");
  r.RequiredString("DATABASE_URL", "PostgreSQL connection URI");
  absl::Status s = r.Finish();
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("PORT: expected an integer between 0 and 65535, got \"http\""));
  EXPECT_THAT(s.message(), HasSubstr("WAIT: expected a duration"));
  EXPECT_THAT(s.message(), HasSubstr("LEVEL: expected one of debug, info, got \"loud\""));
  EXPECT_THAT(s.message(), HasSubstr("ADDR: expected a host:port address"));
  EXPECT_THAT(s.message(), HasSubstr("DATABASE_URL: required"));
}

TEST(ConfigTest, DurationUnits) {
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("250"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(*ParseDuration("1h"), std::chrono::hours(1));
  EXPECT_FALSE(ParseDuration("1d").has_value());
  EXPECT_FALSE(ParseDuration("-5s").has_value());
  EXPECT_FALSE(ParseDuration("").has_value());
}

}  // namespace
}  // namespace passerelle::config
