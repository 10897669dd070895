// Event envelope helpers.
#include "libs/events/event.hpp"

#include <random>

#include "absl/strings/str_format.h"

namespace passerelle::events {

std::string Topology::EventSubject(const std::string& type) const {
  return subject_prefix + ".events." + type;
}
std::string Topology::AllEvents() const { return subject_prefix + ".events.>"; }
std::string Topology::DeadLetterSubject(const std::string& consumer) const {
  return subject_prefix + ".deadletter." + consumer;
}
std::string Topology::AllDeadLetters() const { return subject_prefix + ".deadletter.>"; }

std::string NewUuid() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (static_cast<uint64_t>(std::random_device{}()) << 32)};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                         lo >> 48, lo & 0xffffffffffffULL);
}

v1::Event MakeEvent(const std::string& type, const std::string& source,
                    const std::string& subject, const google::protobuf::Message& payload,
                    absl::Time occurred, const std::string& trace_id) {
  v1::Event e;
  e.set_id(NewUuid());
  e.set_type(type);
  e.set_source(source);
  e.set_subject(subject);
  const int64_t micros = absl::ToUnixMicros(occurred);
  e.mutable_occurred_time()->set_seconds(micros / 1000000);
  e.mutable_occurred_time()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  e.mutable_payload()->PackFrom(payload);
  e.set_trace_id(trace_id);
  return e;
}

}  // namespace passerelle::events

namespace passerelle::events {

absl::Status EnsureStreams(NatsClient& nats, const Topology& topology) {
  absl::Status s = nats.EnsureStream({.name = topology.events_stream,
                                      .subjects = {topology.AllEvents()}});
  if (!s.ok()) return s;
  return nats.EnsureStream({.name = topology.dead_letter_stream,
                            .subjects = {topology.AllDeadLetters()},
                            .duplicate_window = std::chrono::minutes(10),
                            .max_age = std::chrono::hours(24 * 90)});
}

}  // namespace passerelle::events
