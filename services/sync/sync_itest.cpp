// The passerelle-sync and passerelle-venues binaries against the real PostgreSQL and NATS, with
// the regional server played by an HTTP server in this process that serves whatever file (or
// failure) a test sets: first import, unchanged rows skipped, changed rows sent, rows gone
// withdrawn, refused rows explained by line, and files that are cut, missing or mostly empty
// changing nothing.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "libs/csv/csv.hpp"
#include "libs/testing/testing.hpp"
#include "passerelle/sync/v1/sync.grpc.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/standard.hpp"

namespace passerelle::sync {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// The regional server: serves `body` at /lieux.csv with `status`, after `delay`.
class RegionalServer {
 public:
  RegionalServer() {
    server_.Get("/lieux.csv", [this](const httplib::Request&, httplib::Response& res) {
      std::string body;
      int status;
      std::chrono::milliseconds delay;
      {
        std::lock_guard lock(mu_);
        body = body_;
        status = status_;
        delay = delay_;
        if (fail_next_ > 0) {
          --fail_next_;
          status = 503;
        }
      }
      std::this_thread::sleep_for(delay);
      res.status = status;
      res.set_content(body, "text/csv; charset=utf-8");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~RegionalServer() {
    server_.stop();
    thread_.join();
  }
  void Serve(std::string body, int status = 200, std::chrono::milliseconds delay = 0ms) {
    std::lock_guard lock(mu_);
    body_ = std::move(body);
    status_ = status;
    delay_ = delay;
  }
  /// The next `n` requests get 503 (a server restarting).
  void FailNext(int n) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/lieux.csv"); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string body_;
  int status_ = 200;
  std::chrono::milliseconds delay_{0};
  int fail_next_ = 0;
};

// A file of the national standard: `rows` as field -> value, in the schema's columns.
std::string File(const std::vector<std::map<std::string, std::string>>& rows) {
  std::vector<std::string> header;
  for (const auto& f : venues::Standard::V102().fields()) header.push_back(f.name);
  std::string out = csv::Line(header, ',', true);
  for (const auto& row : rows) {
    std::vector<std::string> cells;
    for (const auto& h : header) {
      auto it = row.find(h);
      cells.push_back(it == row.end() ? "" : it->second);
    }
    out += csv::Line(cells, ',', true);
  }
  return out;
}

std::map<std::string, std::string> Row(int i) {
  return {{"id", absl::StrCat("reg-", i)},
          {"pivot", absl::StrCat(21590512800000LL + i)},
          {"nom", absl::StrCat("Espace numérique n°", i)},
          {"commune", "Roubaix"},
          {"code_postal", "59100"},
          {"adresse", absl::StrCat(i + 1, " rue de l'Alma")},
          {"latitude", absl::StrCat(50.69 + i * 0.001)},
          {"longitude", "3.17"},
          {"date_maj", "2026-11-02"},
          {"services", "Aide aux démarches administratives"}};
}

std::vector<std::map<std::string, std::string>> Rows(int n) {
  std::vector<std::map<std::string, std::string>> out;
  for (int i = 0; i < n; ++i) out.push_back(Row(i));
  return out;
}

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    venues_process_ = venues_.Start();
    sync_ = std::make_unique<testing::ServiceBinary>(
        "services/sync/passerelle-sync",
        std::map<std::string, std::string>{{"PASSERELLE_VENUES_ADDRESS", venues_.grpc_address()},
                                           {"PASSERELLE_SYNC_TICK", "200ms"},
                                           {"PASSERELLE_SYNC_FETCH_ATTEMPTS", "3"},
                                           {"PASSERELLE_SYNC_FETCH_BACKOFF", "100ms"},
                                           {"PASSERELLE_SYNC_RETRY_AFTER", "1s"},
                                           {"PASSERELLE_SYNC_DEAD_AFTER", "2s"}});
    sync_process_ = sync_->Start();
    stub_ = v1::SyncService::NewStub(
        grpc::CreateChannel(sync_->grpc_address(), grpc::InsecureChannelCredentials()));
    venues_stub_ = venues::v1::VenueService::NewStub(
        grpc::CreateChannel(venues_.grpc_address(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    sync_process_->Signal(SIGTERM);
    EXPECT_EQ(sync_process_->Wait(20s), 0) << sync_process_->Output();
    venues_process_->Signal(SIGTERM);
    EXPECT_EQ(venues_process_->Wait(20s), 0);
  }

  v1::Source CreateSource(const std::string& id, int64_t refresh_seconds = 0) {
    grpc::ClientContext ctx;
    v1::CreateSourceRequest req;
    req.set_source_id(id);
    req.mutable_source()->set_display_name("Les Assembleurs — SIILAB");
    req.mutable_source()->set_url(regional_.url());
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

  // The same file again: nothing is sent.
  v1::Run again = RunToEnd(source.name());
  EXPECT_EQ(again.state(), v1::Run::SUCCEEDED);
  EXPECT_EQ(again.skipped(), 30);
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

  // Back to the whole file: all skipped, nothing lost.
  regional_.Serve(File(rows));
  v1::Run back = RunToEnd(source.name());
  EXPECT_EQ(back.state(), v1::Run::SUCCEEDED);
  EXPECT_EQ(back.skipped(), 20);
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

}  // namespace
}  // namespace passerelle::sync
