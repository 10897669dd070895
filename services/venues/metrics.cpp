#include "services/venues/metrics.hpp"

#include <chrono>

namespace passerelle::venues {

VenueMetrics::VenueMetrics(prometheus::Registry& registry)
    : rows_(prometheus::BuildCounter()
                .Name("passerelle_venues_rows_total")
                .Help("Rows of imports and batch upserts, by outcome")
                .Register(registry)),
      violations_(prometheus::BuildCounter()
                      .Name("passerelle_venues_violations_total")
                      .Help("Rules of the national standard broken by rejected rows, by rule")
                      .Register(registry)),
      warnings_(prometheus::BuildCounter()
                    .Name("passerelle_venues_row_warnings_total")
                    .Help("Warnings on rows stored by imports and batch upserts, by rule "
                          "(horaires: opening hours not understood)")
                    .Register(registry)),
      created_(rows_.Add({{"outcome", "created"}})),
      updated_(rows_.Add({{"outcome", "updated"}})),
      unchanged_(rows_.Add({{"outcome", "unchanged"}})),
      rejected_(rows_.Add({{"outcome", "rejected"}})),
      indexed_(prometheus::BuildGauge()
                   .Name("passerelle_venues_search_index_venues")
                   .Help("Active venues in this replica's search index")
                   .Register(registry)
                   .Add({})),
      refreshed_(prometheus::BuildGauge()
                     .Name("passerelle_venues_search_index_refreshed_timestamp_seconds")
                     .Help("When this replica's search index last caught up with the database")
                     .Register(registry)
                     .Add({})),
      refresh_errors_(prometheus::BuildCounter()
                          .Name("passerelle_venues_search_index_refresh_errors_total")
                          .Help("Failed refreshes of this replica's search index")
                          .Register(registry)
                          .Add({})),
      duplicate_checks_(prometheus::BuildCounter()
                            .Name("passerelle_venues_duplicate_checks_total")
                            .Help("Written venues compared with their neighbours of other "
                                  "sources by duplicate detection")
                            .Register(registry)
                            .Add({})),
      duplicate_checked_until_(
          prometheus::BuildGauge()
              .Name("passerelle_venues_duplicate_detection_checked_until_timestamp_seconds")
              .Help("Every venue written before this time has been checked for duplicates "
                    "(the start of the last successful pass)")
              .Register(registry)
              .Add({})),
      duplicate_errors_(prometheus::BuildCounter()
                            .Name("passerelle_venues_duplicate_detection_errors_total")
                            .Help("Failed passes of duplicate detection (run again a second later)")
                            .Register(registry)
                            .Add({})) {}

void VenueMetrics::CountRows(int created, int updated, int unchanged, int rejected) {
  created_.Increment(created);
  updated_.Increment(updated);
  unchanged_.Increment(unchanged);
  rejected_.Increment(rejected);
}

void VenueMetrics::CountViolations(const std::vector<standard::Violation>& violations) {
  // Rules are the schema's few names (required, pattern, enum, ...): a bounded label.
  for (const auto& v : violations) violations_.Add({{"rule", v.rule}}).Increment();
}

void VenueMetrics::CountWarning(const std::string& rule) {
  // Rules are the registry's own names (horaires): a bounded label.
  warnings_.Add({{"rule", rule}}).Increment();
}

void VenueMetrics::IndexRefreshed(bool ok, size_t venues) {
  indexed_.Set(static_cast<double>(venues));
  if (!ok) {
    refresh_errors_.Increment();
    return;
  }
  refreshed_.Set(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

void VenueMetrics::DuplicatePass(bool ok, std::chrono::system_clock::time_point started,
                                 int venues) {
  if (!ok) {
    duplicate_errors_.Increment();
    return;
  }
  duplicate_checks_.Increment(venues);
  duplicate_checked_until_.Set(std::chrono::duration<double>(started.time_since_epoch()).count());
}

}  // namespace passerelle::venues
