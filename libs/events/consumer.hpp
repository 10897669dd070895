// Durable JetStream pull consumer: explicit ack, bounded redelivery with backoff, dead letters,
// and an inbox table so each event's effect happens once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/db/migrations.hpp"
#include "libs/db/pool.hpp"
#include "libs/events/event.hpp"
#include "libs/events/nats.hpp"

namespace prometheus {
class Registry;
}

namespace passerelle::events {

/// The `inbox` component: migrations every consuming service embeds.
db::Component InboxComponent();

struct ConsumerOptions {
  Topology topology;
  /// Durable name, unique per consuming service and purpose, e.g. `venues-referential`.
  std::string durable;
  /// Subjects to receive, e.g. topology.EventSubject("referential.version.published").
  std::string filter_subject;
  /// Deliveries in all before the event goes to the dead-letter subject.
  int max_deliver = 5;
  /// Pause before redelivery n (the last value repeats).
  std::vector<std::chrono::milliseconds> backoff = {
      std::chrono::milliseconds(200), std::chrono::seconds(1), std::chrono::seconds(5),
      std::chrono::seconds(30)};
  /// Redelivered when not acked within this time (a handler that hangs, a crashed process).
  std::chrono::milliseconds ack_wait{std::chrono::seconds(30)};
  int batch = 32;
  std::chrono::milliseconds fetch_wait{std::chrono::milliseconds(500)};
  /// Called after an event's transaction committed (not for a duplicate): e.g. to wake the
  /// workers that act on what the handler wrote, instead of waiting for their next poll.
  std::function<void()> after_commit;
};

/// Marks a handler's error as permanent: the event can never succeed (a payload that is not the
/// message its type says, text the store cannot hold), so it goes to the dead letters at its
/// first delivery instead of being retried max_deliver times.
absl::Status Permanent(absl::Status status);
/// Whether `status` was marked by Permanent.
bool IsPermanent(const absl::Status& status);

/// Result of handling one delivery (exposed for tests and metrics).
enum class Outcome { kHandled, kDuplicate, kRetry, kDeadLettered };

/// Runs the handler inside a transaction that also records (durable, event id) in the inbox:
/// a redelivered event finds its id there and is acked without running the handler again.
class Consumer {
 public:
  /// OK: done. An error: rolled back and retried with backoff, dead-lettered after max_deliver
  /// deliveries, or at once when marked Permanent.
  using Handler = std::function<absl::Status(pqxx::work&, const v1::Event&)>;

  Consumer(NatsClient& nats, db::Pool& pool, ConsumerOptions options, Handler handler,
           prometheus::Registry* registry = nullptr);
  ~Consumer();

  /// Ensures the streams and the durable consumer exist and binds to it.
  absl::Status Init();
  /// Fetches one batch and handles it; the number of deliveries handled (0 on idle).
  absl::StatusOr<int> PollOnce();
  /// Background loop calling PollOnce until Stop.
  void Start();
  void Stop();

 private:
  Outcome Handle(natsMsg* msg);
  void DeadLetter(natsMsg* msg, const std::string& reason, uint64_t delivered);
  void Count(Outcome outcome);

  NatsClient& nats_;
  db::Pool& pool_;
  ConsumerOptions options_;
  Handler handler_;
  natsSubscription* sub_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  struct Metrics;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace passerelle::events
