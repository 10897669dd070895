// passerelle-venues: wires the venue registry's layers and runs it.
#include <atomic>
#include <memory>
#include <thread>

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
  return service::Run(
      argc, argv,
      {.name = "venues",
       .components = {outbox::OutboxComponent(), {"venues", venues::Migrations()}},
       .read_config = nullptr,
       .wire = [](service::Runtime& rt) -> absl::Status {
         store = std::make_unique<venues::PgStore>(*rt.pool, rt.topology);
         registry = std::make_unique<venues::Registry>(venues::Standard::V102(), *store);
         if (absl::Status s = registry->LoadIndex(); !s.ok()) return s;
         logging::Info("search index loaded", {{"venues", registry->index().size()}});
         handler = std::make_unique<venues::Handler>(*registry);
         rt.server->AddService(handler.get());
         // Other replicas' writes reach this one's index within about a second.
         static std::atomic<bool> stop{false};
         static std::thread refresher([] {
           while (!stop) {
             std::this_thread::sleep_for(std::chrono::seconds(1));
             if (absl::Status s = registry->RefreshIndex(); !s.ok()) {
               logging::Warn("search index refresh failed", {{"error", std::string(s.message())}});
             }
           }
         });
         rt.server->OnShutdown([] {
           stop = true;
           if (refresher.joinable()) refresher.join();
         });
         return absl::OkStatus();
       }});
}
