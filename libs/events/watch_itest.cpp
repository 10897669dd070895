// EventWatch against a real nats-server: events in order, messages that are not events, and a
// server killed and restarted under the watch.
#include <google/protobuf/wrappers.pb.h>

#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "libs/events/event.hpp"
#include "libs/events/watch.hpp"
#include "libs/testing/testing.hpp"

namespace passerelle::events {
namespace {

using namespace std::chrono_literals;

// What a watch reported, in order: `e:<subject>` for an event, `gap:<live|down>:<why>` for a gap.
class Recorder {
 public:
  WatchHandlers Handlers() {
    return {.on_event =
                [this](const v1::Event& e) {
                  std::lock_guard<std::mutex> lock(mu_);
                  seen_.push_back("e:" + e.subject());
                },
            .on_gap =
                [this](bool live, std::string_view why) {
                  std::lock_guard<std::mutex> lock(mu_);
                  seen_.push_back(absl::StrCat(live ? "gap:live:" : "gap:down:", std::string(why)));
                }};
  }
  std::vector<std::string> Seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  bool Saw(const std::string& what) {
    auto seen = Seen();
    return std::find(seen.begin(), seen.end(), what) != seen.end();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> seen_;
};

std::unique_ptr<NatsClient> Connect(const std::string& url) {
  auto c = NatsClient::Connect({.url = url, .name = "watch-test", .request_timeout = 2000ms});
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(c).value() : nullptr;
}

void PublishRaw(NatsClient& nats, const std::string& subject, const std::string& data) {
  ASSERT_EQ(natsConnection_Publish(nats.connection(), subject.c_str(), data.data(),
                                   static_cast<int>(data.size())),
            NATS_OK);
}

void PublishEvent(NatsClient& nats, const std::string& subject, const std::string& name) {
  google::protobuf::StringValue payload;
  payload.set_value(name);
  PublishRaw(nats, subject,
             MakeEvent("thing.changed", "test", name, payload, absl::Now()).SerializeAsString());
}

TEST(EventWatchTest, EventsArriveInOrderAndNonEventsAreGaps) {
  auto nats = Connect(testing::NatsUrl());
  ASSERT_NE(nats, nullptr);
  const std::string prefix = testing::UniqueName("watch");
  Recorder recorder;
  auto watch = EventWatch::Start(*nats, prefix + ".events.>", recorder.Handlers());
  ASSERT_TRUE(watch.ok()) << watch.status();
  EXPECT_TRUE((*watch)->live());
  PublishEvent(*nats, prefix + ".events.thing.changed", "things/1");
  // A careless or hostile producer: bytes that are no event, NULs.
  PublishRaw(*nats, prefix + ".events.thing.changed", "\xff\xff\xff\xff not a protobuf");
  PublishRaw(*nats, prefix + ".events.thing.changed", std::string("\0\0\0", 3));
  PublishEvent(*nats, prefix + ".events.other.thing", "things/2");
  PublishEvent(*nats, prefix + ".elsewhere", "things/3");  // not under the watched subject
  ASSERT_TRUE(testing::WaitFor([&] { return recorder.Seen().size() >= 4; }, 5s));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(recorder.Seen(), (std::vector<std::string>{"e:things/1", "gap:live:unreadable",
                                                       "gap:live:unreadable", "e:things/2"}));
  EXPECT_EQ((*watch)->unreadable(), 2);
}

TEST(EventWatchTest, ServerKilledThenRestartedIsAGapEachWay) {
  testing::NatsServer server;
  server.Start();
  auto nats = Connect(server.url());
  ASSERT_NE(nats, nullptr);
  Recorder recorder;
  auto watch = EventWatch::Start(*nats, "w.events.>", recorder.Handlers());
  ASSERT_TRUE(watch.ok()) << watch.status();
  PublishEvent(*nats, "w.events.a", "things/before");
  ASSERT_TRUE(testing::WaitFor([&] { return recorder.Saw("e:things/before"); }, 5s));
  server.Kill();
  ASSERT_TRUE(testing::WaitFor([&] { return recorder.Saw("gap:down:disconnected"); }, 10s));
  EXPECT_FALSE((*watch)->live());
  server.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return recorder.Saw("gap:live:reconnected"); }, 20s));
  EXPECT_TRUE((*watch)->live());
  // The subscription was renewed by the client: events published now arrive.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        PublishEvent(*nats, "w.events.a", "things/after");
        natsConnection_Flush(nats->connection());
        return recorder.Saw("e:things/after");
      },
      10s));
  auto seen = recorder.Seen();
  auto down = std::find(seen.begin(), seen.end(), "gap:down:disconnected");
  auto live = std::find(seen.begin(), seen.end(), "gap:live:reconnected");
  EXPECT_LT(down - seen.begin(), live - seen.begin()) << "down before back";
}

TEST(EventWatchTest, StoppedWatchCallsNothingMore) {
  auto nats = Connect(testing::NatsUrl());
  ASSERT_NE(nats, nullptr);
  const std::string subject = testing::UniqueName("watch") + ".events.>";
  auto recorder = std::make_unique<Recorder>();
  {
    auto watch = EventWatch::Start(*nats, subject, recorder->Handlers());
    ASSERT_TRUE(watch.ok()) << watch.status();
    for (int i = 0; i < 200; ++i) {
      PublishEvent(*nats, subject.substr(0, subject.size() - 1) + "x", "things/x");
    }
  }  // destroyed while messages may still be arriving
  const size_t after_stop = recorder->Seen().size();
  PublishEvent(*nats, subject.substr(0, subject.size() - 1) + "x", "things/late");
  natsConnection_Flush(nats->connection());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(recorder->Seen().size(), after_stop);
}

TEST(EventWatchTest, InvalidSubjectIsRefused) {
  auto nats = Connect(testing::NatsUrl());
  ASSERT_NE(nats, nullptr);
  Recorder recorder;
  for (const std::string& bad : {std::string(""), std::string("a b"), std::string("a..b")}) {
    auto watch = EventWatch::Start(*nats, bad, recorder.Handlers());
    EXPECT_FALSE(watch.ok()) << "subject '" << bad << "'";
  }
}

}  // namespace
}  // namespace passerelle::events
