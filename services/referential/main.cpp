// passerelle-referential: wires the referential service's layers and runs it.
#include <memory>

#include "libs/clock/clock.hpp"
#include "libs/events/consumer.hpp"
#include "libs/logging/logging.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/service/service.hpp"
#include "services/referential/handler.hpp"
#include "services/referential/referential.hpp"
#include "services/referential/store.hpp"

namespace passerelle::referential {
std::vector<db::Migration> Migrations();
}

int main(int argc, char** argv) {
  using namespace passerelle;
  // Settings live in main's frame, which outlives Run; objects live in rt.components.
  std::string seed_dir, base_uri;
  std::chrono::milliseconds reload_every{0};
  return service::Run(
      argc, argv,
      {.name = "referential",
       .components = {outbox::OutboxComponent(), {"referential", referential::Migrations()}},
       .read_config =
           [&](config::Reader& r) {
             seed_dir = r.String("PASSERELLE_SEED_DIR", "/usr/share/passerelle/referential",
                                 "Folder of the seed nomenclature files loaded at start");
             base_uri = r.String("PASSERELLE_REFERENTIAL_BASE_URI",
                                 "https://passerelle.roubaix.fr/referentiel/",
                                 "Prefix of concept URIs in SKOS exports");
             reload_every = r.Duration(
                 "PASSERELLE_REFERENTIAL_RELOAD_EVERY", std::chrono::seconds(5),
                 "How often a replica checks the store for versions another replica published "
                 "(at least 100ms)");
           },
       .wire = [&](service::Runtime& rt) -> absl::Status {
         auto& store = rt.components.Emplace<referential::PgStore>(*rt.pool, rt.topology);
         auto& domain = rt.components.Emplace<referential::Referential>(store, *rt.page_tokens,
                                                                        clocks::System());
         if (absl::Status s = domain.LoadSeed(seed_dir); !s.ok()) return s;
         rt.relay->Wake();
         auto& handler = rt.components.Emplace<referential::Handler>(domain, base_uri);
         rt.server->AddService(&handler);
         // A version published by another replica reaches this one within `reload_every`.
         service::RunEvery(rt, std::max(reload_every, std::chrono::milliseconds(100)), [&domain] {
           if (auto reloaded = domain.ReloadIfChanged(); !reloaded.ok()) {
             logging::Warn("versions reload failed",
                           {{"error", std::string(reloaded.status().message())}});
           }
         });
         return absl::OkStatus();
       }});
}
