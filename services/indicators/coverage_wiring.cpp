#include "services/indicators/coverage_wiring.hpp"

namespace passerelle::indicators::coverage {

void ReadConfig(config::Reader&, Settings*) {}

absl::Status Wire(service::Runtime&, const Settings&) { return absl::OkStatus(); }

}  // namespace passerelle::indicators::coverage
