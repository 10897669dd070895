// Request Cache-Control and Pragma read as RFC 9111 lists.
#include "libs/http/cache_control.hpp"

#include <string>

#include "gtest/gtest.h"

namespace passerelle::http {
namespace {

TEST(CacheControlTest, DirectivesAreAListNotSubstrings) {
  EXPECT_TRUE(ParseRequestCacheControl("no-cache").no_cache);
  EXPECT_TRUE(ParseRequestCacheControl("  NO-CACHE , max-stale").no_cache);
  EXPECT_TRUE(ParseRequestCacheControl("max-stale=10,no-store").no_store);
  // Names that merely contain a directive, and a directive inside a quoted value, are not it.
  EXPECT_FALSE(ParseRequestCacheControl("no-cache-please").no_cache);
  EXPECT_FALSE(ParseRequestCacheControl("x-ext=\"no-cache, max-age=0\"").no_cache);
  EXPECT_FALSE(ParseRequestCacheControl("x-ext=\"no-cache, max-age=0\"").max_age.has_value());
  EXPECT_FALSE(ParseRequestCacheControl("s-maxage=0").max_age.has_value());
}

TEST(CacheControlTest, MaxAgeIsDeltaSecondsOrZero) {
  EXPECT_EQ(ParseRequestCacheControl("max-age=05").max_age, 5);
  EXPECT_EQ(ParseRequestCacheControl("max-age=\"60\"").max_age, 60);
  EXPECT_EQ(ParseRequestCacheControl("Max-Age = 0").max_age, 0);
  EXPECT_EQ(ParseRequestCacheControl("max-age=99999999999999999999999").max_age, 2147483648LL);
  // What is not delta-seconds asks for something fresh.
  for (const char* bad :
       {"max-age", "max-age=", "max-age=-1", "max-age=1e3", "max-age=NaN", "max-age=\xC3\x28"}) {
    EXPECT_EQ(ParseRequestCacheControl(bad).max_age, 0) << bad;
  }
  EXPECT_EQ(ParseRequestCacheControl(std::string("max-age=1\0", 10)).max_age, 0);
}

TEST(CacheControlTest, RevalidationFromCacheControlElsePragma) {
  EXPECT_TRUE(AsksRevalidation("no-cache", std::nullopt));
  EXPECT_TRUE(AsksRevalidation("max-age=0", std::nullopt));
  EXPECT_FALSE(AsksRevalidation("max-age=05", std::nullopt));
  EXPECT_FALSE(AsksRevalidation(std::nullopt, std::nullopt));
  EXPECT_TRUE(AsksRevalidation(std::nullopt, "No-Cache"));
  EXPECT_FALSE(AsksRevalidation(std::nullopt, "x-no-cache"));
  // Pragma is HTTP/1.0's: a Cache-Control field takes precedence (RFC 9111 section 5.4).
  EXPECT_FALSE(AsksRevalidation("max-age=60", "no-cache"));
  // Hostile sizes and bytes end without a directive read wrong.
  const std::string huge(1 << 20, 'x');
  EXPECT_FALSE(AsksRevalidation(huge, std::nullopt));
  EXPECT_TRUE(AsksRevalidation(huge + ",no-cache", std::nullopt));
  EXPECT_FALSE(AsksRevalidation("\"no-cache", std::nullopt));
  EXPECT_FALSE(AsksRevalidation(std::string("no\0cache", 8), std::nullopt));
}

}  // namespace
}  // namespace passerelle::http
