// Unit tests of sealed page tokens.
#include "libs/api/page_token.hpp"

#include <gtest/gtest.h>

#include "libs/api/status.hpp"

namespace passerelle::api {
namespace {

TEST(PageTokens, RoundTripsACursorOpaquely) {
  PageTokens tokens("deployment secret");
  const std::string cursor =
      "Médiathèque\x1f"
      "2f6c1c3e-1b7e-4a43-9f0e-6d1f1c2b3a4d";
  const std::string token = tokens.Seal("venues", "filter=a", cursor);
  EXPECT_EQ(token.find("2f6c1c3e"), std::string::npos);
  auto opened = tokens.Open("venues", "filter=a", token);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, cursor);
  EXPECT_NE(tokens.Seal("venues", "filter=a", cursor), token);  // fresh nonce each time
}

TEST(PageTokens, RefusesForgedCutReplayedAndForeignTokens) {
  PageTokens tokens("deployment secret");
  const std::string token = tokens.Seal("venues", "filter=a", "cursor");
  std::vector<std::string> bad = {"garbage",
                                  "NQ",
                                  "",
                                  std::string(10000, 'A'),
                                  token.substr(0, token.size() - 2),
                                  std::string("\xFF\xFE", 2) + token,
                                  token + "AA"};
  std::string flipped = token;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  bad.push_back(flipped);
  for (const auto& t : bad) {
    auto opened = tokens.Open("venues", "filter=a", t);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument) << t;
    ASSERT_FALSE(Violations(opened.status()).empty());
    EXPECT_EQ(Violations(opened.status())[0].field, "page_token");
  }
  EXPECT_FALSE(tokens.Open("venues", "filter=b", token).ok());   // other parameters
  EXPECT_FALSE(tokens.Open("sources", "filter=a", token).ok());  // another list
  EXPECT_FALSE(PageTokens("other key").Open("venues", "filter=a", token).ok());
}

TEST(PageTokens, BindsPartsUnambiguously) {
  EXPECT_NE(BindParameters({"a|b", "c"}), BindParameters({"a", "b|c"}));
  EXPECT_NE(BindParameters({"ab", ""}), BindParameters({"a", "b"}));
}

}  // namespace
}  // namespace passerelle::api
