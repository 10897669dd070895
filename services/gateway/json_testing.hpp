// For tests of the gateway's proto3 JSON both ways (json_print_test, transcode_test, the
// gateway fuzz targets): random messages of any type, and two JSON values the same for a reader.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace passerelle::gateway {

// Fills messages with values a hostile or careless backend could send: extremes, NaN, unknown
// enum numbers, quotes and controls in strings, non-ASCII text, empty and nested messages.
class Filler {
 public:
  explicit Filler(uint32_t seed) : rng_(seed) {}

  void Fill(google::protobuf::Message* m, int depth) {
    const google::protobuf::Descriptor* d = m->GetDescriptor();
    const google::protobuf::Reflection* r = m->GetReflection();
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
      const google::protobuf::FieldDescriptor* f = d->field(i);
      if (f->containing_oneof() != nullptr && rng_() % 3 != 0) continue;
      if (rng_() % 10 < 3) continue;
      if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE && depth >= 4)
        continue;
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

  void Set(google::protobuf::Message* m, const google::protobuf::FieldDescriptor* f, int depth) {
    const google::protobuf::Reflection* r = m->GetReflection();
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_INT32: {
        int32_t v = Pick<int32_t>({0, 1, -1, 42, std::numeric_limits<int32_t>::min(),
                                   std::numeric_limits<int32_t>::max()});
        rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v = Pick<uint32_t>({0, 1, 4294967295u});
        rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_INT64: {
        int64_t v = Pick<int64_t>({0, 1, -1, 9007199254740993, std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max()});
        rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v = Pick<uint64_t>({0, 1, std::numeric_limits<uint64_t>::max()});
        rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE: {
        double v = Pick<double>(
            {0.0, -0.0, 50.69, 3.17, 0.1 + 0.2, 1e21, 1e-7, -123456.789,
             std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
             -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::max(),
             std::numeric_limits<double>::denorm_min()});
        rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_FLOAT: {
        float v = Pick<float>({0.0f, 1.1f, 0.1f, 3.4e38f, std::numeric_limits<float>::quiet_NaN()});
        rep ? r->AddFloat(m, f, v) : r->SetFloat(m, f, v);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_BOOL: {
        bool v = Coin();
        rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_ENUM: {
        int count = f->enum_type()->value_count();
        int v = rng_() % 5 == 0 ? 977
                                : f->enum_type()->value(static_cast<int>(rng_() % count))->number();
        rep ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING: {
        std::string v = f->type() == google::protobuf::FieldDescriptor::TYPE_BYTES
                            ? Pick<std::string>({"", std::string("\0\xff\x10", 3), "abcd"})
                            : Text();
        rep ? r->AddString(m, f, v) : r->SetString(m, f, v);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE: {
        google::protobuf::Message* child = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
        if (f->is_map()) {
          const google::protobuf::Descriptor* entry = f->message_type();
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
inline bool SameJson(const nlohmann::json& a, const nlohmann::json& b) {
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

}  // namespace passerelle::gateway
