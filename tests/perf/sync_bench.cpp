// Benchmark: sync runs of a national-size source file against importing the same file straight
// into the registry (ImportVenues), in the same run: first load, the same file again, and the
// file with 1 % of its rows changed; then the same file as a mapped CSV (a profile mapping each
// column), first load and unchanged.
//
//   sync_bench [rows]        (default 25000)
//
// Needs the test command's servers (PASSERELLE_TEST_DATABASE_URL, PASSERELLE_TEST_NATS_URL):
//   deploy/local/passerelle test -R sync_bench -V                          (short run)
//   PASSERELLE_BENCH_VENUES=25000 deploy/local/passerelle test -R sync_bench -V   (full run)
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "httplib.h"
#include "libs/standard/standard.hpp"
#include "libs/testing/testing.hpp"
#include "passerelle/sync/v1/sync.grpc.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "tests/perf/national_registry.hpp"

namespace {

using namespace passerelle;
using Clock = std::chrono::steady_clock;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::unique_ptr<passerelle::testing::Process> StartService(
    const std::string& binary, const std::string& schema, int grpc_port,
    std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> env = {
      {"PASSERELLE_DATABASE_URL", Env("PASSERELLE_TEST_DATABASE_URL")},
      {"PASSERELLE_DATABASE_SCHEMA", schema},
      {"PASSERELLE_NATS_URL", Env("PASSERELLE_TEST_NATS_URL")},
      {"PASSERELLE_NATS_PREFIX", schema},
      {"PASSERELLE_GRPC_ADDRESS", absl::StrCat("127.0.0.1:", grpc_port)},
      {"PASSERELLE_METRICS_ADDRESS", absl::StrCat("127.0.0.1:", passerelle::testing::FreePort())},
      {"PASSERELLE_LOG_LEVEL", "warn"}};
  env.insert(extra.begin(), extra.end());
  auto p =
      passerelle::testing::Process::Start({passerelle::testing::BuildDir() + "/" + binary}, env);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                                     grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
    std::fprintf(stderr, "%s did not start:\n%s\n", binary.c_str(), p->Output().c_str());
    std::exit(1);
  }
  return p;
}

// Seconds for one sync run of the source, and the run.
double TimeRun(sync::v1::SyncService::Stub& stub, sync::v1::Run* run,
               const std::string& source = "sources/bench") {
  const auto t0 = Clock::now();
  {
    grpc::ClientContext ctx;
    sync::v1::StartRunRequest req;
    req.set_name(source);
    if (!stub.StartRun(&ctx, req, run).ok()) std::exit(1);
  }
  while (run->state() == sync::v1::Run::RUNNING) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    grpc::ClientContext ctx;
    sync::v1::GetRunRequest req;
    req.set_name(run->name());
    if (!stub.GetRun(&ctx, req, run).ok()) std::exit(1);
  }
  if (run->state() != sync::v1::Run::SUCCEEDED) {
    std::fprintf(stderr, "run failed: %s\n", run->error().c_str());
    std::exit(1);
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A finished run's own duration, from its start and end as the service recorded them (the
// client's view adds StartRun and the 20 ms polling of GetRun).
double RunSeconds(const sync::v1::Run& run) {
  auto at = [](const google::protobuf::Timestamp& t) { return t.seconds() + t.nanos() / 1e9; };
  return at(run.end_time()) - at(run.start_time());
}

// Seconds to stream the file to ImportVenues, and its report.
double TimeImport(venues::v1::VenueService::Stub& stub, const std::string& file,
                  venues::v1::ImportVenuesResponse* report) {
  const auto t0 = Clock::now();
  if (!perf::ImportFile(stub, "bench-import", file, report).ok()) std::exit(1);
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string env_rows = Env("PASSERELLE_BENCH_VENUES");
  const int n = std::atoi(!env_rows.empty() ? env_rows.c_str() : argc > 1 ? argv[1] : "25000");
  if (Env("PASSERELLE_TEST_DATABASE_URL").empty() || Env("PASSERELLE_TEST_NATS_URL").empty()) {
    std::fprintf(stderr, "run through deploy/local/passerelle test (needs its servers)\n");
    return 2;
  }
  std::mt19937 rng(42);
  const std::string file = perf::GenerateRegistry(n, rng);
  // 1 % of the rows renamed: every hundredth venue's name gets a suffix.
  std::string changed = file;
  for (int i = 0; i < n; i += 100) {
    const std::string id = absl::StrCat("\"bench-", i, "\"");
    const size_t at = changed.find(id);
    const size_t nom = changed.find("\",\"", changed.find("\",\"", at + 1) + 1) + 3;
    changed.insert(changed.find('"', nom), " (renommé)");
  }
  std::string serving = file;
  std::string etag = "\"file-1\"";  // empty: a server that sends no validator
  std::mutex mu;
  httplib::Server regional;
  regional.Get("/lieux.csv", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    if (!etag.empty()) {
      res.set_header("ETag", etag);
      if (req.get_header_value("If-None-Match") == etag) {
        res.status = 304;
        return;
      }
    }
    res.set_content(serving, "text/csv");
  });
  // The same rows for a source whose profile maps each column (MAPPED_CSV): the profile
  // machinery's cost over the standard's reader.
  regional.Get("/mapped.csv", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(file, "text/csv");
  });
  const int regional_port = regional.bind_to_any_port("127.0.0.1");
  std::thread serve([&] { regional.listen_after_bind(); });

  const std::string schema = passerelle::testing::UniqueName("syncbench");
  const int venues_port = passerelle::testing::FreePort(),
            sync_port = passerelle::testing::FreePort();
  auto venues_process =
      StartService("services/venues/passerelle-venues", schema + "_v", venues_port);
  auto sync_process =
      StartService("services/sync/passerelle-sync", schema + "_s", sync_port,
                   {{"PASSERELLE_VENUES_ADDRESS", absl::StrCat("127.0.0.1:", venues_port)},
                    // the regional stand-in is on loopback, which the destination policy refuses
                    // unless allowed
                    {"PASSERELLE_SYNC_ALLOWED_NETWORKS", "127.0.0.0/8"},
                    {"PASSERELLE_SYNC_ALLOWED_PORTS", absl::StrCat(regional_port)}});
  auto venues_stub = venues::v1::VenueService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", venues_port), grpc::InsecureChannelCredentials()));
  auto sync_stub = sync::v1::SyncService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", sync_port), grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext ctx;
    sync::v1::CreateSourceRequest req;
    req.set_source_id("bench");
    req.mutable_source()->set_url(absl::StrCat("http://127.0.0.1:", regional_port, "/lieux.csv"));
    sync::v1::Source out;
    grpc::Status st = sync_stub->CreateSource(&ctx, req, &out);
    if (!st.ok()) {
      std::fprintf(stderr, "CreateSource failed: %s\n", st.error_message().c_str());
      regional.stop();
      serve.join();
      return 1;
    }
  }

  {
    grpc::ClientContext ctx;
    sync::v1::CreateSourceRequest req;
    req.set_source_id("bench-mapped");
    req.mutable_source()->set_url(absl::StrCat("http://127.0.0.1:", regional_port, "/mapped.csv"));
    sync::v1::SourceProfile* profile = req.mutable_source()->mutable_profile();
    profile->set_format(sync::v1::SourceProfile::MAPPED_CSV);
    profile->set_delimiter(sync::v1::SourceProfile::COMMA);
    for (const auto& f : standard::Standard::V102().fields()) {
      sync::v1::FieldMapping* m = profile->add_mapping();
      m->set_field(f.name);
      m->add_parts()->set_column(f.name);
    }
    sync::v1::Source out;
    grpc::Status st = sync_stub->CreateSource(&ctx, req, &out);
    if (!st.ok()) {
      std::fprintf(stderr, "CreateSource (mapped) failed: %s\n", st.error_message().c_str());
      regional.stop();
      serve.join();
      return 1;
    }
  }

  sync::v1::Run r1, r2, r2b, r3;
  venues::v1::ImportVenuesResponse i1, i2, i3;
  const double s1 = TimeRun(*sync_stub, &r1);
  const double t1 = TimeImport(*venues_stub, file, &i1);
  const double s2 = TimeRun(*sync_stub, &r2);  // conditional request: 304
  const double t2 = TimeImport(*venues_stub, file, &i2);
  {
    std::lock_guard lock(mu);
    etag.clear();  // the same file from a server without validators: its digest tells
  }
  const double s2b = TimeRun(*sync_stub, &r2b);
  {
    std::lock_guard lock(mu);
    serving = changed;
    etag = "\"file-2\"";
  }
  const double s3 = TimeRun(*sync_stub, &r3);
  const double t3 = TimeImport(*venues_stub, changed, &i3);
  sync::v1::Run m1, m2;
  const double ms1 = TimeRun(*sync_stub, &m1, "sources/bench-mapped");
  const double ms2 = TimeRun(*sync_stub, &m2, "sources/bench-mapped");

  std::printf("sync of a %d-row national file (%.1f MB) against ImportVenues of the same file\n", n,
              file.size() / 1e6);
  auto line = [&](const char* what, double sync_s, const sync::v1::Run& r, double import_s,
                  const venues::v1::ImportVenuesResponse& i) {
    std::printf(
        "  %-24s sync %6.2f s (%6.0f rows/s; %d sent, %d skipped)   ImportVenues %6.2f s "
        "(%d created, %d updated, %d unchanged)   sync / import: %.2fx the time\n",
        what, sync_s, n / sync_s, r.created() + r.updated() + r.unchanged(), r.skipped(), import_s,
        i.created(), i.updated(), i.unchanged(), sync_s / import_s);
  };
  line("first load", s1, r1, t1, i1);
  line("same file, HTTP 304", s2, r2, t2, i2);
  line("same file, same digest", s2b, r2b, t2, i2);
  line("1 % of rows changed", s3, r3, t3, i3);
  std::printf(
      "  unchanged source, the run's own start to end: %.1f ms when the server answers 304, "
      "%.1f ms when it sends the same %.1f MB again (seen by the polling client: %.0f and %.0f "
      "ms; ImportVenues of that file: %.0f ms)\n",
      RunSeconds(r2) * 1e3, RunSeconds(r2b) * 1e3, file.size() / 1e6, s2 * 1e3, s2b * 1e3,
      t2 * 1e3);
  const bool ok = r1.created() == n && r2.file_unchanged() == sync::v1::Run::NOT_MODIFIED &&
                  r2b.file_unchanged() == sync::v1::Run::SAME_CONTENT &&
                  r3.updated() == (n + 99) / 100 && r3.skipped() == n - (n + 99) / 100 &&
                  i2.unchanged() == n && i3.updated() == (n + 99) / 100 && m1.created() == n &&
                  m2.file_unchanged() == sync::v1::Run::SAME_CONTENT;
  std::printf("mapped CSV (MAPPED_CSV profile, one mapping per column) of the same file\n");
  std::printf("  %-24s sync %6.2f s (%6.0f rows/s; %d sent)\n", "first load", ms1, n / ms1,
              m1.created() + m1.updated() + m1.unchanged());
  std::printf("  %-24s sync %6.2f s (the run's own %.1f ms; file unchanged: %s)\n",
              "same file again", ms2, RunSeconds(m2) * 1e3,
              sync::v1::Run::FileUnchanged_Name(m2.file_unchanged()).c_str());
  std::printf("  counts as expected: %s\n", ok ? "yes" : "NO");

  sync_process->Signal(SIGTERM);
  venues_process->Signal(SIGTERM);
  sync_process->Wait(std::chrono::seconds(20));
  venues_process->Wait(std::chrono::seconds(20));
  regional.stop();
  serve.join();
  {
    pqxx::connection c(Env("PASSERELLE_TEST_DATABASE_URL"));
    pqxx::nontransaction tx(c);
    tx.exec0("DROP SCHEMA IF EXISTS \"" + schema + "_v\" CASCADE");
    tx.exec0("DROP SCHEMA IF EXISTS \"" + schema + "_s\" CASCADE");
  }
  return ok ? 0 : 1;
}
