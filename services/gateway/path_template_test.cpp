#include "services/gateway/path_template.hpp"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passerelle::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

SplitPath Split(std::string_view path) {
  absl::StatusOr<SplitPath> split = SplitRequestPath(path);
  EXPECT_TRUE(split.ok()) << path << ": " << split.status();
  return split.ok() ? *split : SplitPath{};
}

TEST(PathTemplateTest, ParsesVariablesVerbsAndPatterns) {
  absl::StatusOr<PathTemplate> t =
      PathTemplate::Parse("/v1/{name=nomenclatures/*/versions/*}:export");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->verb(), "export");
  ASSERT_EQ(t->variables().size(), 1u);
  EXPECT_EQ(t->variables()[0].field_path, "name");
  EXPECT_EQ(t->Shape(), "/v1/nomenclatures/*/versions/*:export");
  EXPECT_EQ(t->literal_count(), 3u);

  absl::StatusOr<PathTemplate> short_form = PathTemplate::Parse("/v1/sources/{source}/venues");
  ASSERT_TRUE(short_form.ok());
  EXPECT_EQ(short_form->Shape(), "/v1/sources/*/venues");
}

TEST(PathTemplateTest, RefusesTemplatesThatBreakTheGrammar) {
  for (const char* bad : {"", "v1/x", "/v1/{name", "/v1/{name=}", "/v1/**/x", "/v1/{a}/{a}",
                          "/v1/{1x}", "/v1/x:", "/v1/x:a:b", "/v1//x", "/v1/{a={b}}", "/v1/x y"}) {
    EXPECT_FALSE(PathTemplate::Parse(bad).ok()) << bad;
  }
}

TEST(PathTemplateTest, MatchesAndBindsVariables) {
  PathTemplate t = *PathTemplate::Parse("/v1/{name=venues/*}:withdraw");
  EXPECT_THAT(*t.Match(Split("/v1/venues/abc:withdraw")), ElementsAre(Pair("name", "venues/abc")));
  EXPECT_FALSE(t.Match(Split("/v1/venues/abc")));
  EXPECT_FALSE(t.Match(Split("/v1/venues/abc:other")));
  EXPECT_FALSE(t.Match(Split("/v1/venues/abc/def:withdraw")));
  EXPECT_FALSE(t.Match(Split("/v1/places/abc:withdraw")));

  PathTemplate plain = *PathTemplate::Parse("/v1/{name=venues/*}");
  EXPECT_TRUE(plain.Match(Split("/v1/venues/abc")));
  EXPECT_FALSE(plain.Match(Split("/v1/venues/abc:withdraw")));

  PathTemplate tail = *PathTemplate::Parse("/static/{path=**}");
  EXPECT_THAT(*tail.Match(Split("/static/a/b/c")), ElementsAre(Pair("path", "a/b/c")));
}

TEST(PathTemplateTest, DecodesSegmentsButKeepsEncodedSlashes) {
  SplitPath p = Split("/v1/venues/a%20b%2Fc");
  EXPECT_THAT(p.segments, ElementsAre("v1", "venues", "a b%2Fc"));
  SplitPath verb = Split("/v1/venues:search");
  EXPECT_THAT(verb.segments, ElementsAre("v1", "venues"));
  EXPECT_EQ(verb.verb, "search");
}

// http.proto: a single-segment variable is decoded whole, `%2F` included; a multi-segment one
// keeps `%2F` encoded (a `/` there would read as a separator).
TEST(PathTemplateTest, SingleSegmentVariablesDecodeEncodedSlashes) {
  PathTemplate single = *PathTemplate::Parse("/v1/things/{id}:run");
  EXPECT_THAT(*single.Match(Split("/v1/things/a%2Fb%2fc:run")), ElementsAre(Pair("id", "a/b/c")));
  PathTemplate star = *PathTemplate::Parse("/v1/{id=*}/x");
  EXPECT_THAT(*star.Match(Split("/v1/a%2Fb/x")), ElementsAre(Pair("id", "a/b")));
  PathTemplate multi = *PathTemplate::Parse("/v1/{name=venues/*}");
  EXPECT_THAT(*multi.Match(Split("/v1/venues/a%2Fb")), ElementsAre(Pair("name", "venues/a%2Fb")));
  PathTemplate tail = *PathTemplate::Parse("/static/{path=**}");
  EXPECT_THAT(*tail.Match(Split("/static/a%2Fb/c")), ElementsAre(Pair("path", "a%2Fb/c")));
}

TEST(PathTemplateTest, RefusesHostilePaths) {
  for (const char* bad :
       {"", "v1", "/v1/venues/%", "/v1/venues/%4", "/v1/venues/%zz", "/v1/venues/%00",
        "/v1/venues/%0a", "/v1/venues/%C0%AE", "/v1/venues/%FF", "/v1/../etc/passwd",
        "/v1/venues/%2e%2e", "/v1//venues", "/v1/venues/", "/v1/./venues", "/v1/venues/:x",
        "/:W", "/v1/:"}) {
    absl::StatusOr<SplitPath> split = SplitRequestPath(bad);
    EXPECT_FALSE(split.ok()) << bad;
    if (!split.ok()) {
      EXPECT_EQ(split.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(split.status().message(), HasSubstr("chemin"));
    }
  }
}

}  // namespace
}  // namespace passerelle::gateway
