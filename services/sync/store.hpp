// The sync's storage in PostgreSQL.
#pragma once

#include "libs/db/pool.hpp"
#include "libs/events/event.hpp"
#include "services/sync/sync.hpp"

namespace passerelle::sync {

class PgStore final : public Repository {
 public:
  PgStore(db::Pool& pool, events::Topology topology)
      : pool_(pool), topology_(std::move(topology)) {}
  absl::StatusOr<SourceRecord> CreateSource(const SourceRecord& source) override;
  absl::StatusOr<SourceRecord> GetSource(const std::string& id) override;
  absl::StatusOr<SourceRecord> SaveSource(const SourceRecord& source) override;
  absl::StatusOr<std::vector<SourceRecord>> ListSources(const std::string& after,
                                                        int limit) override;
  absl::StatusOr<RunRecord> InsertRun(const std::string& source_id, RunTrigger trigger,
                                      absl::Time now) override;
  absl::StatusOr<RunRecord> GetRun(const std::string& source_id, int64_t run_id) override;
  absl::StatusOr<std::map<std::string, RunRecord>> LastRuns(
      const std::vector<std::string>& source_ids) override;
  absl::StatusOr<std::vector<RunRecord>> ListRuns(const std::string& source_id, int64_t before,
                                                  int limit) override;
  absl::Status Heartbeat(const RunRecord& run, absl::Time now) override;
  absl::Status Touch(int64_t run_id, absl::Time now) override;
  absl::Status AddErrors(int64_t run_id, const std::vector<RowError>& errors) override;
  absl::StatusOr<std::vector<std::pair<int64_t, RowError>>> ListErrors(int64_t run_id,
                                                                       int after_line,
                                                                       int64_t after_id,
                                                                       int limit) override;
  absl::StatusOr<std::map<std::string, Sent>> Fingerprints(const std::string& source_id) override;
  absl::Status SaveFingerprints(const std::string& source_id,
                                const std::map<std::string, Sent>& rows) override;
  absl::Status DeleteFingerprints(const std::string& source_id,
                                  const std::vector<std::string>& row_ids) override;
  absl::StatusOr<FileValidators> GetFileValidators(const std::string& source_id) override;
  absl::Status SaveFileValidators(const std::string& source_id,
                                  const FileValidators& validators) override;
  absl::StatusOr<RunRecord> FinishRun(const RunRecord& run, const FileValidators* validators,
                                      const RunEventFactory& event) override;
  absl::StatusOr<int> FailSilentRuns(absl::Time now, absl::Duration silence,
                                     const RunEventFactory& event) override;
  absl::StatusOr<std::vector<SourceRecord>> DueSources(absl::Time now,
                                                       absl::Duration retry_after) override;

 private:
  db::Pool& pool_;
  events::Topology topology_;
};

}  // namespace passerelle::sync
