// What the venues binary's integration tests share: a valid sample venue, the violations of an
// INVALID_ARGUMENT, and a fixture that starts passerelle-venues against the test command's
// PostgreSQL and NATS and calls its public gRPC API.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "libs/testing/grpc_status.hpp"
#include "libs/testing/testing.hpp"
#include "libs/text/utf8.hpp"
#include "passerelle/venues/v1/organisations.grpc.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/sample_venue.hpp"

namespace passerelle::venues::itest {

/// The fields named by an INVALID_ARGUMENT's BadRequest, and its whole text for matching.
struct BadRequest {
  std::set<std::string> fields;
  std::string text;
};
inline BadRequest Violations(const grpc::Status& st) {
  BadRequest out;
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(st.error_details())) return out;
  for (const auto& d : rpc.details()) {
    google::rpc::BadRequest br;
    if (!d.UnpackTo(&br)) continue;
    for (const auto& f : br.field_violations()) {
      out.fields.insert(f.field());
      out.text += f.field() + ": " + f.description() + "\n";
    }
  }
  return out;
}

/// What a hostile client puts after a resource name's prefix: nothing, a NUL, invalid UTF-8
/// (two forms), a tab and 100 KB (robustness.md).
inline std::vector<std::string> HostileNames(const std::string& prefix) {
  return {
      prefix,          prefix + std::string("a\0b", 3),  prefix + "\xff\xfe", prefix + "\xc3\x28",
      prefix + "a\tb", prefix + std::string(100000, 'a')};
}

/// Invalid UTF-8 in a string field fails the message's parsing (INVALID_ARGUMENT without a
/// field, as for every method): the fields an INVALID_ARGUMENT names for `value` sent as `field`.
inline std::set<std::string> Named(const std::string& value, const std::string& field) {
  return text::IsValidUtf8(value) ? std::set<std::string>{field} : std::set<std::string>{};
}

/// The google.rpc.ErrorInfo reason of an error (empty when none).
using ::passerelle::testing::Reason;

/// The google.rpc.PreconditionFailure of an error as "type subject" (empty when none).
inline std::string MissingPrecondition(const grpc::Status& st) {
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(st.error_details())) return "";
  for (const auto& d : rpc.details()) {
    google::rpc::PreconditionFailure failure;
    if (d.UnpackTo(&failure) && failure.violations_size() == 1) {
      return failure.violations(0).type() + " " + failure.violations(0).subject();
    }
  }
  return "";
}

/// Registers `source` if it is a new, valid id (what a producer does once, before writing).
inline void RegisterSource(v1::VenueService::Stub& stub, const std::string& source) {
  grpc::ClientContext ctx;
  v1::CreateSourceRequest req;
  req.set_source_id(source);
  v1::Source out;
  grpc::Status st = stub.CreateSource(&ctx, req, &out);
  EXPECT_TRUE(st.ok() || st.error_code() == grpc::StatusCode::ALREADY_EXISTS ||
              st.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
      << st.error_message();
}

/// Another passerelle-venues on a test's schema (a second replica, or a restart with other
/// settings), with a channel to it; stopped by SIGTERM at the end of its scope, exit status 0.
class Replica {
 public:
  explicit Replica(const std::string& schema, std::map<std::string, std::string> settings = {})
      : binary_("services/venues/passerelle-venues", WithSchema(schema, std::move(settings))),
        process_(binary_.Start()),
        channel_(grpc::CreateChannel(binary_.grpc_address(), grpc::InsecureChannelCredentials())) {}
  ~Replica() {
    process_->Signal(SIGTERM);
    EXPECT_EQ(process_->Wait(std::chrono::seconds(15)), 0) << process_->Output();
  }
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  static std::map<std::string, std::string> WithSchema(const std::string& schema,
                                                       std::map<std::string, std::string> s) {
    s["PASSERELLE_DATABASE_SCHEMA"] = schema;
    return s;
  }
  testing::ServiceBinary binary_;
  std::unique_ptr<testing::Process> process_;
  std::shared_ptr<grpc::Channel> channel_;
};

/// Starts passerelle-venues for each test and stops it (exit status 0) after.
class VenuesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartOwn(); }
  void TearDown() override {
    if (process_ == nullptr) return;
    process_->Signal(SIGTERM);
    EXPECT_EQ(process_->Wait(std::chrono::seconds(15)), 0) << process_->Output();
  }
  /// Stops this test's binary (exit status 0), e.g. to run a Replica alone on its schema.
  void StopOwn() {
    process_->Signal(SIGTERM);
    EXPECT_EQ(process_->Wait(std::chrono::seconds(15)), 0) << process_->Output();
    process_.reset();
  }
  /// Starts this test's binary (again) and points the stubs at it.
  void StartOwn() {
    process_ = binary_.Start();
    auto channel = grpc::CreateChannel(binary_.grpc_address(), grpc::InsecureChannelCredentials());
    stub_ = v1::VenueService::NewStub(channel);
    organisations_ = v1::OrganisationService::NewStub(channel);
  }

  grpc::Status Create(const v1::Venue& v, v1::Venue* out, const std::string& request_id = "") {
    grpc::ClientContext ctx;
    v1::CreateVenueRequest req;
    *req.mutable_venue() = v;
    req.set_request_id(request_id);
    return stub_->CreateVenue(&ctx, req, out);
  }
  /// Creates organisations/{id} (a valid one, named `display_name`).
  grpc::Status CreateOrganisation(const std::string& id, v1::Organisation* out = nullptr,
                                  const std::string& display_name = "Centre social de l'Épeule") {
    grpc::ClientContext ctx;
    v1::CreateOrganisationRequest req;
    req.set_organisation_id(id);
    req.mutable_organisation()->set_display_name(display_name);
    v1::Organisation ignored;
    return organisations_->CreateOrganisation(&ctx, req, out != nullptr ? out : &ignored);
  }
  /// Registers `source` if it is a new, valid id (what a producer does once, before writing).
  void Register(const std::string& source) { RegisterSource(*stub_, source); }
  /// Registers `source` and writes `venues` into it.
  grpc::Status Batch(const std::string& source, const std::vector<v1::Venue>& venues,
                     v1::BatchUpsertVenuesResponse* resp,
                     std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
    Register(source);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::BatchUpsertVenuesRequest req;
    req.set_source(source);
    for (const auto& v : venues) *req.add_venues() = v;
    return stub_->BatchUpsertVenues(&ctx, req, resp);
  }
  grpc::Status Search(const v1::SearchVenuesRequest& req, v1::SearchVenuesResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub_->SearchVenues(&ctx, req, resp);
  }
  grpc::Status List(const std::string& filter, v1::ListVenuesResponse* resp,
                    const std::string& token = "", int page_size = 0) {
    grpc::ClientContext ctx;
    v1::ListVenuesRequest r;
    r.set_filter(filter);
    r.set_page_token(token);
    r.set_page_size(page_size);
    return stub_->ListVenues(&ctx, r, resp);
  }
  /// Registers `source`, then streams `data` in chunks of `chunk` bytes, cut anywhere (the
  /// source in the first).
  grpc::Status Import(const std::string& source, const std::string& data,
                      v1::ImportVenuesResponse* out, size_t chunk = 10000) {
    Register(source);
    grpc::ClientContext ctx;
    auto writer = stub_->ImportVenues(&ctx, out);
    size_t off = 0;
    do {
      v1::ImportVenuesChunk c;
      if (off == 0) c.set_source(source);
      c.set_data(data.substr(off, chunk));
      writer->Write(c);
      off += chunk;
    } while (off < data.size());
    writer->WritesDone();
    return writer->Finish();
  }
  /// The whole export in `doc`; the stream's final status.
  grpc::Status Export(v1::VenueExportFormat format, std::string* doc) {
    grpc::ClientContext ctx;
    v1::ExportVenuesRequest req;
    req.set_format(format);
    auto reader = stub_->ExportVenues(&ctx, req);
    v1::ExportVenuesChunk chunk;
    while (reader->Read(&chunk)) *doc += chunk.data();
    return reader->Finish();
  }
  /// The whole export, expected to succeed.
  std::string Export(v1::VenueExportFormat format) {
    std::string doc;
    grpc::Status st = Export(format, &doc);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return doc;
  }
  grpc::Status AreaLayer(const std::string& geojson, v1::AreaLayer* out,
                         const std::string& layer = "qpv") {
    grpc::ClientContext ctx;
    v1::ImportAreaLayerRequest req;
    req.set_layer(layer);
    req.set_geojson(geojson);
    return stub_->ImportAreaLayer(&ctx, req, out);
  }

  /// Waits until duplicate detection has checked every venue written before the call (its
  /// gauge: the start of its last successful pass).
  void WaitForDetection() {
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    double until = 0;
    const bool passed = testing::WaitFor(
        [&] {
          until = testing::ScrapeMetric(
                      binary_.metrics_port(),
                      "passerelle_venues_duplicate_detection_checked_until_timestamp_seconds")
                      .value_or(0);
          return until >= now;
        },
        std::chrono::seconds(20));
    ASSERT_TRUE(passed) << "no detection pass after the writes (checked until " << until << ")";
  }

  // Duplicate detection every 50 ms: tests wait for a pass after their writes (WaitForDetection).
  testing::ServiceBinary binary_{"services/venues/passerelle-venues",
                                 {{"PASSERELLE_VENUES_DUPLICATE_DETECTION_INTERVAL_MS", "50"},
                                  {"PASSERELLE_VENUES_DUPLICATE_DETECTION_QUIET_MS", "0"}}};
  std::unique_ptr<testing::Process> process_;
  std::unique_ptr<v1::VenueService::Stub> stub_;
  std::unique_ptr<v1::OrganisationService::Stub> organisations_;
};

}  // namespace passerelle::venues::itest
