#include "libs/text/json_string.hpp"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace passerelle::text {
namespace {

TEST(JsonStringTest, EveryByteReadsBackAsItself) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "é — \u2028 😀";
  std::string out;
  ASSERT_TRUE(AppendJsonString(&out, all));
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), all);
  EXPECT_EQ(out.find('\x7f'), std::string::npos);
  std::string shortest;
  ASSERT_TRUE(AppendJsonString(&shortest, "a\"b\\c\n\t\b\f\x01"));
  EXPECT_EQ(shortest, R"("a\"b\\c\n\t\b\f\u0001")");
}

TEST(JsonStringTest, InvalidUtf8IsRefusedOrRepaired) {
  std::string out = "x";
  EXPECT_FALSE(AppendJsonString(&out, "a\xff"));
  EXPECT_EQ(out, "x");
  out.clear();
  AppendJsonStringRepaired(&out, "a\xff");
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), "a\uFFFD");
}

}  // namespace
}  // namespace passerelle::text
