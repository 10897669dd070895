// Venues' event handlers.
#include "services/venues/consumers.hpp"

#include "libs/events/consumer.hpp"
#include "libs/logging/logging.hpp"
#include "passerelle/referential/v1/events.pb.h"

namespace passerelle::venues {

events::Consumer::Handler ReferentialVersionHandler(PgStore& store, const Registry& registry) {
  return [&store, &registry](pqxx::work& tx, const events::v1::Event& e) -> absl::Status {
    referential::v1::VersionPublished published;
    if (!e.payload().UnpackTo(&published)) {
      // It never will be: dead-lettered at once rather than retried.
      return events::Permanent(absl::InvalidArgumentError("payload is not a VersionPublished"));
    }
    const int changed = store.ApplyReferentialVersion(tx, published, registry.UpdatedEvents());
    logging::Info("referential version applied",
                  {{"version", published.version()}, {"venues_changed", changed}});
    return absl::OkStatus();
  };
}

}  // namespace passerelle::venues
