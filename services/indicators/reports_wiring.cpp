#include "services/indicators/reports_wiring.hpp"

namespace passerelle::indicators::reports {

void ReadConfig(config::Reader&, Settings*) {}

absl::Status Wire(service::Runtime&, const Settings&) { return absl::OkStatus(); }

}  // namespace passerelle::indicators::reports
