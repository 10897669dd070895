// passerelle-venues: wires the venue registry's layers and runs it.
#include <memory>

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
         handler = std::make_unique<venues::Handler>(*registry);
         rt.server->AddService(handler.get());
         return absl::OkStatus();
       }});
}
