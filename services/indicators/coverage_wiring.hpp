// Wiring of the indicators service's coverage domain: its settings, schema and gRPC service.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "libs/config/config.hpp"
#include "libs/db/migrations.hpp"
#include "libs/service/service.hpp"

namespace passerelle::indicators::coverage {

/// The domain's migration history (migrations/coverage, embedded).
std::vector<db::Migration> Migrations();

/// Settings read from the environment.
struct Settings {
  std::string venues_address, referential_address, nomenclature;
  int64_t reach_meters = 1500;
  std::chrono::milliseconds areas_refresh{0}, poll{0}, timeout{0}, future_margin{0};
};

/// Reads the domain's settings (PASSERELLE_INDICATORS_*).
void ReadConfig(config::Reader& r, Settings* settings);

/// Builds the domain on the runtime: its gRPC service, consumers and periodic work.
absl::Status Wire(service::Runtime& rt, const Settings& settings);

}  // namespace passerelle::indicators::coverage
