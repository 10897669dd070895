// Reading a needs file (docs/indicators.md "Needs"): one row per area with its population and
// the Indice de Fragilité Numérique, checked row by row. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/indicators/coverage_model.hpp"

namespace passerelle::indicators::coverage {

/// Largest file read, in bytes (the API's documented limit).
inline constexpr size_t kMaxNeedsBytes = 16 << 20;
/// Most rows of a file (a layer has at most a few thousand areas).
inline constexpr size_t kMaxNeedsRows = 100000;
/// Most errors reported (then one of rule `more`).
inline constexpr size_t kMaxNeedsErrors = 200;
/// Bounds: population of one area, and an index score or component (100 = national average).
inline constexpr double kMaxPopulation = 100000000;
inline constexpr double kMaxScore = 100000;

/// The fragility index's components a file may hold, beside `score_global`.
inline const std::vector<std::string>& NeedsComponents() {
  static const auto* kComponents = new std::vector<std::string>{
      "acces_interfaces_numeriques", "acces_information", "competences_administratives",
      "competences_numeriques_scolaires"};
  return *kComponents;
}

/// A problem with one row.
struct NeedsError {
  int64_t row = 0;  // 1-based line, header = 1
  std::string field, value, rule, message;
};

struct ParsedNeeds {
  std::map<std::string, NeedsRow> rows;  // by area code: the good rows only
  std::vector<NeedsError> errors;
  int64_t errors_total = 0;
};

/// Reads `bytes` (UTF-8, or Latin-1 / Windows-1252 detected; `,` or `;`; decimal comma accepted)
/// against the codes of the layer's areas. A file that cannot be read as a needs file at all
/// (empty, UTF-16, no `code` / `population` column, an unknown column, too big)
/// is INVALID_ARGUMENT naming field `csv`; problems of single rows are returned in `errors`.
absl::StatusOr<ParsedNeeds> ParseNeeds(std::string_view bytes, const std::set<std::string>& codes);

}  // namespace passerelle::indicators::coverage
