// The Syncer's logic without PostgreSQL, NATS or binaries: an in-memory repository, registry and
// fetcher, and a manual clock. Each step of a run (fetch, read, diff, write, withdraw, finish),
// the scheduler's decisions on time, lost heartbeats, shutdown and resource names.
#include "services/sync/sync.hpp"

#include <atomic>
#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/api/status.hpp"
#include "libs/clock/clock.hpp"
#include "libs/testing/testing.hpp"
#include "services/sync/run_steps.hpp"
#include "services/sync/test_files.hpp"

namespace passerelle::sync {
namespace {

using namespace std::chrono_literals;
using testfiles::File;
using testfiles::Row;
using testfiles::Rows;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kDeadMessage[] =
    "interrompue : le processus qui la menait s'est arrêté ; relancez-la";

// The repository in memory, with the contract of sync.hpp (PgStore's, minus SQL).
class FakeRepository final : public Repository {
 public:
  absl::StatusOr<SourceRecord> CreateSource(const SourceRecord& source) override {
    std::lock_guard lock(mu_);
    if (!sources_.emplace(source.id, source).second) return absl::AlreadyExistsError(source.id);
    return source;
  }
  absl::StatusOr<SourceRecord> GetSource(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto it = sources_.find(id);
    if (it == sources_.end()) return absl::NotFoundError("sources/" + id + " does not exist");
    return it->second;
  }
  absl::StatusOr<SourceRecord> SaveSource(const SourceRecord& source) override {
    std::lock_guard lock(mu_);
    auto it = sources_.find(source.id);
    if (it == sources_.end()) return absl::NotFoundError(source.id);
    return it->second = source;
  }
  absl::StatusOr<std::vector<SourceRecord>> ListSources(const std::string& after,
                                                        int limit) override {
    std::lock_guard lock(mu_);
    std::vector<SourceRecord> out;
    for (auto it = sources_.upper_bound(after);
         it != sources_.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  absl::StatusOr<RunRecord> InsertRun(const std::string& source_id, RunTrigger trigger,
                                      absl::Time now) override {
    std::lock_guard lock(mu_);
    for (const auto& r : runs_) {
      if (r.run.source_id == source_id && r.run.state == RunState::kRunning) {
        return absl::FailedPreconditionError(source_id + " has a run in progress");
      }
    }
    RunRecord run{.id = static_cast<int64_t>(runs_.size()) + 1,
                  .source_id = source_id,
                  .trigger = trigger,
                  .start_time = now};
    runs_.push_back({run, now});
    return run;
  }
  absl::StatusOr<RunRecord> GetRun(const std::string& source_id, int64_t run_id) override {
    std::lock_guard lock(mu_);
    if (run_id < 1 || run_id > static_cast<int64_t>(runs_.size()) ||
        runs_[run_id - 1].run.source_id != source_id) {
      return absl::NotFoundError(absl::StrCat("sources/", source_id, "/runs/", run_id));
    }
    return runs_[run_id - 1].run;
  }
  absl::StatusOr<std::map<std::string, RunRecord>> LastRuns(
      const std::vector<std::string>& source_ids) override {
    std::lock_guard lock(mu_);
    std::map<std::string, RunRecord> out;
    for (const auto& r : runs_) {
      if (std::find(source_ids.begin(), source_ids.end(), r.run.source_id) != source_ids.end()) {
        out[r.run.source_id] = r.run;
      }
    }
    return out;
  }
  absl::StatusOr<std::vector<RunRecord>> ListRuns(const std::string& source_id, int64_t before,
                                                  int limit) override {
    std::lock_guard lock(mu_);
    std::vector<RunRecord> out;
    for (auto it = runs_.rbegin(); it != runs_.rend() && static_cast<int>(out.size()) < limit;
         ++it) {
      if (it->run.source_id == source_id && (before == 0 || it->run.id < before)) {
        out.push_back(it->run);
      }
    }
    return out;
  }
  absl::Status Heartbeat(const RunRecord& run, absl::Time now) override {
    std::lock_guard lock(mu_);
    Stored& s = runs_.at(run.id - 1);
    ++heartbeats_;
    if (s.run.state != RunState::kRunning) {
      ++refused_heartbeats_;
      return absl::AbortedError("no longer running");
    }
    RunRecord counts = run;
    counts.state = s.run.state;
    counts.start_time = s.run.start_time;
    s.run = counts;
    s.alive = now;
    return absl::OkStatus();
  }
  absl::Status Touch(int64_t run_id, absl::Time now) override {
    std::lock_guard lock(mu_);
    Stored& s = runs_.at(run_id - 1);
    if (s.run.state != RunState::kRunning) return absl::AbortedError("no longer running");
    s.alive = now;
    return absl::OkStatus();
  }
  absl::Status AddErrors(int64_t run_id, const std::vector<RowError>& errors) override {
    std::lock_guard lock(mu_);
    auto& e = errors_[run_id];
    e.insert(e.end(), errors.begin(), errors.end());
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::pair<int64_t, RowError>>> ListErrors(int64_t run_id,
                                                                       int after_line,
                                                                       int64_t after_id,
                                                                       int limit) override {
    std::lock_guard lock(mu_);
    std::vector<std::pair<int64_t, RowError>> out;
    const auto& e = errors_[run_id];
    for (size_t i = 0; i < e.size() && static_cast<int>(out.size()) < limit; ++i) {
      if (std::make_pair(e[i].line, static_cast<int64_t>(i + 1)) >
          std::make_pair(after_line, after_id)) {
        out.push_back({static_cast<int64_t>(i + 1), e[i]});
      }
    }
    return out;
  }
  absl::StatusOr<std::map<std::string, Sent>> Fingerprints(const std::string& source_id) override {
    std::lock_guard lock(mu_);
    return fingerprints_[source_id];
  }
  absl::Status SaveFingerprints(const std::string& source_id,
                                const std::map<std::string, Sent>& rows) override {
    std::lock_guard lock(mu_);
    for (const auto& [id, sent] : rows) fingerprints_[source_id][id] = sent;
    return absl::OkStatus();
  }
  absl::Status DeleteFingerprints(const std::string& source_id,
                                  const std::vector<std::string>& row_ids) override {
    std::lock_guard lock(mu_);
    for (const auto& id : row_ids) fingerprints_[source_id].erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<FileValidators> GetFileValidators(const std::string& source_id) override {
    std::lock_guard lock(mu_);
    return validators_[source_id];
  }
  absl::Status SaveFileValidators(const std::string& source_id,
                                  const FileValidators& validators) override {
    std::lock_guard lock(mu_);
    validators_[source_id] = validators;
    return absl::OkStatus();
  }
  absl::StatusOr<RunRecord> FinishRun(const RunRecord& run, const FileValidators* validators,
                                      const RunEventFactory& event) override {
    std::lock_guard lock(mu_);
    ++finishes_;
    if (!run.end_time) return absl::InternalError("a run ends with its end_time set");
    Stored& s = runs_.at(run.id - 1);
    if (s.run.state != RunState::kRunning) return s.run;
    const absl::Time start = s.run.start_time;
    s.run = run;
    s.run.start_time = start;
    if (validators != nullptr && s.run.state == RunState::kSucceeded) {
      validators_[run.source_id] = *validators;
    }
    events_.push_back(event(s.run));
    return s.run;
  }
  absl::StatusOr<int> FailSilentRuns(absl::Time now, absl::Duration silence,
                                     const RunEventFactory& event) override {
    std::lock_guard lock(mu_);
    int n = 0;
    for (Stored& s : runs_) {
      if (s.run.state == RunState::kRunning && s.alive < now - silence) {
        s.run.state = RunState::kFailed;
        s.run.end_time = now;
        s.run.error = kDeadMessage;
        events_.push_back(event(s.run));
        ++n;
      }
    }
    return n;
  }
  absl::StatusOr<std::vector<SourceRecord>> DueSources(absl::Time now,
                                                       absl::Duration retry_after) override {
    std::lock_guard lock(mu_);
    std::vector<SourceRecord> out;
    for (const auto& [id, source] : sources_) {
      if (source.refresh_seconds <= 0) continue;
      const RunRecord* last = nullptr;
      for (const auto& s : runs_) {
        if (s.run.source_id == id) last = &s.run;
      }
      absl::Duration wait = absl::Seconds(source.refresh_seconds);
      if (last != nullptr && last->state == RunState::kFailed) wait = std::min(wait, retry_after);
      if (last == nullptr || (last->state != RunState::kRunning && last->start_time < now - wait)) {
        out.push_back(source);
      }
    }
    return out;
  }

  // What the tests read and set.
  RunRecord Run(int64_t id) {
    std::lock_guard lock(mu_);
    return runs_.at(id - 1).run;
  }
  int64_t RunCount() {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(runs_.size());
  }
  bool Ended(int64_t id) { return id <= RunCount() && Run(id).state != RunState::kRunning; }
  /// Another replica fails the run (it took it for dead).
  void FailElsewhere(int64_t id) {
    std::lock_guard lock(mu_);
    runs_.at(id - 1).run.state = RunState::kFailed;
    runs_.at(id - 1).run.error = "failed by another replica";
  }
  std::vector<RowError> Errors(int64_t run_id) {
    std::lock_guard lock(mu_);
    return errors_[run_id];
  }
  std::map<std::string, Sent> SentRows(const std::string& source_id) {
    std::lock_guard lock(mu_);
    return fingerprints_[source_id];
  }
  FileValidators Validators(const std::string& source_id) {
    std::lock_guard lock(mu_);
    return validators_[source_id];
  }
  void ForgetFingerprints(const std::string& source_id) {
    std::lock_guard lock(mu_);
    fingerprints_.erase(source_id);
  }
  void SetWithdrawFraction(const std::string& source_id, double fraction) {
    std::lock_guard lock(mu_);
    sources_.at(source_id).max_withdraw_fraction = fraction;
  }
  std::vector<events::v1::Event> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  int finishes() {
    std::lock_guard lock(mu_);
    return finishes_;
  }
  int heartbeats() {
    std::lock_guard lock(mu_);
    return heartbeats_;
  }
  /// Heartbeats that found their run no longer running.
  int refused_heartbeats() {
    std::lock_guard lock(mu_);
    return refused_heartbeats_;
  }

 private:
  struct Stored {
    RunRecord run;
    absl::Time alive;  // the last heartbeat
  };
  std::mutex mu_;
  std::map<std::string, SourceRecord> sources_;
  std::vector<Stored> runs_;  // run id - 1
  std::map<int64_t, std::vector<RowError>> errors_;
  std::map<std::string, std::map<std::string, Sent>> fingerprints_;
  std::map<std::string, FileValidators> validators_;
  std::vector<events::v1::Event> events_;
  int finishes_ = 0;
  int heartbeats_ = 0;
  int refused_heartbeats_ = 0;
};

// The venue registry in memory: venues by (source, source id); a row named "REFUSÉ …" is
// rejected, as the registry rejects a row its own rules refuse.
class FakeRegistry final : public Registry {
 public:
  struct Batch {
    size_t rows;
    bool reinstate;
  };
  absl::StatusOr<std::vector<UpsertedRow>> BatchUpsert(const std::string& source,
                                                       const std::vector<standard::Venue>& rows,
                                                       bool reinstate) override {
    std::function<void()> hook;
    std::vector<UpsertedRow> out;
    {
      std::lock_guard lock(mu_);
      batches_.push_back({rows.size(), reinstate});
      hook = on_batch_;
      for (size_t i = 0; i < rows.size(); ++i) {
        const standard::Venue& row = rows[i];
        UpsertedRow r{.index = i, .source_id = row.source_id};
        const auto name = row.standard.find("nom");
        if (name != row.standard.end() && !name->second.empty() &&
            name->second[0].starts_with("REFUSÉ")) {
          r.outcome = UpsertedRow::Outcome::kRejected;
          r.violations.push_back({"nom", name->second[0], "registry", "refusé par le registre"});
          out.push_back(std::move(r));
          continue;
        }
        auto [it, created] = venues_.try_emplace({source, row.source_id});
        Stored& v = it->second;
        if (created) {
          v.name = absl::StrCat("venues/", venues_.size());
          r.outcome = UpsertedRow::Outcome::kCreated;
        } else {
          r.outcome = v.record == row.standard ? UpsertedRow::Outcome::kUnchanged
                                               : UpsertedRow::Outcome::kUpdated;
        }
        v.record = row.standard;
        if (reinstate) v.withdrawn = false;
        r.venue = v.name;
        out.push_back(std::move(r));
      }
    }
    if (hook) hook();
    return out;
  }
  absl::Status Withdraw(const std::string& name, const std::string& reason) override {
    std::lock_guard lock(mu_);
    for (auto& [key, v] : venues_) {
      if (v.name == name) {
        v.withdrawn = true;
        reasons_.push_back(reason);
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError(name);
  }

  std::vector<Batch> Batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  int Withdrawn() {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [key, v] : venues_) n += v.withdrawn;
    return n;
  }
  std::vector<std::string> Reasons() {
    std::lock_guard lock(mu_);
    return reasons_;
  }
  /// Called after each batch is taken (outside the lock).
  void OnBatch(std::function<void()> hook) {
    std::lock_guard lock(mu_);
    on_batch_ = std::move(hook);
  }

 private:
  struct Stored {
    std::string name;
    standard::Record record;
    bool withdrawn = false;
  };
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Stored> venues_;
  std::vector<Batch> batches_;
  std::vector<std::string> reasons_;
  std::function<void()> on_batch_;
};

// Serves whatever the test sets, or hangs until the run's fetch is cancelled.
// Answers 304 when asked about the ETag it serves (set with Tag).
class FakeFetcher final : public Fetcher {
 public:
  absl::StatusOr<FetchedFile> Get(const std::string&, const std::string&,
                                  const FileValidators& since, net::Cancellation& cancel) override {
    bool hang;
    absl::StatusOr<std::string> body;
    std::string etag;
    {
      std::lock_guard lock(mu_);
      ++calls_;
      hang = hang_;
      body = body_;
      etag = etag_;
      since_ = since;
    }
    if (hang) {
      while (!cancel.WaitFor(1s)) {
      }
      std::lock_guard lock(mu_);
      ++cancelled_;
      return absl::CancelledError("fetch cancelled");
    }
    if (!body.ok()) return body.status();
    if (!etag.empty() && since.etag == etag) return FetchedFile{.not_modified = true};
    return FetchedFile{.body = *std::move(body), .etag = etag};
  }
  void Serve(absl::StatusOr<std::string> body, std::string etag = "") {
    std::lock_guard lock(mu_);
    body_ = std::move(body);
    etag_ = std::move(etag);
    hang_ = false;
  }
  FileValidators since() {
    std::lock_guard lock(mu_);
    return since_;
  }
  void Hang() {
    std::lock_guard lock(mu_);
    hang_ = true;
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  int cancelled() {
    std::lock_guard lock(mu_);
    return cancelled_;
  }

 private:
  std::mutex mu_;
  absl::StatusOr<std::string> body_ = std::string();
  std::string etag_;
  FileValidators since_;
  bool hang_ = false;
  int calls_ = 0;
  int cancelled_ = 0;
};

class SyncerTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeSyncer(absl::Minutes(2)); }

  // `dead_after`: a quarter of it is the heartbeat's real-time period.
  void MakeSyncer(absl::Duration dead_after) {
    syncer_.reset();
    syncer_ = std::make_unique<Syncer>(standard::Standard::V102(), repo_, registry_, fetcher_,
                                       destinations_, clock_, absl::Minutes(15), dead_after);
    syncer_->OnRunEnded([this](const RunRecord& run) {
      std::lock_guard lock(mu_);
      ended_.push_back(run);
    });
  }

  void AddSource(const std::string& id, int64_t refresh_seconds = 0) {
    SourceRecord source{.url = "https://regional.example/lieux.csv",
                        .refresh_seconds = refresh_seconds};
    ASSERT_TRUE(syncer_->CreateSource(id, source).ok());
  }

  // Starts a manual run and waits for its end.
  RunRecord RunToEnd(const std::string& source = "reg") {
    auto run = syncer_->StartRun("sources/" + source, RunTrigger::kManual);
    EXPECT_TRUE(run.ok()) << run.status();
    if (!run.ok()) return {};
    EXPECT_TRUE(testing::WaitFor([&] { return repo_.Ended(run->id); }, 10s));
    // The observer runs after the store has the end: wait for it too.
    EXPECT_TRUE(
        testing::WaitFor([&] { return Ended().size() > 0 && Ended().back().id == run->id; }, 10s));
    return repo_.Run(run->id);
  }

  std::vector<RunRecord> Ended() {
    std::lock_guard lock(mu_);
    return ended_;
  }

  clocks::ManualClock clock_;
  FakeRepository repo_;
  FakeRegistry registry_;
  FakeFetcher fetcher_;
  net::DestinationPolicy destinations_ = *net::DestinationPolicy::FromStrings("", "80,443");
  std::mutex mu_;
  std::vector<RunRecord> ended_;
  std::unique_ptr<Syncer> syncer_;  // last: stopped before the fakes go
};

// ---- Read (ReadFile): a file that is not the standard's CSV fails the run whole.

TEST(ReadFileTest, RefusesWhatIsNotTheStandardsCsv) {
  const std::string good = File(Rows(2));
  const std::pair<std::string, std::string> cases[] = {
      {"", "[header] fichier vide"},
      {"\x89PNG\r\n\x1a\n", "[format] c'est une image PNG"},
      {"<!DOCTYPE html><html>", "[format] c'est une page HTML"},
      {"[{\"id\": 1}]", "[format] c'est un document JSON"},
      {std::string("id,nom\n\0", 8), "[format] fichier binaire (octet nul"},
      {" \r\n\t", "[header] fichier sans contenu (blancs seulement)"},
      {"id,nom,caf\xE9\n", "[utf8] en-tête illisible : pas en UTF-8"},
      {"name,city,zip\r\nEspace,Roubaix,59100\r\n",
       "fichier illisible, rien n'a été modifié : [required]"},
      {File({}), "[required] le fichier n'a aucune ligne de lieu"},
      {good + "\"reg-9\",\"21590512800009\"", "fichier tronqué à la ligne 4"},
  };
  for (const auto& [file, message] : cases) {
    auto read = ReadFile(standard::Standard::V102(), file, "reg");
    ASSERT_FALSE(read.ok()) << message;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(read.status().message(), HasSubstr(message));
    EXPECT_THAT(read.status().message(), HasSubstr("rien n'a été modifié"));
  }
  auto read = ReadFile(standard::Standard::V102(), good, "reg");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->rows, 2);
  EXPECT_EQ(read->valid.size(), 2u);
}

// ---- Diff (DiffRows): new rows, changed rows, unchanged rows and rows the standard refused.

TEST(DiffRowsTest, SplitsNewChangedAndUnchangedRows) {
  auto bad = Row(3);
  bad["code_postal"] = "591";  // the standard refuses it
  const std::string first = File({Row(0), Row(1), Row(2)});
  auto before = ReadFile(standard::Standard::V102(), first, "reg");
  ASSERT_TRUE(before.ok());
  std::map<std::string, Sent> sent;
  for (const auto& p : DiffRows(*before, {}).fresh) {
    sent[p.row->venue.source_id] = {p.fingerprint, "venues/" + p.row->venue.source_id};
  }
  sent["reg-9"] = {"gone", "venues/reg-9"};

  auto changed = Row(1);
  changed["nom"] = "Espace numérique rénové";
  auto now = ReadFile(standard::Standard::V102(), File({Row(0), changed, Row(4), bad}), "reg");
  ASSERT_TRUE(now.ok());
  const RowPlan plan = DiffRows(*now, sent);
  EXPECT_EQ(plan.skipped, 1);  // reg-0
  ASSERT_EQ(plan.changed.size(), 1u);
  EXPECT_EQ(plan.changed[0].row->venue.source_id, "reg-1");
  EXPECT_NE(plan.changed[0].fingerprint, sent["reg-1"].fingerprint);
  ASSERT_EQ(plan.fresh.size(), 1u);
  EXPECT_EQ(plan.fresh[0].row->venue.source_id, "reg-4");
  EXPECT_EQ(plan.in_file, (std::set<std::string>{"reg-0", "reg-1", "reg-3", "reg-4"}));
  ASSERT_EQ(plan.errors.size(), 1u);
  EXPECT_EQ(plan.errors[0].line, 5);
  EXPECT_EQ(plan.errors[0].row_id, "reg-3");
  EXPECT_EQ(plan.errors[0].field, "code_postal");
}

// ---- Withdrawal guard (GuardWithdrawals).

TEST(GuardWithdrawalsTest, RefusesWhenMoreThanTheFractionLeftOrTheFractionIsNotANumber) {
  std::map<std::string, Sent> sent;
  std::set<std::string> in_file;
  for (int i = 0; i < 10; ++i) {
    sent[absl::StrCat("reg-", i)] = {"print", absl::StrCat("venues/", i)};
    if (i >= 2) in_file.insert(absl::StrCat("reg-", i));
  }
  auto two = GuardWithdrawals(sent, in_file, 0.2);  // 2 of 10 left: at the threshold
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].row_id, "reg-0");
  EXPECT_EQ((*two)[0].venue, "venues/0");

  in_file.erase("reg-2");  // 3 of 10
  auto three = GuardWithdrawals(sent, in_file, 0.2);
  ASSERT_FALSE(three.ok());
  EXPECT_EQ(three.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(three.status().message(), HasSubstr("3 lieux sur 10"));
  EXPECT_THAT(three.status().message(), HasSubstr("aucun n'a été retiré"));

  in_file.insert({"reg-0", "reg-2"});  // 1 of 10, but no threshold that is a number
  for (double fraction : {std::nan(""), std::numeric_limits<double>::infinity(), -0.5, 1.5}) {
    auto refused = GuardWithdrawals(sent, in_file, fraction);
    ASSERT_FALSE(refused.ok()) << fraction;
    EXPECT_THAT(refused.status().message(), HasSubstr("aucun n'a été retiré")) << fraction;
  }
  EXPECT_FALSE(GuardWithdrawals(sent, in_file, 0).ok());
  in_file.insert("reg-1");  // nothing left: nothing to guard
  auto none = GuardWithdrawals(sent, in_file, std::nan(""));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// ---- Fetch.

TEST_F(SyncerTest, FetchFailureFailsTheRunAndWritesNothing) {
  AddSource("reg");
  fetcher_.Serve(absl::UnavailableError("connexion refusée"));
  const RunRecord run = RunToEnd();
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_THAT(run.error, HasSubstr("téléchargement impossible de https://regional.example/"));
  EXPECT_THAT(run.error, HasSubstr("connexion refusée"));
  EXPECT_TRUE(registry_.Batches().empty());
  EXPECT_EQ(fetcher_.calls(), 1);
}

// ---- Read, through a run: a file-level error fails the run and changes nothing.

TEST_F(SyncerTest, FileLevelErrorFailsTheRunAndChangesNothing) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(5)));
  ASSERT_EQ(RunToEnd().state, RunState::kSucceeded);
  const auto sent = repo_.SentRows("reg");
  const size_t batches = registry_.Batches().size();

  fetcher_.Serve(std::string("<html><body>Connexion requise</body></html>"));
  const RunRecord run = RunToEnd();
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_THAT(run.error, HasSubstr("fichier refusé, rien n'a été modifié"));
  EXPECT_THAT(run.error, HasSubstr("page HTML"));
  EXPECT_EQ(run.file_bytes, 43);
  EXPECT_EQ(registry_.Batches().size(), batches);
  EXPECT_EQ(registry_.Withdrawn(), 0);
  EXPECT_EQ(repo_.SentRows("reg").size(), sent.size());
}

// ---- Diff and write: created, updated, unchanged, skipped and rejected rows, with row errors.

TEST_F(SyncerTest, RunWritesCreatedUpdatedUnchangedRowsAndRecordsRowErrors) {
  AddSource("reg");
  auto bad = Row(4);
  bad["code_postal"] = "591";  // refused by the standard
  auto refused = Row(5);
  refused["nom"] = "REFUSÉ par le registre";  // refused by the registry
  fetcher_.Serve(File({Row(0), Row(1), Row(2), Row(3), bad, refused}));
  const RunRecord first = RunToEnd();
  ASSERT_EQ(first.state, RunState::kSucceeded) << first.error;
  EXPECT_EQ(first.rows, 6);
  EXPECT_EQ(first.created, 4);
  EXPECT_EQ(first.rejected, 2);
  EXPECT_EQ(first.skipped, 0);
  const auto errors = repo_.Errors(first.id);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].line, 6);
  EXPECT_EQ(errors[0].row_id, "reg-4");
  EXPECT_EQ(errors[0].field, "code_postal");
  EXPECT_EQ(errors[1].line, 7);
  EXPECT_EQ(errors[1].row_id, "reg-5");
  EXPECT_EQ(errors[1].rule, "registry");
  EXPECT_EQ(repo_.SentRows("reg").size(), 4u);  // the rejected rows are not remembered as sent

  // One row changes: only it is sent; the others are skipped without reaching the registry.
  auto changed = Row(2);
  changed["nom"] = "Espace numérique rénové";
  fetcher_.Serve(File({Row(0), Row(1), changed, Row(3)}));
  const RunRecord second = RunToEnd();
  ASSERT_EQ(second.state, RunState::kSucceeded) << second.error;
  EXPECT_EQ(second.skipped, 3);
  EXPECT_EQ(second.updated, 1);
  EXPECT_EQ(second.created, 0);
  EXPECT_EQ(registry_.Batches().back().rows, 1u);

  // The fingerprints are lost: every row is sent again, and the registry has them unchanged
  // (the file's validators too, or the same file would not be read at all).
  repo_.ForgetFingerprints("reg");
  ASSERT_TRUE(repo_.SaveFileValidators("reg", {}).ok());
  const RunRecord third = RunToEnd();
  ASSERT_EQ(third.state, RunState::kSucceeded) << third.error;
  EXPECT_EQ(third.unchanged, 4);
  EXPECT_EQ(third.skipped, 0);
  EXPECT_EQ(third.updated + third.created, 0);
}

TEST_F(SyncerTest, WriteSendsNewRowsWithReinstateInBatchesOf500AndBeatsBeforeEach) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(1100)));
  const RunRecord first = RunToEnd();
  ASSERT_EQ(first.state, RunState::kSucceeded) << first.error;
  EXPECT_EQ(first.created, 1100);
  auto batches = registry_.Batches();
  ASSERT_EQ(batches.size(), 3u);
  // Two batches in flight: the registry may receive the last before the one ahead of it.
  EXPECT_THAT((std::vector<size_t>{batches[0].rows, batches[1].rows, batches[2].rows}),
              ::testing::UnorderedElementsAre(500u, 500u, 100u));
  for (const auto& b : batches) EXPECT_TRUE(b.reinstate);
  EXPECT_EQ(repo_.heartbeats(), 3);

  // Rows sent before that changed keep the state the registry gave them: no reinstate.
  auto rows = Rows(1100);
  for (int i = 0; i < 600; ++i) rows[i]["nom"] = absl::StrCat("Lieu renommé ", i);
  fetcher_.Serve(File(rows));
  const RunRecord second = RunToEnd();
  ASSERT_EQ(second.state, RunState::kSucceeded) << second.error;
  EXPECT_EQ(second.updated, 600);
  batches = registry_.Batches();
  ASSERT_EQ(batches.size(), 5u);
  EXPECT_THAT((std::vector<size_t>{batches[3].rows, batches[4].rows}),
              ::testing::UnorderedElementsAre(500u, 100u));
  EXPECT_FALSE(batches[3].reinstate);
  EXPECT_FALSE(batches[4].reinstate);
}

// ---- Withdraw: what left the file, unless the guard refuses.

TEST_F(SyncerTest, WithdrawalGuardRefusesWhenTooManyLeftAndWithdrawsOtherwise) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(10)));
  ASSERT_EQ(RunToEnd().state, RunState::kSucceeded);

  fetcher_.Serve(File(Rows(7)));  // 3 of 10 gone, over the default 20 %
  const RunRecord refused = RunToEnd();
  EXPECT_EQ(refused.state, RunState::kFailed);
  EXPECT_THAT(refused.error, HasSubstr("3 lieux sur 10 ont disparu"));
  EXPECT_EQ(registry_.Withdrawn(), 0);
  EXPECT_EQ(repo_.SentRows("reg").size(), 10u);

  fetcher_.Serve(File(Rows(9)));  // 1 of 10 gone
  const RunRecord withdrew = RunToEnd();
  ASSERT_EQ(withdrew.state, RunState::kSucceeded) << withdrew.error;
  EXPECT_EQ(withdrew.withdrawn, 1);
  EXPECT_EQ(registry_.Withdrawn(), 1);
  EXPECT_FALSE(repo_.SentRows("reg").contains("reg-9"));
  EXPECT_THAT(registry_.Reasons(),
              ElementsAre(absl::StrCat("absent du fichier de la source reg (sources/reg/runs/",
                                       withdrew.id, ")")));
}

TEST_F(SyncerTest, WithdrawalGuardRefusesEveryWithdrawalWhenTheFractionIsNaN) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(10)));
  ASSERT_EQ(RunToEnd().state, RunState::kSucceeded);
  repo_.SetWithdrawFraction("reg", std::nan(""));  // a stored value no API accepts
  fetcher_.Serve(File(Rows(9)));
  const RunRecord run = RunToEnd();
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_THAT(run.error, HasSubstr("aucun n'a été retiré"));
  EXPECT_EQ(registry_.Withdrawn(), 0);
}

// ---- Finish: the end and its event, at the clock's time.

TEST_F(SyncerTest, FinishEndsTheRunWithItsEventAtTheClocksTime) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(2)));
  const absl::Time start = clock_.Now();
  const RunRecord run = RunToEnd();
  ASSERT_EQ(run.state, RunState::kSucceeded);
  EXPECT_EQ(run.start_time, start);
  EXPECT_EQ(run.end_time, start);
  ASSERT_EQ(repo_.Events().size(), 1u);
  const events::v1::Event event = repo_.Events()[0];
  EXPECT_EQ(event.subject(), Syncer::RunName(run));
  EXPECT_EQ(event.occurred_time().seconds(), absl::ToUnixSeconds(start));
  EXPECT_EQ(Ended().back().state, RunState::kSucceeded);
}

// ---- The scheduler's decisions follow the clock.

TEST_F(SyncerTest, SourceIsDueWhenTheClockPassesItsInterval) {
  AddSource("reg", /*refresh_seconds=*/3600);
  fetcher_.Serve(File(Rows(2)));
  syncer_->Tick();  // never ran: due now
  ASSERT_EQ(repo_.RunCount(), 1);
  ASSERT_TRUE(testing::WaitFor([&] { return repo_.Ended(1); }, 10s));
  EXPECT_EQ(repo_.Run(1).trigger, RunTrigger::kScheduled);
  syncer_->Tick();
  clock_.Advance(absl::Minutes(59));
  syncer_->Tick();
  EXPECT_EQ(repo_.RunCount(), 1);  // not before the interval
  clock_.Advance(absl::Minutes(2));
  syncer_->Tick();
  EXPECT_EQ(repo_.RunCount(), 2);
  EXPECT_EQ(repo_.Run(2).start_time, clock_.Now());
}

TEST_F(SyncerTest, FailedScheduledRunIsRetriedAfterRetryAfterNotBefore) {
  AddSource("reg", /*refresh_seconds=*/86400);
  fetcher_.Serve(absl::UnavailableError("503"));
  syncer_->Tick();
  ASSERT_EQ(repo_.RunCount(), 1);
  ASSERT_TRUE(testing::WaitFor([&] { return repo_.Ended(1); }, 10s));
  EXPECT_EQ(repo_.Run(1).state, RunState::kFailed);
  clock_.Advance(absl::Minutes(14));
  syncer_->Tick();
  EXPECT_EQ(repo_.RunCount(), 1);  // retry_after is 15 minutes
  clock_.Advance(absl::Minutes(2));
  syncer_->Tick();
  EXPECT_EQ(repo_.RunCount(), 2);
}

TEST_F(SyncerTest, SilentRunIsFailedAfterDeadAfter) {
  AddSource("reg");
  // A run of a process that died: running, and its heartbeat stopped at the clock's now.
  ASSERT_TRUE(repo_.InsertRun("reg", RunTrigger::kManual, clock_.Now()).ok());
  syncer_->Tick();
  clock_.Advance(absl::Minutes(2) - absl::Seconds(1));
  syncer_->Tick();
  EXPECT_EQ(repo_.Run(1).state, RunState::kRunning);  // not before dead_after
  clock_.Advance(absl::Seconds(2));
  syncer_->Tick();
  const RunRecord run = repo_.Run(1);
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_EQ(run.error, kDeadMessage);
  EXPECT_EQ(run.end_time, clock_.Now());
  ASSERT_EQ(repo_.Events().size(), 1u);
  EXPECT_EQ(repo_.Events()[0].occurred_time().seconds(), absl::ToUnixSeconds(clock_.Now()));
}

// ---- A run that is no longer ours stops writing.

TEST_F(SyncerTest, AHeartbeatThatFindsTheRunLostSendsNoMoreBatches) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(10)));
  ASSERT_EQ(RunToEnd().state, RunState::kSucceeded);
  // Another replica fails the next run while its first batch is at the registry.
  registry_.OnBatch([&] { repo_.FailElsewhere(2); });
  fetcher_.Serve(File(Rows(2100)));  // five batches
  auto run = syncer_->StartRun("sources/reg", RunTrigger::kManual);
  ASSERT_TRUE(run.ok());
  // Each batch is sent after a heartbeat: the first batch's, then the second's if it beat the
  // failure; the next heartbeat finds the run lost and nothing more is sent.
  ASSERT_TRUE(testing::WaitFor([&] { return repo_.refused_heartbeats() == 1; }, 10s));
  syncer_->Shutdown();                                 // waits for the worker
  const size_t sent = registry_.Batches().size() - 1;  // less the first run's
  EXPECT_GE(sent, 1u);
  EXPECT_LE(sent, 2u) << "batches sent after a heartbeat found the run lost";
  const RunRecord after = repo_.Run(run->id);
  EXPECT_EQ(after.state, RunState::kFailed);
  EXPECT_EQ(after.error, "failed by another replica");
  EXPECT_EQ(repo_.finishes(), 1);  // the first run's end only
  EXPECT_EQ(Ended().size(), 1u);
}

TEST_F(SyncerTest, KeepaliveThatFindsTheRunLostCancelsItsFetch) {
  MakeSyncer(absl::Milliseconds(40));  // the keepalive beats every 10 ms
  AddSource("reg");
  fetcher_.Hang();
  auto run = syncer_->StartRun("sources/reg", RunTrigger::kManual);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(testing::WaitFor([&] { return fetcher_.calls() == 1; }, 10s));
  repo_.FailElsewhere(run->id);
  // The keepalive, not the shutdown, cancels the fetch.
  ASSERT_TRUE(testing::WaitFor([&] { return fetcher_.cancelled() == 1; }, 10s));
  syncer_->Shutdown();
  EXPECT_EQ(repo_.Run(run->id).error, "failed by another replica");
  EXPECT_EQ(repo_.finishes(), 0);
  EXPECT_TRUE(registry_.Batches().empty());
}

// ---- Shutdown.

TEST_F(SyncerTest, ShutdownEndsARunningRunAsInterrupted) {
  AddSource("reg");
  fetcher_.Hang();
  auto run = syncer_->StartRun("sources/reg", RunTrigger::kManual);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(testing::WaitFor([&] { return fetcher_.calls() == 1; }, 10s));
  syncer_->Shutdown();
  const RunRecord after = repo_.Run(run->id);
  EXPECT_EQ(after.state, RunState::kFailed);
  EXPECT_EQ(after.error, "interrompue par l'arrêt du service ; relancez-la");
  EXPECT_EQ(after.end_time, clock_.Now());
  auto refused = syncer_->StartRun("sources/reg", RunTrigger::kManual);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
}

// Found by the outside review: an interrupted run kept its rejected count but stored none of
// its rows' errors, and the batch in flight was written but not counted.
TEST_F(SyncerTest, AnInterruptedRunStoresItsRowErrorsAndCountsTheBatchesInFlight) {
  AddSource("reg");
  auto rows = Rows(2100);  // five batches
  rows[3]["nom"] = "REFUSÉ par le registre";
  fetcher_.Serve(File(rows));
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls = 0;
  registry_.OnBatch([&] {
    if (++calls == 2) released.wait();  // the second batch is at the registry when asked to stop
  });
  auto run = syncer_->StartRun("sources/reg", RunTrigger::kManual);
  ASSERT_TRUE(run.ok());
  const bool second = testing::WaitFor([&] { return calls.load() >= 2; }, 10s);
  if (!second) release.set_value();
  ASSERT_TRUE(second);
  std::thread stopper([&] { syncer_->Shutdown(); });
  std::this_thread::sleep_for(200ms);  // stopping_ is set; the worker waits for batch 2
  release.set_value();
  stopper.join();
  const RunRecord after = repo_.Run(run->id);
  EXPECT_EQ(after.state, RunState::kFailed);
  const size_t sent = registry_.Batches().size();
  EXPECT_LT(sent, 5u) << "the run was not interrupted";  // two or three were sent
  // Every batch the registry took is counted: 499 created in the first, 500 in each other.
  EXPECT_EQ(after.created + after.rejected, static_cast<int>(sent) * 500);
  EXPECT_EQ(after.rejected, 1);
  EXPECT_EQ(repo_.Errors(run->id).size(), 1u) << "the rejected row's reason was not stored";
}

// ---- Resource names: one spelling each.

// ---- Fetch: a file unchanged since the last succeeded run is not read again.

TEST_F(SyncerTest, SameFileAgainEndsTheRunUnchangedWithoutReadingIt) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(3)));
  const RunRecord first = RunToEnd();
  ASSERT_EQ(first.state, RunState::kSucceeded) << first.error;
  EXPECT_EQ(first.file_unchanged, FileUnchanged::kNo);
  EXPECT_FALSE(repo_.Validators("reg").digest.empty());
  const size_t batches = registry_.Batches().size();

  const RunRecord second = RunToEnd();  // the server sends no validator: the digest tells
  ASSERT_EQ(second.state, RunState::kSucceeded) << second.error;
  EXPECT_EQ(second.file_unchanged, FileUnchanged::kSameContent);
  EXPECT_EQ(second.rows, 0);
  EXPECT_EQ(second.skipped, 0);
  EXPECT_GT(second.file_bytes, 0);
  EXPECT_EQ(registry_.Batches().size(), batches);
  EXPECT_EQ(fetcher_.since().digest, repo_.Validators("reg").digest);
  v1::Run shown;
  ToProto(second, &shown);
  EXPECT_EQ(shown.file_unchanged(), v1::Run::SAME_CONTENT);
}

TEST_F(SyncerTest, NotModifiedEndsTheRunUnchangedAndAChangedFileIsReadAgain) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(3)), "\"v1\"");
  ASSERT_EQ(RunToEnd().state, RunState::kSucceeded);
  EXPECT_EQ(repo_.Validators("reg").etag, "\"v1\"");
  const size_t batches = registry_.Batches().size();

  const RunRecord second = RunToEnd();
  ASSERT_EQ(second.state, RunState::kSucceeded) << second.error;
  EXPECT_EQ(fetcher_.since().etag, "\"v1\"");  // asked conditionally
  EXPECT_EQ(second.file_unchanged, FileUnchanged::kNotModified);
  EXPECT_EQ(second.file_bytes, 0);
  EXPECT_EQ(registry_.Batches().size(), batches);

  auto changed = Rows(3);
  changed[1]["nom"] = "Espace numérique rénové";
  fetcher_.Serve(File(changed), "\"v2\"");
  const RunRecord third = RunToEnd();
  ASSERT_EQ(third.state, RunState::kSucceeded) << third.error;
  EXPECT_EQ(third.file_unchanged, FileUnchanged::kNo);
  EXPECT_EQ(third.updated, 1);
  EXPECT_EQ(third.skipped, 2);
  EXPECT_EQ(repo_.Validators("reg").etag, "\"v2\"");
}

TEST_F(SyncerTest, FailedRunKeepsTheValidatorsOfTheLastSucceededOne) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(3)), "\"v1\"");
  ASSERT_EQ(RunToEnd().state, RunState::kSucceeded);
  const FileValidators kept = repo_.Validators("reg");

  fetcher_.Serve(std::string("<html><body>Connexion requise</body></html>"), "\"v2\"");
  ASSERT_EQ(RunToEnd().state, RunState::kFailed);
  EXPECT_EQ(repo_.Validators("reg").etag, kept.etag);
  EXPECT_EQ(repo_.Validators("reg").digest, kept.digest);

  // The good file comes back under a new tag: read again (its rows were sent: skipped).
  fetcher_.Serve(File(Rows(3)), "\"v3\"");
  const RunRecord third = RunToEnd();
  ASSERT_EQ(third.state, RunState::kSucceeded) << third.error;
  EXPECT_EQ(third.file_unchanged, FileUnchanged::kSameContent);
}

TEST_F(SyncerTest, AnotherUrlOrCredentialsForgetTheValidatorsButARenameKeepsThem) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(3)), "\"v1\"");
  ASSERT_EQ(RunToEnd().state, RunState::kSucceeded);

  ASSERT_TRUE(
      syncer_->UpdateSource("sources/reg", {.display_name = "Région"}, {"display_name"}).ok());
  EXPECT_EQ(repo_.Validators("reg").etag, "\"v1\"");

  ASSERT_TRUE(
      syncer_
          ->UpdateSource("sources/reg", {.url = "https://regional.example/v2/lieux.csv"}, {"url"})
          .ok());
  EXPECT_TRUE(repo_.Validators("reg").empty());
  const RunRecord next = RunToEnd();
  ASSERT_EQ(next.state, RunState::kSucceeded) << next.error;
  EXPECT_EQ(next.file_unchanged, FileUnchanged::kNo);
  EXPECT_EQ(next.skipped, 3);
}

TEST_F(SyncerTest, NamesHaveOneSpelling) {
  AddSource("reg");
  fetcher_.Serve(File(Rows(1)));
  const RunRecord run = RunToEnd();
  EXPECT_EQ(Syncer::RunName(run), "sources/reg/runs/1");
  EXPECT_TRUE(syncer_->GetRun("sources/reg/runs/1").ok());
  EXPECT_TRUE(syncer_->GetSource("sources/reg").ok());
  for (const std::string name :
       {"sources/reg/runs/01", "sources/reg/runs/+1", "sources/reg/runs/0", "sources/reg/runs/1x",
        "sources/reg/runs/-1", "sources/reg/runs/1/", "sources/reg//runs/1", "sources/Reg/runs/1",
        "sources/reg/runs/ 1", "sources/reg/runs/99999999999999999999", "sources/reg"}) {
    auto got = syncer_->GetRun(name);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(api::Violations(got.status()),
                ElementsAre(::testing::Field(&api::FieldViolation::field, "name")))
        << name;
  }
  EXPECT_EQ(syncer_->GetRun("sources/reg/runs/2").status().code(), absl::StatusCode::kNotFound);
  const std::vector<std::string> bad_sources = {
      "sources/Reg", "sources/reg/",       "sources/-reg",       "sources/passerelle",
      "source/reg",  "sources/reg/runs/1", std::string(600, 'a')};
  for (const std::string& name : bad_sources) {
    EXPECT_EQ(syncer_->GetSource(name).status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(syncer_->StartRun(name, RunTrigger::kManual).status().code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
}

}  // namespace
}  // namespace passerelle::sync
