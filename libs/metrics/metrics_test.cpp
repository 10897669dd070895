// The metrics exposer: what it serves and how quickly it stops.
#include "libs/metrics/metrics.hpp"

#include <chrono>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "libs/testing/testing.hpp"

namespace passerelle::metrics {
namespace {

using Clock = std::chrono::steady_clock;

TEST(MetricsTest, ServesTheRegistryAndTheProcessSeries) {
  auto m = Metrics::Start("127.0.0.1:0");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_GT((*m)->port(), 0);
  auto body = testing::HttpGet((*m)->port(), "/metrics");
  ASSERT_TRUE(body.has_value());
  EXPECT_NE(body->find("process_start_time_seconds"), std::string::npos) << *body;
  const std::optional<double> threads = testing::ScrapeMetric((*m)->port(), "process_threads");
  ASSERT_TRUE(threads.has_value()) << *body;
  EXPECT_GT(*threads, 0);
}

// A call its handler records (GrpcServerMetricsFactory::Begin/End) follows the interceptor's
// rules: counted and timed, an internal fault's cause kept from the client.
TEST(MetricsTest, CallsRecordedByTheirHandlerFollowTheInterceptorsRules) {
  auto m = Metrics::Start("127.0.0.1:0");
  ASSERT_TRUE(m.ok()) << m.status();
  GrpcServerMetricsFactory calls((*m)->registry());
  const std::string method = "/made.up.Service/Method";  // not compiled in: the unknown series
  calls.RecordedByHandler(method);

  const grpc::Status ok = calls.Begin(method).End(grpc::Status::OK, "r1");
  EXPECT_TRUE(ok.ok());
  const grpc::Status refused = calls.Begin(method).End(
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_size: must not be negative"), "r2");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(), "page_size: must not be negative");
  const grpc::Status fault = calls.Begin(method).End(
      grpc::Status(grpc::StatusCode::INTERNAL, "SELECT secret FROM venues"), "r3");
  EXPECT_EQ(fault.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(fault.error_message().find("secret"), std::string::npos) << fault.error_message();
  EXPECT_NE(fault.error_message().find("r3"), std::string::npos) << fault.error_message();
  const grpc::Status unparsed =
      calls.Begin(method).End(grpc::Status(grpc::StatusCode::INTERNAL, ""), "r4");
  EXPECT_EQ(unparsed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const auto pending = calls.Begin(method);  // started, not yet ended

  auto metric = [&](const std::string& series) {
    return testing::ScrapeMetric((*m)->port(), series).value_or(-1);
  };
  const std::string labels = "method=\"unknown\",service=\"unknown\"}";
  EXPECT_EQ(metric("passerelle_grpc_server_started_total{" + labels), 5);
  EXPECT_EQ(metric("passerelle_grpc_server_handling_seconds_count{" + labels), 4);
  EXPECT_EQ(metric("passerelle_grpc_server_handled_total{code=\"OK\"," + labels), 1);
  EXPECT_EQ(metric("passerelle_grpc_server_handled_total{code=\"INVALID_ARGUMENT\"," + labels), 2);
  EXPECT_EQ(metric("passerelle_grpc_server_handled_total{code=\"INTERNAL\"," + labels), 1);
  EXPECT_TRUE(pending.End(grpc::Status::OK, "r5").ok());
  EXPECT_EQ(metric("passerelle_grpc_server_handled_total{code=\"OK\"," + labels), 2);
}

// civetweb's listener looks at a stop request between two waits of 2 s on its socket: a service
// took 2 s more to exit than its drain, on every restart. Five stops now take a fraction of one
// such wait (without the knock: 10 s).
TEST(MetricsTest, StopsWithoutWaitingForTheListenersNextWakeUp) {
  for (const char* address : {"127.0.0.1:0", "0.0.0.0:0"}) {
    Clock::duration stopping{};
    int last_port = 0;
    for (int i = 0; i < 5; ++i) {
      auto m = Metrics::Start(address);
      ASSERT_TRUE(m.ok()) << m.status();
      last_port = (*m)->port();
      ASSERT_TRUE(testing::HttpGet(last_port, "/metrics").has_value());
      const auto start = Clock::now();
      m->reset();
      stopping += Clock::now() - start;
    }
    EXPECT_LT(stopping, std::chrono::milliseconds(2500)) << address;
    EXPECT_FALSE(testing::HttpGet(last_port, "/metrics").has_value())
        << address << ": still served after the exposer was destroyed";
  }
}

}  // namespace
}  // namespace passerelle::metrics
