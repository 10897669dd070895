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
