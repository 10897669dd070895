// Transactional outbox: a service writes its change and its event in one transaction; the relay
// publishes pending events to JetStream (Nats-Msg-Id = event id), in order per subject.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/db/migrations.hpp"
#include "libs/db/pool.hpp"
#include "libs/events/event.hpp"
#include "libs/events/nats.hpp"

namespace prometheus {
class Registry;
}

namespace passerelle::outbox {

/// The `outbox` component: migrations every producing service embeds.
db::Component OutboxComponent();

/// Appends `event` to the outbox inside the caller's transaction: it is published if and only
/// if the transaction commits.
void Append(pqxx::work& tx, const events::Topology& topology, const events::v1::Event& event);
/// Appends `events` in one statement, in their order (a batch write's events).
void Append(pqxx::work& tx, const events::Topology& topology,
            const std::vector<events::v1::Event>& events);

struct RelayOptions {
  events::Topology topology;
  int batch_size = 100;
  /// Pause when there is nothing to publish (Wake() cuts it short).
  std::chrono::milliseconds idle_wait{200};
  /// Pause after a failure (NATS or PostgreSQL down), doubled up to max_backoff.
  std::chrono::milliseconds error_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  /// Sent rows older than this are deleted.
  std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
  /// The pending and parked gauges are counted at most this often: counting reads the pending
  /// rows' index and its dead entries (30 to 100 ms per count during a bulk load, until a vacuum),
  /// and a relay woken by every write counted after each one. The backlog alert looks at minutes.
  std::chrono::milliseconds gauge_interval{5000};
};

/// Publishes the outbox. Several relays (replicas) may run on one schema: each batch is claimed
/// with FOR UPDATE SKIP LOCKED, and a subject whose earlier event another relay holds is left
/// for later, so events of one subject leave in order and no event is published twice by two
/// relays. A crash between publish and commit republishes the same ids, which JetStream's
/// duplicate window drops: every event reaches the stream exactly once.
class Relay {
 public:
  Relay(db::Pool& pool, events::NatsClient& nats, RelayOptions options,
        prometheus::Registry* registry = nullptr);
  ~Relay();

  /// Publishes one batch; how many events it published.
  absl::StatusOr<int> RunOnce();
  /// Events not yet published (parked ones excluded); refreshes the pending and parked gauges.
  absl::StatusOr<int64_t> Pending();
  /// Events parked because the server can never accept them (larger than max_payload).
  absl::StatusOr<int64_t> Parked();
  /// Background loop until Stop.
  void Start();
  /// Cuts the idle wait short (call after committing an Append).
  void Wake();
  /// Finishes the batch in flight, then returns.
  void Stop();

 private:
  void Loop();
  void Cleanup();

  db::Pool& pool_;
  events::NatsClient& nats_;
  RelayOptions options_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  std::thread thread_;
  struct Metrics;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace passerelle::outbox
