// Breakdowns of the activity reports: figures grouped by area, item, organisation or period,
// with the shares of women and of men, every count under small-count protection. Pure: the
// domain hands it the latest revision of every report; the benchmark calls it too.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "passerelle/indicators/v1/indicators.pb.h"

namespace passerelle::indicators::reports {

/// Counts by sex: femme, homme, autre, non communiqué.
using BySex = std::array<int64_t, 4>;

/// What a breakdown reads of one report (its latest revision).
struct Figures {
  std::string id;
  /// The report's random record key (kept with the report, never published): the noise of a
  /// published count is drawn from its reports' keys (perturbation.hpp).
  uint64_t record_key = 0;
  std::string organisation;
  std::string organisation_label;
  absl::CivilDay period_start;
  absl::CivilDay period_end;
  /// `items/{item}`.
  std::vector<std::string> items;
  /// `<layer>:<code>` of its venues when written.
  std::vector<std::string> areas;
  BySex reached{}, respondents{}, satisfied{}, completed{}, dropped{}, positive{}, qpv{};
};

/// The figures of a report message (dropouts summed over reasons).
Figures FiguresOf(const std::string& id, const std::string& organisation_label,
                  const v1::ActivityReport& report);

/// A checked breakdown request: a fixed table, one dimension over one year.
struct BreakdownQuery {
  v1::Dimension dimension = v1::DIMENSION_UNSPECIFIED;
  std::string layer;
  /// Reports count in the year their period starts in.
  int year = 0;
  /// With AREA: the layer's area names by code (labels of the rows; the code when absent).
  std::shared_ptr<const std::map<std::string, std::string>> area_labels;
  /// With ITEM: the referential's labels by `items/{item}` name (the id when absent).
  std::shared_ptr<const std::map<std::string, std::string>> item_labels;
};

/// Checks a request (`today` gives the default year): INVALID_ARGUMENT with one violation per
/// problem.
absl::StatusOr<BreakdownQuery> ParseBreakdownRequest(const v1::GetBreakdownRequest& request,
                                                     absl::CivilDay today);

/// How a breakdown is protected.
struct BreakdownOptions {
  /// The small-count threshold k: a count between 1 and k−1 is never published.
  int k = 5;
  /// A row stands for at least this many reports: rows of fewer are pooled into « Autres … »
  /// (with the smallest others until the pool has as many), and a year of fewer shows no count.
  int min_reports = 3;
};

/// Whether a report is in the query's selection: its period starts in the year.
bool Selected(const BreakdownQuery& query, const Figures& report);

/// The breakdown of `reports` (already selected): rows pooled to `min_reports`, small counts and
/// their complements hidden, every published count perturbed by its cell key.
v1::Breakdown ComputeBreakdown(const BreakdownQuery& query,
                               const std::vector<const Figures*>& reports,
                               const BreakdownOptions& options);
/// The same for shared figures.
v1::Breakdown ComputeBreakdown(const BreakdownQuery& query,
                               const std::vector<std::shared_ptr<const Figures>>& reports,
                               const BreakdownOptions& options);

/// The breakdown as CSV (RFC 4180, header row, the total last), published values only.
std::string BreakdownCsv(const v1::Breakdown& breakdown);

}  // namespace passerelle::indicators::reports
