// Outbox relay and event consumer against the real PostgreSQL and NATS JetStream, including a
// NATS server killed in the middle of publishing.
#include <google/protobuf/wrappers.pb.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "libs/db/transaction.hpp"
#include "libs/events/consumer.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/testing/testing.hpp"

namespace passerelle::outbox {
namespace {

using namespace std::chrono_literals;
using events::v1::Event;

class OutboxTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;  // no database: the failure says why
    const db::Component effects{"test",
                                {{1, "effects", "CREATE TABLE effects (event_id text, n int)"}}};
    ASSERT_TRUE(MigrateSchema({OutboxComponent(), events::InboxComponent(), effects}).ok());
    const std::string tag = testing::UniqueName("s");
    topology_ = {
        .subject_prefix = tag, .events_stream = tag + "_EV", .dead_letter_stream = tag + "_DL"};
  }

  // Appends n events over `subjects` subjects in one transaction each; returns their ids.
  std::vector<std::string> AppendEvents(int n, int subjects, int offset = 0) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      google::protobuf::StringValue payload;
      payload.set_value(std::to_string(offset + i));
      Event e = events::MakeEvent("thing.changed", "test",
                                  "things/" + std::to_string((offset + i) % subjects), payload,
                                  absl::Now());
      ids.push_back(e.id());
      EXPECT_TRUE(db::RunInTransaction(pool(), [&](pqxx::work& tx) {
                    Append(tx, topology_, e);
                    return absl::OkStatus();
                  }).ok());
    }
    return ids;
  }

  // Every event in the stream, in stream order, read with an ephemeral ordered consumer.
  std::vector<Event> ReadStream(events::NatsClient& nats, size_t expected) {
    std::vector<Event> out;
    natsSubscription* sub = nullptr;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = topology_.events_stream.c_str();
    jsErrCode jerr = jsErrCode(0);
    EXPECT_EQ(js_PullSubscribe(&sub, nats.jetstream(), topology_.AllEvents().c_str(), nullptr,
                               nullptr, &so, &jerr),
              NATS_OK);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      natsMsgList list{};
      natsStatus s = natsSubscription_Fetch(&list, sub, 256, 300, &jerr);
      if (s == NATS_TIMEOUT && out.size() >= expected) break;
      if (s != NATS_OK) continue;
      for (int i = 0; i < list.Count; ++i) {
        Event e;
        e.ParseFromArray(natsMsg_GetData(list.Msgs[i]), natsMsg_GetDataLength(list.Msgs[i]));
        out.push_back(e);
        natsMsg_Ack(list.Msgs[i], nullptr);
      }
      natsMsgList_Destroy(&list);
    }
    natsSubscription_Destroy(sub);
    return out;
  }

  static void ExpectExactlyOnceInOrder(const std::vector<Event>& got,
                                       const std::vector<std::string>& ids) {
    std::map<std::string, int> seen;
    for (const auto& e : got) ++seen[e.id()];
    EXPECT_EQ(got.size(), ids.size());
    for (const auto& id : ids) EXPECT_EQ(seen[id], 1) << "event " << id;
    // Per subject, payload counters must increase: events of a subject never overtake.
    std::map<std::string, int> last;
    for (const auto& e : got) {
      google::protobuf::StringValue v;
      e.payload().UnpackTo(&v);
      int n = std::stoi(v.value());
      auto it = last.find(e.subject());
      if (it != last.end()) {
        EXPECT_GT(n, it->second) << "out of order on " << e.subject();
      }
      last[e.subject()] = n;
    }
  }

  std::unique_ptr<events::NatsClient> Connect(const std::string& url) {
    auto c = events::NatsClient::Connect({.url = url, .name = "test", .request_timeout = 2000ms});
    EXPECT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(events::EnsureStreams(**c, topology_).ok());
    return std::move(c).value();
  }

  events::Topology topology_;
};

// Services of one topology starting together create the same streams at the same moment: each
// creation succeeds (the server answers a racing one "subjects overlap" before "name in use");
// a stream of another name on those subjects is still refused.
TEST_F(OutboxTest, StreamsCreatedAtOnceByManyServicesAllSucceed) {
  auto nats = Connect(testing::NatsUrl());
  const std::string name = absl::StrCat("RACE_", ::getpid(), "_", std::rand());
  const events::StreamConfig config{.name = name, .subjects = {absl::StrCat(name, ".>")}};
  std::vector<std::unique_ptr<events::NatsClient>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(Connect(testing::NatsUrl()));
  std::vector<absl::Status> results(clients.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = clients[i]->EnsureStream(config); });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& r : results) EXPECT_TRUE(r.ok()) << r;
  events::StreamConfig other = config;
  other.name = name + "_OTHER";
  EXPECT_FALSE(nats->EnsureStream(other).ok());
  EXPECT_TRUE(nats->DeleteStream(name).ok());
}

TEST_F(OutboxTest, RelayPublishesEachEventOnceInOrderAndMarksItSent) {
  auto nats = Connect(testing::NatsUrl());
  auto ids = AppendEvents(250, 7);
  Relay relay(pool(), *nats, {.topology = topology_, .batch_size = 40});
  int total = 0;
  for (int i = 0; i < 20; ++i) {
    auto n = relay.RunOnce();
    ASSERT_TRUE(n.ok()) << n.status();
    total += *n;
  }
  EXPECT_EQ(total, 250);
  EXPECT_EQ(*relay.Pending(), 0);
  ExpectExactlyOnceInOrder(ReadStream(*nats, ids.size()), ids);
}

TEST_F(OutboxTest, EventsAppendedTogetherArePublishedInTheirOrder) {
  auto nats = Connect(testing::NatsUrl());
  std::vector<Event> batch;
  std::vector<std::string> ids;
  for (int i = 0; i < 120; ++i) {  // a batch write's events, three subjects
    google::protobuf::StringValue payload;
    payload.set_value(std::to_string(i));
    batch.push_back(events::MakeEvent("thing.changed", "test", "things/" + std::to_string(i % 3),
                                      payload, absl::Now()));
    ids.push_back(batch.back().id());
  }
  ASSERT_TRUE(db::RunInTransaction(pool(), [&](pqxx::work& tx) {
                Append(tx, topology_, batch);
                Append(tx, topology_, std::vector<Event>{});  // nothing to add: no statement
                return absl::OkStatus();
              }).ok());
  Relay relay(pool(), *nats, {.topology = topology_, .batch_size = 50});
  int total = 0;
  for (int i = 0; i < 5; ++i) total += *relay.RunOnce();
  EXPECT_EQ(total, 120);
  const std::vector<Event> got = ReadStream(*nats, ids.size());
  ExpectExactlyOnceInOrder(got, ids);
  ASSERT_EQ(got.size(), ids.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].id(), ids[i]) << "position " << i;
}

TEST_F(OutboxTest, RolledBackChangesPublishNothing) {
  auto nats = Connect(testing::NatsUrl());
  google::protobuf::StringValue payload;
  auto st = db::RunInTransaction(pool(), [&](pqxx::work& tx) {
    Append(tx, topology_,
           events::MakeEvent("thing.changed", "test", "things/1", payload, absl::Now()));
    return absl::AbortedError("business rule said no");
  });
  EXPECT_FALSE(st.ok());
  Relay relay(pool(), *nats, {.topology = topology_});
  EXPECT_EQ(*relay.RunOnce(), 0);
}

TEST_F(OutboxTest, TwoRelaysNeverDoublePublishAndKeepSubjectOrder) {
  auto nats = Connect(testing::NatsUrl());
  auto ids = AppendEvents(400, 5);
  auto pool2 = NewPool();
  Relay a(pool(), *nats, {.topology = topology_, .batch_size = 16});
  Relay b(*pool2, *nats, {.topology = topology_, .batch_size = 16});
  std::atomic<int> published{0};
  auto run = [&](Relay& r) {
    for (int i = 0; i < 200 && *r.Pending() > 0; ++i) {
      auto n = r.RunOnce();
      if (n.ok()) published += *n;
    }
  };
  std::thread ta(run, std::ref(a)), tb(run, std::ref(b));
  ta.join();
  tb.join();
  // Each relay counts what it published; a double publish would push the sum past 400 even
  // though the stream's duplicate window would hide it.
  EXPECT_EQ(published.load(), 400);
  ExpectExactlyOnceInOrder(ReadStream(*nats, ids.size()), ids);
}

TEST_F(OutboxTest, RelayThatDiedAfterPublishingIsDedupedByEventId) {
  auto nats = Connect(testing::NatsUrl());
  auto ids = AppendEvents(30, 3);
  // A previous relay published the first 10 and died before marking them sent.
  {
    auto lease = pool().Acquire();
    pqxx::work tx(**lease);
    for (const auto& row : tx.exec("SELECT event_id, nats_subject, encode(event, 'hex') "
                                   "FROM outbox ORDER BY seq LIMIT 10")) {
      std::string data;
      ASSERT_TRUE(db::FromHex(row[2].c_str(), &data));
      ASSERT_TRUE(nats->Publish(row[1].c_str(), data, row[0].c_str()).ok());
    }
  }
  Relay relay(pool(), *nats, {.topology = topology_});
  EXPECT_EQ(*relay.RunOnce(), 30);
  ExpectExactlyOnceInOrder(ReadStream(*nats, ids.size()), ids);
}

TEST_F(OutboxTest, NatsKilledMidPublishingLosesNothingAndDuplicatesNothing) {
  testing::NatsServer server;
  server.Start();
  auto nats = Connect(server.url());
  auto ids = AppendEvents(300, 11);
  Relay relay(pool(), *nats,
              {.topology = topology_,
               .batch_size = 10,
               .idle_wait = 20ms,
               .error_backoff = 50ms,
               .max_backoff = 500ms});
  relay.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return *relay.Pending() < 250; }, 20s));
  server.Kill();                           // SIGKILL in the middle of the stream of publishes
  auto more = AppendEvents(100, 11, 300);  // the service keeps writing while NATS is down
  ids.insert(ids.end(), more.begin(), more.end());
  std::this_thread::sleep_for(500ms);
  const int64_t pending_while_down = *relay.Pending();
  EXPECT_GT(pending_while_down, 0);
  server.Start();  // same port, same store: the client reconnects by itself
  EXPECT_TRUE(testing::WaitFor([&] { return *relay.Pending() == 0; }, 60s))
      << "pending: " << *relay.Pending();
  relay.Stop();
  ExpectExactlyOnceInOrder(ReadStream(*nats, ids.size()), ids);
}

TEST_F(OutboxTest, EventTheServerCannotAcceptIsParkedAndTheRestFlows) {
  auto nats = Connect(testing::NatsUrl());
  ASSERT_GT(nats->MaxPayload(), 0);
  google::protobuf::StringValue huge;
  huge.set_value(std::string(static_cast<size_t>(nats->MaxPayload()) + 1000, 'x'));
  const Event poison = events::MakeEvent("thing.changed", "test", "things/0", huge, absl::Now());
  ASSERT_TRUE(db::RunInTransaction(pool(), [&](pqxx::work& tx) {
                Append(tx, topology_, poison);
                return absl::OkStatus();
              }).ok());
  auto ids = AppendEvents(5, 1);  // the same subject: they must not wait behind it forever
  prometheus::Registry registry;
  Relay relay(pool(), *nats, {.topology = topology_}, &registry);
  auto n = relay.RunOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 5);
  EXPECT_EQ(*relay.Pending(), 0);
  EXPECT_EQ(*relay.Parked(), 1);
  ExpectExactlyOnceInOrder(ReadStream(*nats, ids.size()), ids);
  double parked_gauge = -1;
  for (const auto& family : registry.Collect()) {
    if (family.name == "passerelle_outbox_parked") parked_gauge = family.metric[0].gauge.value;
  }
  EXPECT_EQ(parked_gauge, 1);
}

TEST_F(OutboxTest, PendingGaugeShowsTheBacklogWhilePublishingFails) {
  testing::NatsServer server;
  server.Start();
  auto nats = Connect(server.url());
  prometheus::Registry registry;
  Relay relay(pool(), *nats,
              {.topology = topology_,
               .idle_wait = 20ms,
               .error_backoff = 20ms,
               .max_backoff = 100ms,
               .gauge_interval = 50ms},
              &registry);
  relay.Start();
  server.Kill();
  AppendEvents(7, 3);
  auto gauge = [&] {
    for (const auto& family : registry.Collect()) {
      if (family.name == "passerelle_outbox_pending") return family.metric[0].gauge.value;
    }
    return -1.0;
  };
  EXPECT_TRUE(testing::WaitFor([&] { return gauge() == 7; }, 10s)) << "gauge: " << gauge();
  relay.Stop();
}

TEST_F(OutboxTest, GaugesAreCountedAtMostOncePerInterval) {
  // Counting the backlog reads the pending rows' index; a relay woken by every write of a bulk
  // load must not count after each one.
  testing::NatsServer server;
  server.Start();
  auto nats = Connect(server.url());
  prometheus::Registry registry;
  auto gauge = [&] {
    for (const auto& family : registry.Collect()) {
      if (family.name == "passerelle_outbox_pending") return family.metric[0].gauge.value;
    }
    return -1.0;
  };
  Relay relay(pool(), *nats,
              {.topology = topology_,
               .idle_wait = 20ms,
               .error_backoff = 20ms,
               .max_backoff = 20ms,
               .gauge_interval = std::chrono::hours(1)},
              &registry);
  relay.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return gauge() == 0; }, 10s)) << "first count: " << gauge();
  server.Kill();
  AppendEvents(7, 3);
  for (int i = 0; i < 20; ++i) {
    relay.Wake();
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(gauge(), 0) << "counted again within the interval";
  EXPECT_EQ(*relay.Pending(), 7);  // an explicit count still counts
  relay.Stop();
}

class ConsumerTest : public OutboxTest {
 protected:
  events::ConsumerOptions Options(std::string durable) {
    return {.topology = topology_,
            .durable = std::move(durable),
            .filter_subject = topology_.EventSubject("thing.changed"),
            .max_deliver = 3,
            .backoff = {50ms, 100ms},
            .ack_wait = 30s,
            .batch = 10,
            .fetch_wait = 200ms};
  }
  int Effects() {
    auto lease = pool().Acquire();
    pqxx::work tx(**lease);
    return tx.exec1("SELECT count(*) FROM effects")[0].as<int>();
  }
  absl::Status Effect(pqxx::work& tx, const Event& e) {
    tx.exec_params("INSERT INTO effects VALUES ($1, 1)", e.id());
    return absl::OkStatus();
  }
};

TEST_F(ConsumerTest, RedeliveredEventTakesEffectOnce) {
  auto nats = Connect(testing::NatsUrl());
  google::protobuf::StringValue payload;
  Event e = events::MakeEvent("thing.changed", "test", "things/1", payload, absl::Now());
  // The same event reaches the consumer twice (two stream copies: a producer that lost its
  // dedup window), then a third time through a server redelivery below.
  const std::string data = e.SerializeAsString();
  ASSERT_TRUE(nats->Publish(topology_.EventSubject("thing.changed"), data, "copy-1").ok());
  ASSERT_TRUE(nats->Publish(topology_.EventSubject("thing.changed"), data, "copy-2").ok());

  int calls = 0;
  events::Consumer consumer(*nats, pool(), Options("c1"), [&](pqxx::work& tx, const Event& ev) {
    ++calls;
    return Effect(tx, ev);
  });
  ASSERT_TRUE(consumer.Init().ok());
  int handled = 0;
  for (int i = 0; i < 10 && handled < 2; ++i) handled += *consumer.PollOnce();
  EXPECT_EQ(handled, 2);
  EXPECT_EQ(calls, 1) << "the handler ran for the duplicate";
  EXPECT_EQ(Effects(), 1);
}

TEST_F(ConsumerTest, ServerRedeliveryToAnotherReplicaTakesEffectOnce) {
  auto nats = Connect(testing::NatsUrl());
  google::protobuf::StringValue payload;
  Event e = events::MakeEvent("thing.changed", "test", "things/1", payload, absl::Now());
  ASSERT_TRUE(
      nats->Publish(topology_.EventSubject("thing.changed"), e.SerializeAsString(), e.id()).ok());
  // Two replicas on one durable. Replica A is slower than ack_wait, so the server redelivers
  // the event to replica B while A's transaction is still open.
  auto options = Options("c2");
  options.ack_wait = 1s;
  std::atomic<int> calls{0};
  auto handler = [&](pqxx::work& tx, const Event& ev) {
    if (++calls == 1) std::this_thread::sleep_for(2500ms);
    return Effect(tx, ev);
  };
  auto pool_b = NewPool();
  events::Consumer a(*nats, pool(), options, handler);
  events::Consumer b(*nats, *pool_b, options, handler);
  ASSERT_TRUE(a.Init().ok());
  ASSERT_TRUE(b.Init().ok());
  std::atomic<int> handled_a{0};
  std::thread ta([&] { handled_a = *a.PollOnce(); });
  ASSERT_TRUE(testing::WaitFor([&] { return calls.load() == 1; }, 5s));
  int handled_b = 0;
  for (int i = 0; i < 20 && handled_b == 0; ++i) handled_b += *b.PollOnce();
  ta.join();
  EXPECT_EQ(handled_a.load(), 1);
  EXPECT_EQ(handled_b, 1) << "the server should have redelivered to replica B";
  EXPECT_EQ(calls.load(), 1) << "replica B ran the handler for an event A had handled";
  EXPECT_EQ(Effects(), 1);
}

TEST_F(ConsumerTest, FailingHandlerIsRetriedThenDeadLettered) {
  auto nats = Connect(testing::NatsUrl());
  google::protobuf::StringValue payload;
  Event e = events::MakeEvent("thing.changed", "test", "things/9", payload, absl::Now());
  ASSERT_TRUE(
      nats->Publish(topology_.EventSubject("thing.changed"), e.SerializeAsString(), e.id()).ok());
  int calls = 0;
  events::Consumer consumer(*nats, pool(), Options("c3"), [&](pqxx::work& tx, const Event& ev) {
    ++calls;
    Effect(tx, ev).IgnoreError();
    return absl::InternalError("downstream refused");
  });
  ASSERT_TRUE(consumer.Init().ok());
  for (int i = 0; i < 30 && calls < 3; ++i) consumer.PollOnce().IgnoreError();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(Effects(), 0) << "failed attempts must roll back";

  // The dead-letter stream holds the event with the reason.
  natsSubscription* sub = nullptr;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = topology_.dead_letter_stream.c_str();
  jsErrCode jerr = jsErrCode(0);
  ASSERT_EQ(js_PullSubscribe(&sub, nats->jetstream(), topology_.AllDeadLetters().c_str(), nullptr,
                             nullptr, &so, &jerr),
            NATS_OK);
  natsMsgList list{};
  ASSERT_EQ(natsSubscription_Fetch(&list, sub, 10, 2000, &jerr), NATS_OK);
  ASSERT_EQ(list.Count, 1);
  const char* error = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(list.Msgs[0], "Passerelle-Error", &error), NATS_OK);
  EXPECT_NE(std::string(error).find("downstream refused"), std::string::npos);
  Event dead;
  ASSERT_TRUE(
      dead.ParseFromArray(natsMsg_GetData(list.Msgs[0]), natsMsg_GetDataLength(list.Msgs[0])));
  EXPECT_EQ(dead.id(), e.id());
  natsMsgList_Destroy(&list);
  natsSubscription_Destroy(sub);
  // And it is not delivered again.
  EXPECT_EQ(*consumer.PollOnce(), 0);
}

TEST_F(ConsumerTest, PermanentFailureIsDeadLetteredAtTheFirstDelivery) {
  auto nats = Connect(testing::NatsUrl());
  google::protobuf::StringValue payload;
  Event bad = events::MakeEvent("thing.changed", "test", "things/7", payload, absl::Now());
  Event good = events::MakeEvent("thing.changed", "test", "things/8", payload, absl::Now());
  for (const Event* e : {&bad, &good}) {
    ASSERT_TRUE(
        nats->Publish(topology_.EventSubject("thing.changed"), e->SerializeAsString(), e->id())
            .ok());
  }
  int bad_calls = 0;
  prometheus::Registry registry;
  auto options = Options("c4");
  options.max_deliver = 5;
  options.backoff = {5s};  // a retry would not come back within this test's polls
  events::Consumer consumer(
      *nats, pool(), options,
      [&](pqxx::work& tx, const Event& ev) -> absl::Status {
        if (ev.id() == bad.id()) {
          ++bad_calls;
          Effect(tx, ev).IgnoreError();
          return events::Permanent(absl::InvalidArgumentError("payload is not a Thing"));
        }
        return Effect(tx, ev);
      },
      &registry);
  ASSERT_TRUE(consumer.Init().ok());
  int handled = 0;
  for (int i = 0; i < 10 && handled < 2; ++i) handled += *consumer.PollOnce();
  EXPECT_EQ(handled, 2);
  EXPECT_EQ(bad_calls, 1);
  EXPECT_EQ(Effects(), 1) << "the permanent failure must roll back, the good event apply";

  natsSubscription* sub = nullptr;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = topology_.dead_letter_stream.c_str();
  jsErrCode jerr = jsErrCode(0);
  ASSERT_EQ(js_PullSubscribe(&sub, nats->jetstream(), topology_.AllDeadLetters().c_str(), nullptr,
                             nullptr, &so, &jerr),
            NATS_OK);
  natsMsgList list{};
  ASSERT_EQ(natsSubscription_Fetch(&list, sub, 10, 2000, &jerr), NATS_OK);
  ASSERT_EQ(list.Count, 1);
  const char* header = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(list.Msgs[0], "Passerelle-Deliveries", &header), NATS_OK);
  EXPECT_STREQ(header, "1");
  ASSERT_EQ(natsMsgHeader_Get(list.Msgs[0], "Passerelle-Error", &header), NATS_OK);
  EXPECT_EQ(std::string(header), "permanent: payload is not a Thing");
  natsMsgList_Destroy(&list);
  natsSubscription_Destroy(sub);
  // Not delivered again, even after the backoff a retry would have waited.
  std::this_thread::sleep_for(5500ms);
  EXPECT_EQ(*consumer.PollOnce(), 0);
  EXPECT_EQ(bad_calls, 1);
  // A plain error is still retried.
  EXPECT_FALSE(events::IsPermanent(absl::InvalidArgumentError("x")));
  EXPECT_TRUE(events::IsPermanent(events::Permanent(absl::InternalError("x"))));
  EXPECT_FALSE(events::IsPermanent(events::Permanent(absl::OkStatus())));
}

}  // namespace
}  // namespace passerelle::outbox
