// The venues service's business figures on /metrics, next to the RED metrics every service has:
// what imports and batch upserts did with their rows, which rules rejected them, and whether this
// replica's search index is current.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "libs/standard/standard.hpp"

namespace passerelle::venues {

class VenueMetrics {
 public:
  explicit VenueMetrics(prometheus::Registry& registry);
  /// Rows of an import or a batch upsert, by outcome.
  void CountRows(int created, int updated, int unchanged, int rejected);
  /// Each broken rule of a rejected row or request.
  void CountViolations(const std::vector<standard::Violation>& violations);
  /// Each warning on a stored row, by rule (e.g. `horaires`: opening hours not understood).
  void CountWarning(const std::string& rule);
  /// After each refresh of the search index (ok or not), with the venues it holds.
  void IndexRefreshed(bool ok, size_t venues);
  /// After each pass of duplicate detection: `started` is when it took its snapshot (every
  /// write committed before then is checked once it succeeded), `venues` how many it checked.
  void DuplicatePass(bool ok, std::chrono::system_clock::time_point started, int venues);

 private:
  prometheus::Family<prometheus::Counter>& rows_;
  prometheus::Family<prometheus::Counter>& violations_;
  prometheus::Family<prometheus::Counter>& warnings_;
  prometheus::Counter &created_, &updated_, &unchanged_, &rejected_;
  prometheus::Gauge& indexed_;
  prometheus::Gauge& refreshed_;
  prometheus::Counter& refresh_errors_;
  prometheus::Counter& duplicate_checks_;
  prometheus::Gauge& duplicate_checked_until_;
  prometheus::Counter& duplicate_errors_;
};

}  // namespace passerelle::venues
