// passerelle-venues: wires the venue registry's layers and runs it.
#include "absl/time/time.h"
#include "libs/events/consumer.hpp"
#include "libs/logging/logging.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/service/memory.hpp"
#include "libs/service/service.hpp"
#include "services/venues/consumers.hpp"
#include "services/venues/duplicate_handler.hpp"
#include "services/venues/duplicate_store.hpp"
#include "services/venues/handler.hpp"
#include "services/venues/organisation_handler.hpp"
#include "services/venues/organisation_store.hpp"
#include "services/venues/registry.hpp"
#include "services/venues/store.hpp"

namespace passerelle::venues {
std::vector<db::Migration> Migrations();
}

int main(int argc, char** argv) {
  using namespace passerelle;
  std::chrono::milliseconds detection_interval{1000};
  absl::Duration detection_quiet = absl::Seconds(2), detection_max_delay = absl::Seconds(60);
  return service::Run(
      argc, argv,
      {.name = "venues",
       .components = {outbox::OutboxComponent(),
                      events::InboxComponent(),
                      {"venues", venues::Migrations()}},
       .read_config =
           [&](config::Reader& r) {
             detection_interval = std::chrono::milliseconds(
                 r.Int("PASSERELLE_VENUES_DUPLICATE_DETECTION_INTERVAL_MS", 1000, 10, 3600 * 1000,
                       "milliseconds between two passes of duplicate detection over the venues "
                       "written since the last one"));
             detection_quiet = absl::Milliseconds(
                 r.Int("PASSERELLE_VENUES_DUPLICATE_DETECTION_QUIET_MS", 2000, 0, 3600 * 1000,
                       "milliseconds without a write of this replica before a pass of duplicate "
                       "detection (a bulk load's batches do not share the CPU with it)"));
             detection_max_delay = absl::Milliseconds(r.Int(
                 "PASSERELLE_VENUES_DUPLICATE_DETECTION_MAX_DELAY_MS", 60000, 0, 24 * 3600 * 1000,
                 "longest wait for writes to pause before a pass runs all the same"));
           },
       .wire = [&](service::Runtime& rt) -> absl::Status {
         // "Open now" is Paris time: a silent fixed UTC+1 would be wrong all summer.
         absl::TimeZone paris;
         if (!absl::LoadTimeZone("Europe/Paris", &paris)) {
           return absl::FailedPreconditionError(
               "cannot load the Europe/Paris time zone: install tzdata");
         }
         outbox::Relay* relay = rt.relay.get();
         auto& store = rt.components.Emplace<venues::PgStore>(*rt.pool, rt.topology, [relay] {
           if (relay) relay->Wake();
         });
         auto& registry = rt.components.Emplace<venues::Registry>(standard::Standard::V102(), store,
                                                                  *rt.page_tokens);
         if (absl::Status s = registry.LoadIndex(); !s.ok()) return s;
         // The load's transient copies are gone: return their memory.
         service::ReleaseFreeMemory();
         logging::Info("search index loaded", {{"venues", registry.index().size()}});
         auto& metrics = rt.components.Emplace<venues::VenueMetrics>(rt.metrics->registry());
         metrics.IndexRefreshed(true, registry.index().size());
         auto& handler = rt.components.Emplace<venues::Handler>(registry, metrics, paris,
                                                                rt.server->call_metrics());
         rt.server->AddService(&handler);
         // The network's members, which venues' owners name.
         auto& organisation_store = rt.components.Emplace<venues::PgOrganisationStore>(*rt.pool);
         auto& organisations =
             rt.components.Emplace<venues::Organisations>(organisation_store, *rt.page_tokens);
         auto& organisation_handler =
             rt.components.Emplace<venues::OrganisationHandler>(organisations);
         rt.server->AddService(&organisation_handler);
         // Duplicates across sources: detected after writes, resolved by administrators.
         auto& duplicate_store =
             rt.components.Emplace<venues::PgDuplicateStore>(*rt.pool, rt.topology, [relay] {
               if (relay) relay->Wake();
             });
         auto& duplicates = rt.components.Emplace<venues::Duplicates>(
             duplicate_store, *rt.page_tokens, registry.UpdatedEvents(),
             [&registry] { return registry.RefreshIndex(); });
         // Off the write path: every interval (1 s), the venues written since the last pass (by any
         // replica or the sync). A failed pass is logged and run again from the same place.
         // While this replica writes (a bulk load), passes wait for a pause (DetectionPacer).
         service::RunEvery(
             rt, detection_interval,
             [&duplicates, &metrics, &registry,
              pacer = venues::DetectionPacer(detection_quiet, detection_max_delay, absl::Now())](
                 const std::function<bool()>& stopping) mutable {
               if (!pacer.ShouldRun(absl::Now(), registry.LastWrite())) return;
               const auto started = std::chrono::system_clock::now();
               auto checked = duplicates.DetectChanges(stopping);
               if (absl::IsCancelled(checked.status())) return;  // shutting down
               if (!checked.ok()) {
                 logging::Warn("duplicate detection failed",
                               {{"error", std::string(checked.status().message())}});
               }
               metrics.DuplicatePass(checked.ok(), started, checked.ok() ? *checked : 0);
             });
         auto& duplicate_handler = rt.components.Emplace<venues::DuplicateHandler>(duplicates);
         rt.server->AddService(&duplicate_handler);
         // A published referential version: known items, and retired ones leave venues.
         auto& consumer = rt.components.Emplace<events::Consumer>(
             *rt.nats, *rt.pool,
             events::ConsumerOptions{
                 .topology = rt.topology,
                 .durable = "venues-referential",
                 .filter_subject = rt.topology.EventSubject("referential.version.published")},
             venues::ReferentialVersionHandler(store, registry), &rt.metrics->registry());
         if (absl::Status s = consumer.Init(); !s.ok()) return s;
         consumer.Start();
         rt.server->OnShutdown([&consumer] { consumer.Stop(); });
         // Other replicas' writes (and the sync's, through them) reach this one's index as they
         // commit: every statement writing venues notifies the schema's channel (migration 0014).
         // Every second without a notification, the change feed is read all the same.
         service::RunWhenNotified(rt, std::chrono::seconds(1), [&registry, &metrics] {
           absl::Status s = registry.RefreshIndex();
           if (!s.ok()) {
             logging::Warn("search index refresh failed", {{"error", std::string(s.message())}});
           }
           metrics.IndexRefreshed(s.ok(), registry.index().size());
         });
         return absl::OkStatus();
       }});
}
