#include "services/gateway/rate_limit.hpp"

#include "gtest/gtest.h"

namespace passerelle::gateway {
namespace {

TEST(RateLimiterTest, ABurstThenRefusalThenRefill) {
  clocks::ManualClock clock;
  RateLimiter limiter(clock);
  RateLimit limit{2, 3};
  for (int i = 0; i < 3; ++i) {
    RateLimiter::Decision d = limiter.Take("k", limit);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 3);
    EXPECT_EQ(d.remaining, 2 - i);
  }
  RateLimiter::Decision refused = limiter.Take("k", limit);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 1);
  EXPECT_EQ(refused.reset, 2);  // 3 tokens at 2 per second
  clock.Advance(absl::Milliseconds(499));
  EXPECT_FALSE(limiter.Take("k", limit).allowed);
  clock.Advance(absl::Milliseconds(2));
  EXPECT_TRUE(limiter.Take("k", limit).allowed);
  // Others have their own bucket.
  EXPECT_TRUE(limiter.Take("other", limit).allowed);
}

TEST(RateLimiterTest, NewAddressesCannotGrowMemory) {
  clocks::ManualClock clock;
  RateLimiter limiter(clock, 1600);
  for (int i = 0; i < 100000; ++i) {
    limiter.Take("198.51.100." + std::to_string(i), RateLimit{1, 5});
    clock.Advance(absl::Microseconds(1));
  }
  EXPECT_LE(limiter.size(), 1600u);
}

TEST(RateLimiterTest, SettingsAreParsedStrictly) {
  auto limits = ParseRateLimits("public=5:10, admin=0.5:2");
  ASSERT_TRUE(limits.ok()) << limits.status();
  EXPECT_DOUBLE_EQ(limits->at("public").per_second, 5);
  EXPECT_DOUBLE_EQ(limits->at("admin").burst, 2);
  EXPECT_DOUBLE_EQ(limits->at("partner").per_second, 100);
  for (const char* bad : {"public", "public=5", "nobody=1:1", "public=NaN:1", "public=0:1",
                          "public=1:0", "public=1e3:5", "public=-1:5", "public=1:inf"}) {
    EXPECT_FALSE(ParseRateLimits(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace passerelle::gateway
