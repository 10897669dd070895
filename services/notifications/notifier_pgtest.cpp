// The notifications domain against the real PostgreSQL the test command started, with a manual
// clock and a sender that records what it is asked to send: the retry schedule over 24 hours,
// one delivery per (event, subscription), workers that never send one delivery twice, the grace
// period of a rotated secret, and the index following another replica's writes.
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "libs/db/migrations.hpp"
#include "libs/db/transaction.hpp"
#include "libs/events/event.hpp"
#include "libs/testing/testing.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/venues/v1/events.pb.h"
#include "services/notifications/notifier.hpp"

namespace passerelle::notifications {
std::vector<db::Migration> Migrations();
namespace {

// Records every request; answers `status`; `hold` makes each request last a while and counts
// requests of one webhook-id in flight at once.
class FakeSender final : public Sender {
 public:
  struct Sent {
    std::string url;
    std::map<std::string, std::string> headers;
    std::string body;
  };
  SendResult Post(const std::string& url,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body) const override {
    Sent s{url, {headers.begin(), headers.end()}, body};
    const std::string id = s.headers["webhook-id"];
    {
      std::lock_guard lock(mu_);
      if (++in_flight_[id] > 1) overlapping_ = true;
      sent_.push_back(s);
    }
    std::this_thread::sleep_for(hold);
    {
      std::lock_guard lock(mu_);
      --in_flight_[id];
    }
    SendResult r;
    r.http_status = status;
    r.outcome = status >= 200 && status < 300 ? SendResult::Outcome::kSucceeded
                                              : SendResult::Outcome::kFailed;
    if (r.outcome != SendResult::Outcome::kSucceeded)
      r.error = absl::StrCat("réponse HTTP ", status.load());
    return r;
  }
  std::vector<Sent> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }
  bool overlapping() const {
    std::lock_guard lock(mu_);
    return overlapping_;
  }
  std::atomic<int> status{200};
  std::chrono::milliseconds hold{0};

 private:
  mutable std::mutex mu_;
  mutable std::vector<Sent> sent_;
  mutable std::map<std::string, int> in_flight_;
  mutable bool overlapping_ = false;
};

class NotifierTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(MigrateSchema({{"notifications", Migrations()}}).ok());
  }
  Notifier& notifier() {
    if (!notifier_) {
      notifier_ = std::make_unique<Notifier>(pool(), policy_, sender_, clock_, options_);
    }
    return *notifier_;
  }
  v1::Subscription Subscribe(const std::string& type = "venue.*") {
    v1::Subscription s;
    s.set_organisation("organisations/centre-social-epeule");
    s.mutable_webhook()->set_url("http://127.0.0.1:9/hook");
    s.mutable_filter()->add_event_types(type);
    auto created = notifier().Create(s);
    EXPECT_TRUE(created.ok()) << created.status();
    return *created;
  }
  absl::Status Publish(const events::v1::Event& e) {
    return db::RunInTransaction(pool(), [&](pqxx::work& tx) { return notifier().Consume(tx, e); });
  }
  events::v1::Event VenueCreated(const std::string& venue) {
    venues::v1::VenueCreated p;
    p.mutable_venue()->set_name(venue);
    return events::MakeEvent("venue.created", "venues", venue, p, clock_.Now());
  }
  std::vector<v1::Delivery> Log(const std::string& subscription) {
    auto page = notifier().ListDeliveries(subscription, "", 1000);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->items : std::vector<v1::Delivery>{};
  }
  static absl::Time TimeOf(const google::protobuf::Timestamp& t) {
    return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
  }

  net::DestinationPolicy policy_ = *net::DestinationPolicy::FromStrings("127.0.0.0/8", "1-65535");
  FakeSender sender_;
  clocks::ManualClock clock_;
  Options options_{.retry_initial = absl::Seconds(5),
                   .retry_max_step = absl::Hours(4),
                   .retry_for = absl::Hours(24),
                   .disable_after = 1000};
  std::unique_ptr<Notifier> notifier_;
};

TEST_F(NotifierTest, RetriesBackOffExponentiallyWithJitterThenGiveUpAfter24Hours) {
  sender_.status = 503;
  v1::Subscription sub = Subscribe();
  const absl::Time start = clock_.Now();
  ASSERT_TRUE(Publish(VenueCreated("venues/a")).ok());
  ASSERT_EQ(*notifier().DeliverOne(), true);
  EXPECT_EQ(*notifier().DeliverOne(), false) << "not due again at once";
  std::vector<absl::Duration> waits;
  for (int i = 0; i < 100; ++i) {
    auto log = Log(sub.name());
    ASSERT_EQ(log.size(), 1u);
    if (log[0].state() != v1::Delivery::PENDING) break;
    const absl::Time next = TimeOf(log[0].next_attempt_time());
    waits.push_back(next - clock_.Now());
    clock_.Set(next - absl::Milliseconds(1));
    EXPECT_EQ(*notifier().DeliverOne(), false) << "sent before its time";
    clock_.Set(next);
    ASSERT_EQ(*notifier().DeliverOne(), true);
  }
  auto log = Log(sub.name());
  EXPECT_EQ(log[0].state(), v1::Delivery::FAILED);
  ASSERT_GE(waits.size(), 8u);
  absl::Duration nominal = absl::Seconds(5);
  for (size_t i = 0; i < waits.size(); ++i) {
    EXPECT_GE(waits[i], nominal * 0.8 - absl::Milliseconds(1)) << i;
    EXPECT_LE(waits[i], nominal * 1.2 + absl::Milliseconds(1)) << i;
    nominal = std::min(nominal * 2, absl::Hours(4));
  }
  // The last attempt is within the day; the next would have been after it.
  EXPECT_LE(clock_.Now() - start, absl::Hours(24));
  EXPECT_GE(clock_.Now() - start, absl::Hours(24) - absl::Hours(4) * 1.2);
  EXPECT_EQ(log[0].attempts_size(), static_cast<int>(waits.size()) + 1);
  EXPECT_EQ(sender_.sent().size(), waits.size() + 1);
  // Every attempt had the same webhook-id.
  std::set<std::string> ids;
  for (const auto& s : sender_.sent()) ids.insert(s.headers.at("webhook-id"));
  EXPECT_EQ(ids.size(), 1u);
  // RetryDelivery replays a failed one.
  sender_.status = 200;
  ASSERT_TRUE(notifier().Retry(log[0].name()).ok());
  ASSERT_EQ(*notifier().DeliverOne(), true);
  EXPECT_EQ(Log(sub.name())[0].state(), v1::Delivery::SUCCEEDED);
}

TEST_F(NotifierTest, TheSameEventTwiceMakesOneDelivery) {
  v1::Subscription sub = Subscribe();
  const events::v1::Event e = VenueCreated("venues/b");
  ASSERT_TRUE(Publish(e).ok());
  ASSERT_TRUE(Publish(e).ok());  // a redelivery past the inbox, or another replica
  EXPECT_EQ(Log(sub.name()).size(), 1u);
  ASSERT_EQ(*notifier().DeliverOne(), true);
  EXPECT_EQ(*notifier().DeliverOne(), false);
  EXPECT_EQ(sender_.sent().size(), 1u);
}

TEST_F(NotifierTest, ConcurrentWorkersNeverSendOneDeliveryTwice) {
  v1::Subscription sub = Subscribe();
  constexpr int kEvents = 24;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_TRUE(Publish(VenueCreated(absl::StrCat("venues/v", i))).ok());
  }
  sender_.hold = std::chrono::milliseconds(20);
  // Two "replicas" (two notifiers, two pools) with three workers each.
  auto other_pool = NewPool();
  Notifier other(*other_pool, policy_, sender_, clock_, options_);
  std::vector<std::thread> workers;
  for (int w = 0; w < 6; ++w) {
    workers.emplace_back([&, w] {
      Notifier& n = w % 2 ? other : notifier();
      for (;;) {
        // Some workers one at a time, some by batches sent side by side.
        auto sent = n.DeliverDue(w < 2 ? 1 : 4);
        if (!sent.ok() || *sent == 0) return;
      }
    });
  }
  for (auto& t : workers) t.join();
  const auto sent = sender_.sent();
  std::set<std::string> ids;
  for (const auto& s : sent) ids.insert(s.headers.at("webhook-id"));
  EXPECT_EQ(sent.size(), static_cast<size_t>(kEvents));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEvents));
  EXPECT_FALSE(sender_.overlapping());
  for (const auto& d : Log(sub.name())) EXPECT_EQ(d.state(), v1::Delivery::SUCCEEDED);
}

TEST_F(NotifierTest, ABatchHoldsOneDeliveryPerVenueAndCountsFailuresOnce) {
  options_.disable_after = 3;
  v1::Subscription sub = Subscribe();
  std::vector<std::string> x;  // venues/x's events, in order
  for (int i = 0; i < 3; ++i) {
    const events::v1::Event e = VenueCreated("venues/x");
    x.push_back(e.id());
    ASSERT_TRUE(Publish(e).ok());
    if (i < 2) {
      ASSERT_TRUE(Publish(VenueCreated("venues/y")).ok());
    }
  }
  sender_.status = 503;
  EXPECT_EQ(*notifier().DeliverDue(32), 2) << "one per venue: the others wait for their elder";
  auto got = notifier().Get(sub.name());
  EXPECT_EQ(got->consecutive_failures(), 2);
  EXPECT_EQ(got->state(), v1::Subscription::ACTIVE);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(*notifier().DeliverDue(32), 2);
  got = notifier().Get(sub.name());
  EXPECT_EQ(got->consecutive_failures(), 4);
  EXPECT_EQ(got->state(), v1::Subscription::DISABLED);
  EXPECT_TRUE(absl::StartsWith(got->disabled_reason(), "4 échecs consécutifs ; le dernier : "))
      << got->disabled_reason();
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(*notifier().DeliverDue(32), 0) << "a disabled subscription waits";
  // Back on: the rest goes out by batches, venue by venue in order, and the count is reset.
  sender_.status = 200;
  got->set_state(v1::Subscription::ACTIVE);
  ASSERT_TRUE(notifier().Update(*got, {"state"}).ok());
  std::vector<int> batches;
  for (auto n = notifier().DeliverDue(32); *n > 0; n = notifier().DeliverDue(32)) {
    batches.push_back(*n);
  }
  EXPECT_EQ(batches, (std::vector<int>{2, 2, 1}));
  std::vector<std::string> order;
  for (const auto& sent : sender_.sent()) {
    for (const auto& id : x) {
      if (absl::StrContains(sent.body, id) && (order.empty() || order.back() != id)) {
        order.push_back(id);
      }
    }
  }
  EXPECT_EQ(order, x);
  EXPECT_EQ(notifier().Get(sub.name())->consecutive_failures(), 0);
  for (const auto& d : Log(sub.name())) EXPECT_EQ(d.state(), v1::Delivery::SUCCEEDED);
}

TEST_F(NotifierTest, DeletingASubscriptionWhileItsBatchIsInFlightWaitsForNothing) {
  v1::Subscription doomed = Subscribe();
  v1::Subscription kept = Subscribe();
  for (const char* v : {"venues/a", "venues/b"}) ASSERT_TRUE(Publish(VenueCreated(v)).ok());
  // Failing answers: recording the batch locks both subscriptions, after their deliveries.
  sender_.status = 500;
  sender_.hold = std::chrono::milliseconds(800);
  std::thread worker([&] { EXPECT_EQ(*notifier().DeliverDue(32), 4); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(notifier().Delete(doomed.name(), "").ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500))
      << "the delete waited for the batch in flight";
  worker.join();
  EXPECT_EQ(sender_.sent().size(), 4u) << "the batch was recorded once, not sent again";
  EXPECT_EQ(notifier().Get(doomed.name()).status().code(), absl::StatusCode::kNotFound);
  auto got = notifier().Get(kept.name());
  EXPECT_EQ(got->consecutive_failures(), 2);
  for (const auto& d : Log(kept.name())) EXPECT_EQ(d.attempts_size(), 1);
  // The doomed subscription's deliveries that were in flight go at the next pruning.
  EXPECT_EQ(*notifier().Prune(absl::Hours(24 * 30)), 2);
}

TEST_F(NotifierTest, ReactivatingSendsWhatWaitedAtOnce) {
  options_.disable_after = 1;
  v1::Subscription sub = Subscribe();
  sender_.status = 500;
  ASSERT_TRUE(Publish(VenueCreated("venues/a")).ok());
  ASSERT_EQ(*notifier().DeliverDue(32), 1);
  auto cur = notifier().Get(sub.name());
  ASSERT_EQ(cur->state(), v1::Subscription::DISABLED);
  sender_.status = 200;
  cur->set_state(v1::Subscription::ACTIVE);
  ASSERT_TRUE(notifier().Update(*cur, {"state"}).ok());
  EXPECT_EQ(*notifier().DeliverDue(32), 1) << "not at the end of its backoff";
  EXPECT_EQ(Log(sub.name())[0].state(), v1::Delivery::SUCCEEDED);
}

TEST_F(NotifierTest, TheOldSecretSignsUntilTheGracePeriodEnds) {
  v1::Subscription sub = Subscribe("notification.test");
  auto rotated = notifier().RotateSecret(sub.name(), absl::Hours(1));
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  ASSERT_TRUE(notifier().SendTest(sub.name()).ok());
  ASSERT_EQ(*notifier().DeliverOne(), true);
  clock_.Advance(absl::Hours(2));
  ASSERT_TRUE(notifier().SendTest(sub.name()).ok());
  ASSERT_EQ(*notifier().DeliverOne(), true);
  const auto sent = sender_.sent();
  ASSERT_EQ(sent.size(), 2u);
  std::vector<std::string> during = absl::StrSplit(sent[0].headers.at("webhook-signature"), ' ');
  std::vector<std::string> after = absl::StrSplit(sent[1].headers.at("webhook-signature"), ' ');
  EXPECT_EQ(during.size(), 2u);
  EXPECT_EQ(after.size(), 1u);
  EXPECT_EQ(sent[1].headers.at("webhook-timestamp"),
            absl::StrCat(absl::ToUnixSeconds(clock_.Now())));
}

TEST_F(NotifierTest, AnUpdateNamingTheUrlWithoutOneIsRefused) {
  v1::Subscription sub = Subscribe();
  v1::Subscription change;
  change.set_name(sub.name());
  auto updated = notifier().Update(change, {"webhook.url"});
  EXPECT_EQ(updated.status().code(), absl::StatusCode::kInvalidArgument);
  change.mutable_webhook()->set_url("http://10.1.2.3/hook");
  updated = notifier().Update(change, {"webhook.url"});
  EXPECT_EQ(updated.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(notifier().Get(sub.name())->webhook().url(), sub.webhook().url());
  change.mutable_webhook()->set_url("http://127.0.0.1:8080/hook");
  updated = notifier().Update(change, {"webhook.url"});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->webhook().url(), "http://127.0.0.1:8080/hook");
  EXPECT_NE(updated->etag(), sub.etag());
}

TEST_F(NotifierTest, EndedDeliveriesArePrunedAfterTheirKeepingTime) {
  v1::Subscription sub = Subscribe();
  ASSERT_TRUE(Publish(VenueCreated("venues/old")).ok());
  ASSERT_EQ(*notifier().DeliverOne(), true);  // succeeded
  sender_.status = 500;
  ASSERT_TRUE(Publish(VenueCreated("venues/pending")).ok());
  ASSERT_EQ(*notifier().DeliverOne(), true);  // pending, retried later
  clock_.Advance(absl::Hours(24 * 31));
  EXPECT_EQ(*notifier().Prune(absl::Hours(24 * 30)), 1);
  auto log = Log(sub.name());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].subject(), "venues/pending");
  EXPECT_EQ(*notifier().Prune(absl::Hours(24 * 30)), 0);
}

TEST_F(NotifierTest, TheIndexFollowsAnotherReplicasWrites) {
  auto other_pool = NewPool();
  Notifier other(*other_pool, policy_, sender_, clock_, options_);
  ASSERT_TRUE(other.LoadIndex().ok());
  EXPECT_EQ(other.index().size(), 0u);
  v1::Subscription sub = Subscribe();
  ASSERT_TRUE(other.RefreshIndex().ok());
  EXPECT_EQ(other.index().size(), 1u);
  v1::Subscription change;
  change.set_name(sub.name());
  change.mutable_filter()->add_venues("venues/only-this-one");
  ASSERT_TRUE(notifier().Update(change, {"filter"}).ok());
  ASSERT_TRUE(other.RefreshIndex().ok());
  auto facts = FactsOf(VenueCreated("venues/another"));
  ASSERT_TRUE(facts.ok());
  EXPECT_TRUE(other.index().Match(*facts).empty());
  ASSERT_TRUE(notifier().Delete(sub.name(), "").ok());
  ASSERT_TRUE(other.RefreshIndex().ok());
  EXPECT_EQ(other.index().size(), 0u);
}

// Digests on a manual clock, in Europe/Paris time.
class DigestTest : public NotifierTest {
 protected:
  v1::Subscription SubscribeDigest(v1::Subscription::Rhythm rhythm, const std::string& time,
                                   v1::Subscription::Weekday day = v1::Subscription::MONDAY) {
    v1::Subscription s;
    s.set_organisation("organisations/centre-social-epeule");
    s.mutable_webhook()->set_url("http://127.0.0.1:9/hook");
    s.mutable_filter()->add_event_types("venue.*");
    s.set_rhythm(rhythm);
    s.set_digest_time(time);
    s.set_digest_weekday(day);
    auto created = notifier().Create(s);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Subscription{};
  }
  static absl::Time Utc(int y, int m, int d, int hh, int mm) {
    return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), absl::UTCTimeZone());
  }
  std::map<v1::Delivery::State, int> States(const std::string& subscription) {
    std::map<v1::Delivery::State, int> out;
    for (const auto& d : Log(subscription)) ++out[d.state()];
    return out;
  }
};

TEST_F(DigestTest, ADailyDigestClosesAtEightParisTimeAcrossTheClockChange) {
  clock_.Set(Utc(2026, 10, 24, 7, 0));  // 09:00 in Paris, summer time
  v1::Subscription sub = SubscribeDigest(v1::Subscription::DAILY_DIGEST, "8:00");
  EXPECT_EQ(sub.digest_time(), "08:00");
  // Summer time ends on 25 October at 03:00: 08:00 in Paris is then 07:00 UTC.
  EXPECT_EQ(TimeOf(sub.next_digest_time()), Utc(2026, 10, 25, 7, 0));
  ASSERT_TRUE(Publish(VenueCreated("venues/a")).ok());
  ASSERT_TRUE(Publish(VenueCreated("venues/b")).ok());
  clock_.Advance(absl::Hours(3));
  ASSERT_TRUE(Publish(VenueCreated("venues/a")).ok());
  EXPECT_EQ(*notifier().DeliverOne(), false) << "collected events wait for the digest";
  EXPECT_EQ(States(sub.name())[v1::Delivery::COLLECTED], 3);

  clock_.Set(Utc(2026, 10, 25, 6, 59));
  EXPECT_EQ(*notifier().CloseDigests(), 0) << "closed before its time";
  clock_.Set(Utc(2026, 10, 25, 7, 0));
  ASSERT_TRUE(Publish(VenueCreated("venues/c")).ok());  // at the closing: the next period's
  EXPECT_EQ(*notifier().CloseDigests(), 1);
  EXPECT_EQ(*notifier().CloseDigests(), 0) << "a digest is closed once";
  EXPECT_EQ(*notifier().DeliverOne(), true);
  EXPECT_EQ(*notifier().DeliverOne(), false);
  ASSERT_EQ(sender_.sent().size(), 1u);
  const auto body = nlohmann::json::parse(sender_.sent()[0].body);
  EXPECT_EQ(body["type"], "notification.digest");
  const auto& digest = body["data"]["payload"];
  EXPECT_EQ(digest["subscription"], sub.name());
  EXPECT_EQ(digest["startTime"], "2026-10-24T06:00:00Z");  // 08:00 summer time
  EXPECT_EQ(digest["endTime"], "2026-10-25T07:00:00Z");    // 08:00 winter time
  ASSERT_EQ(digest["events"].size(), 3u);
  EXPECT_EQ(digest["events"][0]["subject"], "venues/a");
  EXPECT_EQ(digest["events"][1]["subject"], "venues/b");
  EXPECT_EQ(digest["events"][2]["payload"]["venue"]["name"], "venues/a");
  // The log: the digest sent, the three it carried pointing at it, the late one waiting.
  std::string digest_name;
  for (const auto& d : Log(sub.name())) {
    if (d.event_type() == "notification.digest") {
      EXPECT_EQ(d.state(), v1::Delivery::SUCCEEDED);
      digest_name = d.name();
    }
  }
  ASSERT_FALSE(digest_name.empty());
  EXPECT_EQ(sender_.sent()[0].headers.at("webhook-id"),
            digest_name.substr(digest_name.rfind('/') + 1));
  int carried = 0;
  for (const auto& d : Log(sub.name())) {
    if (d.state() == v1::Delivery::IN_DIGEST) {
      EXPECT_EQ(d.digest(), digest_name);
      ++carried;
    }
  }
  EXPECT_EQ(carried, 3);
  EXPECT_EQ(States(sub.name())[v1::Delivery::COLLECTED], 1);
  EXPECT_EQ(TimeOf(notifier().Get(sub.name())->next_digest_time()), Utc(2026, 10, 26, 7, 0));
}

TEST_F(DigestTest, AWeeklyDigestIsClosedOnceByTwoReplicasAndCatchesUpAfterAStop) {
  clock_.Set(Utc(2026, 11, 30, 10, 0));  // Monday
  v1::Subscription sub =
      SubscribeDigest(v1::Subscription::WEEKLY_DIGEST, "18:30", v1::Subscription::WEDNESDAY);
  EXPECT_EQ(TimeOf(sub.next_digest_time()), Utc(2026, 12, 2, 17, 30));
  for (const char* v : {"venues/a", "venues/b", "venues/c"}) {
    ASSERT_TRUE(Publish(VenueCreated(v)).ok());
  }
  clock_.Set(Utc(2026, 12, 2, 17, 30));
  Notifier other(pool(), policy_, sender_, clock_, options_);
  std::atomic<int> made{0};
  std::thread a([&] { made += *notifier().CloseDigests(); });
  std::thread b([&] { made += *other.CloseDigests(); });
  a.join();
  b.join();
  EXPECT_EQ(made.load(), 1);
  // The service stopped for three weeks after one more event: one digest for the week that had
  // it, none for the empty weeks, and the next closing in the future.
  clock_.Set(Utc(2026, 12, 3, 9, 0));
  ASSERT_TRUE(Publish(VenueCreated("venues/d")).ok());
  clock_.Set(Utc(2026, 12, 28, 12, 0));
  EXPECT_EQ(*notifier().CloseDigests(), 1);
  EXPECT_EQ(TimeOf(notifier().Get(sub.name())->next_digest_time()), Utc(2026, 12, 30, 17, 30));
  int sent = 0;
  while (*notifier().DeliverOne()) ++sent;
  EXPECT_EQ(sent, 2);
}

TEST_F(DigestTest, BackToImmediateSendsWhatWasCollectedAndBadSchedulesAreRefused) {
  v1::Subscription sub = SubscribeDigest(v1::Subscription::DAILY_DIGEST, "07:15");
  ASSERT_TRUE(Publish(VenueCreated("venues/a")).ok());
  ASSERT_TRUE(Publish(VenueCreated("venues/b")).ok());
  EXPECT_EQ(*notifier().DeliverOne(), false);
  v1::Subscription change;
  change.set_name(sub.name());
  change.set_rhythm(v1::Subscription::IMMEDIATE);
  auto updated = notifier().Update(change, {"rhythm"});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_FALSE(updated->has_next_digest_time());
  int sent = 0;
  while (*notifier().DeliverOne()) ++sent;
  EXPECT_EQ(sent, 2);
  for (const std::string bad : {"24:00", "8h30", "08:60", "-1:00", "08:5", "0800", "08:00:00"}) {
    v1::Subscription s;
    s.set_name(sub.name());
    s.set_digest_time(bad);
    auto r = notifier().Update(s, {"digest_time"});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  v1::Subscription s;
  s.set_name(sub.name());
  s.set_digest_weekday(static_cast<v1::Subscription::Weekday>(9));
  EXPECT_EQ(notifier().Update(s, {"digest_weekday"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Records the e-mails it is given.
class FakeMailer final : public Mailer {
 public:
  SendResult Send(const std::string& to, const std::string& message) const override {
    std::lock_guard lock(mu_);
    sent_.push_back({to, message});
    SendResult r;
    r.outcome = SendResult::Outcome::kSucceeded;
    r.http_status = 250;
    return r;
  }
  std::vector<std::pair<std::string, std::string>> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::vector<std::pair<std::string, std::string>> sent_;
};

// The text/plain part of a ComposeMail message.
std::string PlainText(const std::string& message) {
  const std::string mark = "Content-Transfer-Encoding: base64\r\n\r\n";
  const size_t at = message.find(mark);
  if (at == std::string::npos) return "";
  std::string b64 = message.substr(at + mark.size(), message.find("\r\n--", at) - at - mark.size());
  b64.erase(std::remove_if(b64.begin(), b64.end(), [](char c) { return c == '\r' || c == '\n'; }),
            b64.end());
  std::string out;
  absl::Base64Unescape(b64, &out);
  return out;
}

TEST_F(DigestTest, AnEmailDigestGroupsThePeriodInOneFrenchMessage) {
  FakeMailer mailer;
  notifier().SetMail({.mailer = &mailer,
                      .from = "Passerelle <n@passerelle.example>",
                      .public_url = "https://api.passerelle.example"});
  clock_.Set(Utc(2026, 12, 1, 10, 0));
  v1::Subscription s;
  s.set_organisation("organisations/centre-social-epeule");
  s.set_display_name("Veille du quartier");
  s.mutable_email()->set_address("veille@centre.example");
  s.set_rhythm(v1::Subscription::DAILY_DIGEST);
  auto sub = notifier().Create(s);
  ASSERT_TRUE(sub.ok()) << sub.status();
  for (const char* v : {"venues/a", "venues/b", "venues/a"}) {
    ASSERT_TRUE(Publish(VenueCreated(v)).ok());
  }
  clock_.Set(Utc(2026, 12, 2, 7, 0));  // 08:00 in Paris
  EXPECT_EQ(*notifier().CloseDigests(), 1);
  EXPECT_EQ(*notifier().DeliverOne(), true);
  ASSERT_EQ(mailer.sent().size(), 1u);
  EXPECT_EQ(mailer.sent()[0].first, "veille@centre.example");
  const std::string text = PlainText(mailer.sent()[0].second);
  EXPECT_NE(text.find("Veille du quartier"), std::string::npos) << text;
  EXPECT_NE(text.find("3 changements sur 2 lieux"), std::string::npos) << text;
  EXPECT_NE(text.find("du mardi 1er décembre 2026 au mercredi 2 décembre"), std::string::npos)
      << text;
  EXPECT_NE(text.find("https://api.passerelle.example/desabonnement?token="), std::string::npos)
      << text;
}

TEST_F(NotifierTest, TheContactIsToldOnceWhenTheEndpointIsDisabled) {
  options_.disable_after = 2;
  FakeMailer mailer;
  notifier().SetMail({.mailer = &mailer,
                      .from = "Passerelle <n@passerelle.example>",
                      .public_url = "https://api.passerelle.example"});
  v1::Subscription s;
  s.set_organisation("organisations/centre-social-epeule");
  s.set_display_name("Lieux de l'Épeule");
  s.mutable_webhook()->set_url("http://127.0.0.1:9/hook");
  s.set_contact_email("<contact@centre.example>");
  auto refused = notifier().Create(s);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().ToString().find("subscription.contact_email"), std::string::npos);
  s.set_contact_email("contact@centre.example");
  auto sub = notifier().Create(s);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->contact_email(), "contact@centre.example");

  sender_.status = 500;
  ASSERT_TRUE(Publish(VenueCreated("venues/a")).ok());
  ASSERT_TRUE(Publish(VenueCreated("venues/b")).ok());
  ASSERT_EQ(*notifier().DeliverDue(32), 2);  // two failures: disabled, the notice made
  EXPECT_EQ(notifier().Get(sub->name())->state(), v1::Subscription::DISABLED);
  EXPECT_EQ(*notifier().DeliverDue(32), 1) << "the notice goes out, the webhooks wait";
  ASSERT_EQ(mailer.sent().size(), 1u);
  EXPECT_EQ(mailer.sent()[0].first, "contact@centre.example");
  const std::string message = mailer.sent()[0].second;
  EXPECT_EQ(message.find("List-Unsubscribe"), std::string::npos) << "nothing to unsubscribe from";
  const std::string text = PlainText(message);
  EXPECT_NE(text.find("Passerelle a désactivé l'abonnement « Lieux de l'Épeule »"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("http://127.0.0.1:9/…"), std::string::npos) << text;
  EXPECT_NE(text.find("2 échecs consécutifs ; le dernier : réponse HTTP 500"), std::string::npos)
      << text;
  EXPECT_NE(text.find("state ACTIVE"), std::string::npos) << text;
  // The notice is in the subscription's log, and did not reset its failures.
  auto log = Log(sub->name());
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].event_type(), "notification.disabled");
  EXPECT_EQ(log[0].state(), v1::Delivery::SUCCEEDED);
  EXPECT_EQ(notifier().Get(sub->name())->consecutive_failures(), 2);
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(*notifier().DeliverDue(32), 0) << "told once; the webhooks wait for the state";
  EXPECT_EQ(mailer.sent().size(), 1u);
  // Turned back on and failing again: told again.
  auto cur = notifier().Get(sub->name());
  cur->set_state(v1::Subscription::ACTIVE);
  ASSERT_TRUE(notifier().Update(*cur, {"state"}).ok());
  EXPECT_EQ(*notifier().DeliverDue(32), 2);
  EXPECT_EQ(*notifier().DeliverDue(32), 1);
  EXPECT_EQ(mailer.sent().size(), 2u);
  // Without a contact, nobody is told.
  cur = notifier().Get(sub->name());
  cur->set_contact_email("");
  cur->set_state(v1::Subscription::ACTIVE);
  ASSERT_TRUE(notifier().Update(*cur, {"state", "contact_email"}).ok());
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(*notifier().DeliverDue(32), 2);
  EXPECT_EQ(notifier().Get(sub->name())->state(), v1::Subscription::DISABLED);
  EXPECT_EQ(*notifier().DeliverDue(32), 0);
  EXPECT_EQ(mailer.sent().size(), 2u);
}

}  // namespace
}  // namespace passerelle::notifications
