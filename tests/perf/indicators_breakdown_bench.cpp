// Benchmark: GetBreakdown over N activity reports (10,000 by default) through passerelle-
// indicators' gRPC API, against the plain SQL formulation of the same question on PostgreSQL
// (the latest revision of every submitted report grouped by the dimension, sums by sex of every
// measure, plus the total), measured in the same run on the same data. Goal: p99 under 20 ms for
// each dimension. Answers are checked on every group against the SQL sums (a published count must
// lie within its noise of them, groups of too few reports be pooled in `others`), so a stub
// cannot pass.
//
//   indicators_breakdown_bench [reports] [calls per dimension]      (default 10000 200)
//
// Needs the test command's servers (PASSERELLE_TEST_DATABASE_URL, PASSERELLE_TEST_NATS_URL):
//   deploy/local/passerelle test -R indicators_breakdown_bench -V     (short run: 2,000 reports,
//                                                                      goal not enforced)
//   PASSERELLE_BENCH_FULL=1 deploy/local/passerelle test -R indicators_breakdown_bench -V
//                                                                     (full run: 10,000 reports)
// The goal is a p99: on a machine busy with other work (load above its cores) scheduling delays
// alone exceed it; the ratio to the SQL, measured in the same run, is the figure to compare.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "libs/testing/testing.hpp"
#include "passerelle/indicators/v1/indicators.grpc.pb.h"
#include "tests/perf/perf_support.hpp"

namespace {

using namespace passerelle;
namespace v1 = passerelle::indicators::v1;
using Clock = std::chrono::steady_clock;

using passerelle::perf::Env;

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// Reports made in SQL, deterministic: 30 organisations, 40 items (one per report, two for one in
// five: those count in the row `multiple`), 20 quartiers and 8 QPV (one of each per report),
// periods starting over one year (a breakdown is a year's table); one report in ten corrected
// (its second revision counts), one in twenty withdrawn (counts nowhere).
void Seed(pqxx::connection& c, const std::string& schema, int n) {
  pqxx::work tx(c);
  tx.exec0("SET LOCAL search_path TO \"" + schema + "\"");
  const std::string figures =
      "ARRAY[(i * 13) % 40 + rev, (i * 7) % 30, i % 3, i % 5], "
      "ARRAY[(i * 13) % 40 / 2, (i * 7) % 30 / 2, 0, 0], "
      "ARRAY[(i * 13) % 40 / 3, (i * 7) % 30 / 3, 0, 0], "
      "ARRAY[(i * 13) % 40 / 2, (i * 7) % 30 / 2, i % 3, 0], "
      "ARRAY[(i * 13) % 40 / 5, (i * 7) % 30 / 4, 0, 0], "
      "ARRAY[(i * 13) % 40 / 4, (i * 7) % 30 / 6, 0, 0]";
  tx.exec_params(
      "INSERT INTO report_reports (id, organisation, revision, withdrawn, period_start, "
      "period_end, create_time, update_time) SELECT md5(i::text)::uuid, 'org-' || (i % 30), "
      "CASE WHEN i % 10 = 0 OR i % 20 = 1 THEN 2 ELSE 1 END, i % 20 = 1, "
      "date '2025-01-01' + (i % 365), date '2025-01-01' + (i % 365) + 60, now(), now() "
      "FROM generate_series(1, $1) i",
      n);
  const std::string revision =
      "INSERT INTO report_revisions (report_id, revision, withdrawn, organisation, "
      "organisation_label, period_start, period_end, items, areas, reached, respondents, "
      "satisfied, completed, dropped, positive, body, write_time) SELECT md5(i::text)::uuid, rev, "
      "rev = 2 AND i % 20 = 1, 'org-' || (i % 30), 'Organisation ' || (i % 30), "
      "date '2025-01-01' + (i % 365), date '2025-01-01' + (i % 365) + 60, "
      "CASE WHEN i % 5 = 0 THEN ARRAY['items/it-' || (i % 40), 'items/it-' || ((i * 7 + 1) % 40)] "
      "ELSE ARRAY['items/it-' || (i % 40)] END, "
      "ARRAY['quartiers:q' || (i % 20), 'qpv:p' || (i % 8)], " +
      figures + ", '\\x'::bytea, now() FROM generate_series(1, $1) i, ";
  tx.exec_params(revision + "(SELECT 1 AS rev) r", n);
  tx.exec_params(revision + "(SELECT 2 AS rev) r WHERE i % 10 = 0 OR i % 20 = 1", n);
  tx.commit();
}

struct Dimension {
  const char* name;
  v1::GetBreakdownRequest request;
  // The group keys of a latest revision, as SQL (one row per report and key).
  std::string sql_key;
};

// Breakdowns are tables of one year: the reports whose period starts in it.
constexpr int kYear = 2025;
constexpr const char* kInYear = "extract(year FROM v.period_start) = 2025";

std::string ReferenceSql(const Dimension& d) {
  const std::string measures =
      "count(*), sum(v.reached[1]), sum(v.reached[2]), sum(v.reached[3]), sum(v.reached[4]), "
      "sum(v.respondents[1]), sum(v.respondents[2]), sum(v.satisfied[1]), sum(v.satisfied[2]), "
      "sum(v.completed[1]), sum(v.completed[2]), sum(v.dropped[1]), sum(v.dropped[2]), "
      "sum(v.positive[1]), sum(v.positive[2])";
  const std::string latest =
      "report_reports r JOIN report_revisions v ON v.report_id = r.id AND v.revision = r.revision ";
  return absl::StrCat("SELECT k, ", measures, " FROM ", latest, d.sql_key,
                      " WHERE NOT r.withdrawn AND ", kInYear,
                      " GROUP BY k UNION ALL SELECT 'total', ", measures, " FROM ", latest,
                      "WHERE NOT r.withdrawn AND ", kInYear, " ORDER BY 1");
}

}  // namespace

int main(int argc, char** argv) {
  const bool full_env = Env("PASSERELLE_BENCH_FULL") == "1";
  const int n = full_env ? 10000 : argc > 1 ? std::atoi(argv[1]) : 10000;
  const int calls = full_env ? 200 : argc > 2 ? std::atoi(argv[2]) : 200;
  const bool full = n >= 10000 && calls >= 200;
  if (Env("PASSERELLE_TEST_DATABASE_URL").empty() || Env("PASSERELLE_TEST_NATS_URL").empty()) {
    std::fprintf(stderr, "run through deploy/local/passerelle test (needs its servers)\n");
    return 2;
  }
  const std::string schema = passerelle::testing::UniqueName("indbench");
  const int port = passerelle::testing::FreePort();
  auto process = passerelle::perf::StartService(
      "services/indicators/passerelle-indicators", schema, port,
      {// No venues service: area names are not asked of anyone (the codes stand in).
       {"PASSERELLE_VENUES_ADDRESS", "127.0.0.1:1"},
       // Every call reads the store's changes: a write is seen by the next call.
       {"PASSERELLE_INDICATORS_BREAKDOWN_MAX_AGE", "0s"},
       // Every revision at once, not at the next daily release.
       {"PASSERELLE_INDICATORS_RELEASE_INTERVAL", "0s"}});
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto stub = v1::ReportService::NewStub(channel);
  pqxx::connection db(Env("PASSERELLE_TEST_DATABASE_URL"));
  auto t0 = Clock::now();
  Seed(db, schema, n);
  std::printf("indicators_breakdown_bench: %d reports seeded in %.1f s, %d calls per dimension\n",
              n, std::chrono::duration<double>(Clock::now() - t0).count(), calls);

  std::vector<Dimension> dimensions(4);
  dimensions[0].name = "AREA (quartiers)";
  dimensions[0].request.set_dimension(v1::AREA);
  dimensions[0].request.set_layer("quartiers");
  dimensions[0].sql_key =
      "CROSS JOIN LATERAL (SELECT CASE count(DISTINCT a) WHEN 0 THEN 'none' WHEN 1 THEN "
      "'areaLayers/quartiers/areas/' || substr(min(a), 11) ELSE 'multiple' END AS k "
      "FROM unnest(v.areas) a WHERE a LIKE 'quartiers:%') g";
  dimensions[1].name = "ITEM";
  dimensions[1].request.set_dimension(v1::ITEM);
  dimensions[1].sql_key =
      "CROSS JOIN LATERAL (SELECT CASE count(DISTINCT i) WHEN 0 THEN 'none' WHEN 1 THEN min(i) "
      "ELSE 'multiple' END AS k FROM unnest(v.items) i) g";
  dimensions[2].name = "ORGANISATION";
  dimensions[2].request.set_dimension(v1::ORGANISATION);
  dimensions[2].sql_key = "CROSS JOIN LATERAL (SELECT v.organisation AS k) g";
  dimensions[3].name = "PERIOD (quarter)";
  dimensions[3].request.set_dimension(v1::PERIOD);
  for (Dimension& d : dimensions) d.request.set_year(kYear);
  dimensions[3].sql_key =
      "CROSS JOIN LATERAL (SELECT to_char(v.period_start, 'YYYY-\"Q\"Q') AS k) g";

  bool ok = true;
  int revision_counter = 1000;
  for (const Dimension& d : dimensions) {
    // The reference, which also checks the answers.
    const std::string sql = ReferenceSql(d);
    std::map<std::string, std::pair<int64_t, int64_t>> expected;  // key → (reports, women)
    std::vector<double> sql_ms;
    for (int i = 0; i < calls; ++i) {
      pqxx::work tx(db);
      tx.exec0("SET LOCAL search_path TO \"" + schema + "\"");
      const auto start = Clock::now();
      pqxx::result rows = tx.exec(sql);
      sql_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (i == 0) {
        for (const auto& row : rows) {
          expected[row[0].as<std::string>()] = {row[1].as<int64_t>(), row[2].as<int64_t>()};
        }
      }
    }
    std::vector<double> ms;
    v1::Breakdown b;
    for (int i = 0; i < calls + 1; ++i) {
      grpc::ClientContext ctx;
      b.Clear();
      const auto start = Clock::now();
      grpc::Status st = stub->GetBreakdown(&ctx, d.request, &b);
      const double elapsed =
          std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (!st.ok()) {
        std::fprintf(stderr, "GetBreakdown failed: %s\n", st.error_message().c_str());
        return 1;
      }
      if (i > 0) ms.push_back(elapsed);  // the first call loads the reports
    }
    // Every group and the total: same reports as the SQL, published counts within the noise
    // (± noise_bound); the groups the SQL has and the answer does not are pooled in `others`.
    std::map<std::string, std::pair<int64_t, int64_t>> unseen = expected;
    const v1::BreakdownRow* others = nullptr;
    auto check = [&](const v1::BreakdownRow& row) {
      if (row.key() == "others") {
        others = &row;
        return;
      }
      auto it = expected.find(row.key());
      if (it == expected.end() || it->second.first != row.reports() ||
          (row.women().has_value() &&
           std::abs(row.women().value() - it->second.second) > b.noise_bound())) {
        std::fprintf(stderr, "%s: group %s differs from SQL\n", d.name, row.key().c_str());
        ok = false;
      }
      unseen.erase(row.key());
    };
    for (const auto& row : b.rows()) check(row);
    check(b.total());
    int64_t pooled_reports = 0, pooled_women = 0;
    for (const auto& [key, counts] : unseen) {
      pooled_reports += counts.first;
      pooled_women += counts.second;
    }
    if (!unseen.empty() && (others == nullptr || others->reports() != pooled_reports ||
                            (others->women().has_value() &&
                             std::abs(others->women().value() - pooled_women) > b.noise_bound()))) {
      std::fprintf(stderr, "%s: %zu groups of the SQL are not pooled in `others`\n", d.name,
                   unseen.size());
      ok = false;
    }
    // After a write: before each call a new revision of one report (written in SQL, not
    // timed), so the breakdown is computed again rather than served from the kept answer. The
    // goal is on these.
    std::vector<double> fresh_ms;
    for (int i = 0; i < calls; ++i) {
      {
        pqxx::work tx(db);
        tx.exec0("SET LOCAL search_path TO \"" + schema + "\"");
        tx.exec_params(
            "INSERT INTO report_revisions (report_id, revision, withdrawn, organisation, "
            "organisation_label, period_start, period_end, items, areas, reached, respondents, "
            "satisfied, completed, dropped, positive, body, write_time) SELECT report_id, $1, "
            "withdrawn, organisation, organisation_label, period_start, period_end, items, areas, "
            "ARRAY[reached[1] + $1 % 2, reached[2], reached[3], reached[4]], respondents, "
            "satisfied, completed, dropped, positive, body, now() FROM report_revisions WHERE "
            "report_id = md5('7')::uuid AND revision = 1",
            ++revision_counter);
        tx.commit();
      }
      grpc::ClientContext ctx;
      v1::Breakdown fresh;
      const auto start = Clock::now();
      grpc::Status st = stub->GetBreakdown(&ctx, d.request, &fresh);
      fresh_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (!st.ok()) {
        std::fprintf(stderr, "GetBreakdown failed: %s\n", st.error_message().c_str());
        return 1;
      }
    }
    const double p50 = Percentile(fresh_ms, 0.5), p99 = Percentile(fresh_ms, 0.99);
    const double kept_p99 = Percentile(ms, 0.99);
    const double sql_p50 = Percentile(sql_ms, 0.5), sql_p99 = Percentile(sql_ms, 0.99);
    std::printf(
        "  %-18s %3d groups, %3d suppressed: GetBreakdown after a write p50 %6.2f ms p99 %6.2f ms "
        "(kept answer p99 %5.2f ms) | plain SQL p50 %6.2f ms p99 %6.2f ms | SQL/GetBreakdown p99 "
        "%.1fx%s\n",
        d.name, b.rows_size(), b.suppressed_cells(), p50, p99, kept_p99, sql_p50, sql_p99,
        sql_p99 / p99, p99 < 20.0 ? "" : "  (goal 20 ms missed)");
    if (full && p99 >= 20.0) ok = false;
  }
  process->Signal(SIGTERM);
  process->Wait(std::chrono::seconds(20));
  {
    pqxx::work tx(db);
    tx.exec0("DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE");
    tx.commit();
  }
  if (!ok) std::printf("indicators_breakdown_bench: FAILED\n");
  return ok ? 0 : 1;
}
