// The sync's use cases.
#include "services/sync/sync.hpp"

#include <deque>
#include <future>
#include <set>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/api/page_token.hpp"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/db/migrations.hpp"
#include "libs/events/event.hpp"
#include "libs/logging/logging.hpp"
#include "libs/net/destination.hpp"
#include "libs/standard/exchange.hpp"
#include "libs/standard/venue.hpp"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/sync/v1/events.pb.h"
#include "services/sync/profile.hpp"
#include "services/sync/run_steps.hpp"

namespace passerelle::sync {
namespace {

constexpr size_t kBatch = 500;
// What a client may send (docs/sync.md, "Limits").
constexpr size_t kMaxDisplayName = 200;
constexpr size_t kMaxAuthorization = 4096;
// What the sync stores and returns of a file's bad rows and of its own errors: always valid
// UTF-8, never a whole huge value.
constexpr size_t kMaxErrorText = 2000;
constexpr size_t kMaxQuotedValue = 200;
// A run's error when the service stops under it.
constexpr char kInterrupted[] = "interrompue par l'arrêt du service ; relancez-la";

// Any text the sync stores, returns or logs: valid UTF-8, bounded.
std::string Safe(std::string_view s, size_t max = kMaxErrorText) {
  return text::Ellipsize(text::ToValidUtf8(s), max);
}

RowError SafeError(RowError e) {
  e.row_id = text::Quote(e.row_id, kMaxQuotedValue);
  e.field = text::Quote(e.field, 100);
  e.value = text::Quote(e.value, kMaxQuotedValue);
  e.rule = text::Quote(e.rule, 40);
  e.description = Safe(e.description);
  return e;
}

// The sync's resource names (AIP-122): each resource has exactly one.
const api::ResourcePattern kSourceName("sources/{source}");
const api::ResourcePattern kRunName("sources/{source}/runs/{run}");

// OK when `id`, the {source} of a name of `pattern`, follows the batch source-id rule;
// INVALID_ARGUMENT on the field `name` otherwise.
absl::Status CheckSourceOfName(const api::ResourcePattern& pattern, const std::string& id) {
  std::vector<api::FieldViolation> bad;
  if (standard::CheckSourceId(&bad, "name", id)) return absl::OkStatus();
  std::string_view rule = bad[0].description;
  if (rule.starts_with("[pattern] ")) rule.remove_prefix(10);
  return api::InvalidArgument("name invalide",
                              {{"name", absl::StrCat("[pattern] de la forme ", pattern.pattern(),
                                                     ", {source} : ", std::string(rule))}});
}

// The source id of `sources/{source}`; INVALID_ARGUMENT on `name`.
absl::StatusOr<std::string> ParseSourceName(const std::string& name) {
  auto parts = kSourceName.Parse(name, "name");
  if (!parts.ok()) return parts.status();
  if (absl::Status s = CheckSourceOfName(kSourceName, (*parts)[0]); !s.ok()) return s;
  return std::move((*parts)[0]);
}

// The source id and run number of `sources/{source}/runs/{run}`, the number in its one
// spelling ("01" and "+1" are not names of run 1); INVALID_ARGUMENT on `name`.
absl::StatusOr<std::pair<std::string, int64_t>> ParseRunName(const std::string& name) {
  auto parts = kRunName.Parse(name, "name");
  if (!parts.ok()) return parts.status();
  if (absl::Status s = CheckSourceOfName(kRunName, (*parts)[0]); !s.ok()) return s;
  const std::optional<int64_t> run = api::ParsePositiveId((*parts)[1]);
  if (!run) {
    return api::InvalidName(
        "name",
        absl::StrCat("[pattern] de la forme ", kRunName.pattern(),
                     ", {run} un nombre positif écrit sans signe ni zéro en tête"),
        name);
  }
  return std::make_pair(std::move((*parts)[0]), *run);
}

// A row's identity for "did it change since we sent it": its normalised record, serialized
// with sorted keys (std::map), hashed.
// Records are validated (valid UTF-8) before they get here; `replace` keeps a stray byte from
// ever throwing in a worker.
std::string Fingerprint(const standard::Record& record) {
  return db::Fingerprint(
      nlohmann::json(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

std::string_view RunStateName(RunState state) {
  switch (state) {
    case RunState::kRunning:
      return "running";
    case RunState::kSucceeded:
      return "succeeded";
    case RunState::kFailed:
      return "failed";
  }
  return "failed";
}

std::optional<RunState> ParseRunState(std::string_view name) {
  for (RunState s : {RunState::kRunning, RunState::kSucceeded, RunState::kFailed}) {
    if (RunStateName(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view RunTriggerName(RunTrigger trigger) {
  switch (trigger) {
    case RunTrigger::kManual:
      return "manual";
    case RunTrigger::kScheduled:
      return "scheduled";
  }
  return "manual";
}

std::optional<RunTrigger> ParseRunTrigger(std::string_view name) {
  for (RunTrigger t : {RunTrigger::kManual, RunTrigger::kScheduled}) {
    if (RunTriggerName(t) == name) return t;
  }
  return std::nullopt;
}

std::string_view FileUnchangedName(FileUnchanged value) {
  switch (value) {
    case FileUnchanged::kNo:
      return "";
    case FileUnchanged::kNotModified:
      return "not_modified";
    case FileUnchanged::kSameContent:
      return "same_content";
  }
  return "";
}

std::optional<FileUnchanged> ParseFileUnchanged(std::string_view name) {
  for (FileUnchanged v :
       {FileUnchanged::kNo, FileUnchanged::kNotModified, FileUnchanged::kSameContent}) {
    if (FileUnchangedName(v) == name) return v;
  }
  return std::nullopt;
}

void ToProto(const SourceRecord& s, v1::Source* out) {
  out->set_name(kSourceName.Format({s.id}));
  out->set_display_name(s.display_name);
  out->set_url(s.url);
  out->set_has_authorization(s.has_authorization);  // never the value itself
  out->mutable_refresh_interval()->set_seconds(s.refresh_seconds);
  out->set_max_withdraw_fraction(s.max_withdraw_fraction);
  api::ToTimestamp(s.create_time, out->mutable_create_time());
  *out->mutable_profile() = s.profile;
}

void ToProto(const RunRecord& run, v1::Run* out) {
  out->set_name(Syncer::RunName(run));
  switch (run.state) {
    case RunState::kRunning:
      out->set_state(v1::Run::RUNNING);
      break;
    case RunState::kSucceeded:
      out->set_state(v1::Run::SUCCEEDED);
      break;
    case RunState::kFailed:
      out->set_state(v1::Run::FAILED);
      break;
  }
  switch (run.trigger) {
    case RunTrigger::kManual:
      out->set_trigger(v1::Run::MANUAL);
      break;
    case RunTrigger::kScheduled:
      out->set_trigger(v1::Run::SCHEDULED);
      break;
  }
  api::ToTimestamp(run.start_time, out->mutable_start_time());
  if (run.end_time) api::ToTimestamp(*run.end_time, out->mutable_end_time());
  out->set_error(run.error);
  out->set_file_bytes(run.file_bytes);
  switch (run.file_unchanged) {
    case FileUnchanged::kNo:
      break;
    case FileUnchanged::kNotModified:
      out->set_file_unchanged(v1::Run::NOT_MODIFIED);
      break;
    case FileUnchanged::kSameContent:
      out->set_file_unchanged(v1::Run::SAME_CONTENT);
      break;
  }
  out->set_rows(run.rows);
  out->set_skipped(run.skipped);
  out->set_created(run.created);
  out->set_updated(run.updated);
  out->set_unchanged(run.unchanged);
  out->set_rejected(run.rejected);
  out->set_withdrawn(run.withdrawn);
  out->set_filtered(run.filtered);
}

void ToProto(const RowError& e, v1::RunError* out) {
  out->set_line(e.line);
  out->set_source_id(e.row_id);
  out->set_field(e.field);
  out->set_value(e.value);
  out->set_rule(e.rule);
  out->set_description(e.description);
  out->set_warning(e.warning);
}

absl::StatusOr<RunRecord> Syncer::GetRun(const std::string& name) {
  auto key = ParseRunName(name);
  if (!key.ok()) return key.status();
  return repo_.GetRun(key->first, key->second);
}

absl::StatusOr<std::vector<std::pair<int64_t, RowError>>> Syncer::ListErrors(
    const std::string& run_name, int after_line, int64_t after_id, int limit) {
  auto run = GetRun(run_name);
  if (!run.ok()) return run.status();
  return repo_.ListErrors(run->id, after_line, after_id, limit);
}

std::string Syncer::RunName(const RunRecord& run) {
  const std::string number = absl::StrCat(run.id);
  return kRunName.Format({run.source_id, number});
}

events::v1::Event RunCompletedEvent(const RunRecord& run, absl::Time time) {
  v1::RunCompleted payload;
  ToProto(run, payload.mutable_run());
  return events::MakeEvent("sync.run.completed", "passerelle/sync", Syncer::RunName(run), payload,
                           time);
}

Syncer::Syncer(const standard::Standard& standard, Repository& repo, Registry& registry,
               Fetcher& fetcher, const net::DestinationPolicy& destinations,
               const clocks::Clock& clock, absl::Duration retry_after, absl::Duration dead_after)
    : standard_(standard),
      repo_(repo),
      registry_(registry),
      fetcher_(fetcher),
      destinations_(destinations),
      clock_(clock),
      retry_after_(retry_after),
      dead_after_(dead_after) {}

Syncer::~Syncer() { Shutdown(); }

namespace {

// The rules a source's fields follow, on create and update.
void CheckSource(const standard::Standard& standard, const SourceRecord& source,
                 const net::DestinationPolicy& destinations,
                 std::vector<api::FieldViolation>* bad) {
  CheckProfile(standard, source.profile, "source.profile", bad);
  api::CheckText(bad, "source.display_name", source.display_name, kMaxDisplayName);
  if (auto url = net::ParseUrl(source.url); !url.ok()) {
    bad->push_back({"source.url", std::string(url.status().message())});
  } else if (absl::Status s = destinations.CheckUrl(*url); !s.ok()) {
    bad->push_back({"source.url", std::string(s.message())});
  }
  if (source.refresh_nanos != 0) {
    bad->push_back({"source.refresh_interval", "whole seconds: nanos must be 0"});
  } else if (source.refresh_seconds < 0 || source.refresh_seconds > 366LL * 86400 ||
             (source.refresh_seconds > 0 && source.refresh_seconds < 60)) {
    bad->push_back(
        {"source.refresh_interval", "zero (manual runs) or between one minute and one year"});
  }
  api::CheckNumber(bad, "source.max_withdraw_fraction", source.max_withdraw_fraction, 0, 1);
  // Sent as an HTTP header: printable ASCII only (a line break would inject headers).
  if (api::CheckSecretText(bad, "source.authorization", source.authorization, kMaxAuthorization)) {
    for (char c : source.authorization) {
      if (c < 0x20 || c > 0x7e) {
        bad->push_back({"source.authorization",
                        "printable ASCII only, e.g. \"Bearer <token>\" or \"Basic <base64>\""});
        break;
      }
    }
  }
}

}  // namespace

absl::StatusOr<SourceRecord> Syncer::CreateSource(const std::string& id, SourceRecord source,
                                                  bool force) {
  std::vector<api::FieldViolation> bad;
  standard::CheckSourceId(&bad, "source_id", id);
  CheckSource(standard_, source, destinations_, &bad);
  if (!bad.empty()) return api::InvalidArgument("source invalide", bad);
  if (source.max_withdraw_fraction == 0) source.max_withdraw_fraction = 0.2;
  source.id = id;
  if (!force && IsCustomProfile(source.profile)) {
    if (absl::Status s = CheckProfileOnFile(source); !s.ok()) return s;
  }
  return repo_.CreateSource(source);
}

absl::StatusOr<SourceRecord> Syncer::GetSource(const std::string& name) {
  auto id = ParseSourceName(name);
  if (!id.ok()) return id.status();
  return repo_.GetSource(*id);
}

absl::StatusOr<SourceRecord> Syncer::UpdateSource(const std::string& name,
                                                  const SourceRecord& values,
                                                  const std::vector<std::string>& mask,
                                                  bool force) {
  auto id = ParseSourceName(name);
  if (!id.ok()) return id.status();
  std::vector<api::FieldViolation> bad;
  if (mask.empty()) bad.push_back({"update_mask", "[required] nommez les champs à changer"});
  static const std::set<std::string_view> kWritable = {"display_name",     "url",
                                                       "refresh_interval", "max_withdraw_fraction",
                                                       "authorization",    "profile"};
  api::CheckUpdateMask(
      mask,
      {.writable = [](std::string_view path) { return kWritable.contains(path); },
       .of = "d'une source",
       .listed = "display_name, url, refresh_interval, max_withdraw_fraction, authorization, "
                 "profile"},
      &bad);
  auto source = repo_.GetSource(*id);
  if (!source.ok()) return source.status();
  bool profile_changed = false;
  for (const auto& path : mask) {
    if (path == "display_name") {
      source->display_name = values.display_name;
    } else if (path == "url") {
      source->url = values.url;
    } else if (path == "refresh_interval") {
      source->refresh_seconds = values.refresh_seconds;
      source->refresh_nanos = values.refresh_nanos;
    } else if (path == "max_withdraw_fraction") {
      source->max_withdraw_fraction = values.max_withdraw_fraction;
    } else if (path == "authorization") {
      source->authorization = values.authorization;  // empty: none
    } else if (path == "profile") {
      source->profile = values.profile;  // unset: the standard's CSV
      profile_changed = true;
    }
  }
  CheckSource(standard_, *source, destinations_, &bad);
  if (!bad.empty()) return api::InvalidArgument("mise à jour invalide", bad);
  if (source->max_withdraw_fraction == 0) source->max_withdraw_fraction = 0.2;
  if (profile_changed && !force && IsCustomProfile(source->profile)) {
    if (absl::Status s = CheckProfileOnFile(*source); !s.ok()) return s;
  }
  auto saved = repo_.SaveSource(*source);
  if (!saved.ok()) return saved;
  // Another address, other credentials or another profile may give other rows, even under the
  // same validators: the next run reads whatever it gets.
  static const std::set<std::string> kKeepsFile = {"display_name", "refresh_interval",
                                                   "max_withdraw_fraction"};
  for (const auto& path : mask) {
    if (!kKeepsFile.contains(path)) {
      if (absl::Status s = repo_.SaveFileValidators(*id, {}); !s.ok()) return s;
      break;
    }
  }
  return saved;
}

absl::StatusOr<RunRecord> Syncer::StartRun(const std::string& source_name, RunTrigger trigger) {
  auto id = ParseSourceName(source_name);
  if (!id.ok()) return id.status();
  if (stopping_) return absl::UnavailableError("the sync service is stopping");
  auto source = repo_.GetSource(*id);
  if (!source.ok()) return source.status();
  auto run = repo_.InsertRun(*id, trigger, clock_.Now());
  if (!run.ok()) return run.status();
  std::lock_guard lock(mu_);
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (*it->done) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  if (stopping_) {  // Shutdown has taken the workers already: this run would never be joined
    Fail(*run, kInterrupted);
    return absl::UnavailableError("the sync service is stopping");
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto cancel = std::make_shared<net::Cancellation>();
  workers_.push_back({std::thread([this, r = *run, done, cancel] {
                        // Nothing a file holds may end the process: anything thrown is a bug,
                        // and the run fails with it rather than taking every other run down.
                        try {
                          Execute(r, *cancel);
                        } catch (const std::exception& e) {
                          logging::Error("run ended by an unexpected exception",
                                         {{"run", RunName(r)}, {"error", Safe(e.what())}});
                          try {
                            Fail(r, "erreur interne ; relancez-la ou signalez-la");
                          } catch (...) {
                          }
                        }
                        *done = true;
                      }),
                      done, cancel});
  return run;
}

void Syncer::Tick() {
  if (stopping_) return;
  auto failed = repo_.FailSilentRuns(clock_.Now(), dead_after_,
                                     [this](const RunRecord& r) { return CompletedEvent(r); });
  if (!failed.ok()) {
    logging::Warn("cannot check for interrupted runs",
                  {{"error", std::string(failed.status().message())}});
  } else if (*failed > 0) {
    logging::Warn("runs interrupted by a stopped process marked failed", {{"runs", *failed}});
  }
  auto due = repo_.DueSources(clock_.Now(), retry_after_);
  if (!due.ok()) return;
  for (const auto& s : *due) {
    auto run = StartRun(kSourceName.Format({s.id}), RunTrigger::kScheduled);
    if (run.ok()) logging::Info("scheduled run started", {{"run", RunName(*run)}});
  }
}

void Syncer::Shutdown() {
  std::vector<Worker> workers;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    workers.swap(workers_);
  }
  // A fetch in progress (a slow or trickling server) ends now; the run fails as interrupted.
  for (auto& w : workers) w.cancel->Cancel();
  for (auto& w : workers) {
    if (w.thread.joinable()) w.thread.join();
  }
}

events::v1::Event Syncer::CompletedEvent(const RunRecord& run) const {
  return RunCompletedEvent(run, run.end_time.value_or(clock_.Now()));
}

RunRecord Syncer::Fail(RunRecord run, const std::string& error) {
  run.state = RunState::kFailed;
  run.error = Safe(error);
  run.end_time = clock_.Now();
  logging::Warn("run failed", {{"run", RunName(run)}, {"error", run.error}});
  auto done =
      repo_.FinishRun(run, nullptr, [this](const RunRecord& r) { return CompletedEvent(r); });
  if (observer_) observer_(done.ok() ? *done : run);
  return done.ok() ? *done : run;
}

namespace {

// A run that is no longer ours is abandoned, not failed: the mark its steps return.
constexpr char kAbandonedPayload[] = "type.passerelle/sync.Abandoned";

absl::Status Abandoned() {
  absl::Status s = absl::AbortedError("the run is no longer ours");
  s.SetPayload(kAbandonedPayload, absl::Cord());
  return s;
}

bool IsAbandoned(const absl::Status& s) { return s.GetPayload(kAbandonedPayload).has_value(); }

}  // namespace

RowPlan DiffRows(const standard::ParsedFile& file, const std::map<std::string, Sent>& sent) {
  RowPlan plan;
  for (const auto& r : file.rejected) {
    plan.in_file.insert(r.source_id);
    for (const auto& v : r.violations) {
      plan.errors.push_back(SafeError({r.line, r.source_id, v.field, v.value, v.rule, v.message}));
    }
  }
  for (const auto& w : file.warnings) {
    plan.errors.push_back(SafeError({w.line, w.source_id, w.issue.field, w.issue.value,
                                     w.issue.rule, w.issue.message, /*warning=*/true}));
  }
  for (const auto& row : file.valid) {
    plan.in_file.insert(row.venue.source_id);
    std::string print = Fingerprint(row.venue.standard);
    auto it = sent.find(row.venue.source_id);
    if (it != sent.end() && it->second.fingerprint == print) {
      ++plan.skipped;
      continue;
    }
    (it == sent.end() ? plan.fresh : plan.changed).push_back({&row, std::move(print)});
  }
  return plan;
}

absl::StatusOr<std::vector<Departure>> GuardWithdrawals(const std::map<std::string, Sent>& sent,
                                                        const std::set<std::string>& in_file,
                                                        double max_fraction) {
  std::vector<Departure> gone;
  for (const auto& [row_id, s] : sent) {
    if (!in_file.contains(row_id)) gone.push_back({row_id, s.venue});
  }
  if (gone.empty()) return gone;
  // Written so that a NaN fraction refuses: no comparison with NaN holds.
  if (!(max_fraction >= 0 && max_fraction <= 1)) {
    return absl::FailedPreconditionError(
        absl::StrCat(gone.size(),
                     " lieux ont disparu du fichier et le seuil de retrait de la source n'est pas "
                     "un nombre entre 0 et 1 : aucun n'a été retiré. Corrigez "
                     "max_withdraw_fraction, puis relancez."));
  }
  if (!(static_cast<double>(gone.size()) <= max_fraction * static_cast<double>(sent.size()))) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%d lieux sur %d ont disparu du fichier (plus que le seuil de %.0f %%) : aucun n'a été "
        "retiré. Vérifiez le fichier de la source, puis relancez.",
        gone.size(), sent.size(), max_fraction * 100));
  }
  return gone;
}

RunRecord Syncer::Execute(RunRecord run, net::Cancellation& cancel) {
  // While the run works (a slow server, retries, long batches), its heartbeat says it is alive.
  // When the heartbeat finds the run no longer running (another replica failed it as dead),
  // the run is not ours any more: its fetch is cancelled and it stops writing.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::atomic<bool> lost{false};
  std::thread keepalive([&] {
    const auto every = absl::ToChronoMilliseconds(dead_after_ / 4);
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, every, [&] { return finished; })) {
      lock.unlock();
      if (repo_.Touch(run.id, clock_.Now()).code() == absl::StatusCode::kAborted) {
        lost = true;
        cancel.Cancel();
      }
      lock.lock();
    }
  });
  RunRecord out = Work(std::move(run), cancel, lost);
  {
    std::lock_guard lock(mu);
    finished = true;
  }
  cv.notify_all();
  keepalive.join();
  return out;
}

struct Syncer::Attempt {
  RunRecord run;
  net::Cancellation& cancel;
  const std::atomic<bool>& lost;
  SourceRecord source;
  std::string file;
  FileValidators validators;  // of the file fetched, kept if the run succeeds
  standard::ParsedFile parsed;
  std::map<std::string, Sent> sent;
  RowPlan plan;
};

RunRecord Syncer::Work(RunRecord run, net::Cancellation& cancel, const std::atomic<bool>& lost) {
  Attempt a{.run = std::move(run), .cancel = cancel, .lost = lost};
  absl::Status s = Fetch(a);
  if (s.ok() && a.run.file_unchanged != FileUnchanged::kNo) {
    return Finish(std::move(a.run), a.validators);
  }
  if (s.ok()) s = Read(a);
  if (s.ok()) s = Diff(a);
  if (s.ok()) s = Write(a);
  if (s.ok()) s = Withdraw(a);
  if (s.ok()) return Finish(std::move(a.run), a.validators);
  if (IsAbandoned(s)) return Abandon(a.run);
  return Fail(std::move(a.run), std::string(s.message()));
}

absl::Status Syncer::StillOurs(const Attempt& a) {
  if (a.lost || repo_.Touch(a.run.id, clock_.Now()).code() == absl::StatusCode::kAborted) {
    return Abandoned();
  }
  return absl::OkStatus();
}

absl::Status Syncer::Fetch(Attempt& a) {
  auto source = repo_.GetSource(a.run.source_id);
  if (!source.ok()) return source.status();
  a.source = *std::move(source);
  auto since = repo_.GetFileValidators(a.run.source_id);
  if (!since.ok()) return since.status();
  auto url = net::ParseUrl(a.source.url);
  const std::string shown = url.ok() ? url->Redacted() : text::Quote(a.source.url, 80);
  logging::Info("run started", {{"run", RunName(a.run)}, {"url", Safe(shown)}});
  auto file = fetcher_.Get(a.source.url, a.source.authorization, *since, a.cancel);
  if (a.lost) return Abandoned();
  if (!file.ok() && a.cancel.cancelled()) return absl::CancelledError(kInterrupted);
  if (!file.ok()) {
    return absl::UnavailableError(
        absl::StrCat("téléchargement impossible de ", shown, " : ", file.status().message()));
  }
  if (file->not_modified) {
    // The copy asked about is current: what the last succeeded run took stands. A server may
    // send fresher validators with its 304 (RFC 9110 §15.4.5).
    a.validators = *since;
    if (!file->etag.empty()) a.validators.etag = file->etag;
    if (!file->last_modified.empty()) a.validators.last_modified = file->last_modified;
    a.run.file_unchanged = FileUnchanged::kNotModified;
    logging::Info("source file not modified (HTTP 304): nothing to read",
                  {{"run", RunName(a.run)}});
    return absl::OkStatus();
  }
  a.validators = {.etag = file->etag,
                  .last_modified = file->last_modified,
                  .digest = api::ContentDigest(file->body)};
  a.run.file_bytes = static_cast<int64_t>(file->body.size());
  if (!since->digest.empty() && since->digest == a.validators.digest) {
    a.run.file_unchanged = FileUnchanged::kSameContent;
    logging::Info("source file unchanged (same digest): nothing to read",
                  {{"run", RunName(a.run)}});
    return absl::OkStatus();
  }
  a.file = std::move(file->body);
  return absl::OkStatus();
}

absl::Status Syncer::Read(Attempt& a) {
  auto read = ReadSource(standard_, a.source.profile, a.file, a.run.source_id);
  a.file = std::string();  // the rows hold what is needed; a file may be 256 MiB
  if (!read.ok()) return read.status();
  a.parsed = std::move(read->parsed);
  a.run.filtered = read->filtered;
  a.run.rows = a.parsed.rows;
  a.run.rejected = static_cast<int>(a.parsed.rejected.size());
  return StillOurs(a);
}

absl::Status Syncer::Diff(Attempt& a) {
  auto sent = repo_.Fingerprints(a.run.source_id);
  if (!sent.ok()) return sent.status();
  a.sent = *std::move(sent);
  a.plan = DiffRows(a.parsed, a.sent);
  a.run.skipped = a.plan.skipped;
  return absl::OkStatus();
}

absl::Status Syncer::Write(Attempt& a) {
  RunRecord& run = a.run;
  std::vector<RowError>& errors = a.plan.errors;
  // Two batches in flight: the registry writes one while it validates the next, and the sync
  // counts and saves the fingerprints of one while both are written. Each batch is sent only
  // after a heartbeat found the run still ours, so a run found lost sends nothing more (the
  // batches already in flight finish; their rows are idempotent upserts).
  constexpr size_t kInFlight = 2;
  struct Sending {
    const std::vector<RowPlan::Pending>* pending;
    size_t start, end;
    std::future<absl::StatusOr<std::vector<UpsertedRow>>> results;
  };
  std::deque<Sending> flying;
  // The oldest batch's results: counted, its rejected rows' errors kept, the accepted rows'
  // fingerprints saved.
  auto settle = [&]() -> absl::Status {
    Sending f = std::move(flying.front());
    flying.pop_front();
    auto results = f.results.get();
    if (!results.ok()) {
      return absl::Status(
          results.status().code(),
          absl::StrCat("le registre des lieux a refusé un lot : ", results.status().message()));
    }
    const std::vector<RowPlan::Pending>& pending = *f.pending;
    std::map<std::string, Sent> accepted;
    for (const UpsertedRow& r : *results) {
      const size_t i = f.start + r.index;
      if (i >= f.end) continue;
      switch (r.outcome) {
        case UpsertedRow::Outcome::kCreated:
          ++run.created;
          break;
        case UpsertedRow::Outcome::kUpdated:
          ++run.updated;
          break;
        case UpsertedRow::Outcome::kUnchanged:
          ++run.unchanged;
          break;
        case UpsertedRow::Outcome::kRejected:
          ++run.rejected;
          for (const auto& v : r.violations) {
            errors.push_back(SafeError(
                {pending[i].row->line, r.source_id, v.field, v.value, v.rule, v.message}));
          }
          continue;
      }
      accepted[r.source_id] = {pending[i].fingerprint, r.venue};
    }
    return repo_.SaveFingerprints(run.source_id, accepted);
  };
  // A run found lost writes nothing more: the batches still in flight only end first (they use
  // this attempt's rows).
  auto land = [&](absl::Status s) {
    for (Sending& f : flying) f.results.wait();
    return s;
  };
  // A run that fails or is interrupted settles the batches in flight (the registry wrote them:
  // counted, fingerprints saved) and stores the row errors so far, so that its report agrees
  // with its counts.
  auto stop = [&](absl::Status s) {
    while (!flying.empty()) settle().IgnoreError();
    if (absl::Status e = repo_.AddErrors(run.id, errors); !e.ok()) {
      logging::Warn("row errors of a stopped run not saved",
                    {{"run", RunName(run)}, {"error", std::string(e.message())}});
    }
    return s;
  };
  for (const bool fresh : {true, false}) {
    const std::vector<RowPlan::Pending>& pending = fresh ? a.plan.fresh : a.plan.changed;
    for (size_t start = 0; start < pending.size(); start += kBatch) {
      if (a.lost) return land(Abandoned());
      if (stopping_) return stop(absl::CancelledError(kInterrupted));
      if (repo_.Heartbeat(run, clock_.Now()).code() == absl::StatusCode::kAborted) {
        return land(Abandoned());
      }
      const size_t end = std::min(pending.size(), start + kBatch);
      std::vector<standard::Venue> batch;
      for (size_t i = start; i < end; ++i) batch.push_back(pending[i].row->venue);
      flying.push_back({&pending, start, end,
                        std::async(std::launch::async, [this, source = run.source_id,
                                                        batch = std::move(batch), fresh] {
                          return registry_.BatchUpsert(source, batch, /*reinstate=*/fresh);
                        })});
      if (flying.size() == kInFlight) {
        if (absl::Status s = settle(); !s.ok()) return stop(s);
      }
    }
  }
  while (!flying.empty()) {
    if (absl::Status s = settle(); !s.ok()) return stop(s);
  }
  if (absl::Status s = StillOurs(a); !s.ok()) return s;
  return repo_.AddErrors(run.id, errors);
}

absl::Status Syncer::Withdraw(Attempt& a) {
  auto gone = GuardWithdrawals(a.sent, a.plan.in_file, a.source.max_withdraw_fraction);
  if (!gone.ok()) return gone.status();
  if (gone->empty()) return absl::OkStatus();
  if (absl::Status s = StillOurs(a); !s.ok()) return s;
  std::vector<std::string> forgotten;
  for (const Departure& d : *gone) {
    absl::Status s =
        registry_.Withdraw(d.venue, absl::StrCat("absent du fichier de la source ", a.run.source_id,
                                                 " (", RunName(a.run), ")"));
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound) {
      return absl::Status(s.code(),
                          absl::StrCat("retrait de ", d.venue, " impossible : ", s.message()));
    }
    if (s.ok()) ++a.run.withdrawn;
    forgotten.push_back(d.row_id);
  }
  return repo_.DeleteFingerprints(a.run.source_id, forgotten);
}

RunRecord Syncer::Finish(RunRecord run, const FileValidators& validators) {
  run.state = RunState::kSucceeded;
  run.end_time = clock_.Now();
  // The file's validators are kept in the run's own transaction, and only if it ends there as
  // succeeded: a failed run's file is read again next time, and a run started as soon as this
  // one is seen succeeded asks with them.
  auto done =
      repo_.FinishRun(run, &validators, [this](const RunRecord& r) { return CompletedEvent(r); });
  if (!done.ok()) return Fail(run, std::string(done.status().message()));
  if (observer_) observer_(*done);
  logging::Info("run succeeded", {{"run", RunName(run)},
                                  {"rows", run.rows},
                                  {"skipped", run.skipped},
                                  {"created", run.created},
                                  {"updated", run.updated},
                                  {"rejected", run.rejected},
                                  {"withdrawn", run.withdrawn}});
  return *done;
}

RunRecord Syncer::Abandon(const RunRecord& run) {
  // The process that failed the run has recorded its end: nothing more is written, not even that.
  logging::Warn("run abandoned: it was failed by another process, nothing more is written",
                {{"run", RunName(run)}});
  auto current = repo_.GetRun(run.source_id, run.id);
  return current.ok() ? *current : run;
}

namespace {

constexpr size_t kMaxSample = 1 << 20;
constexpr int kDefaultPreviewRows = 20;
constexpr int kMaxPreviewRows = 100;

v1::SourceProfile::Encoding EncodingToProto(text::Encoding e) {
  switch (e) {
    case text::Encoding::kLatin1:
      return v1::SourceProfile::LATIN_1;
    case text::Encoding::kWindows1252:
      return v1::SourceProfile::WINDOWS_1252;
    case text::Encoding::kUtf8:
      break;
  }
  return v1::SourceProfile::UTF_8;
}

}  // namespace

absl::StatusOr<v1::PreviewSourceResponse> Syncer::Preview(const SourceRecord& source,
                                                          const v1::SourceProfile& profile,
                                                          std::string_view file, int row_count) {
  auto read = ReadSource(standard_, profile, file, source.id, /*allow_missing_columns=*/true);
  if (!read.ok()) return read.status();
  v1::PreviewSourceResponse out;
  out.set_total_rows(read->parsed.rows + read->filtered);
  out.set_filtered(read->filtered);
  out.set_rejected(static_cast<int>(read->parsed.rejected.size()));
  out.set_encoding(EncodingToProto(read->encoding));
  for (const auto& c : read->columns) out.add_columns(c);
  for (const RowError& e : MissingColumns(profile, read->columns)) {
    ToProto(SafeError(e), out.add_profile_problems());
  }
  // The first rows in file order, accepted or refused, each with its problems: they are among
  // the first `row_count` of each list.
  std::map<int, v1::PreviewRow> rows;
  const auto& valid = read->parsed.valid;
  for (size_t i = 0; i < valid.size() && i < static_cast<size_t>(row_count); ++i) {
    v1::PreviewRow& r = rows[valid[i].line];
    r.set_line(valid[i].line);
    r.set_source_id(text::Quote(valid[i].venue.source_id, kMaxQuotedValue));
    r.set_accepted(true);
    r.set_accepts_aptic_pass(valid[i].venue.accepts_aptic_pass);
    for (const auto& [field, value] : standard::ToRaw(standard_, valid[i].venue.standard)) {
      if (!value.empty()) (*r.mutable_fields())[field] = Safe(value);
    }
  }
  const auto& rejected = read->parsed.rejected;
  for (size_t i = 0; i < rejected.size() && i < static_cast<size_t>(row_count); ++i) {
    const auto& rej = rejected[i];
    v1::PreviewRow& r = rows[rej.line];
    r.set_line(rej.line);
    r.set_source_id(text::Quote(rej.source_id, kMaxQuotedValue));
    for (const auto& v : rej.violations) {
      ToProto(SafeError({rej.line, rej.source_id, v.field, v.value, v.rule, v.message}),
              r.add_problems());
    }
  }
  while (static_cast<int>(rows.size()) > row_count) rows.erase(std::prev(rows.end()));
  for (const auto& w : read->parsed.warnings) {
    auto it = rows.find(w.line);
    if (it == rows.end()) continue;
    ToProto(SafeError({w.line, w.source_id, w.issue.field, w.issue.value, w.issue.rule,
                       w.issue.message, /*warning=*/true}),
            it->second.add_problems());
  }
  for (auto& [line, r] : rows) out.add_rows()->Swap(&r);
  return out;
}

absl::StatusOr<v1::PreviewSourceResponse> Syncer::PreviewSource(const std::string& name,
                                                                const v1::SourceProfile* profile,
                                                                const std::string& sample,
                                                                int row_count) {
  auto id = ParseSourceName(name);
  if (!id.ok()) return id.status();
  std::vector<api::FieldViolation> bad;
  if (profile != nullptr) CheckProfile(standard_, *profile, "profile", &bad);
  if (sample.size() > kMaxSample) {
    bad.push_back({"sample", absl::StrCat("[maxLength] at most ", kMaxSample, " bytes (",
                                          sample.size(), ")")});
  }
  if (row_count < 0) bad.push_back({"row_count", "[range] must not be negative"});
  if (!bad.empty()) return api::InvalidArgument("aperçu invalide", bad);
  auto source = repo_.GetSource(*id);
  if (!source.ok()) return source.status();
  const v1::SourceProfile& used = profile != nullptr ? *profile : source->profile;
  const int count = row_count == 0 ? kDefaultPreviewRows : std::min(row_count, kMaxPreviewRows);
  if (!sample.empty()) return Preview(*source, used, sample, count);
  net::Cancellation cancel;
  // Not conditional: a preview reads the file whatever the last run took.
  auto file = fetcher_.Get(source->url, source->authorization, {}, cancel);
  if (!file.ok()) {
    auto url = net::ParseUrl(source->url);
    return absl::FailedPreconditionError(
        absl::StrCat("téléchargement impossible de ",
                     Safe(url.ok() ? url->Redacted() : text::Quote(source->url, 80)), " : ",
                     Safe(std::string(file.status().message()))));
  }
  return Preview(*source, used, file->body, count);
}

absl::Status Syncer::CheckProfileOnFile(const SourceRecord& source) {
  net::Cancellation cancel;
  auto file = fetcher_.Get(source.url, source.authorization, {}, cancel);
  if (!file.ok()) return absl::OkStatus();  // nothing to judge by: the runs will say
  auto preview = Preview(source, source.profile, file->body, 1);
  std::string why;
  if (!preview.ok()) {
    why = std::string(preview.status().message());
  } else if (preview->profile_problems_size() > 0) {
    why = preview->profile_problems(0).description();
  } else if (preview->rejected() == preview->total_rows() - preview->filtered()) {
    why = absl::StrCat("les ", preview->rejected(), " lignes du fichier seraient toutes refusées");
    if (preview->rows_size() > 0 && preview->rows(0).problems_size() > 0) {
      const v1::RunError& e = preview->rows(0).problems(0);
      absl::StrAppend(&why, " (ligne ", e.line(), " : ", e.field(), " ", e.rule(), ", ",
                      e.description(), ")");
    }
  } else {
    return absl::OkStatus();
  }
  return api::WithReason(
      absl::FailedPreconditionError(absl::StrCat(
          "profil non enregistré : ", Safe(why),
          ". Vérifiez-le avec PreviewSource, ou enregistrez-le quand même avec force.")),
      "PROFILE_REFUSES_EVERY_ROW");
}

}  // namespace passerelle::sync
