// Unit tests of the event envelope helpers.
#include "libs/events/event.hpp"

#include <gtest/gtest.h>

#include <set>

#include "absl/strings/ascii.h"

namespace passerelle::events {
namespace {

TEST(NewUuid, IsAVersionFourRfc4122UuidInLowerCaseHex) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuid();
    ASSERT_EQ(id.size(), 36u) << id;
    for (size_t at = 0; at < id.size(); ++at) {
      if (at == 8 || at == 13 || at == 18 || at == 23) {
        ASSERT_EQ(id[at], '-') << id;
      } else {
        ASSERT_TRUE(absl::ascii_isxdigit(id[at]) && !absl::ascii_isupper(id[at])) << id;
      }
    }
    EXPECT_EQ(id[14], '4') << id;                                          // version
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // variant 10xx
  }
}

TEST(NewUuid, EveryDigitVariesAndNoIdRepeats) {
  std::set<std::string> seen;
  std::vector<std::set<char>> digits(36);
  for (int i = 0; i < 2000; ++i) {
    const std::string id = NewUuid();
    EXPECT_TRUE(seen.insert(id).second) << id;
    for (size_t at = 0; at < id.size(); ++at) digits[at].insert(id[at]);
  }
  for (size_t at = 0; at < 36; ++at) {
    if (at == 8 || at == 13 || at == 18 || at == 23 || at == 14) {
      EXPECT_EQ(digits[at].size(), 1u) << "position " << at;
    } else if (at == 19) {
      EXPECT_EQ(digits[at].size(), 4u) << "position " << at;
    } else {
      EXPECT_EQ(digits[at].size(), 16u) << "position " << at;  // random bits reach every place
    }
  }
}

}  // namespace
}  // namespace passerelle::events
