// The reports domain: members' activity reports (submitted, corrected, withdrawn), the
// breakdowns published from them under small-count protection, and equality assessments.
// Free of gRPC; the venues service is reached through the Directory interface.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/api/page_token.hpp"
#include "libs/clock/clock.hpp"
#include "passerelle/indicators/v1/indicators.pb.h"
#include "services/indicators/reports_breakdown.hpp"
#include "services/indicators/reports_equality.hpp"
#include "services/indicators/reports_store.hpp"

namespace passerelle::indicators::reports {

/// Whose reports a caller may read and write.
struct Access {
  /// Every organisation's (internal callers, administrators).
  bool all = true;
  /// The caller's organisation when not `all`: its reports only, others look absent.
  std::string organisation;
  /// Where the caller's request ids are kept (server::Caller::RequestScope).
  std::string request_scope;
  /// Time left before the caller's deadline when the call arrived (0: none): the statement
  /// timeout of its write.
  std::chrono::milliseconds budget{0};
  /// The caller's deadline had passed on arrival: nothing is written.
  bool budget_spent = false;
  bool expired() const { return budget_spent; }
};

/// What the domain asks the venues service and the referential.
class Directory {
 public:
  virtual ~Directory() = default;
  /// The areas (`<layer>:<code>`) of `venues/{venue}`; NOT_FOUND when there is no such venue,
  /// another error when the registry cannot answer.
  virtual absl::StatusOr<std::vector<std::string>> VenueAreas(const std::string& name) = 0;
  /// The display name of an organisation id; NOT_FOUND when there is none.
  virtual absl::StatusOr<std::string> OrganisationLabel(const std::string& id) = 0;
  /// The names of a layer's areas by code (empty for an unknown layer).
  virtual absl::StatusOr<std::map<std::string, std::string>> AreaLabels(
      const std::string& layer) = 0;
  /// The items (`items/{item}`) the referential's current published version offers, each with
  /// its label for inhabitants (the plain-language one when there is one); an error when the
  /// referential cannot answer.
  virtual absl::StatusOr<std::map<std::string, std::string>> PublishedItems() = 0;
};

struct ReportsOptions {
  /// The small-count threshold k (PASSERELLE_INDICATORS_MIN_COUNT).
  int min_count = 5;
  /// Reports a breakdown row stands for at least (PASSERELLE_INDICATORS_MIN_REPORTS).
  int min_reports = 3;
  /// How old the breakdowns' copy of the reports may be before a breakdown reads what other
  /// replicas wrote (PASSERELLE_INDICATORS_BREAKDOWN_MAX_AGE). This replica's own writes are
  /// seen by the next breakdown whatever this is.
  absl::Duration breakdown_max_age = absl::Seconds(1);
  /// Breakdowns are released at fixed dates (PASSERELLE_INDICATORS_RELEASE_INTERVAL): they count
  /// the reports as they stood at the last multiple of this since the Unix epoch (midnight UTC
  /// for a day), so one's own report shows, and draws a new noise, once per release. Zero:
  /// every revision at once.
  absl::Duration release_interval = absl::Hours(24);
};

class Reports {
 public:
  Reports(ReportStore& store, Directory& directory, const api::PageTokens& tokens,
          const clocks::Clock& clock, EqualityGrid grid, ReportsOptions options);

  absl::StatusOr<v1::ActivityReport> Submit(const v1::SubmitActivityReportRequest& request,
                                            const Access& access);
  absl::StatusOr<v1::ActivityReport> Get(const v1::GetActivityReportRequest& request,
                                         const Access& access);
  absl::StatusOr<v1::ListActivityReportsResponse> List(
      const v1::ListActivityReportsRequest& request, const Access& access);
  absl::StatusOr<v1::ActivityReport> Correct(const v1::CorrectActivityReportRequest& request,
                                             const Access& access);
  absl::StatusOr<v1::ActivityReport> Withdraw(const v1::WithdrawActivityReportRequest& request,
                                              const Access& access);

  /// The breakdown of the latest revision of every submitted report in the selection.
  absl::StatusOr<v1::Breakdown> GetBreakdown(const v1::GetBreakdownRequest& request);

  absl::StatusOr<v1::EqualityAssessment> SubmitAssessment(
      const v1::SubmitEqualityAssessmentRequest& request, const Access& access);
  /// Per-action scores to administrators and internal callers (all), an organisation's own to
  /// its key; to every other caller only the network-wide tallies (`most_no`). A key naming
  /// another organisation than its own is refused.
  absl::StatusOr<v1::EqualityScores> Scores(const v1::GetEqualityScoresRequest& request,
                                            const Access& access);

  /// ExportActivityReports: the reports List gives (every page), as CSV, through `write` (false:
  /// the client is gone, stop). An error before the first write is the request's.
  absl::Status ExportReports(const v1::ExportActivityReportsRequest& request, const Access& access,
                             const std::function<bool(std::string_view)>& write);
  /// ExportEqualityScores: the table asked for of what Scores gives the caller, as CSV.
  absl::StatusOr<std::string> ExportScores(const v1::ExportEqualityScoresRequest& request,
                                           const Access& access);

  int min_count() const { return options_.min_count; }

 private:
  absl::CivilDay Today() const;
  /// Checks venues and organisation against the registry and items against the referential's
  /// published version (appending violations) and returns the organisation's label and the
  /// venues' areas. UNAVAILABLE when one of them cannot answer.
  absl::Status CheckDirectory(const v1::ActivityReport& report,
                              std::vector<api::FieldViolation>* bad, std::string* label,
                              std::vector<std::string>* areas);
  absl::StatusOr<v1::ActivityReport> Revise(
      const std::string& id, const Access& access, int expected_revision,
      const std::function<absl::StatusOr<v1::ActivityReport>(const v1::ActivityReport&)>& change,
      const std::string& label, const RememberedRequest& request = {});
  using Snapshot = std::vector<std::shared_ptr<const Figures>>;
  /// Brings the cache of released figures up to the store (revisions since the last seen,
  /// written before the last release) and returns it: a snapshot that later changes do not touch.
  absl::StatusOr<std::shared_ptr<const Snapshot>> Current();
  /// The last release date: InfiniteFuture when releases are not fixed.
  absl::Time ReleaseCut() const;
  /// Makes the next breakdown read the store (after a write of this replica).
  void Invalidate();
  /// A layer's area names, asked of the venues service at most once an hour (once a minute
  /// after a failure, the codes standing in meanwhile).
  std::shared_ptr<const std::map<std::string, std::string>> AreaLabels(const std::string& layer);
  /// The published items' labels by name, asked of the referential at most once an hour (once a
  /// minute after a failure, the ids standing in meanwhile); refreshed by every item check.
  std::shared_ptr<const std::map<std::string, std::string>> ItemLabels();

  ReportStore& store_;
  Directory& directory_;
  const api::PageTokens& tokens_;
  const clocks::Clock& clock_;
  EqualityGrid grid_;
  ReportsOptions options_;
  absl::TimeZone zone_;

  std::mutex mu_;
  int64_t last_seq_ = 0;  // guarded by mu_
  /// When the copy was last brought up to the store; InfinitePast after a write here.
  absl::Time refreshed_ = absl::InfinitePast();                    // guarded by mu_
  std::map<std::string, std::shared_ptr<const Figures>> current_;  // guarded by mu_
  /// Revisions read but written after the last release, in order.
  std::vector<Change> pending_;                                              // guarded by mu_
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();  // guarded by mu_

  struct Labels {
    absl::Time expires;
    std::shared_ptr<const std::map<std::string, std::string>> by_code;
  };
  std::mutex labels_mu_;
  std::map<std::string, Labels> area_labels_;  // by layer; guarded by labels_mu_
  Labels item_labels_;                         // guarded by labels_mu_

  /// Computed breakdowns (the protection's audit can take a while on awkward tables), each kept
  /// while the year's reports and the labels it was made from are current.
  struct Computed {
    std::shared_ptr<const Snapshot> snapshot;  // keeps `selected` alive
    std::vector<const Figures*> selected;
    std::shared_ptr<const std::map<std::string, std::string>> area_labels, item_labels;
    v1::Breakdown breakdown;
  };
  std::mutex computed_mu_;
  std::map<std::string, Computed> computed_;  // by dimension, layer, year; guarded by computed_mu_
  /// One lock per table being computed: concurrent requests wait for one computation.
  std::map<std::string, std::shared_ptr<std::mutex>> in_flight_;  // guarded by computed_mu_
};

}  // namespace passerelle::indicators::reports
