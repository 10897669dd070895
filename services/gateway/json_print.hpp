// Proto3 JSON of a serialized message, as protobuf's own printer writes it: lowerCamel names,
// fields at their default omitted (unless they have presence and are set), 64-bit integers
// quoted, enums by name, NaN and infinities as strings, bytes in base64, and the well-known
// types (Timestamp, Duration, FieldMask, wrappers, Struct, Value, ListValue, Empty) in their
// JSON forms. It walks a message parsed once with reflection, where protobuf's printer resolves
// every type to a google.protobuf.Type and streams through it: that was 40% of the gateway's
// work on a proxied read (docs/performance.md). A test holds the two outputs equal.
#pragma once

#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"

namespace passerelle::gateway {

class JsonPrinter {
 public:
  /// Messages of `pool` (which must outlive the printer).
  explicit JsonPrinter(const google::protobuf::DescriptorPool& pool);

  /// The JSON of `bytes` read as `type`; nullopt when they do not parse, hold invalid UTF-8, or
  /// reach what this printer leaves to protobuf's (google.protobuf.Any, values out of the JSON
  /// mapping's range): the caller falls back to protobuf, which answers or explains.
  std::optional<std::string> Print(const google::protobuf::Descriptor* type,
                                   std::string_view bytes) const;

 private:
  const google::protobuf::Message* Prototype(const google::protobuf::Descriptor* type) const;
  const google::protobuf::Message* FindPrototype(const google::protobuf::Descriptor* type) const;
  mutable google::protobuf::DynamicMessageFactory factory_;
  mutable std::shared_mutex mu_;
  mutable std::map<const google::protobuf::Descriptor*, const google::protobuf::Message*>
      prototypes_;
};

}  // namespace passerelle::gateway
