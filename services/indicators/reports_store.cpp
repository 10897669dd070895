// The reports domain's storage in PostgreSQL.
#include "services/indicators/reports_store.hpp"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/db/params.hpp"
#include "libs/db/transaction.hpp"
#include "libs/outbox/outbox.hpp"
#include "nlohmann/json.hpp"
#include "services/indicators/reports_validation.hpp"

namespace passerelle::indicators::reports {
namespace {

// Taken by every transaction that writes a revision, so `seq` values commit in order (the
// breakdown cache reads `seq > last seen` and must not skip one committed late). Reports are
// written a few times a day per organisation: the serialisation costs nothing.
constexpr int64_t kRevisionLock = 0x696e642d72657073;  // "ind-reps"

std::string IntArray(const BySex& v) { return absl::StrCat("{", absl::StrJoin(v, ","), "}"); }

// `{1,2,3,4}` as PostgreSQL writes an int[].
BySex ParseIntArray(std::string_view text) {
  BySex out{};
  if (text.size() < 2) return out;
  text.remove_prefix(1);
  text.remove_suffix(1);
  size_t i = 0;
  for (absl::string_view part : absl::StrSplit(absl::string_view(text.data(), text.size()), ',')) {
    if (i >= out.size()) break;
    int64_t v = 0;
    if (absl::SimpleAtoi(part, &v)) out[i] = v;
    ++i;
  }
  return out;
}

std::vector<std::string> ParseTextArrayJson(const std::string& json) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

std::string Serialize(const google::protobuf::Message& m) {
  std::string bytes;
  m.SerializeToString(&bytes);
  return db::ToHex(bytes);
}

template <typename M>
absl::StatusOr<M> Parse(const pqxx::field& hex) {
  std::string bytes;
  M m;
  if (!db::FromHex(hex.as<std::string>(), &bytes) || !m.ParseFromString(bytes)) {
    return absl::DataLossError("un rapport enregistré est illisible");
  }
  return m;
}

void InsertRevision(pqxx::work& tx, const v1::ActivityReport& r, const std::string& label,
                    absl::Time now) {
  const Figures f = FiguresOf(IdOf(r.name()), label, r);
  tx.exec_params(
      "INSERT INTO report_revisions (report_id, revision, withdrawn, organisation, "
      "organisation_label, period_start, period_end, items, areas, reached, respondents, "
      "satisfied, completed, dropped, positive, body, write_time, qpv) VALUES ($1::uuid, $2, $3, "
      "$4, $5, $6::date, $7::date, $8::text[], $9::text[], $10::int[], $11::int[], $12::int[], "
      "$13::int[], $14::int[], $15::int[], decode($16, 'hex'), $17::timestamptz, $18::int[])",
      f.id, r.revision(), r.state() == v1::ActivityReport::WITHDRAWN, r.organisation(), label,
      r.period_start(), r.period_end(), db::TextArray(f.items), db::TextArray(f.areas),
      IntArray(f.reached), IntArray(f.respondents), IntArray(f.satisfied), IntArray(f.completed),
      IntArray(f.dropped), IntArray(f.positive), Serialize(r), db::Timestamp(now), IntArray(f.qpv));
}

// Remembers a request id inside the write's transaction. When the same id is already there
// (a concurrent retry committed first), sets `*existing` to what it created and returns
// ALREADY_EXISTS so the caller rolls back and answers with the first result.
absl::Status Remember(pqxx::work& tx, const RememberedRequest& request, const std::string& name,
                      absl::Time now, std::string* existing) {
  if (request.request_id.empty()) return absl::OkStatus();
  pqxx::result inserted = tx.exec_params(
      "INSERT INTO report_requests (scope, request_id, digest, resource, create_time) "
      "VALUES ($1, $2::uuid, $3, $4, $5::timestamptz) ON CONFLICT DO NOTHING RETURNING 1",
      request.scope, request.request_id, request.digest, name, db::Timestamp(now));
  if (!inserted.empty()) return absl::OkStatus();
  pqxx::result r = tx.exec_params(
      "SELECT digest, resource FROM report_requests WHERE scope = $1 AND request_id = $2::uuid",
      request.scope, request.request_id);
  if (r.empty())
    return absl::AbortedError("identifiant de requête perdu pendant l'écriture ; réessayez");
  if (r[0][0].as<std::string>() != request.digest) {
    return api::InvalidArgument(
        "identifiant de requête déjà utilisé",
        {{"request_id", "[reused] cet identifiant a déjà servi pour une autre demande"}});
  }
  *existing = r[0][1].as<std::string>();
  return absl::AlreadyExistsError("request already served");
}

// A write gives up at the caller's deadline (statement_timeout), so nothing it does is committed
// long after the caller stopped waiting; the request id settles a write cut at commit.
db::TxOptions WriteOptions(std::chrono::milliseconds budget) {
  return {.statement_timeout = budget};
}

}  // namespace

ReportStore::ReportStore(db::Pool& pool, events::Topology topology, const clocks::Clock& clock,
                         std::function<void()> on_commit)
    : pool_(pool),
      topology_(std::move(topology)),
      clock_(clock),
      on_commit_(std::move(on_commit)) {}

absl::StatusOr<std::optional<std::string>> ReportStore::FindRequest(
    const RememberedRequest& request) {
  std::optional<std::string> out;
  if (request.request_id.empty()) return out;
  absl::Status s = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    pqxx::result r = tx.exec_params(
        "SELECT digest, resource FROM report_requests WHERE scope = $1 AND request_id = $2::uuid",
        request.scope, request.request_id);
    if (r.empty()) return absl::OkStatus();
    if (r[0][0].as<std::string>() != request.digest) {
      return api::InvalidArgument(
          "identifiant de requête déjà utilisé",
          {{"request_id", "[reused] cet identifiant a déjà servi pour une autre demande"}});
    }
    out = r[0][1].as<std::string>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> ReportStore::InsertReport(const v1::ActivityReport& report,
                                                      const std::string& organisation_label,
                                                      const RememberedRequest& request,
                                                      const events::v1::Event& event,
                                                      std::chrono::milliseconds budget) {
  std::string existing;
  const absl::Time now = clock_.Now();
  absl::Status s = db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        existing.clear();
        tx.exec_params("SELECT pg_advisory_xact_lock($1)", kRevisionLock);
        if (absl::Status r = Remember(tx, request, report.name(), now, &existing); !r.ok())
          return r;
        tx.exec_params(
            "INSERT INTO report_reports (id, organisation, revision, withdrawn, period_start, "
            "period_end, create_time, update_time) VALUES ($1::uuid, $2, 1, false, $3::date, "
            "$4::date, $5::timestamptz, $5::timestamptz)",
            IdOf(report.name()), report.organisation(), report.period_start(), report.period_end(),
            db::Timestamp(absl::FromUnixMicros(report.create_time().seconds() * 1000000 +
                                               report.create_time().nanos() / 1000)));
        InsertRevision(tx, report, organisation_label, now);
        outbox::Append(tx, topology_, event);
        return absl::OkStatus();
      },
      WriteOptions(budget));
  if (s.code() == absl::StatusCode::kAlreadyExists && !existing.empty()) return existing;
  if (!s.ok()) return s;
  if (on_commit_) on_commit_();
  return report.name();
}

absl::StatusOr<v1::ActivityReport> ReportStore::Get(const std::string& id, int revision) {
  absl::StatusOr<v1::ActivityReport> out = absl::NotFoundError("");
  absl::Status s = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    pqxx::result r = tx.exec_params(
        "SELECT encode(v.body, 'hex') FROM report_revisions v JOIN report_reports r "
        "ON r.id = v.report_id WHERE v.report_id = $1::uuid AND v.revision = "
        "CASE WHEN $2 = 0 THEN r.revision ELSE $2 END",
        id, revision);
    if (r.empty()) {
      out = absl::NotFoundError(revision == 0 ? "rapport introuvable"
                                              : "rapport ou révision introuvable");
    } else {
      out = Parse<v1::ActivityReport>(r[0][0]);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

int RevisionOf(const std::string& name) {
  const size_t at = name.rfind('@');
  int revision = 0;
  if (at == std::string::npos || !absl::SimpleAtoi(name.substr(at + 1), &revision)) return 0;
  return revision;
}

absl::StatusOr<v1::ActivityReport> ReportStore::Revise(
    const std::string& id,
    const std::function<absl::StatusOr<v1::ActivityReport>(const v1::ActivityReport&)>& make,
    const std::string& organisation_label,
    const std::function<events::v1::Event(const v1::ActivityReport&)>& event_of,
    const RememberedRequest& request, std::chrono::milliseconds budget) {
  v1::ActivityReport written;
  std::string existing;
  const absl::Time now = clock_.Now();
  absl::Status s = db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        existing.clear();
        // Every revision write holds this lock: a retry waits for the first write to commit and
        // then finds its request id.
        tx.exec_params("SELECT pg_advisory_xact_lock($1)", kRevisionLock);
        if (!request.request_id.empty()) {
          pqxx::result seen = tx.exec_params(
              "SELECT digest, resource FROM report_requests WHERE scope = $1 AND "
              "request_id = $2::uuid",
              request.scope, request.request_id);
          if (!seen.empty()) {
            if (seen[0][0].as<std::string>() != request.digest) {
              return api::InvalidArgument(
                  "identifiant de requête déjà utilisé",
                  {{"request_id", "[reused] cet identifiant a déjà servi pour une autre demande"}});
            }
            existing = seen[0][1].as<std::string>();
            return absl::AlreadyExistsError("request already served");
          }
        }
        pqxx::result r = tx.exec_params(
            "SELECT encode(v.body, 'hex'), v.organisation_label FROM report_reports r JOIN "
            "report_revisions v ON v.report_id = r.id AND v.revision = r.revision "
            "WHERE r.id = $1::uuid FOR UPDATE OF r",
            id);
        if (r.empty()) return absl::NotFoundError("rapport introuvable");
        auto latest = Parse<v1::ActivityReport>(r[0][0]);
        if (!latest.ok()) return latest.status();
        auto next = make(*latest);
        if (!next.ok()) return next.status();
        written = *std::move(next);
        tx.exec_params(
            "UPDATE report_reports SET revision = $2, withdrawn = $3, period_start = $4::date, "
            "period_end = $5::date, update_time = $6::timestamptz WHERE id = $1::uuid",
            id, written.revision(), written.state() == v1::ActivityReport::WITHDRAWN,
            written.period_start(), written.period_end(), db::Timestamp(now));
        InsertRevision(tx, written,
                       organisation_label.empty() ? r[0][1].as<std::string>() : organisation_label,
                       now);
        outbox::Append(tx, topology_, event_of(written));
        return Remember(tx, request, absl::StrCat(written.name(), "@", written.revision()), now,
                        &existing);
      },
      WriteOptions(budget));
  if (s.code() == absl::StatusCode::kAlreadyExists && !existing.empty()) {
    return Get(IdOf(existing), RevisionOf(existing));
  }
  if (!s.ok()) return s;
  if (on_commit_) on_commit_();
  return written;
}

absl::StatusOr<ReportPage> ReportStore::List(const std::string& organisation, bool show_withdrawn,
                                             const std::string& cursor, int limit) {
  std::string after_day, after_id;
  if (!cursor.empty()) {
    const size_t bar = cursor.find('|');
    if (bar == std::string::npos || !ParseDay(cursor.substr(0, bar)) ||
        !api::IsCanonicalUuid(cursor.substr(bar + 1))) {
      return absl::InternalError("page cursor does not parse");  // sealed: only ours reach here
    }
    after_day = cursor.substr(0, bar);
    after_id = cursor.substr(bar + 1);
  }
  ReportPage page;
  absl::Status s = db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        page = ReportPage();
        pqxx::result rows = tx.exec_params(
            "SELECT encode(v.body, 'hex'), r.period_start::text, r.id::text FROM report_reports r "
            "JOIN report_revisions v ON v.report_id = r.id AND v.revision = r.revision "
            "WHERE ($1 = '' OR r.organisation = $1) AND ($2 OR NOT r.withdrawn) AND "
            "($3 = '' OR (r.period_start, r.id) < (CAST(NULLIF($3, '') AS date), "
            "CAST(NULLIF($4, '') AS uuid))) ORDER BY r.period_start DESC, r.id DESC LIMIT $5",
            organisation, show_withdrawn, after_day, after_id, limit + 1);
        for (size_t i = 0; i < rows.size() && static_cast<int>(i) < limit; ++i) {
          auto report = Parse<v1::ActivityReport>(rows[i][0]);
          if (!report.ok()) return report.status();
          page.reports.push_back(*std::move(report));
        }
        if (static_cast<int>(rows.size()) > limit) {
          page.next_cursor = absl::StrCat(rows[limit - 1][1].as<std::string>(), "|",
                                          rows[limit - 1][2].as<std::string>());
        }
        pqxx::result count = tx.exec_params(
            "SELECT count(*) FROM report_reports r WHERE ($1 = '' OR r.organisation = $1) AND "
            "($2 OR NOT r.withdrawn)",
            organisation, show_withdrawn);
        page.total_size = count[0][0].as<int>();
        return absl::OkStatus();
      },
      {.isolation = db::Isolation::kRepeatableRead});
  if (!s.ok()) return s;
  return page;
}

absl::StatusOr<std::vector<Change>> ReportStore::ChangesSince(int64_t seq) {
  // Called on every breakdown: one statement, one round trip (no BEGIN/COMMIT around it).
  auto lease = pool_.Acquire();
  if (!lease.ok()) return lease.status();
  std::vector<Change> out;
  try {
    pqxx::nontransaction tx(**lease);
    pqxx::result rows = tx.exec_params(
        "SELECT v.seq, v.report_id::text, v.withdrawn, v.organisation, v.organisation_label, "
        "v.period_start::text, v.period_end::text, array_to_json(v.items)::text, "
        "array_to_json(v.areas)::text, v.reached::text, v.respondents::text, "
        "v.satisfied::text, v.completed::text, v.dropped::text, v.positive::text, "
        "r.record_key, (extract(epoch FROM v.write_time) * 1000000)::bigint, v.qpv::text, "
        "CASE WHEN v.qpv IS NULL THEN encode(v.body, 'hex') END "
        "FROM report_revisions v JOIN report_reports r ON r.id = v.report_id "
        "WHERE v.seq > $1 ORDER BY v.seq",
        seq);
    out.reserve(rows.size());
    for (const auto& row : rows) {
      Change c;
      c.seq = row[0].as<int64_t>();
      c.withdrawn = row[2].as<bool>();
      Figures& f = c.figures;
      f.id = row[1].as<std::string>();
      f.organisation = row[3].as<std::string>();
      f.organisation_label = row[4].as<std::string>();
      f.period_start = ParseDay(row[5].as<std::string>()).value_or(absl::CivilDay());
      f.period_end = ParseDay(row[6].as<std::string>()).value_or(absl::CivilDay());
      f.items = ParseTextArrayJson(row[7].as<std::string>());
      f.areas = ParseTextArrayJson(row[8].as<std::string>());
      f.reached = ParseIntArray(row[9].as<std::string>());
      f.respondents = ParseIntArray(row[10].as<std::string>());
      f.satisfied = ParseIntArray(row[11].as<std::string>());
      f.completed = ParseIntArray(row[12].as<std::string>());
      f.dropped = ParseIntArray(row[13].as<std::string>());
      f.positive = ParseIntArray(row[14].as<std::string>());
      f.record_key = static_cast<uint64_t>(row[15].as<int64_t>());
      c.write_time = absl::FromUnixMicros(row[16].as<int64_t>());
      if (!row[17].is_null()) {
        f.qpv = ParseIntArray(row[17].as<std::string>());
      } else {
        // Written before the column: its body holds the counts.
        auto body = Parse<v1::ActivityReport>(row[18]);
        if (!body.ok()) return body.status();
        f.qpv = FiguresOf(f.id, f.organisation_label, *body).qpv;
      }
      out.push_back(std::move(c));
    }
  } catch (const pqxx::broken_connection& e) {
    lease->Discard();
    return absl::UnavailableError(absl::StrCat("connection lost: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("reading report revisions: ", e.what()));
  }
  return out;
}

absl::StatusOr<std::string> ReportStore::InsertAssessment(const v1::EqualityAssessment& a,
                                                          const RememberedRequest& request,
                                                          std::chrono::milliseconds budget) {
  std::string existing;
  const absl::Time now = clock_.Now();
  absl::Status s = db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        existing.clear();
        if (absl::Status r = Remember(tx, request, a.name(), now, &existing); !r.ok()) return r;
        tx.exec_params(
            "INSERT INTO report_equality_assessments (id, organisation, action, assess_date, body, "
            "create_time) VALUES ($1::uuid, $2, $3, $4::date, decode($5, 'hex'), $6::timestamptz)",
            IdOf(a.name()), a.organisation(), a.action(), a.assess_date(), Serialize(a),
            db::Timestamp(absl::FromUnixMicros(a.create_time().seconds() * 1000000 +
                                               a.create_time().nanos() / 1000)));
        return absl::OkStatus();
      },
      WriteOptions(budget));
  if (s.code() == absl::StatusCode::kAlreadyExists && !existing.empty()) return existing;
  if (!s.ok()) return s;
  return a.name();
}

absl::StatusOr<v1::EqualityAssessment> ReportStore::GetAssessment(const std::string& id) {
  absl::StatusOr<v1::EqualityAssessment> out = absl::NotFoundError("");
  absl::Status s = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    pqxx::result r = tx.exec_params(
        "SELECT encode(body, 'hex') FROM report_equality_assessments WHERE id = $1::uuid", id);
    out =
        r.empty()
            ? absl::StatusOr<v1::EqualityAssessment>(absl::NotFoundError("évaluation introuvable"))
            : Parse<v1::EqualityAssessment>(r[0][0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<v1::EqualityAssessment>> ReportStore::LatestAssessments(
    const std::string& organisation) {
  std::vector<v1::EqualityAssessment> out;
  absl::Status s = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    pqxx::result rows = tx.exec_params(
        "SELECT encode(body, 'hex') FROM (SELECT body, row_number() OVER (PARTITION BY "
        "organisation, action ORDER BY assess_date DESC, create_time DESC, id DESC) AS n "
        "FROM report_equality_assessments WHERE $1 = '' OR organisation = $1) s WHERE n <= 2",
        organisation);
    for (const auto& row : rows) {
      auto a = Parse<v1::EqualityAssessment>(row[0]);
      if (!a.ok()) return a.status();
      out.push_back(*std::move(a));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace passerelle::indicators::reports
