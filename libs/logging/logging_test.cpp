// Unit tests of the JSON-lines logger.
#include "libs/logging/logging.hpp"

#include <sstream>

#include "gtest/gtest.h"

namespace passerelle::logging {
namespace {

TEST(LoggingTest, WritesOneJsonObjectPerLineWithIds) {
  std::ostringstream out;
  Init("venues", Level::kInfo, &out);
  {
    ScopedRequest req({"req-1", "4bf92f3577b34da6a3ce929d0e0e4736"});
    Info("venue created", {{"venue", "venues/12"}});
  }
  Debug("hidden");
  Warn("after request");
  std::istringstream in(out.str());
  std::string first, second, third;
  ASSERT_TRUE(std::getline(in, first));
  ASSERT_TRUE(std::getline(in, second));
  EXPECT_FALSE(std::getline(in, third)) << "debug line should be filtered";

  auto a = nlohmann::json::parse(first);
  EXPECT_EQ(a["service"], "venues");
  EXPECT_EQ(a["level"], "info");
  EXPECT_EQ(a["message"], "venue created");
  EXPECT_EQ(a["request_id"], "req-1");
  EXPECT_EQ(a["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(a["venue"], "venues/12");
  EXPECT_TRUE(a["time"].get<std::string>().ends_with("Z"));

  auto b = nlohmann::json::parse(second);
  EXPECT_EQ(b["level"], "warn");
  EXPECT_FALSE(b.contains("request_id")) << "ids must not leak past the request";
  Init("passerelle", Level::kInfo, &std::cerr);
}

TEST(LoggingTest, FieldsCannotOverrideStandardKeysAndBadUtf8IsReplaced) {
  std::string line = FormatLine(Level::kError, "bad \xff byte", {{"level", "forged"}});
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "error");
}

TEST(LoggingTest, ParsesLevels) {
  Level l;
  EXPECT_TRUE(ParseLevel("warn", &l));
  EXPECT_EQ(l, Level::kWarn);
  EXPECT_FALSE(ParseLevel("loud", &l));
}

}  // namespace
}  // namespace passerelle::logging
