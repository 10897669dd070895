// Wiring of the indicators service's reports domain: its settings, schema and gRPC service.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "libs/config/config.hpp"
#include "libs/db/migrations.hpp"
#include "libs/service/service.hpp"

namespace passerelle::indicators::reports {

/// The domain's migration history (migrations/reports, embedded).
std::vector<db::Migration> Migrations();

/// Settings read from the environment.
struct Settings {
  /// The small-count threshold k.
  int min_count = 5;
  /// Reports a breakdown row stands for at least.
  int min_reports = 3;
  /// The venues service (venues and organisations checked at submission).
  std::string venues_address;
  std::chrono::milliseconds venues_timeout{5000};
  /// The referential (items checked at submission, items' labels of breakdowns) and the
  /// nomenclature whose current version names the items.
  std::string referential_address;
  std::string nomenclature;
  /// How stale breakdowns may be with respect to other replicas' writes.
  std::chrono::milliseconds breakdown_max_age{1000};
  /// Breakdowns count the reports as they stood at the last release (0: at once).
  std::chrono::milliseconds release_interval{24 * 3600 * 1000};
};

/// Reads the domain's settings (PASSERELLE_INDICATORS_*).
void ReadConfig(config::Reader& r, Settings* settings);

/// Builds the domain on the runtime: its gRPC service, consumers and periodic work.
absl::Status Wire(service::Runtime& rt, const Settings& settings);

}  // namespace passerelle::indicators::reports
