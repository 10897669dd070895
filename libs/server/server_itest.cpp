// The gRPC bootstrap end to end over loopback: health, reflection, metrics by code, rich
// errors, deadlines, request ids, SO_REUSEPORT off, draining on shutdown.
#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <future>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/logging/logging.hpp"
#include "libs/server/errors.hpp"
#include "libs/server/server.hpp"
#include "libs/testing/testing.hpp"
#include "passerelle/testing/v1/echo.grpc.pb.h"

namespace passerelle::server {
namespace {

using namespace std::chrono_literals;
using passerelle::testing::v1::EchoRequest;
using passerelle::testing::v1::EchoResponse;
using passerelle::testing::v1::EchoService;
using ::testing::HasSubstr;

class EchoImpl final : public EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context, const EchoRequest* req,
                    EchoResponse* resp) override {
    RequestScope scope(context);
    last_request_id = scope.ids().request_id;
    last_trace_id = scope.ids().trace_id;
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(req->delay_ms());
    while (std::chrono::steady_clock::now() < until) {
      if (context->IsCancelled()) {
        saw_cancel = true;
        return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      }
      std::this_thread::sleep_for(5ms);
    }
    if (req->fail_code() == 3) {
      return ToGrpc(InvalidArgument(
          "bad echo", {{"message", "must not be empty"}, {"delay_ms", "must be positive"}}));
    }
    if (req->fail_code() != 0) {
      return ToGrpc(absl::Status(static_cast<absl::StatusCode>(req->fail_code()), "asked to"));
    }
    resp->set_message(req->message());
    return grpc::Status::OK;
  }
  std::string last_request_id, last_trace_id;
  std::atomic<bool> saw_cancel{false};
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The process's log lines, kept for the whole run (the logger outlives each test).
    static auto* logs = new std::ostringstream;
    logs_ = logs;
    logging::Init("passerelle", logging::Level::kInfo, logs);
    auto m = metrics::Metrics::Start("127.0.0.1:0");
    ASSERT_TRUE(m.ok()) << m.status();
    metrics_ = std::move(m).value();
    server_ = std::make_unique<GrpcServer>(ServerOptions{.drain_timeout = 3s}, metrics_.get());
    server_->AddService(&echo_);
    server_->OnShutdown([this] { hooks_ran_.push_back("first"); });
    server_->OnShutdown([this] { hooks_ran_.push_back("second"); });
    ASSERT_TRUE(server_->Start().ok());
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = EchoService::NewStub(channel_);
  }

  grpc::Status Call(const EchoRequest& req, EchoResponse* resp,
                    std::chrono::milliseconds deadline = 5s) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    return stub_->Echo(&ctx, req, resp);
  }

  EchoImpl echo_;
  std::unique_ptr<metrics::Metrics> metrics_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<EchoService::Stub> stub_;
  std::vector<std::string> hooks_ran_;
  std::ostringstream* logs_ = nullptr;
};

TEST_F(ServerTest, HealthIsServingUntilShutdown) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ServerTest, MetricsCountCallsByMethodAndCode) {
  EchoRequest req;
  EchoResponse resp;
  req.set_message("bonjour");
  ASSERT_TRUE(Call(req, &resp).ok());
  EXPECT_EQ(resp.message(), "bonjour");
  req.set_fail_code(5);
  EXPECT_EQ(Call(req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  auto body = testing::HttpGet(metrics_->port(), "/metrics");
  ASSERT_TRUE(body.has_value());
  EXPECT_THAT(*body, HasSubstr("passerelle_grpc_server_handled_total{code=\"OK\",method=\"Echo\","
                               "service=\"passerelle.testing.v1.EchoService\"} 1"));
  EXPECT_THAT(*body, HasSubstr("code=\"NOT_FOUND\",method=\"Echo\""));
  EXPECT_THAT(*body, HasSubstr("passerelle_grpc_server_handling_seconds_count{method=\"Echo\""));
  EXPECT_THAT(*body, HasSubstr("passerelle_grpc_server_started_total{method=\"Echo\""));
  EXPECT_THAT(*body, HasSubstr("process_resident_memory_bytes "));
}

TEST_F(ServerTest, MadeUpMethodsShareOneMetricsLabel) {
  grpc::GenericStub generic(channel_);
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, "/attacker.Svc" + std::to_string(i) + "/Method" + std::to_string(i),
                      grpc::StubOptions(), &request, &response,
                      [&](grpc::Status st) { done.set_value(st); });
    EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  auto body = testing::HttpGet(metrics_->port(), "/metrics");
  ASSERT_TRUE(body.has_value());
  EXPECT_THAT(*body, Not(HasSubstr("attacker")));  // no series per made-up name
  EXPECT_THAT(*body, HasSubstr("code=\"UNIMPLEMENTED\",method=\"unknown\",service=\"unknown\"} 3"));
}

TEST_F(ServerTest, InvalidArgumentCarriesOneFieldViolationPerProblem) {
  EchoRequest req;
  req.set_fail_code(3);
  EchoResponse resp;
  grpc::Status st = Call(req, &resp);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(st.error_details()));
  ASSERT_EQ(rpc.details_size(), 2);
  google::rpc::BadRequest br;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&br));
  ASSERT_EQ(br.field_violations_size(), 2);
  EXPECT_EQ(br.field_violations(0).field(), "message");
  EXPECT_EQ(br.field_violations(1).description(), "must be positive");
  google::rpc::ErrorInfo info;  // AIP-193: every error has a machine-readable reason
  ASSERT_TRUE(rpc.details(1).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "INVALID_ARGUMENT");
  EXPECT_EQ(info.domain(), "passerelle");
}

TEST_F(ServerTest, InternalErrorsReachTheLogNotTheClient) {
  EchoRequest req;
  req.set_fail_code(13);  // the handler's cause is "asked to"
  EchoResponse resp;
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "req-internal-1");
  grpc::Status st = stub_->Echo(&ctx, req, &resp);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(st.error_message(), Not(HasSubstr("asked to")));
  EXPECT_THAT(st.error_message(), HasSubstr("req-internal-1"));
  EXPECT_THAT(logs_->str(), HasSubstr("\"level\":\"error\""));
  EXPECT_THAT(logs_->str(), HasSubstr("\"cause\":\"asked to\""));
  EXPECT_THAT(logs_->str(), HasSubstr("\"request_id\":\"req-internal-1\""));
}

TEST_F(ServerTest, DeadlineIsHonouredAndCounted) {
  EchoRequest req;
  req.set_delay_ms(2000);
  EchoResponse resp;
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(Call(req, &resp, 100ms).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  // The server saw the cancellation (its handler stopped working) and counted the call.
  EXPECT_TRUE(passerelle::testing::WaitFor([&] { return echo_.saw_cancel.load(); }, 2s));
  EXPECT_TRUE(passerelle::testing::WaitFor(
      [&] {
        auto body = passerelle::testing::HttpGet(metrics_->port(), "/metrics");
        return body && body->find("code=\"CANCELLED\",method=\"Echo\"") != std::string::npos;
      },
      2s));
}

TEST_F(ServerTest, HealthTurnsNotServingWhenShutdownBegins) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  auto watch = health->Watch(&ctx, req);
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(watch->Read(&resp));
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  std::thread stopping([&] { server_->Shutdown(); });
  ASSERT_TRUE(watch->Read(&resp));  // before the drain: load balancers stop sending traffic
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  ctx.TryCancel();
  stopping.join();
}

TEST_F(ServerTest, RequestAndTraceIdsReachTheHandlerAndComeBack) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "req-42");
  ctx.AddMetadata("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EchoRequest req;
  EchoResponse resp;
  ASSERT_TRUE(stub_->Echo(&ctx, req, &resp).ok());
  EXPECT_EQ(echo_.last_request_id, "req-42");
  EXPECT_EQ(echo_.last_trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  auto it = ctx.GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(it, ctx.GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "req-42");
}

TEST_F(ServerTest, SecondServerCannotShareThePort) {
  GrpcServer other(ServerOptions{.address = "127.0.0.1:" + std::to_string(server_->port())},
                   nullptr);
  EchoImpl echo;
  other.AddService(&echo);
  absl::Status st = other.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(st.message()), HasSubstr("cannot listen"));
}

TEST_F(ServerTest, ShutdownDrainsInFlightCallsThenRunsHooksInReverse) {
  EchoRequest req;
  req.set_message("slow");
  req.set_delay_ms(500);
  grpc::Status slow_status;
  std::atomic<bool> answered{false};
  std::thread caller([&] {
    EchoResponse resp;
    slow_status = Call(req, &resp);
    answered = true;
  });
  std::this_thread::sleep_for(150ms);  // the call is in flight
  // Stopping hooks run first, while the drain has still to wait for the slow call.
  bool answered_when_stopping = true;
  server_->OnStopping([&] {
    hooks_ran_.push_back("stopping");
    answered_when_stopping = answered;
  });
  server_->Shutdown();
  caller.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
  EXPECT_FALSE(answered_when_stopping);
  EXPECT_EQ(hooks_ran_, (std::vector<std::string>{"stopping", "second", "first"}));
  // New calls are refused once shut down.
  EchoResponse resp;
  EXPECT_FALSE(Call(EchoRequest(), &resp, 500ms).ok());
}

}  // namespace
}  // namespace passerelle::server
