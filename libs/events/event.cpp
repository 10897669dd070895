// Event envelope helpers.
#include "libs/events/event.hpp"

#include <random>

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
  // 8-4-4-4-12 hexadecimal digits, written by hand: every gRPC call names its request with one,
  // and a format string cost a fortieth of a search's instructions.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t at = 0;
  auto put = [&](uint64_t bits, int digits) {
    for (int i = digits - 1; i >= 0; --i) out[at++] = kHex[(bits >> (4 * i)) & 0xf];
  };
  put(hi >> 32, 8);
  ++at;
  put(hi >> 16, 4);
  ++at;
  put(hi, 4);
  ++at;
  put(lo >> 48, 4);
  ++at;
  put(lo, 12);
  return out;
}

v1::Event MakeEvent(const std::string& type, const std::string& source, const std::string& subject,
                    const google::protobuf::Message& payload, absl::Time occurred,
                    const std::string& trace_id) {
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
  absl::Status s =
      nats.EnsureStream({.name = topology.events_stream, .subjects = {topology.AllEvents()}});
  if (!s.ok()) return s;
  return nats.EnsureStream({.name = topology.dead_letter_stream,
                            .subjects = {topology.AllDeadLetters()},
                            .duplicate_window = std::chrono::minutes(10),
                            .max_age = std::chrono::hours(24 * 90)});
}

}  // namespace passerelle::events
