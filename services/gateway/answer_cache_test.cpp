#include "services/gateway/answer_cache.hpp"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/events/event.hpp"
#include "passerelle/venues/v1/events.pb.h"
#include "passerelle/venues/v1/venues.pb.h"
#include "prometheus/registry.h"

namespace passerelle::gateway {
namespace {

class AnswerCacheTest : public ::testing::Test {
 protected:
  AnswerCache& Cache(AnswerCacheOptions options = {}) {
    cache_ = std::make_unique<AnswerCache>(options, clock_, &registry_);
    cache_->SetLive(true, "test");
    return *cache_;
  }
  std::string Body(const std::shared_ptr<const CachedAnswer>& a) {
    return a == nullptr ? "<none>" : a->body;
  }
  double Metric(const std::string& name, const std::string& label_value = "") {
    for (const auto& family : registry_.Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) {
        if (!label_value.empty() && (m.label.empty() || m.label.front().value != label_value)) {
          continue;
        }
        return m.counter.value + m.gauge.value;
      }
    }
    return -1;
  }
  events::v1::Event VenueEvent(const std::string& type, const std::string& name,
                               const std::string& etag) {
    venues::v1::Venue v;
    v.set_name(name);
    v.set_etag(etag);
    if (type == "venue.created") {
      venues::v1::VenueCreated p;
      *p.mutable_venue() = v;
      return events::MakeEvent(type, "venues", name, p, clock_.Now());
    }
    venues::v1::VenueUpdated p;
    *p.mutable_venue() = v;
    return events::MakeEvent(type, "venues", name, p, clock_.Now());
  }

  clocks::ManualClock clock_;
  prometheus::Registry registry_;
  std::unique_ptr<AnswerCache> cache_;
};

TEST_F(AnswerCacheTest, KeptAnswerIsFoundUntilItIsTooOld) {
  AnswerCache& cache = Cache({.max_age = absl::Seconds(60)});
  EXPECT_EQ(cache.Find("venues/a"), nullptr);
  ASSERT_TRUE(cache.Keep("venues/a", cache.Ticket(), R"({"nom":"A"})", "W/\"1\""));
  auto found = cache.Find("venues/a");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->body, R"({"nom":"A"})");
  EXPECT_EQ(found->etag, "W/\"1\"");
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(cache.AgeOf(*cache.Find("venues/a")), absl::Seconds(59));
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(cache.Find("venues/a"), nullptr) << "older than max_age";
  EXPECT_EQ(Metric("passerelle_gateway_answer_cache_lookups_total", "hit"), 2);
  EXPECT_EQ(Metric("passerelle_gateway_answer_cache_lookups_total", "miss"), 2);
}

TEST_F(AnswerCacheTest, AnswerReadBeforeAChangeIsRefused) {
  AnswerCache& cache = Cache();
  const uint64_t ticket = cache.Ticket();  // the read leaves for the backend
  cache.Apply(VenueEvent("venue.updated", "venues/a", "W/\"2\""));
  // The backend answered before it saw the change: same etag as before, refused.
  EXPECT_FALSE(cache.Keep("venues/a", ticket, "old", "W/\"1\""));
  // Even with the etag the change announced: it was read before the change was known.
  EXPECT_FALSE(cache.Keep("venues/a", ticket, "new", "W/\"2\""));
  EXPECT_EQ(cache.Find("venues/a"), nullptr);
}

TEST_F(AnswerCacheTest, AfterAChangeOnlyItsEtagIsKept) {
  AnswerCache& cache = Cache();
  ASSERT_TRUE(cache.Keep("venues/a", cache.Ticket(), "v1", "W/\"1\""));
  cache.Apply(VenueEvent("venue.updated", "venues/a", "W/\"2\""));
  EXPECT_EQ(cache.Find("venues/a"), nullptr) << "dropped by the event";
  // A replica whose index has not caught up yet still answers the old venue: not kept.
  EXPECT_FALSE(cache.Keep("venues/a", cache.Ticket(), "v1", "W/\"1\""));
  EXPECT_EQ(cache.Find("venues/a"), nullptr);
  ASSERT_TRUE(cache.Keep("venues/a", cache.Ticket(), "v2", "W/\"2\""));
  EXPECT_EQ(Body(cache.Find("venues/a")), "v2");
  // Others are untouched by a's change.
  ASSERT_TRUE(cache.Keep("venues/b", cache.Ticket(), "b1", "W/\"1\""));
  cache.Apply(VenueEvent("venue.created", "venues/c", "W/\"1\""));
  EXPECT_EQ(Body(cache.Find("venues/a")), "v2");
  EXPECT_EQ(Body(cache.Find("venues/b")), "b1");
}

TEST_F(AnswerCacheTest, WithdrawalOrUnreadablePayloadKeepsNothingUntilMaxAge) {
  AnswerCache& cache = Cache({.max_age = absl::Seconds(60)});
  ASSERT_TRUE(cache.Keep("venues/a", cache.Ticket(), "v1", "W/\"1\""));
  venues::v1::VenueWithdrawn w;
  w.set_name("venues/a");
  cache.Apply(events::MakeEvent("venue.withdrawn", "venues", "venues/a", w, clock_.Now()));
  EXPECT_EQ(cache.Find("venues/a"), nullptr);
  EXPECT_FALSE(cache.Keep("venues/a", cache.Ticket(), "v2", "W/\"2\""));
  // An update whose payload is not a VenueUpdated names no etag either.
  ASSERT_TRUE(cache.Keep("venues/b", cache.Ticket(), "b1", "W/\"1\""));
  cache.Apply(events::MakeEvent("venue.updated", "venues", "venues/b", w, clock_.Now()));
  EXPECT_EQ(cache.Find("venues/b"), nullptr);
  EXPECT_FALSE(cache.Keep("venues/b", cache.Ticket(), "b1", "W/\"1\""));
  clock_.Advance(absl::Seconds(61));  // the mark has waited long enough
  EXPECT_TRUE(cache.Keep("venues/a", cache.Ticket(), "v2", "W/\"2\""));
}

TEST_F(AnswerCacheTest, EventWhosePayloadNamesAnotherVenueDropsBoth) {
  AnswerCache& cache = Cache();
  ASSERT_TRUE(cache.Keep("venues/a", cache.Ticket(), "a1", "W/\"1\""));
  ASSERT_TRUE(cache.Keep("venues/b", cache.Ticket(), "b1", "W/\"1\""));
  events::v1::Event e = VenueEvent("venue.updated", "venues/b", "W/\"2\"");
  e.set_subject("venues/a");
  cache.Apply(e);
  EXPECT_EQ(cache.Find("venues/a"), nullptr);
  EXPECT_EQ(cache.Find("venues/b"), nullptr);
  EXPECT_FALSE(cache.Keep("venues/a", cache.Ticket(), "a2", "W/\"2\""));
  EXPECT_FALSE(cache.Keep("venues/b", cache.Ticket(), "b2", "W/\"2\""));
}

TEST_F(AnswerCacheTest, EventNamingNothingClearsEverything) {
  AnswerCache& cache = Cache();
  ASSERT_TRUE(cache.Keep("venues/a", cache.Ticket(), "a1", "W/\"1\""));
  events::v1::Event e = VenueEvent("venue.updated", "venues/a", "W/\"2\"");
  e.set_subject("");
  cache.Apply(e);
  EXPECT_EQ(cache.Find("venues/a"), nullptr);
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(Metric("passerelle_gateway_answer_cache_clears_total", "unnamed"), 1);
}

TEST_F(AnswerCacheTest, NotLiveServesAndKeepsNothing) {
  AnswerCache& cache = Cache();
  ASSERT_TRUE(cache.Keep("venues/a", cache.Ticket(), "a1", "W/\"1\""));
  const uint64_t in_flight = cache.Ticket();
  cache.SetLive(false, "disconnected");  // NATS lost: changes are no longer seen
  EXPECT_EQ(cache.Find("venues/a"), nullptr);
  EXPECT_FALSE(cache.Keep("venues/a", cache.Ticket(), "a1", "W/\"1\""));
  cache.SetLive(true,
                "reconnected");  // back: what was kept before is gone, reads in flight are refused
  EXPECT_EQ(cache.Find("venues/a"), nullptr);
  EXPECT_FALSE(cache.Keep("venues/a", in_flight, "a1", "W/\"1\""));
  EXPECT_TRUE(cache.Keep("venues/a", cache.Ticket(), "a1", "W/\"1\""));
  EXPECT_EQ(Metric("passerelle_gateway_answer_cache_live"), 1);
}

TEST_F(AnswerCacheTest, WriteAnswerInvalidatesWithItsEtag) {
  AnswerCache& cache = Cache();
  ASSERT_TRUE(cache.Keep("venues/a", cache.Ticket(), "v1", "W/\"1\""));
  venues::v1::Venue written;
  written.set_name("venues/a");
  written.set_etag("W/\"2\"");
  cache.SawWrite(venues::v1::Venue::descriptor(), written.SerializeAsString());
  EXPECT_EQ(cache.Find("venues/a"), nullptr);
  EXPECT_FALSE(cache.Keep("venues/a", cache.Ticket(), "v1", "W/\"1\""));
  EXPECT_TRUE(cache.Keep("venues/a", cache.Ticket(), "v2", "W/\"2\""));
  // An answer without a name, or bytes that do not parse, change nothing.
  cache.SawWrite(venues::v1::Venue::descriptor(), std::string("\xff\xff\xff", 3));
  cache.SawWrite(venues::v1::Venue::descriptor(), "");
  EXPECT_EQ(Body(cache.Find("venues/a")), "v2");
}

TEST_F(AnswerCacheTest, MemoryStaysWithinTheBudget) {
  AnswerCache& cache = Cache({.max_bytes = 64 << 10});
  const std::string body(1000, 'x');
  for (int i = 0; i < 1000; ++i) {
    cache.Keep(absl::StrCat("venues/", i), cache.Ticket(), body, "W/\"1\"");
    ASSERT_LE(cache.bytes(), size_t{64} << 10) << i;
  }
  EXPECT_GT(cache.entries(), 20u);  // the budget is used, not left empty
  EXPECT_NE(cache.Find("venues/999"), nullptr) << "the newest stays";
  EXPECT_EQ(cache.Find("venues/0"), nullptr) << "the oldest went first";
  // An answer larger than half a shard's budget is not kept at all.
  EXPECT_FALSE(cache.Keep("venues/huge", cache.Ticket(), std::string(3 << 10, 'x'), "W/\"1\""));
  EXPECT_EQ(Metric("passerelle_gateway_answer_cache_bytes"), static_cast<double>(cache.bytes()));
}

TEST_F(AnswerCacheTest, MarkPushedOutRefusesEveryReadInFlight) {
  AnswerCache& cache = Cache({.max_bytes = 16 * 2000});  // a few marks per shard
  const uint64_t in_flight = cache.Ticket();
  for (int i = 0; i < 200; ++i) cache.Invalidate(absl::StrCat("venues/", i), "W/\"2\"");
  // Whichever marks went, an answer read before them cannot come back in.
  for (int i = 0; i < 200; ++i) {
    EXPECT_FALSE(cache.Keep(absl::StrCat("venues/", i), in_flight, "old", "W/\"1\"")) << i;
  }
}

TEST_F(AnswerCacheTest, ExpiredSlotsLeaveMemoryAtTheNextPlacement) {
  AnswerCache& cache = Cache({.max_bytes = 1 << 20, .max_age = absl::Seconds(60)});
  for (int i = 0; i < 2000; ++i) cache.Invalidate(absl::StrCat("venues/", i), "W/\"2\"");
  const size_t marked = cache.bytes();
  EXPECT_GT(cache.entries(), 500u);
  clock_.Advance(absl::Seconds(61));
  // Each shard drops what has expired as soon as something new comes in.
  for (int i = 0; i < 400; ++i) {  // enough for every shard to see one
    cache.Keep(absl::StrCat("venues/new", i), cache.Ticket(), "{}", "W/\"1\"");
  }
  EXPECT_EQ(cache.entries(), 400u);
  EXPECT_LT(cache.bytes(), marked / 2);
}

TEST_F(AnswerCacheTest, HostileNamesAreKeysLikeAnyOther) {
  AnswerCache& cache = Cache();
  const std::string nul("venues/a\0b", 10);
  const std::string invalid_utf8 = "venues/\xc3\x28";
  const std::string long_name = "venues/" + std::string(100000, 'z');
  for (const std::string& name : {nul, invalid_utf8, long_name}) {
    ASSERT_TRUE(cache.Keep(name, cache.Ticket(), "body", "W/\"1\""));
    EXPECT_EQ(Body(cache.Find(name)), "body");
  }
  EXPECT_EQ(cache.Find("venues/a"), nullptr) << "the NUL is part of the key";
  // A name beyond an eighth of the budget is dropped without a mark the budget cannot hold.
  const std::string huge = "venues/" + std::string(5 << 20, 'h');
  cache.Invalidate(huge, "W/\"2\"");
  EXPECT_LE(cache.bytes(), size_t{32} << 20);
  EXPECT_FALSE(cache.Keep(huge, cache.Ticket(), "body", "W/\"2\""));
  cache.Invalidate(long_name, "");
  EXPECT_EQ(cache.Find(long_name), nullptr);
  cache.Invalidate(nul, "");
  EXPECT_EQ(cache.Find(nul), nullptr);
  EXPECT_EQ(Body(cache.Find(invalid_utf8)), "body");
}

TEST_F(AnswerCacheTest, ZeroBudgetIsNoCache) {
  AnswerCache& cache = Cache({.max_bytes = 0});
  EXPECT_FALSE(cache.Keep("venues/a", cache.Ticket(), "a", "W/\"1\""));
  cache.Invalidate("venues/a", "");
  EXPECT_EQ(cache.entries(), 0u);
}

TEST_F(AnswerCacheTest, ConcurrentReadersWritersAndEventsNeverServeARefusedAnswer) {
  AnswerCache& cache = Cache({.max_bytes = 1 << 20});
  std::atomic<bool> stop{false};
  std::atomic<int> version{1};  // the venue's etag now, bumped by the "event" thread
  std::atomic<int> stale{0};
  std::thread events([&] {
    while (!stop) {
      const int v = version.load() + 1;
      version.store(v);
      cache.Invalidate("venues/a", absl::StrCat("W/\"", v, "\""));
      std::this_thread::yield();
    }
  });
  auto version_of = [](const std::string& etag) { return std::stoi(etag.substr(3)); };
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        // An answer served may lag the change being announced (one), never an older one.
        const int before = version.load();
        if (auto a = cache.Find("venues/a")) {
          if (version_of(a->etag) < before - 1) ++stale;
          continue;
        }
        const uint64_t ticket = cache.Ticket();
        const int seen = version.load();  // the backend reads the venue at this version
        cache.Keep("venues/a", ticket, "x", absl::StrCat("W/\"", seen, "\""));
      }
    });
  }
  for (auto& r : readers) r.join();
  stop = true;
  events.join();
  EXPECT_EQ(stale.load(), 0);
}

}  // namespace
}  // namespace passerelle::gateway
