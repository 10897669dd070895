// The reports domain's storage in PostgreSQL: reports with every revision, request ids,
// equality assessments, and the revisions written since a point (for the breakdown cache).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.hpp"
#include "libs/db/pool.hpp"
#include "libs/events/event.hpp"
#include "passerelle/indicators/v1/indicators.pb.h"
#include "services/indicators/reports_breakdown.hpp"

namespace passerelle::indicators::reports {

// Writes take `budget`: the time left before the caller's deadline (0: none), their statement
// timeout.

/// A request id as remembered: what it created (`activityReports/…`, a revision
/// `activityReports/…@{n}` or `equalityAssessments/…`), or nothing yet.
struct RememberedRequest {
  std::string scope;
  std::string request_id;
  /// Fingerprint of the method and content.
  std::string digest;
};

/// A revision written after a given point.
struct Change {
  int64_t seq = 0;
  bool withdrawn = false;
  /// When the revision was written (the store's clock).
  absl::Time write_time;
  Figures figures;
};

/// One page of reports.
struct ReportPage {
  std::vector<v1::ActivityReport> reports;
  /// Cursor of the last row when more follow, else empty.
  std::string next_cursor;
  int total_size = 0;
};

/// The id in a resource name (`activityReports/{id}` → `{id}`; a revision's `@{n}` dropped).
inline std::string IdOf(const std::string& name) {
  const size_t slash = name.find('/') + 1;
  return name.substr(slash, name.find('@', slash) - slash);
}
/// The revision in a revision name (`activityReports/{id}@{n}` → n); 0 without one.
int RevisionOf(const std::string& name);

class ReportStore {
 public:
  /// `on_commit` runs after a write with an event commits (wakes the outbox relay).
  /// Write times come from `clock`.
  ReportStore(db::Pool& pool, events::Topology topology, const clocks::Clock& clock,
              std::function<void()> on_commit);

  /// What `request` created, if it was seen: the resource name. INVALID_ARGUMENT (request_id)
  /// when the id was used for another method or content.
  absl::StatusOr<std::optional<std::string>> FindRequest(const RememberedRequest& request);

  /// Stores a new report (revision 1): `report` has every output field set; `event` goes to the
  /// outbox in the same transaction; `request` (when its id is not empty) is remembered. When the
  /// same request won a race, returns the name it created instead (ALREADY_EXISTS never escapes).
  absl::StatusOr<std::string> InsertReport(const v1::ActivityReport& report,
                                           const std::string& organisation_label,
                                           const RememberedRequest& request,
                                           const events::v1::Event& event,
                                           std::chrono::milliseconds budget = {});

  /// A report's revision (0: the latest) as written; NOT_FOUND otherwise.
  absl::StatusOr<v1::ActivityReport> Get(const std::string& id, int revision);

  /// Writes the next revision of a report: `make` gets the latest revision (locked) and returns
  /// the new one with its output fields set (or an error, which rolls back); its event is built
  /// by `event_of` and appended to the outbox. An empty `organisation_label` keeps the previous
  /// revision's. `request` (when its id is not empty) is remembered with the revision written
  /// (`activityReports/{id}@{revision}`, AIP-162's revision name); when it was seen already,
  /// nothing is written and the revision it wrote is returned (INVALID_ARGUMENT on request_id
  /// for another content).
  absl::StatusOr<v1::ActivityReport> Revise(
      const std::string& id,
      const std::function<absl::StatusOr<v1::ActivityReport>(const v1::ActivityReport&)>& make,
      const std::string& organisation_label,
      const std::function<events::v1::Event(const v1::ActivityReport&)>& event_of,
      const RememberedRequest& request = {}, std::chrono::milliseconds budget = {});

  /// Reports newest period first (then by id), after `cursor`, at most `limit`; only
  /// `organisation`'s when not empty; withdrawn ones only with `show_withdrawn`.
  absl::StatusOr<ReportPage> List(const std::string& organisation, bool show_withdrawn,
                                  const std::string& cursor, int limit);

  /// Revisions written after `seq`, in order.
  absl::StatusOr<std::vector<Change>> ChangesSince(int64_t seq);

  /// Stores an assessment (output fields set); remembers `request`. Returns the name stored (the
  /// first one when the same request won a race).
  absl::StatusOr<std::string> InsertAssessment(const v1::EqualityAssessment& assessment,
                                               const RememberedRequest& request,
                                               std::chrono::milliseconds budget = {});
  absl::StatusOr<v1::EqualityAssessment> GetAssessment(const std::string& id);
  /// Every assessment (one organisation's when not empty); at most the latest two per action.
  absl::StatusOr<std::vector<v1::EqualityAssessment>> LatestAssessments(
      const std::string& organisation);

 private:
  db::Pool& pool_;
  events::Topology topology_;
  const clocks::Clock& clock_;
  std::function<void()> on_commit_;
};

}  // namespace passerelle::indicators::reports
