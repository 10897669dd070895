// The passerelle-sync and passerelle-venues binaries against the real PostgreSQL and NATS, with
// the regional server played by an HTTP server in this process that serves whatever file (or
// failure) a test sets: first import, unchanged rows skipped, changed rows sent, rows gone
// withdrawn, refused rows explained by line, and files that are cut, missing or mostly empty
// changing nothing.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "libs/csv/csv.hpp"
#include "libs/net/raw_http_server.hpp"
#include "libs/standard/standard.hpp"
#include "libs/testing/testing.hpp"
#include "libs/text/utf8.hpp"
#include "passerelle/sync/v1/sync.grpc.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/sync/test_files.hpp"

namespace passerelle::sync {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// The regional server: serves `body` at /lieux.csv with `status`, after `delay`; /moved
// redirects to `location`. Remembers the last Authorization header it received.
class RegionalServer {
 public:
  RegionalServer() {
    server_.Get("/moved", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.set_redirect(location_);
    });
    const auto serve = [this](const httplib::Request& req, httplib::Response& res) {
      std::string body, etag, last_modified;
      int status;
      std::chrono::milliseconds delay;
      {
        std::lock_guard lock(mu_);
        ++requests_;
        authorization_ = req.get_header_value("Authorization");
        if_none_match_ = req.get_header_value("If-None-Match");
        if_modified_since_ = req.get_header_value("If-Modified-Since");
        etag = etag_;
        last_modified = last_modified_;
        body = body_;
        status = status_;
        delay = delay_;
        if (fail_next_ > 0) {
          --fail_next_;
          status = 503;
        }
      }
      std::this_thread::sleep_for(delay);
      if (!etag.empty()) res.set_header("ETag", etag);
      if (!last_modified.empty()) res.set_header("Last-Modified", last_modified);
      // RFC 9110 §13.2.2: If-None-Match decides when present, If-Modified-Since otherwise.
      const bool same = req.has_header("If-None-Match")
                            ? !etag.empty() && req.get_header_value("If-None-Match") == etag
                            : !last_modified.empty() &&
                                  req.get_header_value("If-Modified-Since") == last_modified;
      if (status == 200 && same) {
        res.status = 304;
        return;
      }
      res.status = status;
      res.set_content(body, "text/csv; charset=utf-8");
    };
    server_.Get("/lieux.csv", serve);
    server_.Get("/api/elements.json", serve);  // a GoGoCarto map's export
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~RegionalServer() { testing::StopServer(server_, thread_); }
  void Serve(std::string body, int status = 200, std::chrono::milliseconds delay = 0ms) {
    std::lock_guard lock(mu_);
    body_ = std::move(body);
    status_ = status;
    delay_ = delay;
    etag_.clear();
    last_modified_.clear();
  }
  /// Serves `body` with validators, answering 304 to a request that names them.
  void ServeWithValidators(std::string body, std::string etag, std::string last_modified) {
    Serve(std::move(body));
    std::lock_guard lock(mu_);
    etag_ = std::move(etag);
    last_modified_ = std::move(last_modified);
  }
  /// The conditional headers of the last request.
  std::pair<std::string, std::string> conditional() {
    std::lock_guard lock(mu_);
    return {if_none_match_, if_modified_since_};
  }
  /// The next `n` requests get 503 (a server restarting).
  void FailNext(int n) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/lieux.csv"); }
  std::string gogocarto_url() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/api/elements.json");
  }
  std::string moved_url() const { return absl::StrCat("http://127.0.0.1:", port_, "/moved"); }
  int port() const { return port_; }
  void RedirectTo(std::string location) {
    std::lock_guard lock(mu_);
    location_ = std::move(location);
  }
  std::string authorization() {
    std::lock_guard lock(mu_);
    return authorization_;
  }
  int requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string body_;
  int status_ = 200;
  std::chrono::milliseconds delay_{0};
  int fail_next_ = 0;
  std::string location_;
  std::string authorization_;
  std::string etag_, last_modified_, if_none_match_, if_modified_since_;
  int requests_ = 0;
};

using testfiles::File;
using testfiles::Row;
using testfiles::Rows;

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    venues_process_ = venues_.Start();
    // The regional server is on loopback: that network and the test servers' ports are allowed,
    // nothing else (not ::1, not the PostgreSQL port).
    sync_ = std::make_unique<testing::ServiceBinary>(
        "services/sync/passerelle-sync",
        std::map<std::string, std::string>{
            {"PASSERELLE_VENUES_ADDRESS", venues_.grpc_address()},
            {"PASSERELLE_SYNC_TICK", "200ms"},
            {"PASSERELLE_SYNC_FETCH_ATTEMPTS", "3"},
            {"PASSERELLE_SYNC_FETCH_BACKOFF", "100ms"},
            {"PASSERELLE_SYNC_RETRY_AFTER", "1s"},
            {"PASSERELLE_SYNC_DEAD_AFTER", "2s"},
            {"PASSERELLE_SYNC_ALLOWED_NETWORKS", AllowedNetworks()},
            {"PASSERELLE_SYNC_ALLOWED_PORTS",
             absl::StrCat("80,443,", regional_.port(), ",", raw_.port())}});
    sync_process_ = sync_->Start();
    stub_ = v1::SyncService::NewStub(
        grpc::CreateChannel(sync_->grpc_address(), grpc::InsecureChannelCredentials()));
    venues_stub_ = venues::v1::VenueService::NewStub(
        grpc::CreateChannel(venues_.grpc_address(), grpc::InsecureChannelCredentials()));
  }
  virtual std::string AllowedNetworks() const { return "127.0.0.0/8"; }

  // What the raw server answers (hostile headers, trickling bodies).
  void RawAnswer(net::RawHttpServer::Responder respond) {
    std::lock_guard lock(raw_mu_);
    raw_respond_ = std::move(respond);
  }
  std::string RawUrl() const {
    return absl::StrCat("http://127.0.0.1:", raw_.port(), "/lieux.csv");
  }

  void TearDown() override {
    sync_process_->Signal(SIGTERM);
    EXPECT_EQ(sync_process_->Wait(20s), 0) << sync_process_->Output();
    venues_process_->Signal(SIGTERM);
    EXPECT_EQ(venues_process_->Wait(20s), 0);
  }

  v1::Source CreateSource(const std::string& id, int64_t refresh_seconds = 0,
                          const std::string& url = "") {
    grpc::ClientContext ctx;
    v1::CreateSourceRequest req;
    req.set_source_id(id);
    req.mutable_source()->set_display_name("Les Assembleurs — SIILAB");
    req.mutable_source()->set_url(url.empty() ? regional_.url() : url);
    req.mutable_source()->mutable_refresh_interval()->set_seconds(refresh_seconds);
    v1::Source out;
    grpc::Status st = stub_->CreateSource(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  grpc::Status StartRun(const std::string& source, v1::Run* run) {
    grpc::ClientContext ctx;
    v1::StartRunRequest req;
    req.set_name(source);
    return stub_->StartRun(&ctx, req, run);
  }

  // Starts a run and waits for its end.
  v1::Run RunToEnd(const std::string& source) {
    v1::Run run;
    grpc::Status st = StartRun(source, &run);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          grpc::ClientContext ctx;
          v1::GetRunRequest req;
          req.set_name(run.name());
          return stub_->GetRun(&ctx, req, &run).ok() && run.state() != v1::Run::RUNNING;
        },
        30s))
        << sync_process_->Output();
    return run;
  }

  std::vector<venues::v1::Venue> Venues(const std::string& source, bool withdrawn = false) {
    std::vector<venues::v1::Venue> out;
    std::string token;
    do {
      grpc::ClientContext ctx;
      venues::v1::ListVenuesRequest req;
      req.set_filter(absl::StrCat("source = \"", source, "\""));
      req.set_show_withdrawn(withdrawn);
      req.set_page_size(100);
      req.set_page_token(token);
      venues::v1::ListVenuesResponse resp;
      EXPECT_TRUE(venues_stub_->ListVenues(&ctx, req, &resp).ok());
      out.insert(out.end(), resp.venues().begin(), resp.venues().end());
      token = resp.next_page_token();
    } while (!token.empty());
    return out;
  }

  int Events(const std::string& type) {
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    return tx
        .exec1("SELECT count(*) FROM \"" + sync_->schema() + "\".outbox WHERE event_type = '" +
               type + "'")[0]
        .as<int>();
  }

  RegionalServer regional_;
  std::mutex raw_mu_;
  net::RawHttpServer::Responder raw_respond_;
  net::RawHttpServer raw_{[this](net::RawHttpServer& s, int fd, const std::string& request) {
    net::RawHttpServer::Responder respond;
    {
      std::lock_guard lock(raw_mu_);
      respond = raw_respond_;
    }
    if (respond) respond(s, fd, request);
  }};
  testing::ServiceBinary venues_{"services/venues/passerelle-venues"};
  std::unique_ptr<testing::Process> venues_process_;
  std::unique_ptr<testing::ServiceBinary> sync_;
  std::unique_ptr<testing::Process> sync_process_;
  std::unique_ptr<v1::SyncService::Stub> stub_;
  std::unique_ptr<venues::v1::VenueService::Stub> venues_stub_;
};

TEST_F(SyncTest, RunsSendWhatChangedWithdrawWhatLeftAndExplainRefusedRows) {
  auto rows = Rows(30);
  auto bad_postcode = Row(100);
  bad_postcode["code_postal"] = "591";
  auto no_name = Row(101);
  no_name["nom"] = "";
  auto with_bad = rows;
  with_bad.push_back(bad_postcode);
  with_bad.push_back(no_name);
  regional_.Serve(File(with_bad));
  const v1::Source source = CreateSource("siilab");

  v1::Run first = RunToEnd(source.name());
  EXPECT_EQ(first.state(), v1::Run::SUCCEEDED) << first.error();
  EXPECT_EQ(first.rows(), 32);
  EXPECT_EQ(first.created(), 30);
  EXPECT_EQ(first.rejected(), 2);
  EXPECT_EQ(Venues("siilab").size(), 30u);
  {
    grpc::ClientContext ctx;
    v1::ListRunErrorsRequest req;
    req.set_parent(first.name());
    v1::ListRunErrorsResponse resp;
    ASSERT_TRUE(stub_->ListRunErrors(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.errors_size(), 2);
    EXPECT_EQ(resp.errors(0).line(), 32);  // header is line 1, rows 2..31, then the bad ones
    EXPECT_EQ(resp.errors(0).source_id(), "reg-100");
    EXPECT_EQ(resp.errors(0).field(), "code_postal");
    EXPECT_EQ(resp.errors(0).value(), "591");
    EXPECT_EQ(resp.errors(0).rule(), "pattern");
    EXPECT_EQ(resp.errors(1).line(), 33);
    EXPECT_EQ(resp.errors(1).field(), "nom");
    EXPECT_EQ(resp.errors(1).rule(), "required");
  }
  {  // The same errors one per page.
    std::vector<int> lines;
    std::string token;
    do {
      grpc::ClientContext ctx;
      v1::ListRunErrorsRequest req;
      req.set_parent(first.name());
      req.set_page_size(1);
      req.set_page_token(token);
      v1::ListRunErrorsResponse resp;
      ASSERT_TRUE(stub_->ListRunErrors(&ctx, req, &resp).ok());
      for (const auto& e : resp.errors()) lines.push_back(e.line());
      token = resp.next_page_token();
    } while (!token.empty());
    EXPECT_EQ(lines, (std::vector<int>{32, 33}));
  }

  // The same file again: not even read (the server sends no validator; its digest is the
  // same), nothing is sent.
  v1::Run again = RunToEnd(source.name());
  EXPECT_EQ(again.state(), v1::Run::SUCCEEDED);
  EXPECT_EQ(again.file_unchanged(), v1::Run::SAME_CONTENT);
  EXPECT_EQ(again.rows(), 0);
  EXPECT_EQ(again.created() + again.updated() + again.unchanged() + again.withdrawn(), 0);

  // One row renamed, one gone: one update, one withdrawal, the rest skipped.
  rows[5]["nom"] = "Médiathèque renommée";
  const std::string gone_id = rows[7]["id"];
  rows.erase(rows.begin() + 7);
  regional_.Serve(File(rows));
  v1::Run third = RunToEnd(source.name());
  EXPECT_EQ(third.state(), v1::Run::SUCCEEDED) << third.error();
  EXPECT_EQ(third.skipped(), 28);
  EXPECT_EQ(third.updated(), 1);
  EXPECT_EQ(third.withdrawn(), 1);
  auto active = Venues("siilab");
  EXPECT_EQ(active.size(), 29u);
  int renamed = 0;
  for (const auto& v : active) {
    EXPECT_NE(v.id(), gone_id);
    renamed += v.nom() == "Médiathèque renommée";
  }
  EXPECT_EQ(renamed, 1);
  bool withdrawn = false;
  for (const auto& v : Venues("siilab", true)) {
    if (v.id() == gone_id) {
      withdrawn = true;
      EXPECT_THAT(v.withdrawal_reason(), HasSubstr("absent du fichier de la source siilab"));
    }
  }
  EXPECT_TRUE(withdrawn);

  // The place comes back in the file: the same venue is active again, not a new one.
  auto back = rows;
  back.insert(back.begin() + 7, Row(7));
  regional_.Serve(File(back));
  v1::Run fourth = RunToEnd(source.name());
  EXPECT_EQ(fourth.state(), v1::Run::SUCCEEDED) << fourth.error();
  EXPECT_EQ(fourth.created(), 0);
  EXPECT_EQ(fourth.updated(), 1);
  auto again_active = Venues("siilab");
  EXPECT_EQ(again_active.size(), 30u);
  EXPECT_EQ(Venues("siilab", true).size(), 30u) << "a second venue was created for the same place";

  EXPECT_TRUE(testing::WaitFor([&] { return Events("sync.run.completed") == 4; }, 5s));
  // What an operator sees on /metrics.
  auto body = testing::HttpGet(sync_->metrics_port(), "/metrics");
  ASSERT_TRUE(body.has_value());
  EXPECT_THAT(*body,
              HasSubstr("passerelle_sync_runs_total{source=\"siilab\",state=\"succeeded\"} 4"));
  EXPECT_THAT(*body,
              HasSubstr("passerelle_sync_rows_total{outcome=\"created\",source=\"siilab\"} 30"));
  EXPECT_THAT(*body,
              HasSubstr("passerelle_sync_rows_total{outcome=\"withdrawn\",source=\"siilab\"} 1"));
  EXPECT_THAT(*body,
              HasSubstr("passerelle_sync_last_success_timestamp_seconds{source=\"siilab\"}"));

  // Runs newest first, and the source shows its last run.
  grpc::ClientContext ctx;
  v1::GetSourceRequest get;
  get.set_name(source.name());
  v1::Source got;
  ASSERT_TRUE(stub_->GetSource(&ctx, get, &got).ok());
  EXPECT_EQ(got.last_run().name(), fourth.name());
}

// Issue 10: a row whose opening hours are not understood is taken, with a warning by line.
// Conditional fetch through real HTTP: the server's validators are sent back, a 304 ends the run
// as unchanged, a changed file is read; a server with Last-Modified only is asked with it.
// Issue 11, "Trust" point 2, end to end: the sync fetches the source's file from a server, a
// mediator edits a field through the venues API, the edit survives the next run, and the source
// changing that very field is recorded as a conflict (the sync's sources: the source wins).
TEST_F(SyncTest, ALocalEditSurvivesARunAndTheSourceChangingItIsAConflict) {
  auto rows = Rows(5);
  rows[2]["telephone"] = "+33320000001";
  regional_.Serve(File(rows));
  const v1::Source source = CreateSource("siilab");
  ASSERT_EQ(RunToEnd(source.name()).created(), 5);
  auto venue = [&] {
    for (const auto& v : Venues("siilab")) {
      if (v.id() == "reg-2") return v;
    }
    ADD_FAILURE() << "reg-2 is not in the registry";
    return venues::v1::Venue();
  };
  const venues::v1::Venue stored = venue();
  {
    grpc::ClientContext ctx;
    venues::v1::UpdateVenueRequest req;
    req.mutable_venue()->set_name(stored.name());
    req.mutable_venue()->set_etag(stored.etag());
    req.mutable_venue()->set_telephone("+33320999999");
    req.mutable_update_mask()->add_paths("telephone");
    venues::v1::Venue edited;
    grpc::Status st = venues_stub_->UpdateVenue(&ctx, req, &edited);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(edited.provenance().local_edits_size(), 1);
  }

  // The source renames the venue: the run updates it, the edited telephone stays.
  rows[2]["nom"] = "Espace numérique renommé";
  regional_.Serve(File(rows));
  v1::Run renamed = RunToEnd(source.name());
  EXPECT_EQ(renamed.state(), v1::Run::SUCCEEDED) << renamed.error();
  EXPECT_EQ(renamed.updated(), 1);
  venues::v1::Venue after = venue();
  EXPECT_EQ(after.nom(), "Espace numérique renommé");
  EXPECT_EQ(after.telephone(), "+33320999999");
  ASSERT_EQ(after.provenance().local_edits_size(), 1);
  EXPECT_EQ(after.provenance().local_edits(0).field(), "telephone");

  // The source changes the telephone: a conflict, and the source's value.
  rows[2]["telephone"] = "+33320000002";
  regional_.Serve(File(rows));
  v1::Run changed = RunToEnd(source.name());
  EXPECT_EQ(changed.state(), v1::Run::SUCCEEDED) << changed.error();
  EXPECT_EQ(changed.updated(), 1);
  after = venue();
  EXPECT_EQ(after.telephone(), "+33320000002");
  EXPECT_EQ(after.provenance().local_edits_size(), 0);
  grpc::ClientContext ctx;
  venues::v1::ListVenueConflictsRequest req;
  req.set_parent("venues/-");
  req.set_filter("source = \"siilab\"");
  venues::v1::ListVenueConflictsResponse conflicts;
  ASSERT_TRUE(venues_stub_->ListVenueConflicts(&ctx, req, &conflicts).ok());
  ASSERT_EQ(conflicts.conflicts_size(), 1);
  const auto& c = conflicts.conflicts(0);
  EXPECT_THAT(c.name(), ::testing::StartsWith(stored.name() + "/conflicts/"));
  EXPECT_EQ(c.field(), "telephone");
  EXPECT_EQ(c.local_value(), "+33320999999");
  EXPECT_EQ(c.previous_source_value(), "+33320000001");
  EXPECT_EQ(c.new_source_value(), "+33320000002");
  EXPECT_EQ(c.policy(), venues::v1::SOURCE_WINS);
}

TEST_F(SyncTest, NotModifiedFilesEndTheRunUnchangedAndChangedOnesAreRead) {
  const v1::Source source = CreateSource("cond");
  auto rows = Rows(20);
  regional_.ServeWithValidators(File(rows), "\"rev-1\"", "");
  v1::Run first = RunToEnd(source.name());
  ASSERT_EQ(first.state(), v1::Run::SUCCEEDED) << first.error();
  EXPECT_EQ(first.created(), 20);
  EXPECT_EQ(first.file_unchanged(), v1::Run::FILE_UNCHANGED_UNSPECIFIED);
  EXPECT_EQ(regional_.conditional().first, "");  // nothing to ask about yet

  v1::Run second = RunToEnd(source.name());
  ASSERT_EQ(second.state(), v1::Run::SUCCEEDED) << second.error();
  EXPECT_EQ(regional_.conditional().first, "\"rev-1\"");
  EXPECT_EQ(second.file_unchanged(), v1::Run::NOT_MODIFIED);
  EXPECT_EQ(second.file_bytes(), 0);
  EXPECT_EQ(second.rows(), 0);
  EXPECT_EQ(Venues("cond").size(), 20u);

  rows[3]["nom"] = "Médiathèque renommée";
  regional_.ServeWithValidators(File(rows), "\"rev-2\"", "");
  v1::Run third = RunToEnd(source.name());
  ASSERT_EQ(third.state(), v1::Run::SUCCEEDED) << third.error();
  EXPECT_EQ(third.file_unchanged(), v1::Run::FILE_UNCHANGED_UNSPECIFIED);
  EXPECT_EQ(third.updated(), 1);
  EXPECT_EQ(third.skipped(), 19);

  // Last-Modified only.
  const std::string date = "Tue, 01 Dec 2026 08:00:00 GMT";
  rows[4]["nom"] = "Espace renommé";
  regional_.ServeWithValidators(File(rows), "", date);
  ASSERT_EQ(RunToEnd(source.name()).updated(), 1);
  v1::Run fifth = RunToEnd(source.name());
  EXPECT_EQ(regional_.conditional().second, date);
  EXPECT_EQ(fifth.file_unchanged(), v1::Run::NOT_MODIFIED);
}

TEST_F(SyncTest, RowsWithHoursNotUnderstoodLandWithAWarning) {
  auto rows = Rows(3);
  rows[1]["horaires"] = "du lundi au vendredi, 9h-12h";
  rows[2]["horaires"] = "Mo-Fr 09:00-12:00; PH off";
  regional_.Serve(File(rows));
  const v1::Source source = CreateSource("horaires");
  v1::Run run = RunToEnd(source.name());
  EXPECT_EQ(run.state(), v1::Run::SUCCEEDED) << run.error();
  EXPECT_EQ(run.created(), 3);
  EXPECT_EQ(run.rejected(), 0);
  EXPECT_EQ(Venues("horaires").size(), 3u);
  grpc::ClientContext ctx;
  v1::ListRunErrorsRequest req;
  req.set_parent(run.name());
  v1::ListRunErrorsResponse resp;
  ASSERT_TRUE(stub_->ListRunErrors(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.errors_size(), 1) << resp.DebugString();
  EXPECT_TRUE(resp.errors(0).warning());
  EXPECT_EQ(resp.errors(0).line(), 3);
  EXPECT_EQ(resp.errors(0).field(), "horaires");
  EXPECT_EQ(resp.errors(0).rule(), "horaires");
  EXPECT_THAT(resp.errors(0).description(), ::testing::HasSubstr("horaires non compris"));
}

TEST_F(SyncTest, CutMissingOrMostlyEmptyFilesChangeNothing) {
  const auto rows = Rows(20);
  regional_.Serve(File(rows));
  const v1::Source source = CreateSource("assembleurs");
  ASSERT_EQ(RunToEnd(source.name()).state(), v1::Run::SUCCEEDED);

  // Cut inside a quoted field (a transfer that stopped mid-file).
  const std::string whole = File(rows);
  regional_.Serve(whole.substr(0, whole.find("Espace numérique n°10") + 10));
  v1::Run cut = RunToEnd(source.name());
  EXPECT_EQ(cut.state(), v1::Run::FAILED);
  EXPECT_THAT(cut.error(), HasSubstr("fichier illisible, rien n'a été modifié"));

  regional_.Serve("Service Unavailable", 503);
  v1::Run down = RunToEnd(source.name());
  EXPECT_EQ(down.state(), v1::Run::FAILED);
  EXPECT_THAT(down.error(), HasSubstr("réponse HTTP 503"));

  // A valid file with 3 of the 20 venues: withdrawing 17 is over the 20 % threshold.
  regional_.Serve(File({rows[0], rows[1], rows[2]}));
  v1::Run few = RunToEnd(source.name());
  EXPECT_EQ(few.state(), v1::Run::FAILED);
  EXPECT_THAT(few.error(), HasSubstr("17 lieux sur 20 ont disparu"));
  EXPECT_EQ(few.withdrawn(), 0);
  EXPECT_EQ(Venues("assembleurs").size(), 20u);

  // Back to the whole file, the one the last succeeded run took: nothing to read, nothing lost.
  regional_.Serve(File(rows));
  v1::Run back = RunToEnd(source.name());
  EXPECT_EQ(back.state(), v1::Run::SUCCEEDED);
  EXPECT_EQ(back.file_unchanged(), v1::Run::SAME_CONTENT);
  EXPECT_EQ(Venues("assembleurs").size(), 20u);

  // The source moves: an address that is not HTTP is refused field by field; a new address
  // that answers 404 fails the next run without retries and without harm.
  auto update = [&](const std::string& url, std::vector<std::string> paths, v1::Source* out) {
    grpc::ClientContext ctx;
    v1::UpdateSourceRequest req;
    req.mutable_source()->set_name(source.name());
    req.mutable_source()->set_url(url);
    req.mutable_source()->mutable_refresh_interval()->set_seconds(86400);
    for (const auto& p : paths) req.mutable_update_mask()->add_paths(p);
    return stub_->UpdateSource(&ctx, req, out);
  };
  v1::Source updated;
  EXPECT_EQ(update("ftp://example.org/lieux.csv", {"url"}, &updated).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(update(regional_.url(), {"owner"}, &updated).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(update(regional_.url() + ".old", {"url", "refresh_interval"}, &updated).ok());
  EXPECT_EQ(updated.url(), regional_.url() + ".old");
  EXPECT_EQ(updated.refresh_interval().seconds(), 86400);
  EXPECT_EQ(updated.last_run().name(), back.name());
  v1::Run moved = RunToEnd(source.name());
  EXPECT_EQ(moved.state(), v1::Run::FAILED);
  EXPECT_THAT(moved.error(), HasSubstr("réponse HTTP 404"));
  EXPECT_EQ(Venues("assembleurs").size(), 20u);
}

TEST_F(SyncTest, OneRunAtATimeScheduledRunsAndDeadRunsAreFailed) {
  regional_.Serve(File(Rows(3)), 200, 1500ms);  // a slow server keeps the run going
  const v1::Source manual = CreateSource("slow");
  v1::Run started;
  ASSERT_TRUE(StartRun(manual.name(), &started).ok());
  {
    v1::Run second;
    EXPECT_EQ(StartRun(manual.name(), &second).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  // A source with a refresh interval runs by itself (it never ran, so it is due).
  regional_.Serve(File(Rows(3)));
  const v1::Source scheduled = CreateSource("hourly", 3600);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        grpc::ClientContext ctx;
        v1::GetSourceRequest req;
        req.set_name(scheduled.name());
        v1::Source s;
        return stub_->GetSource(&ctx, req, &s).ok() &&
               s.last_run().trigger() == v1::Run::SCHEDULED &&
               s.last_run().state() == v1::Run::SUCCEEDED;
      },
      10s));
  // A run left "running" by a process that died is failed by the scheduler.
  {
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    tx.exec0("INSERT INTO \"" + sync_->schema() +
             "\".runs (source_id, trigger, heartbeat_time) VALUES ('hourly', 'manual', "
             "now() - interval '1 hour')");
    tx.commit();
  }
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        pqxx::connection c(testing::DatabaseUrl());
        pqxx::work tx(c);
        return tx.exec1("SELECT count(*) FROM \"" + sync_->schema() +
                        "\".runs WHERE state = 'failed' AND error LIKE 'interrompue%'")[0]
                   .as<int>() == 1;
      },
      5s));
}

TEST_F(SyncTest, ServersThatFailForAWhileAreTriedAgainByThemselves) {
  // A server restarting: two 503s, then the file. The run gets it on its third try.
  regional_.Serve(File(Rows(5)));
  regional_.FailNext(2);
  const v1::Source manual = CreateSource("restarting");
  v1::Run run = RunToEnd(manual.name());
  EXPECT_EQ(run.state(), v1::Run::SUCCEEDED) << run.error();
  EXPECT_EQ(run.created(), 5);

  // A scheduled source whose server is down for longer: its run fails, and the scheduler tries
  // again after the retry delay (here 1 s) instead of a whole interval (here an hour).
  regional_.Serve("", 503);
  const v1::Source nightly = CreateSource("nightly", 3600);
  auto last_run = [&] {
    grpc::ClientContext ctx;
    v1::GetSourceRequest req;
    req.set_name(nightly.name());
    v1::Source s;
    EXPECT_TRUE(stub_->GetSource(&ctx, req, &s).ok());
    return s.last_run();
  };
  EXPECT_TRUE(testing::WaitFor([&] { return last_run().state() == v1::Run::FAILED; }, 10s));
  regional_.Serve(File(Rows(5)));
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        const v1::Run r = last_run();
        return r.state() == v1::Run::SUCCEEDED && r.trigger() == v1::Run::SCHEDULED;
      },
      10s));
}

// The sync process is killed (SIGKILL) in the middle of a run. Once restarted, the dead run is
// failed by the scheduler when its heartbeat has been silent long enough, and the next run
// brings every venue: nothing is lost, nothing needs a hand.
TEST_F(SyncTest, ARunWhoseProcessWasKilledIsFailedAndTheNextRunCompletes) {
  regional_.Serve(File(Rows(40)), 200, 3000ms);  // a slow server: the run is surely in progress
  const v1::Source source = CreateSource("killed");
  v1::Run started;
  ASSERT_TRUE(StartRun(source.name(), &started).ok());
  std::this_thread::sleep_for(500ms);
  sync_process_->Signal(SIGKILL);
  EXPECT_TRUE(sync_process_->Wait(5s).has_value());
  regional_.Serve(File(Rows(40)));
  sync_process_ = sync_->Start();
  auto state = [&](const std::string& run) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);  // the channel reconnects to the restarted process
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::GetRunRequest req;
    req.set_name(run);
    v1::Run r;
    // The first call after the restart may meet the killed process's closed socket: asked again.
    if (!stub_->GetRun(&ctx, req, &r).ok()) r.Clear();
    return r;
  };
  EXPECT_TRUE(
      testing::WaitFor([&] { return state(started.name()).state() == v1::Run::FAILED; }, 10s));
  EXPECT_THAT(state(started.name()).error(), HasSubstr("interrompue"));
  v1::Run next = RunToEnd(source.name());
  EXPECT_EQ(next.state(), v1::Run::SUCCEEDED) << next.error();
  EXPECT_EQ(Venues("killed").size(), 40u);
}

// The fields named by an INVALID_ARGUMENT's BadRequest, with their descriptions.
std::map<std::string, std::string> Violations(const grpc::Status& st) {
  std::map<std::string, std::string> out;
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(st.error_details())) return out;
  for (const auto& d : rpc.details()) {
    google::rpc::BadRequest br;
    if (!d.UnpackTo(&br)) continue;
    for (const auto& f : br.field_violations()) out[f.field()] += f.description();
  }
  return out;
}

std::vector<v1::RunError> RunErrors(v1::SyncService::Stub& stub, const std::string& run) {
  grpc::ClientContext ctx;
  v1::ListRunErrorsRequest req;
  req.set_parent(run);
  v1::ListRunErrorsResponse resp;
  EXPECT_TRUE(stub.ListRunErrors(&ctx, req, &resp).ok());
  return {resp.errors().begin(), resp.errors().end()};
}

// Finding 1: invalid UTF-8 in a row used to end the process (JSON type_error.316), and a
// Latin-1 file's errors could not be stored. Each bad row is now explained, in valid UTF-8.
TEST_F(SyncTest, InvalidUtf8AndLatin1RowsAreExplainedAndTheRunGoesOn) {
  auto rows = Rows(5);
  rows[2]["nom"] = "Espace \xFF\xFE num\xC3\xA9rique";
  regional_.Serve(File(rows));
  const v1::Source source = CreateSource("utf8");
  v1::Run run = RunToEnd(source.name());
  EXPECT_EQ(run.state(), v1::Run::SUCCEEDED) << run.error();
  EXPECT_EQ(run.created(), 4);
  EXPECT_EQ(run.rejected(), 1);
  auto errors = RunErrors(*stub_, run.name());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line(), 4);
  EXPECT_EQ(errors[0].field(), "nom");
  EXPECT_EQ(errors[0].rule(), "utf8");
  EXPECT_TRUE(text::IsValidUtf8(errors[0].value()));
  EXPECT_TRUE(text::IsValidUtf8(errors[0].description()));

  // The same venues with two cells written by a spreadsheet in Latin-1: "é" is one byte 0xE9.
  // The file holds UTF-8 elsewhere ("numérique"), so it is read as UTF-8 (encoding detected) and
  // the Latin-1 cells are explained row by row.
  auto latin1 = Rows(5);
  latin1[0]["nom"] =
      "M\xE9"
      "diath\xE8que";
  latin1[1]["adresse"] =
      "2 all\xE9"
      "e des Tilleuls";
  regional_.Serve(File(latin1));
  v1::Run second = RunToEnd(source.name());
  EXPECT_EQ(second.state(), v1::Run::SUCCEEDED) << second.error();
  EXPECT_EQ(second.rejected(), 2);
  auto latin1_errors = RunErrors(*stub_, second.name());
  ASSERT_EQ(latin1_errors.size(), 2u);
  EXPECT_EQ(latin1_errors[0].line(), 2);
  EXPECT_EQ(latin1_errors[0].field(), "nom");
  EXPECT_EQ(latin1_errors[1].field(), "adresse");
  for (const auto& e : latin1_errors) {
    EXPECT_EQ(e.rule(), "utf8");
    EXPECT_TRUE(text::IsValidUtf8(e.value()));
  }
  EXPECT_EQ(Venues("utf8").size(), 5u);  // the rejected rows' venues stay as they were
}

// Finding 4: NaN compared false to both bounds and disabled the withdrawal guard.
TEST_F(SyncTest, MaxWithdrawFractionMustBeAFiniteFraction) {
  const double inf = std::numeric_limits<double>::infinity();
  for (double bad : {std::nan(""), inf, -inf, -0.1, 1.5}) {
    grpc::ClientContext ctx;
    v1::CreateSourceRequest req;
    req.set_source_id("fraction");
    req.mutable_source()->set_url(regional_.url());
    req.mutable_source()->set_max_withdraw_fraction(bad);
    v1::Source out;
    grpc::Status st = stub_->CreateSource(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_TRUE(Violations(st).contains("source.max_withdraw_fraction")) << bad;
  }
  // Source ids follow the registry's rule for a batch's source, or no run could ever write.
  for (const char* id : {"-a", "a-", "passerelle", "Siilab"}) {
    grpc::ClientContext c;
    v1::CreateSourceRequest r;
    r.set_source_id(id);
    r.mutable_source()->set_url(regional_.url());
    v1::Source o;
    grpc::Status s = stub_->CreateSource(&c, r, &o);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << id;
    EXPECT_TRUE(Violations(s).contains("source_id")) << id;
  }
  // An interval is whole seconds: nanos are refused, not dropped; a port has one spelling.
  for (int32_t nanos : {-5, 500}) {
    grpc::ClientContext c;
    v1::CreateSourceRequest r;
    r.set_source_id("nanos");
    r.mutable_source()->set_url(regional_.url());
    r.mutable_source()->mutable_refresh_interval()->set_seconds(3600);
    r.mutable_source()->mutable_refresh_interval()->set_nanos(nanos);
    v1::Source o;
    grpc::Status s = stub_->CreateSource(&c, r, &o);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << nanos;
    EXPECT_TRUE(Violations(s).contains("source.refresh_interval")) << nanos;
  }
  {
    grpc::ClientContext c;
    v1::CreateSourceRequest r;
    r.set_source_id("port");
    r.mutable_source()->set_url("http://example.org:080/lieux.csv");
    v1::Source o;
    grpc::Status s = stub_->CreateSource(&c, r, &o);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(Violations(s).contains("source.url"));
  }
  const v1::Source source = CreateSource("fraction");
  grpc::ClientContext ctx;
  v1::UpdateSourceRequest req;
  req.mutable_source()->set_name(source.name());
  req.mutable_source()->set_max_withdraw_fraction(std::nan(""));
  req.mutable_update_mask()->add_paths("max_withdraw_fraction");
  v1::Source out;
  grpc::Status st = stub_->UpdateSource(&ctx, req, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Violations(st).contains("source.max_withdraw_fraction"));
  // An update checks an interval's nanos as a creation does.
  grpc::ClientContext ctx2;
  v1::UpdateSourceRequest nanos;
  nanos.mutable_source()->set_name(source.name());
  nanos.mutable_source()->mutable_refresh_interval()->set_seconds(3600);
  nanos.mutable_source()->mutable_refresh_interval()->set_nanos(1);
  nanos.mutable_update_mask()->add_paths("refresh_interval");
  st = stub_->UpdateSource(&ctx2, nanos, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Violations(st).contains("source.refresh_interval"));
}

grpc::Status TryCreate(v1::SyncService::Stub& stub, const std::string& id, const std::string& url,
                       const std::string& authorization = "", v1::Source* out = nullptr) {
  grpc::ClientContext ctx;
  v1::CreateSourceRequest req;
  req.set_source_id(id);
  req.mutable_source()->set_url(url);
  req.mutable_source()->set_authorization(authorization);
  v1::Source ignored;
  return stub.CreateSource(&ctx, req, out != nullptr ? out : &ignored);
}

// Finding 18: one destination policy for sources' URLs; credentials apart and never shown.
TEST_F(SyncTest, SourceUrlsFollowTheDestinationPolicyAndCredentialsAreNeverShown) {
  const std::string pg_port = [] {
    const std::string url = testing::DatabaseUrl();
    const size_t colon = url.rfind(':');
    return url.substr(colon + 1, url.find('/', colon) - colon - 1);
  }();
  for (const std::string& url :
       {std::string("http://169.254.169.254/latest/meta-data/"), std::string("http://2130706433/"),
        std::string("http://0.0.0.0/lieux.csv"), std::string("http://[::1]/lieux.csv"),
        std::string("http://10.0.0.1/lieux.csv"), absl::StrCat("http://127.0.0.1:", pg_port, "/"),
        std::string("http://127.0.0.1:5432/"), std::string("file:///etc/passwd"),
        std::string("gopher://example.org/")}) {
    grpc::Status st = TryCreate(*stub_, "policy", url);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << url;
    EXPECT_TRUE(Violations(st).contains("source.url")) << url;
  }
  // A password in the URL is refused, pointing to the field made for it, and never echoed.
  grpc::Status userinfo = TryCreate(*stub_, "policy", "http://siilab:hunter2@127.0.0.1/lieux.csv");
  EXPECT_EQ(userinfo.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(userinfo)["source.url"], HasSubstr("authorization"));
  EXPECT_THAT(userinfo.error_message() + Violations(userinfo)["source.url"],
              ::testing::Not(HasSubstr("hunter2")));
  // A refused credential is named with its rule, never quoted back (tester 25, M7).
  for (const std::string& credential :
       {std::string("Bearer SUPERSECRET\r\nX-Injected: 1"), std::string("Bearer SUPERSECRET\x01"),
        std::string("Bearer SUPERSECRET") + std::string(5000, 'x'),
        std::string("Bearer SUPERSECRET\xC3\xA9")}) {
    grpc::Status st = TryCreate(*stub_, "policy", regional_.url(), credential);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(Violations(st).contains("source.authorization"));
    EXPECT_THAT(st.error_message() + Violations(st)["source.authorization"],
                ::testing::Not(HasSubstr("SUPERSECRET")));
  }

  // The credentials go to the server and nowhere else: not Get, List, the run, the logs.
  regional_.Serve(File(Rows(3)));
  v1::Source created;
  ASSERT_TRUE(TryCreate(*stub_, "private", regional_.url(), "Bearer hunter2", &created).ok());
  EXPECT_TRUE(created.has_authorization());
  EXPECT_TRUE(created.authorization().empty());
  v1::Run run = RunToEnd(created.name());
  EXPECT_EQ(run.state(), v1::Run::SUCCEEDED) << run.error();
  EXPECT_EQ(regional_.authorization(), "Bearer hunter2");
  {
    grpc::ClientContext ctx;
    v1::GetSourceRequest req;
    req.set_name(created.name());
    v1::Source got;
    ASSERT_TRUE(stub_->GetSource(&ctx, req, &got).ok());
    EXPECT_TRUE(got.has_authorization());
    EXPECT_THAT(got.SerializeAsString(), ::testing::Not(HasSubstr("hunter2")));
    grpc::ClientContext list_ctx;
    v1::ListSourcesResponse all;
    ASSERT_TRUE(stub_->ListSources(&list_ctx, v1::ListSourcesRequest(), &all).ok());
    EXPECT_THAT(all.SerializeAsString(), ::testing::Not(HasSubstr("hunter2")));
  }

  // A redirect is checked like the first address: to the cloud metadata service, refused.
  regional_.RedirectTo("http://169.254.169.254/latest/meta-data/");
  v1::Source moved;
  ASSERT_TRUE(TryCreate(*stub_, "moved", regional_.moved_url(), "Bearer hunter2", &moved).ok());
  v1::Run redirected = RunToEnd(moved.name());
  EXPECT_EQ(redirected.state(), v1::Run::FAILED);
  EXPECT_THAT(redirected.error(), HasSubstr("169.254.169.254 refusée"));
  EXPECT_THAT(redirected.error(), ::testing::Not(HasSubstr("hunter2")));
  // A redirect to an allowed address is followed.
  regional_.RedirectTo(regional_.url());
  v1::Run followed = RunToEnd(moved.name());
  EXPECT_EQ(followed.state(), v1::Run::SUCCEEDED) << followed.error();
  EXPECT_THAT(sync_process_->Output(), ::testing::Not(HasSubstr("hunter2")));
}

// A name is checked on the addresses it resolves to, which are the ones connected to.
class StrictSyncTest : public SyncTest {
 protected:
  std::string AllowedNetworks() const override { return ""; }
};

TEST_F(StrictSyncTest, ANameResolvingToLoopbackIsRefusedWithoutARequest) {
  regional_.Serve(File(Rows(3)));
  const v1::Source source =
      CreateSource("rebind", 0, absl::StrCat("http://localhost:", regional_.port(), "/lieux.csv"));
  v1::Run run = RunToEnd(source.name());
  EXPECT_EQ(run.state(), v1::Run::FAILED);
  EXPECT_THAT(run.error(), HasSubstr("refusée"));
  EXPECT_EQ(regional_.requests(), 0);
}

// Finding 21: files that are not the standard's CSV fail whole, before any row, and change
// nothing.
TEST_F(SyncTest, FilesThatAreNotTheStandardsCsvFailWholeAndChangeNothing) {
  const auto rows = Rows(10);
  regional_.Serve(File(rows));
  const v1::Source source = CreateSource("formats");
  ASSERT_EQ(RunToEnd(source.name()).state(), v1::Run::SUCCEEDED);

  std::string no_nom;
  {
    std::vector<std::map<std::string, std::string>> cut_rows = rows;
    for (auto& r : cut_rows) r.erase("nom");
    no_nom = File(cut_rows);
    const size_t at = no_nom.find("\"nom\",");
    no_nom.erase(at, 6);
  }
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  const std::string whole = File(rows);
  const std::string cut_mid_row = whole.substr(0, whole.rfind("\"Roubaix\""));
  const struct {
    std::string body, error;
  } cases[] = {
      {"name,city,zip\r\nEspace,Roubaix,59100\r\n",
       "colonnes obligatoires absentes : id, pivot, nom"},
      {"name,city,zip\r\nEspace,Roubaix,59100\r\n", "colonnes non reconnues : name, city, zip"},
      {no_nom, "colonnes obligatoires absentes : nom"},
      {"<!DOCTYPE html><html><body>Maintenance</body></html>", "page HTML"},
      {"{\"lieux\": []}", "JSON"},
      {png, "PNG"},
      {"", "fichier vide"},
      {File({}), "aucune ligne"},
      {cut_mid_row, "fichier tronqué"},
      {"id,pivot,n\xE9om\r\n", "colonnes non reconnues : néom"},
      {std::string("\xFF\xFE"
                   "i\0d\0",
                   6),
       "UTF-16"},
      // The same without a byte order mark (what some exports write): still named.
      {std::string("i\0d\0,\0p\0i\0v\0o\0t\0,\0n\0o\0m\0\r\0\n\0", 30), "UTF-16"},
  };
  for (const auto& c : cases) {
    regional_.Serve(c.body);
    v1::Run run = RunToEnd(source.name());
    EXPECT_EQ(run.state(), v1::Run::FAILED) << c.error;
    EXPECT_THAT(run.error(), HasSubstr(c.error));
    EXPECT_THAT(run.error(), HasSubstr("rien n'a été modifié"));
    EXPECT_EQ(run.withdrawn(), 0);
    EXPECT_EQ(run.created() + run.updated(), 0);
    EXPECT_TRUE(RunErrors(*stub_, run.name()).empty()) << c.error;
  }
  EXPECT_EQ(Venues("formats").size(), 10u);

  // ImportVenues reads files with the same function: the same file-level error. (The sync
  // registered its source "formats" in the registry on its first run.)
  grpc::ClientContext ctx;
  venues::v1::ImportVenuesResponse resp;
  auto writer = venues_stub_->ImportVenues(&ctx, &resp);
  venues::v1::ImportVenuesChunk chunk;
  chunk.set_source("formats");
  chunk.set_data("name,city,zip\r\nEspace,Roubaix,59100\r\n");
  writer->Write(chunk);
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("colonnes obligatoires absentes"));
}

// A run that another replica declared dead (its heartbeat late) is no longer ours: it stops
// before writing anything.
TEST_F(SyncTest, ARunFailedBehindItsBackWritesNothingMore) {
  regional_.Serve(File(Rows(3)), 200, 1500ms);
  const v1::Source source = CreateSource("stolen");
  v1::Run started;
  ASSERT_TRUE(StartRun(source.name(), &started).ok());
  {
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    tx.exec0("UPDATE \"" + sync_->schema() +
             "\".runs SET state = 'failed', end_time = now(), error = 'déclarée morte' "
             "WHERE source_id = 'stolen'");
    tx.commit();
  }
  EXPECT_TRUE(testing::WaitFor(
      [&] { return sync_process_->Output().find("run abandoned") != std::string::npos; }, 10s))
      << sync_process_->Output();
  EXPECT_EQ(Venues("stolen").size(), 0u);
  grpc::ClientContext ctx;
  v1::GetRunRequest req;
  req.set_name(started.name());
  v1::Run run;
  ASSERT_TRUE(stub_->GetRun(&ctx, req, &run).ok());
  EXPECT_EQ(run.state(), v1::Run::FAILED);
  EXPECT_EQ(run.error(), "déclarée morte");
}

// A server trickling bytes (each read succeeds, the file never ends) must not hold SIGTERM:
// the fetch is cancelled and the run fails as interrupted.
TEST_F(SyncTest, SigtermCancelsAFetchFromATricklingServer) {
  std::atomic<bool> connected{false};
  RawAnswer([&](net::RawHttpServer& s, int fd, const std::string&) {
    connected = true;
    if (!s.Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nid,")) return;
    while (s.Send(fd, "x")) std::this_thread::sleep_for(100ms);
  });
  const v1::Source source = CreateSource("trickle", 0, RawUrl());
  v1::Run started;
  ASSERT_TRUE(StartRun(source.name(), &started).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return connected.load(); }, 10s));
  const auto start = std::chrono::steady_clock::now();
  sync_process_->Signal(SIGTERM);
  EXPECT_EQ(sync_process_->Wait(8s), 0) << sync_process_->Output();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  {
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    auto r = tx.exec1("SELECT state, error FROM \"" + sync_->schema() +
                      "\".runs WHERE source_id = 'trickle'");
    EXPECT_EQ(r[0].as<std::string>(), "failed");
    EXPECT_THAT(r[1].as<std::string>(), HasSubstr("interrompue par l'arrêt du service"));
  }
  sync_process_ = sync_->Start();  // for TearDown
}

// A Content-Length that is not a number, or is huge, fails the run, not the process.
TEST_F(SyncTest, HostileContentLengthsFailTheRunNotTheProcess) {
  std::string length;
  RawAnswer([&](net::RawHttpServer& s, int fd, const std::string&) {
    s.Send(fd, absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", length, "\r\n\r\nid,nom\r\n"));
  });
  const v1::Source source = CreateSource("length", 0, RawUrl());
  for (const char* bad : {"abc", "99999999999999999999999"}) {
    length = bad;
    v1::Run run = RunToEnd(source.name());
    EXPECT_EQ(run.state(), v1::Run::FAILED) << bad;
    EXPECT_THAT(run.error(), HasSubstr("Content-Length")) << bad;
  }
}

// What a client sends is bounded; pages are capped, tokens sealed.
TEST_F(SyncTest, RequestsAreBoundedAndPageTokensOpaque) {
  {
    grpc::ClientContext ctx;
    v1::CreateSourceRequest req;
    req.set_source_id("bounded");
    req.mutable_source()->set_url(regional_.url());
    req.mutable_source()->set_display_name(std::string(300, 'a') + "\x01");
    v1::Source out;
    grpc::Status st = stub_->CreateSource(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(Violations(st).contains("source.display_name"));
  }
  EXPECT_EQ(
      TryCreate(*stub_, "bounded", regional_.url() + "?" + std::string(3000, 'q')).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  {
    grpc::ClientContext ctx;
    v1::GetSourceRequest req;
    req.set_name("sources/" + std::string(5000, 'a'));
    v1::Source out;
    EXPECT_EQ(stub_->GetSource(&ctx, req, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  regional_.Serve(File(Rows(2)));
  const v1::Source a = CreateSource("bounded-a");
  CreateSource("bounded-b");
  const v1::Run run = RunToEnd(a.name());
  RunToEnd(a.name());
  // A run has one name: its number padded or signed is refused, not read as the same run.
  {
    const std::string number = run.name().substr(run.name().rfind('/') + 1);
    for (const std::string& alias :
         {absl::StrCat(a.name(), "/runs/0", number), absl::StrCat(a.name(), "/runs/+", number)}) {
      grpc::ClientContext ctx;
      v1::GetRunRequest req;
      req.set_name(alias);
      v1::Run out;
      grpc::Status st = stub_->GetRun(&ctx, req, &out);
      EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << alias;
      EXPECT_THAT(Violations(st)["name"], HasSubstr("sources/{source}/runs/{run}")) << alias;
    }
    grpc::ClientContext ctx;
    v1::GetRunRequest req;
    req.set_name(run.name());
    v1::Run out;
    EXPECT_TRUE(stub_->GetRun(&ctx, req, &out).ok());
  }
  auto list = [&](int size, const std::string& token, v1::ListSourcesResponse* out) {
    grpc::ClientContext ctx;
    v1::ListSourcesRequest req;
    req.set_page_size(size);
    req.set_page_token(token);
    return stub_->ListSources(&ctx, req, out);
  };
  v1::ListSourcesResponse big;
  ASSERT_TRUE(list(1000000, "", &big).ok());  // capped, not refused (AIP-158)
  EXPECT_EQ(big.sources_size(), 2);
  v1::ListSourcesResponse negative;
  EXPECT_EQ(list(-1, "", &negative).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListSourcesResponse first, second;
  ASSERT_TRUE(list(1, "", &first).ok());
  ASSERT_EQ(first.sources_size(), 1);
  EXPECT_THAT(first.next_page_token(), ::testing::Not(HasSubstr("bounded")));  // opaque
  ASSERT_TRUE(list(1, first.next_page_token(), &second).ok());
  ASSERT_EQ(second.sources_size(), 1);
  EXPECT_EQ(second.sources(0).name(), "sources/bounded-b");
  v1::ListSourcesResponse forged;
  EXPECT_EQ(list(1, "bounded-a", &forged).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::string cut = first.next_page_token();
  cut.pop_back();
  EXPECT_EQ(list(1, cut, &forged).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A ListRuns token is refused by ListRunErrors and by ListRuns of another source.
  grpc::ClientContext runs_ctx;
  v1::ListRunsRequest runs_req;
  runs_req.set_parent(a.name());
  runs_req.set_page_size(1);
  v1::ListRunsResponse runs;
  ASSERT_TRUE(stub_->ListRuns(&runs_ctx, runs_req, &runs).ok());
  ASSERT_FALSE(runs.next_page_token().empty());
  {
    grpc::ClientContext ctx;
    v1::ListRunErrorsRequest req;
    req.set_parent(run.name());
    req.set_page_token(runs.next_page_token());
    v1::ListRunErrorsResponse out;
    EXPECT_EQ(stub_->ListRunErrors(&ctx, req, &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::ListRunsRequest req;
    req.set_parent("sources/bounded-b");
    req.set_page_token(runs.next_page_token());
    v1::ListRunsResponse out;
    EXPECT_EQ(stub_->ListRuns(&ctx, req, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

// Issue 11: sources that publish in their own shapes, each brought in by a profile.

std::string Fixture(const std::string& name) {
  std::ifstream in(absl::StrCat(PASSERELLE_SOURCE_DIR, "/services/sync/testdata/", name),
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

v1::FieldMapping* Map(v1::SourceProfile* p, const std::string& field,
                      const std::vector<std::string>& columns) {
  v1::FieldMapping* m = p->add_mapping();
  m->set_field(field);
  for (const auto& c : columns) m->add_parts()->set_column(c);
  return m;
}

// The regional file's profile: `;`, Latin-1 detected, its columns, its codes, département 59.
v1::SourceProfile RegionalProfile() {
  v1::SourceProfile p;
  p.set_format(v1::SourceProfile::MAPPED_CSV);
  Map(&p, "id", {"Identifiant"});
  Map(&p, "nom", {"Nom de la structure"});
  Map(&p, "adresse", {"N° et voie"});
  Map(&p, "code_postal", {"Code postal"});
  Map(&p, "commune", {"Ville"});
  Map(&p, "code_insee", {"Code INSEE"});
  Map(&p, "pivot", {"SIRET"});
  Map(&p, "telephone", {"Téléphone"});
  Map(&p, "courriels", {"Courriel"});
  Map(&p, "date_maj", {"Date de mise à jour"});
  v1::FieldMapping* typologie = Map(&p, "typologie", {"Type de structure"});
  typologie->set_split("-");
  (*typologie->mutable_values())["M"] = "MUNI";
  (*typologie->mutable_values())["A"] = "ASSO";
  v1::FieldMapping* programmes = Map(&p, "dispositif_programmes_nationaux", {"Labels"});
  programmes->set_split("-");
  (*programmes->mutable_values())["CNFS"] = "Conseillers numériques";
  (*programmes->mutable_values())["FS"] = "France Services";
  programmes->set_drop_unmapped(true);
  v1::FieldMapping* pass = Map(&p, "accepts_aptic_pass", {"Labels"});
  pass->set_split("-");
  (*pass->mutable_values())["APTIC"] = "oui";
  pass->set_drop_unmapped(true);
  // A concatenation: a constant and two columns.
  v1::FieldMapping* resume = p.add_mapping();
  resume->set_field("presentation_resume");
  resume->add_parts()->set_constant("Lieu de médiation numérique,");
  resume->add_parts()->set_column("Code postal");
  resume->add_parts()->set_column("Ville");
  p.mutable_filter()->set_column("Code INSEE");
  p.mutable_filter()->add_prefixes("59");
  // One column per half day, Monday to Saturday.
  const char* days[] = {"Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi"};
  for (int d = 0; d < 6; ++d) {
    for (const auto part : {v1::HoursColumn::MORNING, v1::HoursColumn::AFTERNOON}) {
      v1::HoursColumn* c = p.mutable_hours()->add_columns();
      c->set_column(
          absl::StrCat(days[d], part == v1::HoursColumn::MORNING ? " matin" : " après-midi"));
      c->set_weekday(d);
      c->set_part(part);
    }
  }
  return p;
}

class ProfileTest : public SyncTest {
 protected:
  grpc::Status Update(const std::string& source, const v1::SourceProfile& profile, bool force,
                      v1::Source* out) {
    grpc::ClientContext ctx;
    v1::UpdateSourceRequest req;
    req.mutable_source()->set_name(source);
    *req.mutable_source()->mutable_profile() = profile;
    req.mutable_update_mask()->add_paths("profile");
    req.set_force(force);
    return stub_->UpdateSource(&ctx, req, out);
  }
  grpc::Status Preview(const std::string& source, const v1::SourceProfile* profile,
                       v1::PreviewSourceResponse* out, const std::string& sample = "",
                       int rows = 0) {
    grpc::ClientContext ctx;
    v1::PreviewSourceRequest req;
    req.set_name(source);
    if (profile != nullptr) *req.mutable_profile() = *profile;
    req.set_sample(sample);
    req.set_row_count(rows);
    return stub_->PreviewSource(&ctx, req, out);
  }
  venues::v1::Venue VenueOf(const std::string& source, const std::string& id) {
    for (const auto& v : Venues(source)) {
      if (v.id() == id) return v;
    }
    ADD_FAILURE() << "no venue " << id << " in " << source;
    return {};
  }
};

TEST_F(ProfileTest, ALatin1RegionalFileIsPreviewedThenBroughtInByItsProfile) {
  regional_.Serve(Fixture("regional_latin1.csv"));
  const v1::Source source = CreateSource("region");
  const v1::SourceProfile profile = RegionalProfile();

  // The preview: what each row becomes, nothing written.
  v1::PreviewSourceResponse preview;
  grpc::Status st = Preview(source.name(), &profile, &preview);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(preview.encoding(), v1::SourceProfile::WINDOWS_1252);
  EXPECT_EQ(preview.total_rows(), 6);
  EXPECT_EQ(preview.filtered(), 1);  // Lens, département 62
  EXPECT_EQ(preview.rejected(), 1);
  EXPECT_THAT(preview.columns(), ::testing::Contains("Lundi après-midi"));
  EXPECT_EQ(preview.profile_problems_size(), 0);
  ASSERT_EQ(preview.rows_size(), 5);
  const v1::PreviewRow& first = preview.rows(0);
  EXPECT_EQ(first.line(), 2);
  EXPECT_TRUE(first.accepted());
  EXPECT_EQ(first.source_id(), "R59-001");
  EXPECT_EQ(first.fields().at("nom"), "Médiathèque de l'Épeule");
  EXPECT_EQ(first.fields().at("typologie"), "MUNI");
  EXPECT_EQ(first.fields().at("dispositif_programmes_nationaux"), "Conseillers numériques");
  EXPECT_EQ(first.fields().at("telephone"), "+33320000001");
  EXPECT_EQ(first.fields().at("presentation_resume"), "Lieu de médiation numérique, 59100 Roubaix");
  EXPECT_TRUE(first.accepts_aptic_pass());
  EXPECT_EQ(first.fields().at("horaires"), "Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:30-12:00");
  EXPECT_EQ(preview.rows(1).fields().at("typologie"), "MUNI|CS");
  EXPECT_EQ(preview.rows(1).fields().at("dispositif_programmes_nationaux"),
            "Conseillers numériques|France Services");
  EXPECT_FALSE(preview.rows(1).accepts_aptic_pass());
  const v1::PreviewRow& bad = preview.rows(3);  // line 6: line 5 (Lens) is filtered out
  EXPECT_EQ(bad.line(), 6);
  EXPECT_FALSE(bad.accepted());
  ASSERT_GE(bad.problems_size(), 1);
  EXPECT_EQ(bad.problems(0).field(), "code_postal");
  EXPECT_EQ(bad.problems(0).value(), "591");
  EXPECT_EQ(bad.problems(0).rule(), "pattern");
  EXPECT_TRUE(Venues("region").empty());

  {  // The output docs/sync.md shows.
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(preview, &json, options).ok());
    std::cout << "PREVIEW_OUTPUT_BEGIN\n" << json << "PREVIEW_OUTPUT_END\n";
  }
  // Two rows only, when asked.
  ASSERT_TRUE(Preview(source.name(), &profile, &preview, "", 2).ok());
  EXPECT_EQ(preview.rows_size(), 2);

  // A column the file does not have: previewed with its path, and not saved.
  v1::SourceProfile typo = profile;
  typo.mutable_mapping(1)->mutable_parts(0)->set_column("Nom");
  ASSERT_TRUE(Preview(source.name(), &typo, &preview).ok());
  ASSERT_EQ(preview.profile_problems_size(), 1);
  EXPECT_EQ(preview.profile_problems(0).field(), "profile.mapping[1].parts[0].column");
  EXPECT_EQ(preview.profile_problems(0).value(), "Nom");
  EXPECT_EQ(preview.profile_problems(0).rule(), "column");
  v1::Source saved;
  st = Update(source.name(), typo, false, &saved);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("« Nom » absente du fichier"));

  // A profile that refuses every row is not saved unless the request says so.
  v1::SourceProfile wrong = profile;
  wrong.mutable_mapping(3)->mutable_parts(0)->set_column("Ville");  // code_postal <- Ville
  st = Update(source.name(), wrong, false, &saved);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("seraient toutes refusées"));
  EXPECT_THAT(st.error_message(), HasSubstr("code_postal"));
  ASSERT_TRUE(Update(source.name(), wrong, true, &saved).ok());
  EXPECT_EQ(saved.profile().mapping(3).parts(0).column(), "Ville");

  // The right profile, saved and read back; the run brings the rows in.
  st = Update(source.name(), profile, false, &saved);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(saved.profile().format(), v1::SourceProfile::MAPPED_CSV);
  EXPECT_EQ(saved.profile().mapping_size(), profile.mapping_size());
  EXPECT_EQ(saved.profile().filter().prefixes(0), "59");
  v1::Run run = RunToEnd(source.name());
  EXPECT_EQ(run.state(), v1::Run::SUCCEEDED) << run.error();
  EXPECT_EQ(run.rows(), 5);
  EXPECT_EQ(run.filtered(), 1);
  EXPECT_EQ(run.created(), 4);
  EXPECT_EQ(run.rejected(), 1);
  auto errors = RunErrors(*stub_, run.name());
  int refused = 0;
  for (const auto& e : errors) {
    if (e.warning()) continue;
    ++refused;
    EXPECT_EQ(e.line(), 6);
    EXPECT_EQ(e.field(), "code_postal");
  }
  EXPECT_EQ(refused, 1);

  // Venues really has them, read through its own API.
  const venues::v1::Venue alma = VenueOf("region", "R59-001");
  EXPECT_EQ(alma.nom(), "Médiathèque de l'Épeule");
  EXPECT_EQ(alma.adresse(), "12 rue de l'Épeule");
  EXPECT_EQ(alma.code_insee(), "59512");
  EXPECT_THAT(alma.typologie(), ::testing::ElementsAre("MUNI"));
  EXPECT_TRUE(alma.accepts_aptic_pass());
  ASSERT_EQ(alma.dispositif_programmes_nationaux_size(), 1);
  EXPECT_EQ(alma.dispositif_programmes_nationaux(0), venues::v1::DISPOSITIF_CONSEILLERS_NUMERIQUES);
  EXPECT_FALSE(VenueOf("region", "R59-003").typologie().empty());
  EXPECT_EQ(alma.horaires(), "Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:30-12:00");
  // Hours not understood: out of `horaires`, kept in words, reported as a warning.
  const venues::v1::Venue croix = VenueOf("region", "R59-006");
  EXPECT_EQ(croix.horaires(), "");
  EXPECT_THAT(croix.presentation_detail(),
              HasSubstr("Horaires : mardi matin : selon les permanences du CCAS"));
  bool warned = false;
  for (const auto& e : errors) {
    if (e.source_id() == "R59-006" && e.rule() == "horaires") {
      warned = true;
      EXPECT_TRUE(e.warning());
      EXPECT_EQ(e.field(), "horaires");
      EXPECT_THAT(e.value(), HasSubstr("selon les permanences du CCAS"));
    }
  }
  EXPECT_TRUE(warned);
  for (const auto& v : Venues("region")) EXPECT_NE(v.id(), "R62-004");

  // The same file again: not even read (same digest), nothing sent.
  v1::Run again = RunToEnd(source.name());
  EXPECT_EQ(again.state(), v1::Run::SUCCEEDED) << again.error();
  EXPECT_EQ(again.file_unchanged(), v1::Run::SAME_CONTENT);
}

TEST_F(ProfileTest, AGoGoCartoExportIsBroughtInWithItsOwnFields) {
  regional_.Serve(Fixture("gogocarto_elements.json"));
  v1::SourceProfile profile;
  profile.set_format(v1::SourceProfile::GOGOCARTO_JSON);
  // GoGoCarto's fields are read as they are; the standard's pivot and date come from the
  // profile: a constant and the element's `updatedAt`.
  v1::FieldMapping* pivot = profile.add_mapping();
  pivot->set_field("pivot");
  pivot->add_parts()->set_constant("43493312300052");
  Map(&profile, "date_maj", {"updatedAt"});
  Map(&profile, "typologie", {"categories"})->set_split("|");
  (*profile.mutable_mapping(2)->mutable_values())["Lieu de médiation"] = "TIERS_LIEUX";
  profile.mutable_mapping(2)->set_drop_unmapped(true);

  grpc::ClientContext ctx;
  v1::CreateSourceRequest req;
  req.set_source_id("carte");
  req.mutable_source()->set_display_name("Carte des lieux (GoGoCarto)");
  req.mutable_source()->set_url(regional_.gogocarto_url());
  *req.mutable_source()->mutable_profile() = profile;
  v1::Source source;
  grpc::Status st = stub_->CreateSource(&ctx, req, &source);
  ASSERT_TRUE(st.ok()) << st.error_message();

  v1::PreviewSourceResponse preview;
  ASSERT_TRUE(Preview(source.name(), nullptr, &preview).ok());
  EXPECT_THAT(preview.columns(), ::testing::IsSupersetOf({"geo.latitude", "address.postalCode",
                                                          "openHours.Tu", "categoriesFull.name"}));
  ASSERT_EQ(preview.rows_size(), 3);
  EXPECT_EQ(preview.rows(0).fields().at("horaires"),
            "Tu 14:00-18:00; Th 14:00-18:00; Sa 09:30-12:30");
  EXPECT_FALSE(preview.rows(2).accepted());  // no street address, no date

  v1::Run run = RunToEnd(source.name());
  EXPECT_EQ(run.state(), v1::Run::SUCCEEDED) << run.error();
  EXPECT_EQ(run.rows(), 3);
  EXPECT_EQ(run.created(), 2);
  EXPECT_EQ(run.rejected(), 1);
  const venues::v1::Venue repair = VenueOf("carte", "aB3xQ");
  EXPECT_EQ(repair.nom(), "Repair Café numérique de l'Union");
  EXPECT_EQ(repair.code_postal(), "59100");
  EXPECT_EQ(repair.commune(), "Roubaix");
  EXPECT_DOUBLE_EQ(repair.latitude(), 50.6951);
  EXPECT_EQ(repair.date_maj(), "2026-10-28");
  EXPECT_THAT(repair.typologie(), ::testing::ElementsAre("TIERS_LIEUX"));
  EXPECT_EQ(repair.horaires(), "Tu 14:00-18:00; Th 14:00-18:00; Sa 09:30-12:30");
  EXPECT_EQ(VenueOf("carte", "kP7mZ").horaires(), "Mo 09:00-12:00,13:30-17:00; We 09:00-12:00");

  // Hostile documents fail whole, with the reason, before any parsing recursion.
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  st = Preview(source.name(), nullptr, &preview, deep);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("trop imbriqué"));
  st = Preview(source.name(), nullptr, &preview, "{\"data\": [{\"id\": \"x\"");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("JSON illisible"));
  st = Preview(source.name(), nullptr, &preview, "{\"elements\": []}");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("« data »"));
  regional_.Serve(deep);
  v1::Run refused = RunToEnd(source.name());
  EXPECT_EQ(refused.state(), v1::Run::FAILED);
  EXPECT_THAT(refused.error(), HasSubstr("trop imbriqué"));
  EXPECT_EQ(Venues("carte").size(), 2u);
}

// The peak resident memory of process `pid` (VmHWM), in KiB.
long PeakKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) return std::atol(line.c_str() + 6);
  }
  ADD_FAILURE() << "no VmHWM for " << pid;
  return 0;
}

// Found while writing the fuzz target sync_profile: a GoGoCarto element may name paths of its
// own, and the reader gave every element a cell for every path of the document, so a 510 KB
// sample whose 3,000 elements each bring ten new paths took 90 million cells (about 3 GB).
// Only the paths the profile reads are kept per element.
TEST_F(ProfileTest, AGoGoCartoDocumentWhoseElementsEachBringNewPathsStaysSmall) {
  const v1::Source source = CreateSource("large");
  v1::SourceProfile profile;
  profile.set_format(v1::SourceProfile::GOGOCARTO_JSON);
  v1::FieldMapping* pivot = profile.add_mapping();
  pivot->set_field("pivot");
  pivot->add_parts()->set_constant("43493312300052");
  v1::FieldMapping* date = profile.add_mapping();
  date->set_field("date_maj");
  date->add_parts()->set_constant("2026-11-02");
  std::string sample =
      R"({"data": [{"id": "ok-1", "name": "Espace numérique de l'Alma", )"
      R"("geo": {"latitude": 50.69, "longitude": 3.17}, "address": {"streetAddress": )"
      R"("1 rue de l'Alma", "postalCode": "59100", "addressLocality": "Roubaix"}})";
  constexpr int kElements = 3000;
  for (int i = 0; i < kElements; ++i) {
    absl::StrAppend(&sample, ", {\"id\": \"w-", i, "\"");
    for (int j = 0; j < 10; ++j) absl::StrAppend(&sample, ", \"p", i, "_", j, "\": 0");
    sample += "}";
  }
  sample += "]}";
  ASSERT_LT(sample.size(), 1u << 20);

  const long before = PeakKib(sync_process_->pid());
  v1::PreviewSourceResponse preview;
  grpc::Status st = Preview(source.name(), &profile, &preview, sample);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(preview.total_rows(), kElements + 1);
  EXPECT_EQ(preview.rejected(), kElements);  // no name, no address
  ASSERT_GT(preview.rows_size(), 0);
  EXPECT_TRUE(preview.rows(0).accepted());
  EXPECT_EQ(preview.rows(0).fields().at("commune"), "Roubaix");
  EXPECT_EQ(preview.columns_size(), 200);  // the first 200 of the document's 30,000+ paths
  EXPECT_LT(PeakKib(sync_process_->pid()) - before, 256 * 1024)
      << "the preview of a 510 KB sample grew the sync's peak memory by more than 256 MiB";
}

TEST_F(ProfileTest, AV01FileIsReadAsTheStandard) {
  regional_.Serve(Fixture("v0_1.csv"));
  const v1::Source source = CreateSource("ancien");
  v1::SourceProfile profile;
  profile.set_format(v1::SourceProfile::STANDARD_CSV);
  v1::Source saved;
  ASSERT_TRUE(Update(source.name(), profile, false, &saved).ok());
  v1::Run run = RunToEnd(source.name());
  EXPECT_EQ(run.state(), v1::Run::SUCCEEDED) << run.error();
  EXPECT_EQ(run.created(), 2);
  const venues::v1::Venue trichon = VenueOf("ancien", "v01-1");
  EXPECT_EQ(trichon.nom(), "Espace public numérique du Trichon");
  EXPECT_TRUE(trichon.accepts_aptic_pass());
  EXPECT_THAT(trichon.courriels(), ::testing::ElementsAre("contact@trichon.exemple.fr"));
}

TEST_F(ProfileTest, ProfilesAndPreviewsAreCheckedFieldByField) {
  regional_.Serve(Fixture("regional_latin1.csv"));
  const v1::Source source = CreateSource("checks");
  v1::SourceProfile p;
  p.set_format(v1::SourceProfile::MAPPED_CSV);
  Map(&p, "nom_du_lieu", {"Nom"});            // not a standard field
  Map(&p, "nom", {std::string("No\0m", 4)});  // NUL
  Map(&p, "adresse", {})->set_split("x");     // no part, unknown split
  v1::FieldMapping* huge = p.add_mapping();
  huge->set_field("commune");
  huge->add_parts()->set_constant(std::string(600, 'a'));
  Map(&p, "id", {"Identifiant"});
  Map(&p, "id", {"Identifiant"});  // twice
  p.mutable_filter()->set_column("Code INSEE");
  p.mutable_filter()->add_prefixes("59-");
  p.mutable_hours()->set_text_column("Horaires");
  p.mutable_hours()->add_columns()->set_column("Lundi matin");
  v1::Source out;
  grpc::Status st = Update(source.name(), p, false, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto bad = Violations(st);
  EXPECT_THAT(bad["source.profile.mapping[0].field"], HasSubstr("[field]"));
  EXPECT_THAT(bad["source.profile.mapping[0].field"], HasSubstr("nom_du_lieu"));
  EXPECT_TRUE(bad.contains("source.profile.mapping[1].parts[0].column"));
  EXPECT_THAT(bad["source.profile.mapping[2].parts"], HasSubstr("[required]"));
  EXPECT_THAT(bad["source.profile.mapping[2].split"], HasSubstr("[enum]"));
  EXPECT_TRUE(bad.contains("source.profile.mapping[3].parts[0].constant"));
  EXPECT_THAT(bad["source.profile.mapping[5].field"], HasSubstr("[unique]"));
  EXPECT_THAT(bad["source.profile.filter.prefixes[0]"], HasSubstr("[pattern]"));
  EXPECT_THAT(bad["source.profile.hours"], HasSubstr("[oneof]"));

  v1::SourceProfile empty;
  empty.set_format(v1::SourceProfile::MAPPED_CSV);
  st = Update(source.name(), empty, false, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st)["source.profile.mapping"], HasSubstr("[required]"));
  v1::SourceProfile unknown_format;
  unknown_format.set_format(static_cast<v1::SourceProfile::Format>(42));
  st = Update(source.name(), unknown_format, false, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Violations(st).contains("source.profile.format"));

  // PreviewSource: the same checks under `profile`, a bounded sample, a known source.
  v1::PreviewSourceResponse preview;
  st = Preview(source.name(), &p, &preview);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Violations(st).contains("profile.mapping[0].field"));
  st = Preview(source.name(), nullptr, &preview, std::string((1 << 20) + 1, 'a'));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Violations(st).contains("sample"));
  st = Preview(source.name(), nullptr, &preview, "", -1);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  st = Preview("sources/nowhere", nullptr, &preview);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  st = Preview("lieux/x", nullptr, &preview);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The standard's CSV profile on this file: the file-level error, nothing written.
  st = Preview(source.name(), nullptr, &preview);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("colonnes obligatoires absentes"));
  regional_.Serve("unavailable", 503);
  st = Preview(source.name(), nullptr, &preview);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("réponse HTTP 503"));
}

}  // namespace
}  // namespace passerelle::sync
