// Unit tests: our signer against the committed reference fixture (checked by the spec's own
// library, tools/notifications_webhook_reference.sh), matching, the index and the backoff.
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "passerelle/venues/v1/events.pb.h"
#include "services/notifications/matcher.hpp"
#include "services/notifications/webhook.hpp"

namespace passerelle::notifications {
namespace {

std::string Fixture() {
  std::ifstream in(std::string(PASSERELLE_SOURCE_DIR) +
                   "/services/notifications/testdata/webhook_fixture.json");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Signer, ReproducesTheReferenceFixture) {
  const std::string text = Fixture();
  ASSERT_FALSE(text.empty()) << "fixture missing";
  const auto cases = nlohmann::json::parse(text)["cases"];
  ASSERT_GE(cases.size(), 2u);
  for (const auto& c : cases) {
    auto sig =
        SignatureHeader(c["secrets"].get<std::vector<std::string>>(), c["id"].get<std::string>(),
                        c["timestamp"].get<int64_t>(), c["body"].get<std::string>());
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_EQ(*sig, c["signature"].get<std::string>()) << c["id"];
  }
}

TEST(Signer, RefusesWhatIsNotASecret) {
  EXPECT_FALSE(Sign("secret", "msg", 1, "{}").ok());
  EXPECT_FALSE(Sign("whsec_", "msg", 1, "{}").ok());
  EXPECT_FALSE(Sign("whsec_!!!", "msg", 1, "{}").ok());
  const std::string s = NewSecret();
  EXPECT_TRUE(s.starts_with("whsec_"));
  EXPECT_EQ(SecretKey(s)->size(), 24u);
  EXPECT_NE(NewSecret(), s);
}

TEST(Signer, MatchesTheSpecificationExample) {
  // The example of the Standard Webhooks specification (spec/standard-webhooks.md).
  auto sig = Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                  1614265330, R"({"test": 2432232314})");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(*sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

events::v1::Event VenueMoved(const std::string& venue, std::vector<std::string> before,
                             std::vector<std::string> after) {
  venues::v1::VenueUpdated p;
  p.mutable_venue()->set_name(venue);
  for (const auto& a : after) p.mutable_venue()->add_areas(a);
  for (const auto& a : before) p.add_previous_areas(a);
  p.mutable_venue()->set_owner_organisation("centre-social");
  events::v1::Event e;
  e.set_id("e1");
  e.set_type("venue.updated");
  e.set_subject(venue);
  e.mutable_payload()->PackFrom(p);
  return e;
}

TEST(Matcher, AVenueLeavingAnAreaMatchesIt) {
  auto facts = FactsOf(VenueMoved("venues/a", {"quartiers:epeule"}, {"quartiers:alma"}));
  ASSERT_TRUE(facts.ok());
  v1::Filter f;
  f.add_areas("quartiers:epeule");
  EXPECT_TRUE(Matches(f, *facts));
  f.add_event_types("venue.created");
  EXPECT_FALSE(Matches(f, *facts));
  f.add_event_types("venue.*");
  EXPECT_TRUE(Matches(f, *facts));
  v1::Filter other;
  other.add_areas("quartiers:hommelet");
  EXPECT_FALSE(Matches(other, *facts));
  v1::Filter sync;
  sync.add_sync_sources("sources/x");
  EXPECT_FALSE(Matches(sync, *facts));
}

TEST(Matcher, PoisonPayloadIsRefused) {
  events::v1::Event e;
  e.set_id("e");
  e.set_type("venue.updated");
  e.mutable_payload()->set_type_url("type.googleapis.com/passerelle.venues.v1.VenueUpdated");
  e.mutable_payload()->set_value("\xff\xff\xff");
  EXPECT_FALSE(FactsOf(e).ok());
}

TEST(Index, FindsTheSameSubscriptionsAsAScan) {
  SubscriptionIndex index;
  std::map<std::string, v1::Filter> all;
  for (int i = 0; i < 2000; ++i) {
    v1::Filter f;
    switch (i % 5) {
      case 0:
        f.add_areas("quartiers:q" + std::to_string(i % 17));
        break;
      case 1:
        f.add_venues("venues/v" + std::to_string(i % 31));
        break;
      case 2:
        f.add_owner_organisations("o" + std::to_string(i % 7));
        break;
      case 3:
        f.add_event_types(i % 2 ? "venue.*" : "referential.version.published");
        break;
      default:
        break;  // everything
    }
    const std::string id = "s" + std::to_string(i);
    all[id] = f;
    index.Put(id, f);
  }
  for (int k = 0; k < 50; ++k) {
    auto facts = FactsOf(VenueMoved("venues/v" + std::to_string(k % 31),
                                    {"quartiers:q" + std::to_string(k % 17)},
                                    {"quartiers:q" + std::to_string((k + 3) % 17)}));
    ASSERT_TRUE(facts.ok());
    std::vector<std::string> scan;
    for (const auto& [id, f] : all) {
      if (Matches(f, *facts)) scan.push_back(id);
    }
    std::sort(scan.begin(), scan.end());
    EXPECT_EQ(index.Match(*facts), scan);
  }
  index.Remove("s4");
  EXPECT_EQ(index.size(), 1999u);
}

TEST(Backoff, DoublesWithJitterAndStaysUnderTheCap) {
  EXPECT_EQ(Backoff(1, absl::Seconds(5), absl::Hours(4), 0.5), absl::Seconds(5));
  EXPECT_EQ(Backoff(2, absl::Seconds(5), absl::Hours(4), 0.5), absl::Seconds(10));
  EXPECT_EQ(Backoff(3, absl::Seconds(5), absl::Hours(4), 0.0), absl::Seconds(16));
  EXPECT_EQ(Backoff(40, absl::Seconds(5), absl::Hours(4), 0.5), absl::Hours(4));
  EXPECT_LE(Backoff(40, absl::Seconds(5), absl::Hours(4), 1.0), absl::Hours(4) * 1.2);
}

TEST(Body, CarriesTypeTimestampAndTheEventAsProto3Json) {
  auto e = VenueMoved("venues/a", {}, {"quartiers:alma"});
  e.mutable_occurred_time()->set_seconds(1764547200);
  auto body = Body(e);
  ASSERT_TRUE(body.ok()) << body.status();
  auto j = nlohmann::json::parse(*body);
  EXPECT_EQ(j["type"], "venue.updated");
  EXPECT_EQ(j["timestamp"], "2025-12-01T00:00:00.000Z");
  EXPECT_EQ(j["data"]["payload"]["venue"]["areas"][0], "quartiers:alma");
  EXPECT_EQ(j["data"]["payload"]["@type"], "type.googleapis.com/passerelle.venues.v1.VenueUpdated");
}

}  // namespace
}  // namespace passerelle::notifications
