// Unit tests of sealed page tokens.
#include "libs/api/page_token.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "libs/api/status.hpp"

namespace passerelle::api {
namespace {

// The nonce of a token: bytes 1..12 of the decoded token.
std::string NonceOf(const std::string& token) {
  std::string raw;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  return raw.substr(1, 12);
}

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
}

// The same page is the same token, so its answer is the same bytes (ETag, 304), on any replica;
// anything else sealed, even one byte, gives another nonce.
TEST(PageTokens, TheSamePageIsTheSameTokenOnEveryReplica) {
  PageTokens tokens("deployment secret");
  const std::string token = tokens.Seal("venues", "filter=a", "cursor");
  EXPECT_EQ(tokens.Seal("venues", "filter=a", "cursor"), token);
  EXPECT_EQ(PageTokens("deployment secret").Seal("venues", "filter=a", "cursor"), token);
  EXPECT_NE(PageTokens("other secret").Seal("venues", "filter=a", "cursor"), token);
  std::set<std::string> nonces = {NonceOf(token)};
  for (const auto& [list, parameters, cursor] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"venues", "filter=a", "cursoR"},
           {"venues", "filter=b", "cursor"},
           {"sources", "filter=a", "cursor"},
           {"venues", "filter=acursor", ""},
           {"venues", "", "filter=acursor"}}) {
    nonces.insert(NonceOf(tokens.Seal(list, parameters, cursor)));
  }
  EXPECT_EQ(nonces.size(), 6u);
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

TEST(PageTokens, ThreadsSealAndOpenTogether) {
  PageTokens tokens("deployment secret");
  std::vector<std::vector<std::string>> issued(4);
  std::vector<std::thread> threads;
  for (auto& out : issued) {
    threads.emplace_back([&tokens, &out] {
      for (int i = 0; i < 300; ++i) {
        out.push_back(tokens.Seal("venues", "p", "cursor " + std::to_string(i)));
        // A refused token between two seals leaves the thread's context usable.
        EXPECT_FALSE(tokens.Open("venues", "other", out.back()).ok());
        auto opened = tokens.Open("venues", "p", out.back());
        ASSERT_TRUE(opened.ok()) << opened.status();
        EXPECT_EQ(*opened, "cursor " + std::to_string(i));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> nonces;
  for (const auto& out : issued) {
    EXPECT_EQ(out, issued[0]);  // every thread sealed the same 300 cursors alike
    for (const auto& token : out) nonces.insert(NonceOf(token));
  }
  EXPECT_EQ(nonces.size(), 300u);
}

// AIP-158's page size, as every List and Search reads it: 0 the default, above the maximum
// capped (served, not refused), negative a [range] violation on page_size naming the value.
TEST(PageSizeTest, DefaultCapAndRefusal) {
  std::vector<FieldViolation> bad;
  EXPECT_EQ(PageSize(&bad, 0, 50, 1000), 50);
  EXPECT_EQ(PageSize(&bad, 7, 50, 1000), 7);
  EXPECT_EQ(PageSize(&bad, 2147483647, 50, 1000), 1000);
  EXPECT_TRUE(bad.empty());
  EXPECT_EQ(PageSize(&bad, -2147483647 - 1, 50, 1000), 50);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].field, "page_size");
  EXPECT_TRUE(bad[0].description.starts_with("[range] ")) << bad[0].description;
  EXPECT_NE(bad[0].description.find("-2147483648"), std::string::npos) << bad[0].description;
  auto refused = PageSize(-1, 20, 100);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(Violations(refused.status()).size(), 1u);
  EXPECT_EQ(Violations(refused.status())[0].field, "page_size");
  EXPECT_EQ(PageSize(0, 20, 100).value(), 20);
}

}  // namespace
}  // namespace passerelle::api
