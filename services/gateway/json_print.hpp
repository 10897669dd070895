// Proto3 JSON of a serialized message, as protobuf's own printer writes it: lowerCamel names,
// fields at their default omitted (unless they have presence and are set), 64-bit integers
// quoted, enums by name, NaN and infinities as strings, bytes in base64, and the well-known
// types (Timestamp, Duration, FieldMask, wrappers, Struct, Value, ListValue, Empty) in their
// JSON forms. Protobuf's printer resolves every type to a google.protobuf.Type and streams
// through it: that was 40% of the gateway's work on a proxied read (docs/performance.md).
//
// Two ways, the first that answers wins:
//  - the wire walk: the bytes read once, field by field, against a plan made once per type
//    (each field's JSON key, type, presence), the JSON written as they are read. No message is
//    built and no reflection is called. It answers only for canonical bytes, as protobuf's
//    serializer writes them: fields in number order, each once (a repeated field's elements
//    together), no unknown field, no map, Struct, Value, ListValue or Any anywhere in the type.
//  - the reflection walk: the bytes parsed into a message, then written field by field; it
//    reads what parsing means whatever the order (a field sent twice: the last value wins).
// Tests hold both outputs equal to protobuf's.
#pragma once

#include <map>
#include <memory>
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
  ~JsonPrinter();

  /// The JSON of `bytes` read as `type`; nullopt when they do not parse, hold invalid UTF-8, or
  /// reach what this printer leaves to protobuf's (google.protobuf.Any, values out of the JSON
  /// mapping's range): the caller falls back to protobuf, which answers or explains.
  std::optional<std::string> Print(const google::protobuf::Descriptor* type,
                                   std::string_view bytes) const;

  /// The wire walk alone (for tests and the benchmark): nullopt where it leaves the bytes to
  /// the reflection walk (not canonical, a type it does not walk) or they are not a message.
  std::optional<std::string> PrintWire(const google::protobuf::Descriptor* type,
                                       std::string_view bytes) const;

  /// A type's plan for the wire walk (json_print.cpp).
  struct TypePlan;

 private:
  const TypePlan& Plan(const google::protobuf::Descriptor* type) const;
  std::optional<std::string> PrintReflection(const google::protobuf::Descriptor* type,
                                             std::string_view bytes) const;
  const google::protobuf::Message* Prototype(const google::protobuf::Descriptor* type) const;
  const google::protobuf::Message* FindPrototype(const google::protobuf::Descriptor* type) const;
  mutable google::protobuf::DynamicMessageFactory factory_;
  mutable std::shared_mutex mu_;
  mutable std::map<const google::protobuf::Descriptor*, const google::protobuf::Message*>
      prototypes_;
  mutable std::map<const google::protobuf::Descriptor*, std::unique_ptr<TypePlan>> plans_;
};

}  // namespace passerelle::gateway
