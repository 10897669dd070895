// Fuzz target: events as consumers receive them from JetStream: the passerelle.events.v1.Event
// envelope parsed from the message's bytes, then its payload unpacked into every payload type
// a consumer may expect (venues' VenueCreated/Updated/Withdrawn, the referential's
// VersionPublished, sync's RunCompleted), as the venues consumer does with VersionPublished.
//
// Properties: whatever parses serialises again and parses to the same message (what the dead
// letter path and the relay do); a venue in a payload maps to the standard's raw fields.
#include <cstddef>
#include <cstdint>
#include <string>

#include "libs/standard/venue.hpp"
#include "passerelle/events/v1/event.pb.h"
#include "passerelle/referential/v1/events.pb.h"
#include "passerelle/sync/v1/events.pb.h"
#include "passerelle/venues/v1/events.pb.h"
#include "tests/fuzz/check.hpp"

namespace standard = passerelle::standard;

namespace {

template <typename Payload>
void Unpack(const passerelle::events::v1::Event& event, Payload* out) {
  if (!event.payload().UnpackTo(out)) return;
  const std::string bytes = out->SerializeAsString();
  Payload again;
  FUZZ_CHECK(again.ParseFromString(bytes), "a payload serialises and parses");
  FUZZ_CHECK(again.SerializeAsString() == bytes, "a payload reads back equal");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  passerelle::events::v1::Event event;
  if (!event.ParseFromArray(data, static_cast<int>(size))) return 0;
  const std::string bytes = event.SerializeAsString();
  passerelle::events::v1::Event again;
  FUZZ_CHECK(again.ParseFromString(bytes), "an event serialises and parses");
  FUZZ_CHECK(again.SerializeAsString() == bytes, "an event reads back equal");

  const auto& standard = standard::Standard::V102();
  passerelle::venues::v1::VenueCreated created;
  Unpack(event, &created);
  if (created.has_venue()) (void)standard::RawFromProto(standard, created.venue());
  passerelle::venues::v1::VenueUpdated updated;
  Unpack(event, &updated);
  if (updated.has_venue()) (void)standard::RawFromProto(standard, updated.venue());
  passerelle::venues::v1::VenueWithdrawn withdrawn;
  Unpack(event, &withdrawn);
  passerelle::referential::v1::VersionPublished published;
  Unpack(event, &published);
  passerelle::sync::v1::RunCompleted completed;
  Unpack(event, &completed);
  return 0;
}
