// Building, naming and decoding events (passerelle.events.v1.Event).
#pragma once

#include <string>

#include <google/protobuf/message.h>

#include "absl/time/time.h"
#include "passerelle/events/v1/event.pb.h"

namespace passerelle::events {

/// Where events live on NATS. Production uses the defaults; tests give each test its own
/// prefix and stream names so they run in parallel on one server.
struct Topology {
  std::string subject_prefix = "passerelle";
  std::string events_stream = "PASSERELLE_EVENTS";
  std::string dead_letter_stream = "PASSERELLE_DEADLETTER";

  /// `<prefix>.events.<type>`, e.g. passerelle.events.venue.created.
  std::string EventSubject(const std::string& type) const;
  /// Every event: `<prefix>.events.>`.
  std::string AllEvents() const;
  /// `<prefix>.deadletter.<consumer>`.
  std::string DeadLetterSubject(const std::string& consumer) const;
  std::string AllDeadLetters() const;
};

/// A random (version 4) UUID in canonical text form.
std::string NewUuid();

/// A new event with a fresh id, the given time, and `payload` packed as Any.
v1::Event MakeEvent(const std::string& type, const std::string& source,
                    const std::string& subject, const google::protobuf::Message& payload,
                    absl::Time occurred, const std::string& trace_id = "");

}  // namespace passerelle::events

#include "libs/events/nats.hpp"

namespace passerelle::events {

/// Creates or updates the events and dead-letter streams of a topology. Every producer and
/// consumer calls it at start; the configuration is the same everywhere, so order is irrelevant.
absl::Status EnsureStreams(NatsClient& nats, const Topology& topology);

}  // namespace passerelle::events
