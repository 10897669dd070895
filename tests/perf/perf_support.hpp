// What the benchmarks share: the test command's environment, and a service binary started on a
// schema of its own, waited for until its gRPC port answers.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/testing/testing.hpp"

namespace passerelle::perf {

/// An environment variable, empty when unset.
inline std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// Starts `binary` (relative to the build directory) on the test command's PostgreSQL and NATS,
/// schema and NATS prefix `schema`, gRPC on `grpc_port`, logging warnings only; `extra` adds to
/// or overrides that environment. Waits 30 s at most for its gRPC port; exits the benchmark with
/// the service's output when it did not start.
inline std::unique_ptr<testing::Process> StartService(
    const std::string& binary, const std::string& schema, int grpc_port,
    const std::map<std::string, std::string>& extra = {}) {
  std::map<std::string, std::string> env = {
      {"PASSERELLE_DATABASE_URL", Env("PASSERELLE_TEST_DATABASE_URL")},
      {"PASSERELLE_DATABASE_SCHEMA", schema},
      {"PASSERELLE_NATS_URL", Env("PASSERELLE_TEST_NATS_URL")},
      {"PASSERELLE_NATS_PREFIX", schema},
      {"PASSERELLE_GRPC_ADDRESS", absl::StrCat("127.0.0.1:", grpc_port)},
      {"PASSERELLE_METRICS_ADDRESS", absl::StrCat("127.0.0.1:", testing::FreePort())},
      {"PASSERELLE_LOG_LEVEL", "warn"}};
  for (const auto& [k, v] : extra) env[k] = v;
  auto p = testing::Process::Start({testing::BuildDir() + "/" + binary}, env);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                                     grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
    std::fprintf(stderr, "%s did not start:\n%s\n", binary.c_str(), p->Output().c_str());
    std::exit(1);
  }
  return p;
}

}  // namespace passerelle::perf
