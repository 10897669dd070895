// The destination policy: URLs parsed strictly, special-use addresses refused unless configured.
#include "libs/net/destination.hpp"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passerelle::net {
namespace {

using ::testing::HasSubstr;

DestinationPolicy Default() { return *DestinationPolicy::FromStrings("", "80,443"); }

absl::Status Check(const DestinationPolicy& p, std::string_view url) {
  auto u = ParseUrl(url);
  return u.ok() ? p.CheckUrl(*u) : u.status();
}

TEST(ParseUrl, AcceptsHttpAndHttpsWithPortPathAndQuery) {
  auto u = ParseUrl("HTTPS://Data.Example.ORG:8443/lieux.csv?x=1#frag");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "data.example.org");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/lieux.csv?x=1");
  EXPECT_EQ(u->Redacted(), "https://data.example.org:8443/lieux.csv?…");
  auto v6 = ParseUrl("http://[2001:4860::8888]/");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "2001:4860::8888");
  EXPECT_EQ(v6->Origin(), "http://[2001:4860::8888]");
}

TEST(ParseUrl, RefusesOtherSchemesUserinfoNonCanonicalIpsAndControls) {
  EXPECT_THAT(ParseUrl("ftp://example.org/a").status().message(), HasSubstr("http et https"));
  EXPECT_THAT(ParseUrl("file:///etc/passwd").status().message(), HasSubstr("http et https"));
  auto userinfo = ParseUrl("https://user:s3cret@example.org/a.csv");
  EXPECT_EQ(userinfo.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(userinfo.status().message(), HasSubstr("authorization"));
  EXPECT_THAT(userinfo.status().message(), ::testing::Not(HasSubstr("s3cret")));
  for (const char* u : {"http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/",
                        "http://127.1/", "http://1.2.3.4.5/"}) {
    EXPECT_THAT(ParseUrl(u).status().message(), HasSubstr("non canonique")) << u;
  }
  EXPECT_FALSE(ParseUrl("http://exa mple.org/").ok());
  EXPECT_FALSE(ParseUrl("http://example.org/a b").ok());
  EXPECT_FALSE(ParseUrl(std::string("http://example.org/\0a", 21)).ok());
  EXPECT_FALSE(ParseUrl("http://example.org:0/").ok());
  // One spelling per port and host.
  for (const char* bad : {"http://example.org:080/", "http://example.org:+80/",
                          "http://example.org: 80/", "http://example.org:/", "http://a..b/",
                          "http://-a.com/", "http://a-.com/", "http://[::1]:/"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseUrl("http://example.org:99999/").ok());
  EXPECT_FALSE(ParseUrl("http://exämple.org/").ok());
  EXPECT_FALSE(ParseUrl("http://example.org/" + std::string(3000, 'a')).ok());
}

TEST(DestinationPolicy, RefusesSpecialUseAddressesAndOtherPortsByDefault) {
  const auto p = Default();
  for (const char* u :
       {"http://169.254.169.254/latest/meta-data/", "http://127.0.0.1/", "http://0.0.0.0/",
        "http://[::1]/", "http://10.1.2.3/", "http://192.168.1.1/", "http://172.16.0.1/",
        "http://100.64.0.1/", "http://[fe80::1]/", "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/", "http://224.0.0.1/", "http://255.255.255.255/"}) {
    EXPECT_EQ(Check(p, u).code(), absl::StatusCode::kInvalidArgument) << u;
  }
  EXPECT_THAT(Check(p, "http://169.254.169.254/").message(), HasSubstr("lien local"));
  EXPECT_TRUE(Check(p, "https://8.8.8.8/").ok());
  EXPECT_TRUE(Check(p, "https://[2001:4860:4860::8888]/").ok());
  EXPECT_TRUE(Check(p, "https://data.example.org/lieux.csv").ok());
  EXPECT_THAT(Check(p, "http://8.8.8.8:5432/").message(), HasSubstr("port 5432 refusé"));
}

TEST(DestinationPolicy, ConfiguredNetworksAndPortsAreAllowed) {
  auto p = DestinationPolicy::FromStrings("127.0.0.0/8, ::1/128", "80,443,58000-58999");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(Check(*p, "http://127.0.0.1:58080/demo.csv").ok());
  EXPECT_TRUE(Check(*p, "http://[::1]:58080/").ok());
  EXPECT_TRUE(Check(*p, "http://[::ffff:127.0.0.1]/").ok());
  EXPECT_FALSE(Check(*p, "http://127.0.0.1:55432/").ok());
  EXPECT_FALSE(Check(*p, "http://169.254.169.254/").ok());
  EXPECT_FALSE(DestinationPolicy::FromStrings("127.0.0.0", "80").ok());
  EXPECT_FALSE(DestinationPolicy::FromStrings("", "80-70").ok());
  EXPECT_FALSE(DestinationPolicy::FromStrings("", "").ok());
}

TEST(DestinationPolicy, ResolveChecksTheAddressesANameGives) {
  const auto p = Default();
  auto local = p.Resolve(*ParseUrl("http://localhost/"));
  EXPECT_EQ(local.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(local.status().message(), HasSubstr("bouclage"));
  auto allowed = DestinationPolicy::FromStrings("127.0.0.0/8,::1/128", "80");
  auto ok = allowed->Resolve(*ParseUrl("http://localhost/"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_FALSE(ok->empty());
}

TEST(ResolveLocation, AbsolutePathAndRelative) {
  const Url base = *ParseUrl("https://a.example/dir/file.csv?x=1");
  EXPECT_EQ(ResolveLocation(base, "/other.csv")->ToString(), "https://a.example/other.csv");
  EXPECT_EQ(ResolveLocation(base, "new.csv")->ToString(), "https://a.example/dir/new.csv");
  EXPECT_EQ(ResolveLocation(base, "//b.example/x")->ToString(), "https://b.example/x");
  EXPECT_EQ(ResolveLocation(base, "http://169.254.169.254/")->host, "169.254.169.254");
}

}  // namespace
}  // namespace passerelle::net
