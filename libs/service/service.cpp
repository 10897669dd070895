// Service bootstrap shared by every binary.
#include "libs/service/service.hpp"

#include <malloc.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/db/listener.hpp"
#include "libs/logging/logging.hpp"

namespace passerelle::service {
namespace {

struct CommonSettings {
  std::string database_url;
  std::string schema;
  int pool_size;
  std::string nats_url;
  std::string subject_prefix;
  std::string grpc_address;
  std::string metrics_address;
  std::string log_level;
  std::chrono::milliseconds drain_timeout;
  bool relay;
  std::string page_token_key;
};

CommonSettings ReadCommon(config::Reader& r, const std::string& name) {
  CommonSettings s;
  s.database_url =
      r.String("PASSERELLE_DATABASE_URL", "postgresql://passerelle@127.0.0.1:55432/passerelle",
               "PostgreSQL connection URI");
  s.schema = r.String("PASSERELLE_DATABASE_SCHEMA", name, "Schema this service owns");
  s.pool_size = static_cast<int>(
      r.Int("PASSERELLE_DATABASE_POOL_SIZE", 8, 1, 256, "Most PostgreSQL connections open"));
  s.nats_url = r.String("PASSERELLE_NATS_URL", "nats://127.0.0.1:54222", "NATS server URL");
  s.subject_prefix = r.String("PASSERELLE_NATS_PREFIX", "passerelle",
                              "Prefix of NATS subjects and streams (one per environment)");
  s.grpc_address =
      r.ListenAddress("PASSERELLE_GRPC_ADDRESS", "127.0.0.1:0", "gRPC listen address (host:port)");
  s.metrics_address = r.ListenAddress("PASSERELLE_METRICS_ADDRESS", "127.0.0.1:0",
                                      "Prometheus /metrics listen address (host:port)");
  s.log_level = r.OneOf("PASSERELLE_LOG_LEVEL", "info", {"debug", "info", "warn", "error"},
                        "Minimum log level");
  s.drain_timeout = r.Duration("PASSERELLE_DRAIN_TIMEOUT", std::chrono::seconds(10),
                               "Time in-flight calls get to finish on SIGTERM");
  s.relay = r.Bool("PASSERELLE_OUTBOX_RELAY", true,
                   "Run the outbox relay in this process (one or more replicas may)");
  s.page_token_key = r.String(
      "PASSERELLE_PAGE_TOKEN_KEY", "",
      "Secret sealing page tokens, shared by every replica of every service (empty: a random "
      "key per process, so a token only works on the replica that issued it)");
  return s;
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

void RunEvery(Runtime& rt, std::chrono::milliseconds period, std::function<void()> work) {
  RunEvery(rt, period, [work = std::move(work)](const std::function<bool()>&) { work(); });
}

void RunEvery(Runtime& rt, std::chrono::milliseconds period,
              std::function<void(const std::function<bool()>& stopping)> work) {
  struct Loop {
    std::mutex mu;
    std::condition_variable wake;
    // Set under `mu` (no lost wake-up), read without it by work in progress.
    std::atomic<bool> stop{false};
    std::thread thread;
  };
  auto loop = std::make_shared<Loop>();
  loop->thread = std::thread([loop, period, work = std::move(work)] {
    const std::function<bool()> stopping = [&loop] { return loop->stop.load(); };
    while (true) {
      {
        std::unique_lock lock(loop->mu);
        if (loop->wake.wait_for(lock, period, stopping)) return;
      }
      work(stopping);
    }
  });
  rt.server->OnShutdown([loop] {
    {
      std::lock_guard lock(loop->mu);
      loop->stop = true;
    }
    loop->wake.notify_all();
    if (loop->thread.joinable()) loop->thread.join();
  });
}

void RunWhenNotified(Runtime& rt, std::chrono::milliseconds period, std::function<void()> work) {
  struct Loop {
    explicit Loop(const db::PoolOptions& o)
        : listener(o.uri, o.schema, o.application_name + ":listen") {}
    db::Listener listener;
    std::thread thread;
  };
  auto loop = std::make_shared<Loop>(rt.pool->options());
  loop->thread = std::thread([loop, period, work = std::move(work)] {
    while (loop->listener.Wait(period) != db::Listener::Wake::kStopped) work();
  });
  rt.server->OnShutdown([loop] {
    loop->listener.Stop();
    if (loop->thread.joinable()) loop->thread.join();
  });
}

int Run(int argc, char** argv, const ServiceSpec& spec) {
  // glibc gives each busy thread its own malloc arena; with gRPC's thread pool that multiplies
  // resident memory for nothing. A few arenas keep contention low and memory flat.
  mallopt(M_ARENA_MAX, 4);
  // Debian's Abseil checks every absl::Mutex acquisition for lock-order cycles (a debug aid),
  // and gRPC takes one per call: a few percent of each request (docs/performance.md).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  server::BlockShutdownSignals();
  config::Reader reader;
  CommonSettings common = ReadCommon(reader, spec.name);
  if (spec.read_config) spec.read_config(reader);
  bool migrate_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << "passerelle-" << spec.name << ": the " << spec.name
                << " service of Passerelle.\n\nUsage: passerelle-" << spec.name
                << " [--migrate]\n  --migrate  apply database migrations and exit\n\n"
                << reader.Describe();
      return 0;
    }
    if (arg == "--migrate") {
      migrate_only = true;
    } else {
      std::cerr << "passerelle-" << spec.name << ": unknown argument " << arg << " (try --help)\n";
      return 2;
    }
  }
  if (absl::Status s = reader.Finish(); !s.ok()) {
    std::cerr << "passerelle-" << spec.name << ": " << s.message() << "\n";
    return 2;
  }
  logging::Level level = logging::Level::kInfo;
  logging::ParseLevel(common.log_level, &level);
  logging::Init(spec.name, level);

  Runtime rt;
  rt.name = spec.name;
  if (common.page_token_key.empty()) {
    unsigned char random[32];
    if (RAND_bytes(random, sizeof random) != 1) return 1;
    common.page_token_key.assign(reinterpret_cast<const char*>(random), sizeof random);
    logging::Warn("PASSERELLE_PAGE_TOKEN_KEY is not set: page tokens work on this process only");
  }
  rt.page_tokens = std::make_unique<api::PageTokens>(common.page_token_key);
  rt.pool = std::make_unique<db::Pool>(db::PoolOptions{
      .uri = common.database_url,
      .schema = common.schema,
      .size = common.pool_size,
      .application_name = absl::StrCat("passerelle-", spec.name, ":", common.schema)});
  {
    auto lease = rt.pool->Acquire();
    if (!lease.ok()) {
      logging::Error("cannot reach PostgreSQL", {{"error", std::string(lease.status().message())}});
      return 1;
    }
    if (absl::Status s = db::Migrate(**lease, common.schema, spec.components); !s.ok()) {
      logging::Error("migrations failed", {{"error", std::string(s.message())}});
      return 1;
    }
  }
  if (migrate_only) {
    logging::Info("migrations applied", {{"schema", common.schema}});
    return 0;
  }

  auto nats = events::NatsClient::Connect({.url = common.nats_url, .name = spec.name});
  if (!nats.ok()) {
    logging::Error("cannot reach NATS", {{"error", std::string(nats.status().message())}});
    return 1;
  }
  rt.nats = std::move(nats).value();
  rt.topology = {.subject_prefix = common.subject_prefix,
                 .events_stream = Upper(common.subject_prefix) + "_EVENTS",
                 .dead_letter_stream = Upper(common.subject_prefix) + "_DEADLETTER"};
  if (absl::Status s = events::EnsureStreams(*rt.nats, rt.topology); !s.ok()) {
    logging::Error("cannot create JetStream streams", {{"error", std::string(s.message())}});
    return 1;
  }

  auto metrics = metrics::Metrics::Start(common.metrics_address);
  if (!metrics.ok()) {
    logging::Error("cannot serve metrics", {{"error", std::string(metrics.status().message())}});
    return 1;
  }
  rt.metrics = std::move(metrics).value();
  rt.server = std::make_unique<server::GrpcServer>(
      server::ServerOptions{.address = common.grpc_address, .drain_timeout = common.drain_timeout},
      rt.metrics.get());
  // Registered first, so it runs last: connections close after everything that uses them.
  rt.server->OnShutdown([&rt] { rt.pool->Close(); });
  rt.relay = std::make_unique<outbox::Relay>(
      *rt.pool, *rt.nats, outbox::RelayOptions{.topology = rt.topology}, &rt.metrics->registry());
  // A service without an outbox (the gateway) has nothing to relay.
  bool has_outbox = std::any_of(spec.components.begin(), spec.components.end(),
                                [](const db::Component& c) { return c.name == "outbox"; });
  if (common.relay && has_outbox) {
    rt.relay->Start();
    rt.server->OnShutdown([&rt] { rt.relay->Stop(); });
  }
  if (spec.wire) {
    if (absl::Status s = spec.wire(rt); !s.ok()) {
      logging::Error("cannot start", {{"error", std::string(s.message())}});
      rt.server->Shutdown();
      rt.components.Clear();
      return 1;
    }
  }
  if (absl::Status s = rt.server->Start(); !s.ok()) {
    logging::Error("cannot start", {{"error", std::string(s.message())}});
    rt.server->Shutdown();
    rt.components.Clear();
    return 1;
  }
  logging::Info("ready", {{"grpc_port", rt.server->port()}, {"metrics_port", rt.metrics->port()}});
  int sig = server::WaitForShutdownSignal();
  logging::Info("stopping", {{"signal", sig}});
  rt.server->Shutdown();  // health, drain, then the hooks in reverse: consumers, relay, pool
  // The service's objects go while what they point into (NATS, pool, metrics) still exists.
  rt.components.Clear();
  return 0;
}

}  // namespace passerelle::service
