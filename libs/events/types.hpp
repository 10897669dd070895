// The event types the services publish (docs/events.md).
#pragma once

#include <string_view>

namespace passerelle::events {

/// Every event type a service publishes: what a subscription's filter may name. A new event
/// type is added here in the change that publishes it.
inline constexpr std::string_view kEventTypes[] = {
    "venue.created",      "venue.updated",
    "venue.withdrawn",    "referential.version.published",
    "sync.run.completed", "indicators.report.submitted",
};

}  // namespace passerelle::events
