// The life of a service binary, written once: settings, logs, database and migrations, NATS
// streams, outbox relay, metrics, gRPC server, and an orderly stop on SIGTERM.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "libs/config/config.hpp"
#include "libs/db/migrations.hpp"
#include "libs/db/pool.hpp"
#include "libs/events/event.hpp"
#include "libs/events/nats.hpp"
#include "libs/metrics/metrics.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/server/page_token.hpp"
#include "libs/server/server.hpp"

namespace passerelle::service {

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
  std::unique_ptr<server::PageTokens> page_tokens;
};

struct ServiceSpec {
  /// Short name: `venues`, `referential`... Also the default schema and log `service` field.
  std::string name;
  /// Migration histories the service's schema holds (its own, plus `outbox` / `inbox`).
  std::vector<db::Component> components;
  /// Reads the service's own settings (same Reader, so every bad value is reported at once).
  std::function<void(config::Reader&)> read_config;
  /// Builds the domain and registers gRPC services and consumers on the runtime. Objects it
  /// creates must outlive the server: keep them in static storage or register OnShutdown hooks.
  std::function<absl::Status(Runtime&)> wire;
};

/// Runs `work` every `period` on a thread of its own until the server shuts down; the wait
/// ends at once on shutdown (which then waits for a `work` in progress).
void RunEvery(Runtime& rt, std::chrono::milliseconds period, std::function<void()> work);

/// Runs the service until SIGTERM/SIGINT; the process exit code.
/// `--help` lists the environment variables; `--migrate` applies migrations and exits.
/// Exit codes: 0 clean stop, 2 bad configuration, 1 failure to start.
int Run(int argc, char** argv, const ServiceSpec& spec);

}  // namespace passerelle::service
