// The fast JSON printer against protobuf's own, on random messages of every type of the public
// API: where the fast one answers, both outputs are the same JSON.
#include "services/gateway/json_print.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/gateway/api_schema.hpp"

namespace passerelle::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Fills messages with values a hostile or careless backend could send: extremes, NaN, unknown
// enum numbers, quotes and controls in strings, non-ASCII text, empty and nested messages.
class Filler {
 public:
  explicit Filler(uint32_t seed) : rng_(seed) {}

  void Fill(Message* m, int depth) {
    const Descriptor* d = m->GetDescriptor();
    const Reflection* r = m->GetReflection();
    const std::string& name = d->full_name();
    if (name == "google.protobuf.Timestamp") {
      r->SetInt64(m, d->FindFieldByName("seconds"),
                  Pick<int64_t>({0, 1, 1800000000, 253402300799, -1, 951782400}));
      r->SetInt32(m, d->FindFieldByName("nanos"),
                  Pick<int32_t>({0, 1000000, 947447000, 1, 999999999}));
      return;
    }
    if (name == "google.protobuf.Duration") {
      int64_t s = Pick<int64_t>({0, 1, 5, 3600, -2});
      r->SetInt64(m, d->FindFieldByName("seconds"), s);
      r->SetInt32(m, d->FindFieldByName("nanos"),
                  s < 0 ? -500000000 : Pick<int32_t>({0, 500000000, 1000, 7}));
      return;
    }
    if (name == "google.protobuf.FieldMask") {
      for (const char* p : {"display_name", "address.postal_code", "x"}) {
        if (Coin()) r->AddString(m, d->FindFieldByName("paths"), p);
      }
      return;
    }
    if (name == "google.protobuf.Any") return;  // left to protobuf's printer
    if (name == "google.protobuf.Value") {
      switch (rng_() % 4) {
        case 0:
          r->SetDouble(m, d->FindFieldByName("number_value"), 2.5);
          return;
        case 1:
          r->SetString(m, d->FindFieldByName("string_value"), "é\"");
          return;
        case 2:
          r->SetBool(m, d->FindFieldByName("bool_value"), true);
          return;
        default:
          r->SetEnumValue(m, d->FindFieldByName("null_value"), 0);
          return;
      }
    }
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->containing_oneof() != nullptr && rng_() % 3 != 0) continue;
      if (rng_() % 10 < 3) continue;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth >= 4) continue;
      int n = f->is_repeated() ? static_cast<int>(rng_() % 4) : 1;
      for (int j = 0; j < n; ++j) Set(m, f, depth);
    }
  }

 private:
  template <typename T>
  T Pick(std::initializer_list<T> values) {
    return *(values.begin() + rng_() % values.size());
  }
  bool Coin() { return rng_() % 2 == 0; }

  std::string Text() {
    return Pick<std::string>({"", "a", "Roubaix", "quote \" back \\ slash", "tab\tnl\n",
                              std::string("nul\0x", 5), "\x01\x1f\x7f", "été — 😀", "<&>", "\u2028",
                              std::string(300, 'x')});
  }

  void Set(Message* m, const FieldDescriptor* f, int depth) {
    const Reflection* r = m->GetReflection();
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v = Pick<int32_t>({0, 1, -1, 42, std::numeric_limits<int32_t>::min(),
                                   std::numeric_limits<int32_t>::max()});
        rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v = Pick<uint32_t>({0, 1, 4294967295u});
        rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v = Pick<int64_t>({0, 1, -1, 9007199254740993, std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max()});
        rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v = Pick<uint64_t>({0, 1, std::numeric_limits<uint64_t>::max()});
        rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v = Pick<double>(
            {0.0, -0.0, 50.69, 3.17, 0.1 + 0.2, 1e21, 1e-7, -123456.789,
             std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
             -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::max(),
             std::numeric_limits<double>::denorm_min()});
        rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        float v = Pick<float>({0.0f, 1.1f, 0.1f, 3.4e38f, std::numeric_limits<float>::quiet_NaN()});
        rep ? r->AddFloat(m, f, v) : r->SetFloat(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v = Coin();
        rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        int count = f->enum_type()->value_count();
        int v = rng_() % 5 == 0 ? 977
                                : f->enum_type()->value(static_cast<int>(rng_() % count))->number();
        rep ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string v = f->type() == FieldDescriptor::TYPE_BYTES
                            ? Pick<std::string>({"", std::string("\0\xff\x10", 3), "abcd"})
                            : Text();
        rep ? r->AddString(m, f, v) : r->SetString(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        Message* child = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
        if (f->is_map()) {
          const Descriptor* entry = f->message_type();
          Set(child, entry->map_key(), depth + 1);
          Set(child, entry->map_value(), depth + 1);
        } else {
          Fill(child, depth + 1);
        }
        break;
      }
    }
  }

  std::mt19937 rng_;
};

// The same JSON value: numbers equal as doubles, or as floats (protobuf writes a float with
// the digits of its float value, the fast printer with its shortest).
bool SameJson(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    return x == y || static_cast<float>(x) == static_cast<float>(y);
  }
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key()) || !SameJson(it.value(), b.at(it.key()))) return false;
    }
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!SameJson(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

TEST(JsonPrinter, WritesWhatProtobufWritesForEveryPublicType) {
  absl::StatusOr<std::unique_ptr<ApiSchema>> schema = ApiSchema::LoadEmbedded();
  ASSERT_TRUE(schema.ok()) << schema.status();
  const ApiSchema& api = **schema;
  google::protobuf::DynamicMessageFactory factory(&api.pool());
  int compared = 0, fallbacks = 0, types = 0;
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
      }
    }
  }
  EXPECT_GT(types, 50);
  EXPECT_GT(compared, fallbacks) << "the fast path should answer most messages";
  std::cout << types << " types, " << compared << " messages compared, " << fallbacks
            << " left to protobuf\n";
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

}  // namespace
}  // namespace passerelle::gateway
