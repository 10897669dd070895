// Unit tests of sealed page tokens.
#include "libs/api/page_token.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "absl/strings/escaping.h"
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

// The nonce of a token: bytes 1..12 of the decoded token.
std::string NonceOf(const std::string& token) {
  std::string raw;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  return raw.substr(1, 12);
}

TEST(PageTokens, NoncesNeverRepeatAcrossThreadsBatchesAndFailures) {
  PageTokens tokens("deployment secret");
  std::vector<std::vector<std::string>> issued(4);
  std::vector<std::thread> threads;
  for (auto& out : issued) {
    threads.emplace_back([&tokens, &out] {
      for (int i = 0; i < 300; ++i) {  // several refills of a thread's pool of nonces
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
    for (const auto& token : out) nonces.insert(NonceOf(token));
  }
  EXPECT_EQ(nonces.size(), 4u * 300u);
}

TEST(PageTokens, AForkedChildNeverReusesItsParentsNonces) {
  PageTokens tokens("deployment secret");
  tokens.Seal("venues", "p", "drawn before the fork");  // the thread's pool is filled
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string nonce = NonceOf(tokens.Seal("venues", "p", "child"));
    _exit(write(fds[1], nonce.data(), nonce.size()) == static_cast<ssize_t>(nonce.size()) ? 0 : 1);
  }
  close(fds[1]);
  const std::string parent = NonceOf(tokens.Seal("venues", "p", "parent"));
  std::string from_child(12, '\0');
  ASSERT_EQ(read(fds[0], from_child.data(), from_child.size()), 12);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_NE(parent, from_child);
}

}  // namespace
}  // namespace passerelle::api
