// The sync's storage in PostgreSQL.
#include "services/sync/store.hpp"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "libs/api/status.hpp"
#include "libs/db/params.hpp"
#include "libs/db/transaction.hpp"
#include "libs/outbox/outbox.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::sync {
namespace {

// Times that decide (a run's start, heartbeat and end: what is due, what is dead) come from the
// Syncer's clock as `$n::timestamptz` parameters, never from the database's now(), so a test's
// clock moves them. Times that only record when a row changed (a source's create_time, a
// credential's or fingerprint's update_time) keep now(): nothing compares them.

// The credentials live in their own table; the source's row is `sources` (not aliased).
constexpr char kSourceColumns[] =
    "sources.source_id, display_name, url, refresh_interval_seconds, max_withdraw_fraction, "
    "extract(epoch FROM sources.create_time), (SELECT authorization_header FROM "
    "source_credentials c WHERE c.source_id = sources.source_id), sources.profile::text";
constexpr char kRunColumns[] =
    "run_id, source_id, state, trigger, extract(epoch FROM start_time), "
    "extract(epoch FROM end_time), error, file_bytes, rows, skipped, created, updated, unchanged, "
    "rejected, withdrawn, filtered, file_unchanged";

// A profile as stored: the API message's JSON (field names as in the proto). A profile that no
// longer reads (written by a newer version) keeps its known fields.
v1::SourceProfile ProfileFromJson(const std::string& json) {
  v1::SourceProfile p;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  (void)google::protobuf::util::JsonStringToMessage(json, &p, options);
  return p;
}

std::string ProfileToJson(const v1::SourceProfile& p) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(p, &json, options).ok()) return "{}";
  return json;
}

SourceRecord SourceFromRow(const pqxx::row& r) {
  return {.id = r[0].as<std::string>(),
          .display_name = r[1].as<std::string>(),
          .url = r[2].as<std::string>(),
          .refresh_seconds = r[3].as<int64_t>(),
          .max_withdraw_fraction = r[4].as<double>(),
          .create_time = db::FromEpoch(r[5]),
          .authorization = r[6].is_null() ? std::string() : r[6].as<std::string>(),
          .has_authorization = !r[6].is_null(),
          .profile = ProfileFromJson(r[7].as<std::string>())};
}

// Stores or clears a source's credentials (no row: none).
void SaveCredentials(pqxx::work& tx, const SourceRecord& s) {
  if (s.authorization.empty()) {
    tx.exec_params("DELETE FROM source_credentials WHERE source_id = $1", s.id);
  } else {
    tx.exec_params(
        "INSERT INTO source_credentials (source_id, authorization_header) VALUES ($1, $2) "
        "ON CONFLICT (source_id) DO UPDATE SET authorization_header = "
        "excluded.authorization_header, "
        "update_time = now()",
        s.id, s.authorization);
  }
}

RunRecord RunFromRow(const pqxx::row& r) {
  RunRecord run;
  run.id = r[0].as<int64_t>();
  run.source_id = r[1].as<std::string>();
  // The table's CHECK constraints keep these words known.
  run.state = ParseRunState(r[2].as<std::string>()).value_or(RunState::kFailed);
  run.trigger = ParseRunTrigger(r[3].as<std::string>()).value_or(RunTrigger::kManual);
  run.start_time = db::FromEpoch(r[4]);
  if (!r[5].is_null()) run.end_time = db::FromEpoch(r[5]);
  run.error = r[6].as<std::string>();
  run.file_bytes = r[7].as<int64_t>();
  run.rows = r[8].as<int>();
  run.skipped = r[9].as<int>();
  run.created = r[10].as<int>();
  run.updated = r[11].as<int>();
  run.unchanged = r[12].as<int>();
  run.rejected = r[13].as<int>();
  run.withdrawn = r[14].as<int>();
  run.filtered = r[15].as<int>();
  // The table's CHECK constraint keeps this word known.
  run.file_unchanged = ParseFileUnchanged(r[16].as<std::string>()).value_or(FileUnchanged::kNo);
  return run;
}

// The counts of a run as SQL parameters, in kRunColumns' order from file_bytes, and the time
// it was last alive.
constexpr char kSaveCounts[] =
    "file_bytes = $2, rows = $3, skipped = $4, created = $5, updated = $6, unchanged = $7, "
    "rejected = $8, withdrawn = $9, heartbeat_time = $10::timestamptz, filtered = $11";

pqxx::result SaveCounts(pqxx::work& tx, const RunRecord& run, absl::Time now) {
  return tx.exec_params(
      absl::StrCat("UPDATE runs SET ", kSaveCounts,
                   " WHERE run_id = $1 AND state = 'running' RETURNING ", kRunColumns),
      run.id, run.file_bytes, run.rows, run.skipped, run.created, run.updated, run.unchanged,
      run.rejected, run.withdrawn, db::Timestamp(now), run.filtered);
}

// Ends a running run at its end_time; no row when it had already ended.
pqxx::result EndRun(pqxx::work& tx, const RunRecord& run, absl::Time end) {
  return tx.exec_params(
      absl::StrCat("UPDATE runs SET ", kSaveCounts,
                   ", state = $12, error = $13, end_time = $10::timestamptz, file_unchanged = $14 "
                   "WHERE run_id = $1 AND state = 'running' RETURNING ",
                   kRunColumns),
      run.id, run.file_bytes, run.rows, run.skipped, run.created, run.updated, run.unchanged,
      run.rejected, run.withdrawn, db::Timestamp(end), run.filtered,
      std::string(RunStateName(run.state)), run.error,
      std::string(FileUnchangedName(run.file_unchanged)));
}

}  // namespace

absl::StatusOr<SourceRecord> PgStore::CreateSource(const SourceRecord& s) {
  std::optional<SourceRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        absl::StrCat("INSERT INTO sources (source_id, display_name, url, "
                     "refresh_interval_seconds, max_withdraw_fraction, profile) VALUES ($1, $2, "
                     "$3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING RETURNING source_id"),
        s.id, s.display_name, s.url, s.refresh_seconds, s.max_withdraw_fraction,
        ProfileToJson(s.profile));
    if (!r.empty()) {
      SaveCredentials(tx, s);
      out = SourceFromRow(tx.exec_params1(
          absl::StrCat("SELECT ", kSourceColumns, " FROM sources WHERE source_id = $1"), s.id));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) return api::AlreadyExists("sources/" + s.id);
  return *out;
}

absl::StatusOr<SourceRecord> PgStore::GetSource(const std::string& id) {
  std::optional<SourceRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        absl::StrCat("SELECT ", kSourceColumns, " FROM sources WHERE source_id = $1"), id);
    if (!r.empty()) out = SourceFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) return api::NotFound("sources/" + id);
  return *out;
}

absl::StatusOr<SourceRecord> PgStore::SaveSource(const SourceRecord& s) {
  std::optional<SourceRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        absl::StrCat("UPDATE sources SET display_name = $2, url = $3, refresh_interval_seconds = "
                     "$4, max_withdraw_fraction = $5, profile = $6::jsonb WHERE source_id = $1 "
                     "RETURNING source_id"),
        s.id, s.display_name, s.url, s.refresh_seconds, s.max_withdraw_fraction,
        ProfileToJson(s.profile));
    if (!r.empty()) {
      SaveCredentials(tx, s);
      out = SourceFromRow(tx.exec_params1(
          absl::StrCat("SELECT ", kSourceColumns, " FROM sources WHERE source_id = $1"), s.id));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) return api::NotFound("sources/" + s.id);
  return *out;
}

absl::StatusOr<std::vector<SourceRecord>> PgStore::ListSources(const std::string& after,
                                                               int limit) {
  std::vector<SourceRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& r : tx.exec_params(absl::StrCat("SELECT ", kSourceColumns,
                                                     " FROM sources WHERE source_id > $1 "
                                                     "ORDER BY sources.source_id LIMIT $2"),
                                        after, limit)) {
      out.push_back(SourceFromRow(r));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<RunRecord> PgStore::InsertRun(const std::string& source_id, RunTrigger trigger,
                                             absl::Time now) {
  std::optional<RunRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        absl::StrCat("INSERT INTO runs (source_id, trigger, start_time, heartbeat_time) "
                     "VALUES ($1, $2, $3::timestamptz, $3::timestamptz) "
                     "ON CONFLICT (source_id) WHERE state = 'running' DO NOTHING RETURNING ",
                     kRunColumns),
        source_id, std::string(RunTriggerName(trigger)), db::Timestamp(now));
    if (!r.empty()) out = RunFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) {
    return absl::FailedPreconditionError("sources/" + source_id +
                                         " has a run in progress; wait for it to end");
  }
  return *out;
}

absl::StatusOr<RunRecord> PgStore::GetRun(const std::string& source_id, int64_t run_id) {
  std::optional<RunRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        absl::StrCat("SELECT ", kRunColumns, " FROM runs WHERE source_id = $1 AND run_id = $2"),
        source_id, run_id);
    if (!r.empty()) out = RunFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) {
    return api::NotFound(absl::StrCat("sources/", source_id, "/runs/", run_id));
  }
  return *out;
}

absl::StatusOr<std::map<std::string, RunRecord>> PgStore::LastRuns(
    const std::vector<std::string>& source_ids) {
  std::map<std::string, RunRecord> out;
  if (source_ids.empty()) return out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& r : tx.exec_params(
             absl::StrCat(
                 "SELECT DISTINCT ON (source_id) ", kRunColumns,
                 " FROM runs WHERE source_id = ANY($1::text[]) ORDER BY source_id, run_id DESC"),
             db::TextArray(source_ids))) {
      RunRecord run = RunFromRow(r);
      out.emplace(run.source_id, std::move(run));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<RunRecord>> PgStore::ListRuns(const std::string& source_id,
                                                         int64_t before, int limit) {
  std::vector<RunRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& r :
         tx.exec_params(absl::StrCat("SELECT ", kRunColumns,
                                     " FROM runs WHERE source_id = $1 AND ($2 = 0 OR run_id < $2) "
                                     "ORDER BY run_id DESC LIMIT $3"),
                        source_id, before, limit)) {
      out.push_back(RunFromRow(r));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

namespace {

absl::Status NotRunning(int64_t run_id) {
  return absl::AbortedError(absl::StrCat("run ", run_id, " is no longer running"));
}

}  // namespace

absl::Status PgStore::Heartbeat(const RunRecord& run, absl::Time now) {
  bool running = false;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    running = !SaveCounts(tx, run, now).empty();
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return running ? absl::OkStatus() : NotRunning(run.id);
}

absl::Status PgStore::Touch(int64_t run_id, absl::Time now) {
  bool running = false;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    running = tx.exec_params(
                    "UPDATE runs SET heartbeat_time = $2::timestamptz WHERE run_id = $1 AND "
                    "state = 'running'",
                    run_id, db::Timestamp(now))
                  .affected_rows() > 0;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return running ? absl::OkStatus() : NotRunning(run_id);
}

absl::Status PgStore::AddErrors(int64_t run_id, const std::vector<RowError>& errors) {
  if (errors.empty()) return absl::OkStatus();
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& e : errors) {
    rows.push_back({{"line", e.line},
                    {"row_id", e.row_id},
                    {"field", e.field},
                    {"value", e.value},
                    {"rule", e.rule},
                    {"description", e.description},
                    {"warning", e.warning}});
  }
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    tx.exec_params(
        "INSERT INTO run_errors (run_id, line, row_id, field, value, rule, description, "
        "warning) SELECT $1, x.line, x.row_id, x.field, x.value, x.rule, x.description, "
        "x.warning FROM json_to_recordset($2::json) AS x(line int, row_id text, field text, "
        "value text, rule text, description text, warning boolean)",
        run_id, rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::pair<int64_t, RowError>>> PgStore::ListErrors(int64_t run_id,
                                                                              int after_line,
                                                                              int64_t after_id,
                                                                              int limit) {
  std::vector<std::pair<int64_t, RowError>> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& r : tx.exec_params(
             "SELECT error_id, line, row_id, field, value, rule, description, warning "
             "FROM run_errors "
             "WHERE run_id = $1 AND (line, error_id) > ($2, $3) ORDER BY line, error_id LIMIT $4",
             run_id, after_line, after_id, limit)) {
      out.push_back({r[0].as<int64_t>(),
                     {.line = r[1].as<int>(),
                      .row_id = r[2].as<std::string>(),
                      .field = r[3].as<std::string>(),
                      .value = r[4].as<std::string>(),
                      .rule = r[5].as<std::string>(),
                      .description = r[6].as<std::string>(),
                      .warning = r[7].as<bool>()}});
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::map<std::string, Sent>> PgStore::Fingerprints(const std::string& source_id) {
  std::map<std::string, Sent> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    for (const auto& r :
         tx.exec_params("SELECT row_id, fingerprint, venue FROM fingerprints WHERE source_id = $1",
                        source_id)) {
      out[r[0].as<std::string>()] = {r[1].as<std::string>(), r[2].as<std::string>()};
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status PgStore::SaveFingerprints(const std::string& source_id,
                                       const std::map<std::string, Sent>& rows) {
  if (rows.empty()) return absl::OkStatus();
  nlohmann::json json = nlohmann::json::array();
  for (const auto& [id, s] : rows) {
    json.push_back({{"row_id", id}, {"fingerprint", s.fingerprint}, {"venue", s.venue}});
  }
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    tx.exec_params(
        "INSERT INTO fingerprints (source_id, row_id, fingerprint, venue) "
        "SELECT $1, x.row_id, x.fingerprint, x.venue FROM json_to_recordset($2::json) "
        "AS x(row_id text, fingerprint text, venue text) ON CONFLICT (source_id, row_id) DO "
        "UPDATE SET fingerprint = excluded.fingerprint, venue = excluded.venue, update_time = "
        "now()",
        source_id, json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return absl::OkStatus();
  });
}

absl::Status PgStore::DeleteFingerprints(const std::string& source_id,
                                         const std::vector<std::string>& row_ids) {
  if (row_ids.empty()) return absl::OkStatus();
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    tx.exec_params("DELETE FROM fingerprints WHERE source_id = $1 AND row_id = ANY($2::text[])",
                   source_id, db::TextArray(row_ids));
    return absl::OkStatus();
  });
}

absl::StatusOr<FileValidators> PgStore::GetFileValidators(const std::string& source_id) {
  FileValidators out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out = {};
    auto r = tx.exec_params(
        "SELECT etag, last_modified, digest FROM source_files WHERE source_id = $1", source_id);
    if (!r.empty()) {
      out = {.etag = r[0][0].as<std::string>(),
             .last_modified = r[0][1].as<std::string>(),
             .digest = r[0][2].as<std::string>()};
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

namespace {

void WriteFileValidators(pqxx::work& tx, const std::string& source_id, const FileValidators& v) {
  if (v.empty()) {
    tx.exec_params("DELETE FROM source_files WHERE source_id = $1", source_id);
  } else {
    tx.exec_params(
        "INSERT INTO source_files (source_id, etag, last_modified, digest) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (source_id) DO UPDATE SET etag = excluded.etag, "
        "last_modified = excluded.last_modified, digest = excluded.digest, update_time = now()",
        source_id, v.etag, v.last_modified, v.digest);
  }
}

}  // namespace

absl::Status PgStore::SaveFileValidators(const std::string& source_id, const FileValidators& v) {
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    WriteFileValidators(tx, source_id, v);
    return absl::OkStatus();
  });
}

absl::StatusOr<RunRecord> PgStore::FinishRun(const RunRecord& run, const FileValidators* validators,
                                             const RunEventFactory& event) {
  if (!run.end_time) return absl::InternalError("a run ends with its end_time set");
  std::optional<RunRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = EndRun(tx, run, *run.end_time);
    if (r.empty()) return absl::OkStatus();  // already ended (e.g. failed as silent)
    out = RunFromRow(r[0]);
    if (validators != nullptr && out->state == RunState::kSucceeded) {
      WriteFileValidators(tx, run.source_id, *validators);
    }
    outbox::Append(tx, topology_, event(*out));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) return GetRun(run.source_id, run.id);
  return *out;
}

absl::StatusOr<int> PgStore::FailSilentRuns(absl::Time now, absl::Duration silence,
                                            const RunEventFactory& event) {
  int n = 0;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    n = 0;
    for (const auto& r : tx.exec_params(
             absl::StrCat("UPDATE runs SET state = 'failed', end_time = $1::timestamptz, error = "
                          "'interrompue : le processus qui la menait s''est arrêté ; relancez-la' "
                          "WHERE state = 'running' AND heartbeat_time < $1::timestamptz - "
                          "make_interval(secs => $2) RETURNING ",
                          kRunColumns),
             db::Timestamp(now), absl::ToDoubleSeconds(silence))) {
      outbox::Append(tx, topology_, event(RunFromRow(r)));
      ++n;
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return n;
}

absl::StatusOr<std::vector<SourceRecord>> PgStore::DueSources(absl::Time now,
                                                              absl::Duration retry_after) {
  std::vector<SourceRecord> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    // The newest run decides: none, or started longer ago than the interval (or than the retry
    // delay when it failed), and nothing running.
    for (const auto& r : tx.exec_params(
             absl::StrCat(
                 "SELECT ", kSourceColumns,
                 " FROM sources LEFT JOIN LATERAL (SELECT state, start_time FROM runs r WHERE "
                 "r.source_id = sources.source_id ORDER BY run_id DESC LIMIT 1) last ON true "
                 "WHERE sources.refresh_interval_seconds > 0 AND (last.state IS NULL OR "
                 "(last.state <> 'running' AND last.start_time < $2::timestamptz - "
                 "make_interval(secs => "
                 "CASE WHEN last.state = 'failed' THEN least($1, sources.refresh_interval_seconds) "
                 "ELSE sources.refresh_interval_seconds END))) ORDER BY sources.source_id"),
             absl::ToDoubleSeconds(retry_after), db::Timestamp(now))) {
      out.push_back(SourceFromRow(r));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace passerelle::sync
