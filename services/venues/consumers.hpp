// What venues do with the events they consume.
#pragma once

#include "libs/events/consumer.hpp"
#include "services/venues/registry.hpp"
#include "services/venues/store.hpp"

namespace passerelle::venues {

/// `referential.version.published`: the items the version offers become the ones venues may
/// name, and retired items leave the venues that offered them (each gets venue.updated), in
/// the consumer's transaction. A payload of another type is a poison event (dead-lettered).
events::Consumer::Handler ReferentialVersionHandler(PgStore& store, const Registry& registry);

}  // namespace passerelle::venues
