#include "services/indicators/reports_wiring.hpp"

#include "libs/clock/clock.hpp"
#include "services/indicators/reports_clients.hpp"
#include "services/indicators/reports_handler.hpp"
#include "services/indicators/reports_service.hpp"
#include "services/indicators/reports_store.hpp"

namespace passerelle::indicators::reports {

void ReadConfig(config::Reader& r, Settings* settings) {
  settings->min_count = static_cast<int>(
      r.Int("PASSERELLE_INDICATORS_MIN_COUNT", 5, 1, 1000,
            "Small-count threshold k: a published count between 1 and k-1 shows as « < k », "
            "with complementary cells hidden"));
  settings->min_reports = static_cast<int>(
      r.Int("PASSERELLE_INDICATORS_MIN_REPORTS", 3, 1, 1000,
            "Reports a breakdown row stands for at least: smaller rows are pooled into « Autres "
            "… », and a year of fewer reports shows no figure"));
  settings->venues_address =
      r.String("PASSERELLE_VENUES_ADDRESS", "127.0.0.1:50051",
               "The venues service (host:port): venues and organisations named by reports");
  settings->venues_timeout = r.Duration(
      "PASSERELLE_INDICATORS_VENUES_TIMEOUT", std::chrono::seconds(5),
      "How long a call of the reports to the venues service or the referential may take");
  settings->referential_address =
      r.String("PASSERELLE_REFERENTIAL_ADDRESS", "127.0.0.1:50052",
               "The referential service (host:port): items named by reports, their labels");
  settings->nomenclature =
      r.String("PASSERELLE_INDICATORS_NOMENCLATURE", "roubaix-aptic",
               "Nomenclature whose current published version names the items of reports");
  settings->breakdown_max_age = r.Duration(
      "PASSERELLE_INDICATORS_BREAKDOWN_MAX_AGE", std::chrono::seconds(1),
      "How old breakdowns may be with respect to reports other replicas wrote (this replica's "
      "own writes show at once); 0: read the store on every breakdown");
  settings->release_interval = r.Duration(
      "PASSERELLE_INDICATORS_RELEASE_INTERVAL", std::chrono::hours(24),
      "Breakdowns count the reports as they stood at the last multiple of this since the Unix "
      "epoch (24h: midnight UTC), one release per interval; 0: every revision at once");
}

absl::Status Wire(service::Runtime& rt, const Settings& settings) {
  auto grid = EqualityGrid::Parse(EqualityGridJson());
  if (!grid.ok()) return grid.status();
  outbox::Relay* relay = rt.relay.get();
  auto& store =
      rt.components.Emplace<ReportStore>(*rt.pool, rt.topology, clocks::System(), [relay] {
        if (relay) relay->Wake();
      });
  auto& referential = rt.components.Emplace<ReferentialClient>(settings.referential_address,
                                                               settings.venues_timeout);
  auto& directory = rt.components.Emplace<GrpcDirectory>(
      settings.venues_address, settings.venues_timeout, referential, settings.nomenclature);
  auto& reports = rt.components.Emplace<Reports>(
      store, directory, *rt.page_tokens, clocks::System(), *std::move(grid),
      ReportsOptions{.min_count = settings.min_count,
                     .min_reports = settings.min_reports,
                     .breakdown_max_age = absl::FromChrono(settings.breakdown_max_age),
                     .release_interval = absl::FromChrono(settings.release_interval)});
  auto& handler = rt.components.Emplace<ReportsHandler>(reports);
  rt.server->AddService(&handler);
  return absl::OkStatus();
}

}  // namespace passerelle::indicators::reports
