// The life of a service binary, written once: settings, logs, database and migrations, NATS
// streams, outbox relay, metrics, gRPC server, and an orderly stop on SIGTERM.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "libs/api/page_token.hpp"
#include "libs/config/config.hpp"
#include "libs/db/migrations.hpp"
#include "libs/db/pool.hpp"
#include "libs/events/event.hpp"
#include "libs/events/nats.hpp"
#include "libs/metrics/metrics.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/server/server.hpp"

namespace passerelle::service {

/// The objects a service's `wire` builds (stores, domains, handlers, consumers), owned in one
/// tree (userver's components): each is built after what it depends on, which it receives by
/// reference, and they are destroyed in the reverse order, after the gRPC server has stopped
/// and before the runtime's NATS connection and database pool go. No function-local statics.
class Components {
 public:
  Components() = default;
  Components(const Components&) = delete;
  Components& operator=(const Components&) = delete;
  ~Components() { Clear(); }

  /// Builds a T owned by the tree; the reference stays valid until Clear().
  template <typename T, typename... Args>
  T& Emplace(Args&&... args) {
    auto part = std::make_shared<T>(std::forward<Args>(args)...);
    T& ref = *part;
    parts_.push_back(std::move(part));
    return ref;
  }
  /// Destroys every part, the last built first.
  void Clear() {
    while (!parts_.empty()) parts_.pop_back();
  }
  size_t size() const { return parts_.size(); }

 private:
  std::vector<std::shared_ptr<void>> parts_;
};

/// What main() wires: built after the settings were read and the migrations applied.
struct Runtime {
  std::string name;
  std::unique_ptr<db::Pool> pool;
  std::unique_ptr<events::NatsClient> nats;
  events::Topology topology;
  std::unique_ptr<metrics::Metrics> metrics;
  std::unique_ptr<outbox::Relay> relay;
  std::unique_ptr<server::GrpcServer> server;
  /// Seals and opens the page tokens of every list (one key per deployment).
  std::unique_ptr<api::PageTokens> page_tokens;
  /// What `wire` builds; cleared after the server's shutdown hooks ran.
  Components components;
};

struct ServiceSpec {
  /// Short name: `venues`, `referential`... Also the default schema and log `service` field.
  std::string name;
  /// Migration histories the service's schema holds (its own, plus `outbox` / `inbox`).
  std::vector<db::Component> components;
  /// Reads the service's own settings (same Reader, so every bad value is reported at once).
  std::function<void(config::Reader&)> read_config;
  /// Builds the domain and registers gRPC services and consumers on the runtime. Objects it
  /// creates go in `rt.components` (destroyed in reverse order once the server has stopped);
  /// settings read by `read_config` may live in main's own locals, which outlive Run.
  std::function<absl::Status(Runtime&)> wire;
};

/// Runs `work` every `period` on a thread of its own until the server shuts down; the wait
/// ends at once on shutdown (which then waits for a `work` in progress).
void RunEvery(Runtime& rt, std::chrono::milliseconds period, std::function<void()> work);
/// The same for long work: `work` is given a predicate that turns true when shutdown begins,
/// to stop early (and start again from where it was at the next start).
void RunEvery(Runtime& rt, std::chrono::milliseconds period,
              std::function<void(const std::function<bool()>& stopping)> work);

/// Runs `work` each time the service's database schema channel is notified (a NOTIFY with the
/// schema's name as channel, delivered at the writer's commit, see db::Listener), and at least
/// every `period` whatever happens to the listening connection; on a thread of its own until
/// the server shuts down. Notifications arriving while `work` runs make one more run.
void RunWhenNotified(Runtime& rt, std::chrono::milliseconds period, std::function<void()> work);

/// Runs the service until SIGTERM/SIGINT; the process exit code.
/// `--help` lists the environment variables; `--migrate` applies migrations and exits.
/// Exit codes: 0 clean stop, 2 bad configuration, 1 failure to start.
int Run(int argc, char** argv, const ServiceSpec& spec);

}  // namespace passerelle::service
