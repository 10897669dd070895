// The fast JSON printer against protobuf's own, on random messages of every type of the public
// API: where the fast one answers, both outputs are the same JSON. The wire walk alone is held
// to the same, and bytes it must leave to the reflection walk (not canonical) are tried too.
#include "services/gateway/json_print.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/json_testing.hpp"

namespace passerelle::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

TEST(JsonPrinter, WritesWhatProtobufWritesForEveryPublicType) {
  absl::StatusOr<std::unique_ptr<ApiSchema>> schema = ApiSchema::LoadEmbedded();
  ASSERT_TRUE(schema.ok()) << schema.status();
  const ApiSchema& api = **schema;
  google::protobuf::DynamicMessageFactory factory(&api.pool());
  int compared = 0, fallbacks = 0, types = 0, walked = 0;
  for (const google::protobuf::FileDescriptorProto& file : api.files().file()) {
    const google::protobuf::FileDescriptor* fd = api.pool().FindFileByName(file.name());
    ASSERT_NE(fd, nullptr);
    std::vector<const Descriptor*> all;
    std::function<void(const Descriptor*)> add = [&](const Descriptor* d) {
      if (!d->options().map_entry()) all.push_back(d);
      for (int i = 0; i < d->nested_type_count(); ++i) add(d->nested_type(i));
    };
    for (int i = 0; i < fd->message_type_count(); ++i) add(fd->message_type(i));
    for (const Descriptor* d : all) {
      ++types;
      for (uint32_t seed = 0; seed < 40; ++seed) {
        std::unique_ptr<Message> m(factory.GetPrototype(d)->New());
        Filler(seed * 7919 + static_cast<uint32_t>(types)).Fill(m.get(), 0);
        std::string bytes = m->SerializePartialAsString();
        std::optional<std::string> fast = api.printer().Print(d, bytes);
        std::optional<std::string> wire = api.printer().PrintWire(d, bytes);
        std::string reference;
        google::protobuf::util::Status s = google::protobuf::util::BinaryToJsonString(
            api.resolver(), ApiSchema::TypeUrl(d), bytes, &reference);
        if (!fast) {
          ++fallbacks;
          continue;
        }
        ASSERT_TRUE(s.ok()) << d->full_name()
                            << ": protobuf refuses what the fast printer wrote: " << s.message()
                            << "\n"
                            << *fast;
        nlohmann::json a = nlohmann::json::parse(*fast, nullptr, false);
        nlohmann::json b = nlohmann::json::parse(reference, nullptr, false);
        ASSERT_FALSE(a.is_discarded()) << d->full_name() << ": not JSON: " << *fast;
        ASSERT_TRUE(SameJson(a, b))
            << d->full_name() << " seed " << seed << "\nfast:     " << fast->substr(0, 1500)
            << "\nprotobuf: " << reference.substr(0, 1500);
        ++compared;
        if (wire) {
          ++walked;
          nlohmann::json w = nlohmann::json::parse(*wire, nullptr, false);
          ASSERT_TRUE(SameJson(w, b))
              << d->full_name() << " seed " << seed << "\nwire:     " << wire->substr(0, 1500)
              << "\nprotobuf: " << reference.substr(0, 1500);
        }
      }
    }
  }
  EXPECT_GT(types, 50);
  EXPECT_GT(compared, fallbacks) << "the fast path should answer most messages";
  EXPECT_GT(walked, compared / 2) << "the wire walk should answer most messages";
  std::cout << types << " types, " << compared << " messages compared (" << walked
            << " by the wire walk), " << fallbacks << " left to protobuf\n";
}

TEST(JsonPrinter, LeavesWhatItCannotWriteToProtobuf) {
  absl::StatusOr<std::unique_ptr<ApiSchema>> schema = ApiSchema::LoadEmbedded();
  ASSERT_TRUE(schema.ok());
  const Descriptor* venue = (*schema)->pool().FindMessageTypeByName("passerelle.venues.v1.Venue");
  ASSERT_NE(venue, nullptr);
  // Bytes that are not a message, and a string field holding invalid UTF-8 (field 1, `name`).
  EXPECT_FALSE((*schema)->printer().Print(venue, std::string("\xff\xff\xff", 3)));
  EXPECT_FALSE((*schema)->printer().Print(venue, std::string("\x0a\x02\xc3\x28", 4)));
  // An empty message is an empty object.
  EXPECT_EQ((*schema)->printer().Print(venue, ""), "{}");
}

// Wire bytes written by hand: a tag, then a value.
std::string Tag(int number, int wire_type) {
  std::string out;
  uint64_t v = (static_cast<uint64_t>(number) << 3) | static_cast<uint64_t>(wire_type);
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
// A length-delimited field: a string, bytes or a message's bytes.
std::string Str(int number, std::string_view value) {
  return Tag(number, 2) + Varint(value.size()) + std::string(value);
}
std::string Double(int number, double value) {
  std::string out = Tag(number, 1);
  char raw[8];
  std::memcpy(raw, &value, 8);
  return out + std::string(raw, 8);
}

// Bytes a careless or hostile backend could send, each as (what it is, the bytes, whether the
// wire walk answers): where it does, the two walks agree with protobuf; where it does not, the
// reflection walk answers what parsing means, or nothing.
TEST(JsonPrinter, TheWireWalkTakesOnlyCanonicalBytes) {
  absl::StatusOr<std::unique_ptr<ApiSchema>> schema = ApiSchema::LoadEmbedded();
  ASSERT_TRUE(schema.ok());
  const ApiSchema& api = **schema;
  const Descriptor* venue = api.pool().FindMessageTypeByName("passerelle.venues.v1.Venue");
  ASSERT_NE(venue, nullptr);
  // Venue: name = 1, id = 2, latitude = 10 (optional double), typologie = 12 (repeated string),
  // services = 23 (repeated enum), provenance = 40 (message), state = 45 (enum),
  // create_time = 47 (Timestamp), hours_understood = 50 (bool).
  const std::string services_packed = Tag(23, 2) + Varint(2) + Varint(1) + Varint(2);
  struct Case {
    const char* what;
    std::string bytes;
    bool walked;
  };
  const std::vector<Case> cases = {
      {"canonical", Str(1, "venues/a") + Str(2, "x") + Double(10, 50.5) + services_packed, true},
      {"an explicit zero with presence is written", Double(10, 0.0), true},
      {"an implicit default sent anyway is not written", Str(2, "") + Tag(45, 0) + Varint(0), true},
      {"an int32 enum as a ten-byte varint", Tag(45, 0) + Varint(~uint64_t{0}), true},
      {"an unknown enum number", Tag(45, 0) + Varint(977), true},
      {"a Timestamp with its fields", Str(47, Tag(1, 0) + Varint(60) + Tag(2, 0) + Varint(5000)),
       true},
      {"an empty Timestamp", Str(47, ""), true},
      {"the elements of a repeated field, unpacked",
       Tag(23, 0) + Varint(1) + Tag(23, 0) + Varint(2), true},
      {"packed then unpacked elements together", services_packed + Tag(23, 0) + Varint(3), true},
      {"a repeated string", Str(12, "a") + Str(12, "b\"c"), true},
      {"fields out of number order", Str(2, "x") + Str(1, "venues/a"), false},
      {"a singular field twice (the last wins)", Str(1, "venues/a") + Str(1, "venues/b"), false},
      {"a repeated field split by another",
       Tag(23, 0) + Varint(1) + Tag(24, 0) + Varint(1) + Tag(23, 0) + Varint(2), false},
      {"a message sent twice (merged)", Tag(40, 2) + Varint(0) + Tag(40, 2) + Varint(0), false},
      {"an empty packed record", Tag(23, 2) + Varint(0), false},
      {"an unknown field", Str(1, "venues/a") + Str(999, "?"), false},
      {"a wire type that is not the field's", Tag(1, 0) + Varint(5), false},
      {"a double of the wrong width", Tag(10, 5) + std::string(4, '\0'), false},
      {"a negative zero", Double(10, -0.0), true},
      {"field number zero", Tag(0, 0) + Varint(1), false},
      {"a length past the end", Tag(1, 2) + Varint(50) + "short", false},
      {"an eleven-byte varint", Tag(45, 0) + std::string(10, '\xff') + "\x01", false},
      {"a truncated tag", std::string("\x80"), false},
      {"a tag in six bytes (protobuf reads five at most)",
       std::string("\x8a\x80\x80\x80\x80\x00", 6) + Varint(1) + "a", false},
      {"a length in six bytes", Tag(1, 2) + std::string("\x81\x80\x80\x80\x80\x00", 6) + "a",
       false},
      {"invalid UTF-8 in a string", Str(1, "\xc3\x28"), false},
      {"a NUL in a string", Str(1, std::string("a\0b", 3)), true},
      {"a group's wire type", Tag(40, 3) + Tag(40, 4), false},
      {"a Timestamp with an unknown field", Str(47, Tag(3, 0) + Varint(1)), false},
      {"a Timestamp in the year 10000", Str(47, Tag(1, 0) + Varint(253402300800)), false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::optional<std::string> wire = api.printer().PrintWire(venue, c.bytes);
    EXPECT_EQ(wire.has_value(), c.walked) << (wire ? *wire : "");
    std::optional<std::string> printed = api.printer().Print(venue, c.bytes);
    google::protobuf::DynamicMessageFactory factory(&api.pool());
    std::unique_ptr<Message> parsed(factory.GetPrototype(venue)->New());
    bool parses = parsed->ParseFromString(c.bytes);
    if (!parses) {
      EXPECT_FALSE(printed.has_value()) << *printed;
      continue;
    }
    std::string reference;
    google::protobuf::util::Status s = google::protobuf::util::BinaryToJsonString(
        api.resolver(), ApiSchema::TypeUrl(venue), parsed->SerializeAsString(), &reference);
    if (!printed) continue;  // left to protobuf, which answers or explains
    ASSERT_TRUE(s.ok()) << s.message();
    nlohmann::json expected = nlohmann::json::parse(reference);
    EXPECT_TRUE(SameJson(nlohmann::json::parse(*printed), expected)) << *printed << "\n"
                                                                     << reference;
    if (wire) {
      EXPECT_TRUE(SameJson(nlohmann::json::parse(*wire), expected)) << *wire;
    }
  }
}

// Messages nested past protobuf's limit are refused by both walks, without running out of
// stack.
TEST(JsonPrinter, RefusesMessagesNestedTooDeep) {
  absl::StatusOr<std::unique_ptr<ApiSchema>> schema = ApiSchema::LoadEmbedded();
  ASSERT_TRUE(schema.ok());
  const ApiSchema& api = **schema;
  // A self-nesting public type: walk the pool for a message with a field of its own type.
  const Descriptor* nesting = nullptr;
  int field_number = 0;
  for (const google::protobuf::FileDescriptorProto& file : api.files().file()) {
    const google::protobuf::FileDescriptor* fd = api.pool().FindFileByName(file.name());
    for (int i = 0; fd != nullptr && i < fd->message_type_count() && nesting == nullptr; ++i) {
      const Descriptor* d = fd->message_type(i);
      for (int j = 0; j < d->field_count(); ++j) {
        if (d->field(j)->message_type() == d) {
          nesting = d;
          field_number = d->field(j)->number();
          break;
        }
      }
    }
  }
  ASSERT_NE(nesting, nullptr) << "no self-nesting type in the public API";
  std::cout << "nesting " << nesting->full_name() << " through field " << field_number << "\n";
  std::string bytes;
  for (int i = 0; i < 5000; ++i) bytes = Tag(field_number, 2) + Varint(bytes.size()) + bytes;
  EXPECT_FALSE(api.printer().PrintWire(nesting, bytes).has_value());
  EXPECT_FALSE(api.printer().Print(nesting, bytes).has_value());
}

}  // namespace
}  // namespace passerelle::gateway
