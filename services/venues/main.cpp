// passerelle-venues: wires the venue registry's layers and runs it.
#include <malloc.h>

#include <memory>

#include "libs/events/consumer.hpp"
#include "libs/logging/logging.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/service/service.hpp"
#include "services/venues/handler.hpp"
#include "services/venues/registry.hpp"
#include "services/venues/store.hpp"

namespace passerelle::venues {
std::vector<db::Migration> Migrations();
}

int main(int argc, char** argv) {
  using namespace passerelle;
  static std::unique_ptr<venues::PgStore> store;
  static std::unique_ptr<venues::Registry> registry;
  static std::unique_ptr<venues::Handler> handler;
  static std::unique_ptr<venues::VenueMetrics> metrics;
  return service::Run(
      argc, argv,
      {.name = "venues",
       .components = {outbox::OutboxComponent(),
                      events::InboxComponent(),
                      {"venues", venues::Migrations()}},
       .read_config = nullptr,
       .wire = [](service::Runtime& rt) -> absl::Status {
         // "Open now" is Paris time: a silent fixed UTC+1 would be wrong all summer.
         absl::TimeZone paris;
         if (!absl::LoadTimeZone("Europe/Paris", &paris)) {
           return absl::FailedPreconditionError(
               "cannot load the Europe/Paris time zone: install tzdata");
         }
         store = std::make_unique<venues::PgStore>(*rt.pool, rt.topology);
         registry = std::make_unique<venues::Registry>(venues::Standard::V102(), *store,
                                                       *rt.page_tokens);
         if (absl::Status s = registry->LoadIndex(); !s.ok()) return s;
         malloc_trim(0);  // the load's transient copies are gone: return their memory
         logging::Info("search index loaded", {{"venues", registry->index().size()}});
         metrics = std::make_unique<venues::VenueMetrics>(rt.metrics->registry());
         metrics->IndexRefreshed(true, registry->index().size());
         handler = std::make_unique<venues::Handler>(*registry, *metrics, paris);
         rt.server->AddService(handler.get());
         // A published referential version: retired items leave the venues offering them.
         static std::unique_ptr<events::Consumer> consumer;
         consumer = std::make_unique<events::Consumer>(
             *rt.nats, *rt.pool,
             events::ConsumerOptions{
                 .topology = rt.topology,
                 .durable = "venues-referential",
                 .filter_subject = rt.topology.EventSubject("referential.version.published")},
             [](pqxx::work& tx, const events::v1::Event& e) -> absl::Status {
               referential::v1::VersionPublished published;
               if (!e.payload().UnpackTo(&published)) {
                 return absl::InvalidArgumentError("payload is not a VersionPublished");
               }
               const int changed =
                   store->ApplyReferentialVersion(tx, published, registry->UpdatedEvents());
               logging::Info("referential version applied",
                             {{"version", published.version()}, {"venues_changed", changed}});
               return absl::OkStatus();
             },
             &rt.metrics->registry());
         if (absl::Status s = consumer->Init(); !s.ok()) return s;
         consumer->Start();
         rt.server->OnShutdown([] { consumer->Stop(); });
         // Other replicas' writes reach this one's index within about a second.
         service::RunEvery(rt, std::chrono::seconds(1), [] {
           absl::Status s = registry->RefreshIndex();
           if (!s.ok()) {
             logging::Warn("search index refresh failed", {{"error", std::string(s.message())}});
           }
           metrics->IndexRefreshed(s.ok(), registry->index().size());
         });
         return absl::OkStatus();
       }});
}
