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
  std::string organisation;
  std::string organisation_label;
  absl::CivilDay period_start;
  absl::CivilDay period_end;
  /// `items/{item}`.
  std::vector<std::string> items;
  /// `<layer>:<code>` of its venues when written.
  std::vector<std::string> areas;
  BySex reached{}, respondents{}, satisfied{}, completed{}, dropped{}, positive{};
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

/// Whether a report is in the query's selection: its period starts in the year.
bool Selected(const BreakdownQuery& query, const Figures& report);

/// The breakdown of `reports` (already selected) with threshold `k`.
v1::Breakdown ComputeBreakdown(const BreakdownQuery& query,
                               const std::vector<const Figures*>& reports, int k);
/// The same for shared figures.
v1::Breakdown ComputeBreakdown(const BreakdownQuery& query,
                               const std::vector<std::shared_ptr<const Figures>>& reports, int k);

/// The breakdown as CSV (RFC 4180, header row, the total last), published values only.
std::string BreakdownCsv(const v1::Breakdown& breakdown);

}  // namespace passerelle::indicators::reports
