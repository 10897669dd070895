#include "libs/text/json_string.hpp"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "libs/text/utf8.hpp"
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

// The scan takes sixteen bytes at a time: every kind of byte, at every position around the
// blocks' edges, is escaped, copied or refused as a byte-by-byte scan would.
TEST(JsonStringTest, EveryKindOfByteAtEveryPosition) {
  const std::vector<std::string> odd = {"\"",
                                        "\\",
                                        "\n",
                                        "\x01",
                                        "\x1f",
                                        "\x7f",
                                        "é",
                                        "€",
                                        "😀",
                                        std::string(1, '\0'),
                                        "\xff",
                                        "\xc3",
                                        "\xed\xa0\x80",
                                        "\xe2\x82"};
  for (size_t len = 0; len < 40; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      for (const std::string& o : odd) {
        std::string s(len, 'a');
        s.insert(at, o);
        std::string out = "x";
        const bool valid = IsValidUtf8(s);
        ASSERT_EQ(AppendJsonString(&out, s), valid) << len << " " << at << " " << o;
        if (!valid) {
          ASSERT_EQ(out, "x");  // nothing written
          continue;
        }
        for (char c : out) ASSERT_TRUE(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
        ASSERT_EQ(nlohmann::json::parse(out.substr(1)).get<std::string>(), s) << out;
      }
    }
  }
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
