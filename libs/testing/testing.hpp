// Test fixtures: each test gets its own PostgreSQL schema and NATS names, so tests run in
// parallel against the servers the test command started; plus helpers to run real processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "libs/db/migrations.hpp"
#include "libs/db/pool.hpp"

namespace httplib {
class Server;
}  // namespace httplib

namespace passerelle::testing {

/// PASSERELLE_TEST_DATABASE_URL, set by the test command. Empty (and the test failed) if unset:
/// these tiers never skip silently.
std::string DatabaseUrl();
/// PASSERELLE_TEST_NATS_URL, set by the test command.
std::string NatsUrl();
/// A name unique across processes and tests: `<prefix>_<pid>_<counter>_<random>`, lower case.
std::string UniqueName(const std::string& prefix);
/// A TCP port free on 127.0.0.1 at the time of the call.
int FreePort();
/// Directory of the built binaries and of the source tree (for tests that start binaries).
std::string BuildDir();
std::string SourceDir();

/// A fixture with a throw-away schema and a pool pinned to it; the schema is dropped after.
class PgTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  db::Pool& pool() { return *pool_; }
  const std::string& schema() const { return schema_; }
  /// A second pool on the same schema (e.g. for a competing relay).
  std::unique_ptr<db::Pool> NewPool(int size = 4) const;
  /// Applies `components`' migrations to the schema.
  absl::Status MigrateSchema(const std::vector<db::Component>& components);

 private:
  std::string schema_;
  std::unique_ptr<db::Pool> pool_;
};

/// A child process with its stdout and stderr captured to a file.
class Process {
 public:
  /// Starts `argv` with the current environment plus `env` (a value of "" unsets the variable).
  static std::unique_ptr<Process> Start(const std::vector<std::string>& argv,
                                        const std::map<std::string, std::string>& env = {});
  ~Process();
  /// Waits up to `timeout` for the exit; the exit code, or 128+signal, or nullopt on time-out.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  void Signal(int sig);
  /// What the process printed so far.
  std::string Output() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> status_;
};

/// A private nats-server with JetStream, on its own port and store, for tests that stop and
/// restart the server (faults). Others use the shared server at NatsUrl().
class NatsServer {
 public:
  NatsServer();
  ~NatsServer();
  /// Starts (or restarts, on the same port and store) and waits until it accepts connections.
  void Start();
  /// SIGKILL: the hard way, like a crashed host.
  void Kill();
  std::string url() const;

 private:
  int port_;
  std::string store_dir_;
  std::unique_ptr<Process> process_;
};

/// A service binary under test, started for real against the test PostgreSQL and NATS with its
/// own schema, subject prefix and ports; the schema is dropped when the object goes.
class ServiceBinary {
 public:
  /// `binary` relative to the build directory, e.g. services/venues/passerelle-venues.
  explicit ServiceBinary(const std::string& binary,
                         std::map<std::string, std::string> extra_env = {});
  ~ServiceBinary();
  /// The environment the binary gets (tests may alter a copy to start it misconfigured).
  std::map<std::string, std::string> Env() const;
  /// Starts it and waits for its "ready" log line (fails the test otherwise). The first start
  /// binds port 0 and learns the ports from that line (no race with other tests for a "free"
  /// port); a restart asks for the same ports again, as a restarted server would.
  std::unique_ptr<Process> Start();
  const std::string& path() const { return path_; }
  const std::string& schema() const { return schema_; }
  /// The ports it listens on (0 before the first Start).
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  std::string grpc_address() const { return "127.0.0.1:" + std::to_string(grpc_port_); }

 private:
  std::string path_, schema_, prefix_;
  int grpc_port_ = 0, metrics_port_ = 0;
  std::map<std::string, std::string> extra_env_;
};

/// Waits until something holds, polling every 20 ms; false on time-out.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

/// Plain HTTP GET on 127.0.0.1; the body, or nullopt on failure.
std::optional<std::string> HttpGet(int port, const std::string& path);

/// The value of one series in a Prometheus text exposition, named exactly as it is printed
/// (`name` or `name{label="v",...}`); nullopt when the exposition does not hold it.
std::optional<double> MetricValue(const std::string& exposition, const std::string& series);

/// The value of one series scraped from a service's /metrics on 127.0.0.1; nullopt when the
/// scrape fails or the series is absent.
std::optional<double> ScrapeMetric(int metrics_port, const std::string& series);

/// Stops a cpp-httplib server whose listen_after_bind runs on `thread`, and joins that thread.
/// Waits (up to 10 s) for it to be listening first: stop() before it listens does nothing, and
/// the thread would then listen for ever (a test hung on a loaded machine).
void StopServer(httplib::Server& server, std::thread& thread);

}  // namespace passerelle::testing
