// The sync's use cases: sources, and runs that fetch a source's national-standard CSV, send the
// rows that changed to the venue registry, withdraw the venues that left the file, and report
// every row they could not take. No gRPC server and no SQL here.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.hpp"
#include "libs/net/destination.hpp"
#include "libs/net/http.hpp"
#include "libs/standard/standard.hpp"
#include "libs/standard/venue.hpp"
#include "passerelle/events/v1/event.pb.h"
#include "passerelle/sync/v1/sync.pb.h"

namespace passerelle::sync {

struct SourceRecord {
  std::string id;  // sources/{id}; also the venues' `source`
  std::string display_name;
  std::string url;
  int64_t refresh_seconds = 0;  // 0: manual runs only
  int32_t refresh_nanos = 0;    // as the client sent it; must be 0 (whole seconds)
  double max_withdraw_fraction = 0.2;
  absl::Time create_time = absl::UnixEpoch();
  /// The Authorization header sent to the source's server: stored apart, write-only in the
  /// API, never logged nor put in a run's error.
  std::string authorization;
  bool has_authorization = false;
  /// How the file is read (format, encoding, mapping...): profile.hpp.
  v1::SourceProfile profile;
};

/// A run's life: running until it succeeds or fails (a dead process's run is failed too).
enum class RunState { kRunning, kSucceeded, kFailed };
/// Who started a run.
enum class RunTrigger { kManual, kScheduled };
/// The words the store keeps and metrics label with, and back (nullopt for an unknown word).
std::string_view RunStateName(RunState state);
std::optional<RunState> ParseRunState(std::string_view name);
std::string_view RunTriggerName(RunTrigger trigger);
std::optional<RunTrigger> ParseRunTrigger(std::string_view name);

/// Why a run took nothing from its source's file: it was the one the last succeeded run took
/// whole.
enum class FileUnchanged {
  kNo,           // the file was read
  kNotModified,  // the server answered 304 Not Modified to the conditional request
  kSameContent,  // the server sent the file again, byte for byte the same (SHA-256)
};
std::string_view FileUnchangedName(FileUnchanged value);  // "" for kNo
std::optional<FileUnchanged> ParseFileUnchanged(std::string_view name);

/// What identifies the file a source's last succeeded run took whole: the server's validators
/// (sent back as a conditional request) and the file's own digest (for servers that send none).
struct FileValidators {
  std::string etag;
  std::string last_modified;
  std::string digest;  // api::ContentDigest of the whole file
  bool empty() const { return etag.empty() && last_modified.empty() && digest.empty(); }
};

struct RunRecord {
  int64_t id = 0;
  std::string source_id;
  RunState state = RunState::kRunning;
  RunTrigger trigger = RunTrigger::kManual;
  absl::Time start_time = absl::UnixEpoch();
  std::optional<absl::Time> end_time;
  std::string error;
  int64_t file_bytes = 0;
  int rows = 0, skipped = 0, created = 0, updated = 0, unchanged = 0, rejected = 0, withdrawn = 0;
  /// Rows outside the profile's filter.
  int filtered = 0;
  FileUnchanged file_unchanged = FileUnchanged::kNo;
};

struct RowError {
  int line = 0;
  std::string row_id, field, value, rule, description;
  /// The row was taken; this tells what will be read otherwise (rule `horaires`: its opening
  /// hours are not understood).
  bool warning = false;
};

/// What the registry last received for a row of a source.
struct Sent {
  std::string fingerprint;
  std::string venue;  // venues/{id}
};

using RunEventFactory = std::function<events::v1::Event(const RunRecord& run)>;

class Repository {
 public:
  virtual ~Repository() = default;
  /// ALREADY_EXISTS when the id is taken.
  virtual absl::StatusOr<SourceRecord> CreateSource(const SourceRecord& source) = 0;
  /// NOT_FOUND when unknown.
  virtual absl::StatusOr<SourceRecord> GetSource(const std::string& id) = 0;
  /// Saves every field of an existing source; NOT_FOUND when unknown.
  virtual absl::StatusOr<SourceRecord> SaveSource(const SourceRecord& source) = 0;
  /// By id, after `after`.
  virtual absl::StatusOr<std::vector<SourceRecord>> ListSources(const std::string& after,
                                                                int limit) = 0;
  /// A new running run started (and alive) at `now`; FAILED_PRECONDITION while the source has
  /// one running.
  virtual absl::StatusOr<RunRecord> InsertRun(const std::string& source_id, RunTrigger trigger,
                                              absl::Time now) = 0;
  /// NOT_FOUND when unknown.
  virtual absl::StatusOr<RunRecord> GetRun(const std::string& source_id, int64_t run_id) = 0;
  /// The newest run of each of these sources that has one, in one read.
  virtual absl::StatusOr<std::map<std::string, RunRecord>> LastRuns(
      const std::vector<std::string>& source_ids) = 0;
  /// Newest first, older than `before` (0: from the newest).
  virtual absl::StatusOr<std::vector<RunRecord>> ListRuns(const std::string& source_id,
                                                          int64_t before, int limit) = 0;
  /// Saves the counts so far and proves the run alive at `now`. ABORTED when the run is no
  /// longer running (another replica failed it as dead): its worker must stop writing.
  virtual absl::Status Heartbeat(const RunRecord& run, absl::Time now) = 0;
  /// Proves the run alive at `now`; ABORTED as Heartbeat.
  virtual absl::Status Touch(int64_t run_id, absl::Time now) = 0;
  virtual absl::Status AddErrors(int64_t run_id, const std::vector<RowError>& errors) = 0;
  /// By line, then id: those after (`after_line`, `after_id`), with their ids (keyset paging).
  virtual absl::StatusOr<std::vector<std::pair<int64_t, RowError>>> ListErrors(int64_t run_id,
                                                                               int after_line,
                                                                               int64_t after_id,
                                                                               int limit) = 0;
  /// Every row of the source last sent, by row id.
  virtual absl::StatusOr<std::map<std::string, Sent>> Fingerprints(
      const std::string& source_id) = 0;
  virtual absl::Status SaveFingerprints(const std::string& source_id,
                                        const std::map<std::string, Sent>& rows) = 0;
  virtual absl::Status DeleteFingerprints(const std::string& source_id,
                                          const std::vector<std::string>& row_ids) = 0;
  /// The validators of the file the source's last succeeded run took (all empty when none).
  virtual absl::StatusOr<FileValidators> GetFileValidators(const std::string& source_id) = 0;
  /// Replaces them; empty validators forget them (the next run reads the file whatever it is).
  virtual absl::Status SaveFileValidators(const std::string& source_id,
                                          const FileValidators& validators) = 0;
  /// Ends the running run (state, error, counts, `end_time`, which must be set) with its event,
  /// in one transaction; an already ended run is returned as it is. `validators` (null: none)
  /// replace the source's in the same transaction when the run ends there as succeeded, so that
  /// a run started once this one is seen succeeded asks with them.
  virtual absl::StatusOr<RunRecord> FinishRun(const RunRecord& run,
                                              const FileValidators* validators,
                                              const RunEventFactory& event) = 0;
  /// Fails, ending them at `now`, the running runs whose last sign of life is older than
  /// `now - silence` (their process died), with their events; how many.
  virtual absl::StatusOr<int> FailSilentRuns(absl::Time now, absl::Duration silence,
                                             const RunEventFactory& event) = 0;
  /// Sources with a refresh interval and no run running whose newest run started before
  /// `now` minus that interval (or that never ran), or failed and started before `now` minus
  /// `retry_after` (when shorter than the interval).
  virtual absl::StatusOr<std::vector<SourceRecord>> DueSources(absl::Time now,
                                                               absl::Duration retry_after) = 0;
};

/// What the venue registry made of one row of a batch.
struct UpsertedRow {
  enum class Outcome { kCreated, kUpdated, kUnchanged, kRejected };
  Outcome outcome = Outcome::kRejected;
  /// The row's position in the batch sent.
  size_t index = 0;
  std::string source_id;
  /// `venues/{id}` when the row is stored.
  std::string venue;
  /// Why a rejected row was refused.
  std::vector<standard::Violation> violations;
};

/// The venue registry, as the sync uses it: in the standard's own types (the venues service
/// over gRPC is one implementation, clients.cpp).
class Registry {
 public:
  virtual ~Registry() = default;
  /// Creates or updates `rows` by (source, source id). `reinstate`: withdrawn venues of these
  /// rows become active again. One result per row.
  virtual absl::StatusOr<std::vector<UpsertedRow>> BatchUpsert(
      const std::string& source, const std::vector<standard::Venue>& rows, bool reinstate) = 0;
  /// OK when withdrawn now or already; NOT_FOUND when the venue does not exist.
  virtual absl::Status Withdraw(const std::string& name, const std::string& reason) = 0;
};

/// A fetched file, or the server's word that the copy asked about has not changed.
struct FetchedFile {
  /// HTTP 304: `body` is empty.
  bool not_modified = false;
  std::string body;
  /// The server's validators of this file (empty when it sent none).
  std::string etag;
  std::string last_modified;
};

/// Fetches a source's file.
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  /// `authorization`: the Authorization header, empty for none. `since`: the validators of the
  /// copy last taken, sent as a conditional request. Ends promptly, CANCELLED, once `cancel` is
  /// cancelled.
  virtual absl::StatusOr<FetchedFile> Get(const std::string& url, const std::string& authorization,
                                          const FileValidators& since,
                                          net::Cancellation& cancel) = 0;
};

class Syncer {
 public:
  /// A scheduled source whose run failed is tried again after `retry_after` (or its own interval
  /// if shorter) instead of waiting a whole interval.
  /// A run whose heartbeat has been silent for `dead_after` is failed by any replica's
  /// scheduler (its process died); a live run refreshes it four times as often.
  /// Sources' URLs must pass `destinations` (the fetcher checks them again when connecting).
  /// Every decision on time (what is due, what is dead) and every time a run records reads
  /// `clock`; only the heartbeat's period is a real-time wait.
  Syncer(const standard::Standard& standard, Repository& repo, Registry& registry, Fetcher& fetcher,
         const net::DestinationPolicy& destinations, const clocks::Clock& clock,
         absl::Duration retry_after = absl::Minutes(15),
         absl::Duration dead_after = absl::Minutes(2));
  ~Syncer();

  /// A profile other than the standard's CSV is previewed on the source's file first: when the
  /// file can be fetched and the profile refuses every row or names a column it lacks,
  /// FAILED_PRECONDITION unless `force`.
  absl::StatusOr<SourceRecord> CreateSource(const std::string& id, SourceRecord source,
                                            bool force = false);
  absl::StatusOr<SourceRecord> GetSource(const std::string& name);
  /// Changes the fields named in `mask` (display_name, url, refresh_interval,
  /// max_withdraw_fraction, authorization, profile) to those of `values`; a new profile is
  /// previewed as by CreateSource.
  absl::StatusOr<SourceRecord> UpdateSource(const std::string& name, const SourceRecord& values,
                                            const std::vector<std::string>& mask,
                                            bool force = false);
  /// What a run would make of the first `row_count` rows (0: 20; at most 100) of the source's
  /// file, or of `sample` (at most 1 MiB) when not empty, read with `profile` (nullptr: the
  /// saved one). Writes nothing. A file that fails whole is INVALID_ARGUMENT (FAILED_PRECONDITION
  /// when it cannot be fetched) with the run's error.
  absl::StatusOr<v1::PreviewSourceResponse> PreviewSource(const std::string& name,
                                                          const v1::SourceProfile* profile,
                                                          const std::string& sample, int row_count);
  /// Starts a run in the background; the run as it starts.
  absl::StatusOr<RunRecord> StartRun(const std::string& source_name, RunTrigger trigger);
  /// One scheduler pass: fails runs whose process died, starts the runs that are due.
  void Tick();
  /// Stops taking runs, cancels their fetches and waits for them (each fails as interrupted).
  void Shutdown();
  /// Called with each run as it ends (metrics). Set before the first run.
  void OnRunEnded(std::function<void(const RunRecord&)> observer) {
    observer_ = std::move(observer);
  }

  /// Reads, for the API (the handler calls these, never the repository).
  /// The newest run of each of these sources.
  absl::StatusOr<std::map<std::string, RunRecord>> LastRuns(const std::vector<std::string>& ids) {
    return repo_.LastRuns(ids);
  }
  /// Sources by id, after `after`.
  absl::StatusOr<std::vector<SourceRecord>> ListSources(const std::string& after, int limit) {
    return repo_.ListSources(after, limit);
  }
  /// `sources/{source}/runs/{run}`; INVALID_ARGUMENT or NOT_FOUND.
  absl::StatusOr<RunRecord> GetRun(const std::string& name);
  /// A source's runs, newest first, older than `before` (0: from the newest).
  absl::StatusOr<std::vector<RunRecord>> ListRuns(const SourceRecord& source, int64_t before,
                                                  int limit) {
    return repo_.ListRuns(source.id, before, limit);
  }
  /// The errors of the run named `run_name` (which must exist), by line then id, after the
  /// given ones.
  absl::StatusOr<std::vector<std::pair<int64_t, RowError>>> ListErrors(const std::string& run_name,
                                                                       int after_line,
                                                                       int64_t after_id, int limit);
  /// `sources/{source}/runs/{run}`.
  static std::string RunName(const RunRecord& run);

 private:
  /// Runs `run` with its heartbeat kept fresh; `cancel` is cancelled on shutdown or when the
  /// heartbeat finds the run is no longer ours (`lost`).
  RunRecord Execute(RunRecord run, net::Cancellation& cancel);
  /// A run at work: what each step hands the next (sync.cpp).
  struct Attempt;
  /// Runs the steps below in order; the first that does not go on fails or abandons the run.
  RunRecord Work(RunRecord run, net::Cancellation& cancel, const std::atomic<bool>& lost);
  // Each step returns OK to go on, an Abandoned() status when the run is no longer ours, or
  // another status whose message fails the run.
  /// Fetch: the source and its whole file, asked for only if it changed since the last
  /// succeeded run (a 304, or the same bytes, end the run as unchanged); nothing written.
  absl::Status Fetch(Attempt& a);
  /// Read: the file checked and parsed (ReadFile), its rows and rejected rows counted.
  absl::Status Read(Attempt& a);
  /// Diff: the file against the fingerprints the registry last accepted (DiffRows).
  absl::Status Diff(Attempt& a);
  /// Write: new then changed rows to the registry in batches, with outcomes counted and
  /// fingerprints and heartbeat saved after each batch; then the run's row errors.
  absl::Status Write(Attempt& a);
  /// Withdraw: the venues that left the file, unless the guard refuses (GuardWithdrawals).
  absl::Status Withdraw(Attempt& a);
  /// OK while the run is still ours (its heartbeat answers), Abandoned() otherwise.
  absl::Status StillOurs(const Attempt& a);
  /// Finish: the run ends as succeeded, with its event; the file's validators are kept for the
  /// next run's conditional request.
  RunRecord Finish(RunRecord run, const FileValidators& validators);
  /// Fails the run with `error` (ended now, with its event).
  RunRecord Fail(RunRecord run, const std::string& error);
  /// The run as the process that failed it behind our back recorded it; nothing is written.
  RunRecord Abandon(const RunRecord& run);
  /// The preview of `profile` on `file` (already fetched).
  absl::StatusOr<v1::PreviewSourceResponse> Preview(const SourceRecord& source,
                                                    const v1::SourceProfile& profile,
                                                    std::string_view file, int row_count);
  /// OK when `source`'s profile takes at least one row of its file (or the file cannot be
  /// fetched: the runs will say why), FAILED_PRECONDITION otherwise.
  absl::Status CheckProfileOnFile(const SourceRecord& source);
  /// The event of a run that ended, dated at its end.
  events::v1::Event CompletedEvent(const RunRecord& run) const;

  const standard::Standard& standard_;
  Repository& repo_;
  Registry& registry_;
  Fetcher& fetcher_;
  const net::DestinationPolicy& destinations_;
  const clocks::Clock& clock_;
  absl::Duration retry_after_;
  absl::Duration dead_after_;
  std::function<void(const RunRecord&)> observer_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
    std::shared_ptr<net::Cancellation> cancel;
  };
  std::vector<Worker> workers_;  // finished ones are joined when the next run starts
};

/// API messages of the records.
void ToProto(const SourceRecord& source, v1::Source* out);
void ToProto(const RunRecord& run, v1::Run* out);
/// A row's problem as ListRunErrors and PreviewSource show it (the one mapping of both).
void ToProto(const RowError& error, v1::RunError* out);

/// The event announcing a finished run, at `time`.
events::v1::Event RunCompletedEvent(const RunRecord& run, absl::Time time);

}  // namespace passerelle::sync
