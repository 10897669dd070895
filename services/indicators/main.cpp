// passerelle-indicators: wires the coverage and reports domains and runs them.
#include "libs/events/consumer.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/service/service.hpp"
#include "services/indicators/coverage_wiring.hpp"
#include "services/indicators/reports_wiring.hpp"

int main(int argc, char** argv) {
  using namespace passerelle;
  // Settings live in main's frame, which outlives Run; objects live in rt.components.
  indicators::coverage::Settings coverage_settings;
  indicators::reports::Settings reports_settings;
  return service::Run(
      argc, argv,
      {.name = "indicators",
       .components = {outbox::OutboxComponent(),
                      events::InboxComponent(),
                      {"coverage", indicators::coverage::Migrations()},
                      {"reports", indicators::reports::Migrations()}},
       .read_config =
           [&](config::Reader& r) {
             indicators::coverage::ReadConfig(r, &coverage_settings);
             indicators::reports::ReadConfig(r, &reports_settings);
           },
       .wire = [&](service::Runtime& rt) -> absl::Status {
         if (absl::Status s = indicators::coverage::Wire(rt, coverage_settings); !s.ok()) return s;
         return indicators::reports::Wire(rt, reports_settings);
       }});
}
