#include "services/gateway/json_print.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/message.h"
#include "libs/text/json_string.hpp"

namespace passerelle::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

template <typename T>
void Integer(std::string* out, T v, bool quote) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (quote) out->push_back('"');
  out->append(buf, end);
  if (quote) out->push_back('"');
}

template <typename T>
void Floating(std::string* out, T v) {
  if (std::isnan(v)) {
    out->append("\"NaN\"");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    char buf[40];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, end);
  }
}

// Nanoseconds with 0, 3, 6 or 9 digits, as protobuf writes them.
void Nanos(std::string* out, int32_t nanos) {
  if (nanos == 0) return;
  char digits[10];
  digits[0] = '.';
  uint32_t v = static_cast<uint32_t>(nanos);
  for (int i = 9; i >= 1; --i) {
    digits[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  size_t n = nanos % 1000000 == 0 ? 3 : nanos % 1000 == 0 ? 6 : 9;
  out->append(digits, n + 1);
}

// `YYYY-MM-DDTHH:MM:SS` of a Unix time, UTC (proleptic Gregorian; days to civil date after
// H. Hinnant's public-domain algorithm).
void AppendUtc(std::string* out, int64_t seconds) {
  int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  int64_t rest = seconds - days * 86400;
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[20];
  auto two = [](char* p, int64_t v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  two(buf, year / 100);
  two(buf + 2, year % 100);
  buf[4] = '-';
  two(buf + 5, month);
  buf[7] = '-';
  two(buf + 8, day);
  buf[10] = 'T';
  two(buf + 11, rest / 3600);
  buf[13] = ':';
  two(buf + 14, rest / 60 % 60);
  buf[16] = ':';
  two(buf + 17, rest % 60);
  out->append(buf, 19);
}

// A FieldMask path in lowerCamel; nullopt for one protobuf does not convert.
std::optional<std::string> ToCamel(std::string_view path) {
  std::string out;
  bool upper = false;
  for (char c : path) {
    if (c == '_') {
      upper = true;
      continue;
    }
    if (c >= 'A' && c <= 'Z') return std::nullopt;
    out.push_back(upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    upper = false;
  }
  return out;
}

// A Timestamp as RFC 3339 UTC; false for what the JSON mapping refuses and for years before
// 1000 (left to protobuf).
bool WriteTimestamp(std::string* out, int64_t seconds, int32_t nanos) {
  if (seconds < -30610224000 || seconds > 253402300799 || nanos < 0 || nanos > 999999999) {
    return false;
  }
  out->push_back('"');
  AppendUtc(out, seconds);
  Nanos(out, nanos);
  out->append("Z\"");
  return true;
}

// A Duration as `-1.5s`; false for what the JSON mapping refuses.
bool WriteDuration(std::string* out, int64_t seconds, int32_t nanos) {
  if (seconds < -315576000000 || seconds > 315576000000 || nanos < -999999999 ||
      nanos > 999999999 || (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) {
    return false;
  }
  out->push_back('"');
  if (seconds < 0 || nanos < 0) out->push_back('-');
  out->append(absl::StrCat(seconds < 0 ? -seconds : seconds));
  Nanos(out, nanos < 0 ? -nanos : nanos);
  out->append("s\"");
  return true;
}

// A FieldMask's paths joined in lowerCamel; false for one protobuf does not convert.
bool WriteFieldMask(std::string* out, const std::vector<std::string_view>& paths) {
  std::string joined;
  for (size_t j = 0; j < paths.size(); ++j) {
    if (j > 0) joined.push_back(',');
    std::optional<std::string> camel = ToCamel(paths[j]);
    if (!camel) return false;
    joined += *camel;
  }
  return text::AppendJsonString(out, joined);
}

// An enum value by name (its number when the enum does not name it); NullValue as null.
void WriteEnum(std::string* out, const google::protobuf::EnumDescriptor* type, int number) {
  if (type->full_name() == "google.protobuf.NullValue") {
    out->append("null");
    return;
  }
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(number);
  if (v != nullptr) {
    // An enum value's name is an identifier (the descriptor pool refuses anything else):
    // nothing to escape.
    out->push_back('"');
    out->append(v->name());
    out->push_back('"');
  } else {
    Integer(out, number, false);
  }
}

// Writes one message; a part this printer leaves to protobuf sets failed() and the rest of
// the output is then meaningless.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  bool failed() const { return failed_; }

  void Write(const Message& m) {
    if (failed_) return;
    const Descriptor* d = m.GetDescriptor();
    if (d->file()->name().rfind("google/protobuf/", 0) == 0 && WriteWellKnown(m)) return;
    const Reflection* r = m.GetReflection();
    // Unknown fields (e.g. a proto2 enum's unknown number) are printed by protobuf from the
    // wire: left to it.
    if (!r->GetUnknownFields(m).empty()) {
      failed_ = true;
      return;
    }
    out_->push_back('{');
    bool first = true;
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->is_repeated() ? r->FieldSize(m, f) == 0 : !r->HasField(m, f)) continue;
      if (!first) out_->push_back(',');
      first = false;
      Quote(f->json_name());
      out_->push_back(':');
      if (f->is_map()) {
        WriteMap(m, f);
      } else if (f->is_repeated()) {
        out_->push_back('[');
        for (int j = 0; j < r->FieldSize(m, f); ++j) {
          if (j > 0) out_->push_back(',');
          WriteValue(m, r, f, j);
        }
        out_->push_back(']');
      } else {
        WriteValue(m, r, f, -1);
      }
    }
    out_->push_back('}');
  }

 private:
  // One value of a field: element `index` of a repeated field, or the singular value (-1).
  // `r` is m's reflection, fetched once per message rather than once per value.
  void WriteValue(const Message& m, const Reflection* r, const FieldDescriptor* f, int index) {
    const bool rep = index >= 0;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        Integer(out_, rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f), false);
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        Integer(out_, rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f), false);
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        Integer(out_, rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f), true);
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        Integer(out_, rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f), true);
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        Floating(out_, rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        Floating(out_, rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        out_->append((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false");
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        WriteEnum(out_, f->enum_type(),
                  rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f));
        break;
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                   : r->GetStringReference(m, f, &scratch);
        if (f->type() == FieldDescriptor::TYPE_BYTES) {
          out_->push_back('"');
          out_->append(absl::Base64Escape(s));
          out_->push_back('"');
        } else {
          Quote(s);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        Write(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
        break;
    }
  }

  void WriteMap(const Message& m, const FieldDescriptor* f) {
    const Reflection* r = m.GetReflection();
    const FieldDescriptor* key = f->message_type()->map_key();
    const FieldDescriptor* value = f->message_type()->map_value();
    out_->push_back('{');
    for (int j = 0; j < r->FieldSize(m, f); ++j) {
      const Message& entry = r->GetRepeatedMessage(m, f, j);
      const Reflection* er = entry.GetReflection();
      if (j > 0) out_->push_back(',');
      switch (key->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING:
          Quote(er->GetString(entry, key));
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          out_->append(er->GetBool(entry, key) ? "\"true\"" : "\"false\"");
          break;
        case FieldDescriptor::CPPTYPE_INT32:
          Integer(out_, er->GetInt32(entry, key), true);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          Integer(out_, er->GetUInt32(entry, key), true);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          Integer(out_, er->GetInt64(entry, key), true);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          Integer(out_, er->GetUInt64(entry, key), true);
          break;
        default:
          failed_ = true;
          return;
      }
      out_->push_back(':');
      WriteValue(entry, er, value, -1);
    }
    out_->push_back('}');
  }

  // True when `m` is a well-known type written in its own JSON form.
  bool WriteWellKnown(const Message& m) {
    const Descriptor* d = m.GetDescriptor();
    const Reflection* r = m.GetReflection();
    const std::string& name = d->full_name();
    auto field = [d](const char* n) { return d->FindFieldByName(n); };
    if (name == "google.protobuf.Timestamp") {
      // Its two fields, in the order google/protobuf/timestamp.proto declares them (no lookup
      // by name for each of a venue's dates).
      if (!WriteTimestamp(out_, r->GetInt64(m, d->field(0)), r->GetInt32(m, d->field(1)))) {
        failed_ = true;
      }
      return true;
    }
    if (name == "google.protobuf.Duration") {
      if (!WriteDuration(out_, r->GetInt64(m, field("seconds")), r->GetInt32(m, field("nanos")))) {
        failed_ = true;
      }
      return true;
    }
    if (name == "google.protobuf.FieldMask") {
      const FieldDescriptor* paths = field("paths");
      std::vector<std::string> all;
      for (int j = 0; j < r->FieldSize(m, paths); ++j)
        all.push_back(r->GetRepeatedString(m, paths, j));
      if (!WriteFieldMask(out_, std::vector<std::string_view>(all.begin(), all.end()))) {
        failed_ = true;
      }
      return true;
    }
    if (name == "google.protobuf.Empty") {
      out_->append("{}");
      return true;
    }
    if (name == "google.protobuf.Struct") {
      WriteMap(m, field("fields"));
      return true;
    }
    if (name == "google.protobuf.ListValue") {
      const FieldDescriptor* values = field("values");
      out_->push_back('[');
      for (int j = 0; j < r->FieldSize(m, values); ++j) {
        if (j > 0) out_->push_back(',');
        Write(r->GetRepeatedMessage(m, values, j));
      }
      out_->push_back(']');
      return true;
    }
    if (name == "google.protobuf.Value") {
      const google::protobuf::OneofDescriptor* kind = d->FindOneofByName("kind");
      const FieldDescriptor* set = r->GetOneofFieldDescriptor(m, kind);
      if (set == nullptr ||
          (set->name() == "number_value" && !std::isfinite(r->GetDouble(m, set)))) {
        failed_ = true;
        return true;
      }
      WriteValue(m, r, set, -1);
      return true;
    }
    if (name == "google.protobuf.Any") {
      failed_ = true;
      return true;
    }
    static constexpr const char* kWrappers[] = {
        "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue"};
    for (const char* wrapper : kWrappers) {
      if (name == wrapper) {
        WriteValue(m, r, field("value"), -1);
        return true;
      }
    }
    return false;
  }

  void Quote(std::string_view s) {
    if (!text::AppendJsonString(out_, s)) failed_ = true;
  }

  std::string* out_;
  bool failed_ = false;
};

// ---------------------------------------------------------------------------------------------
// The wire walk.

// How a type is written in JSON.
enum class Form { kObject, kTimestamp, kDuration, kFieldMask, kEmpty, kWrapper };

}  // namespace

// What the wire walk needs of one field, found once.
struct FieldPlan {
  const FieldDescriptor* field = nullptr;
  FieldDescriptor::Type type = FieldDescriptor::TYPE_INT32;
  std::string key;  // `,"jsonName":`, written from its second byte for a first member
  bool repeated = false;
  bool implicit = false;  // no presence: its default value is not written
  int oneof = -1;         // its oneof's index in the message, -1 for none
  const JsonPrinter::TypePlan* message = nullptr;
  // Enums: each named number's JSON (`"NAME"`) by number, for numbers 0 to 1023 (empty: not
  // named there); NullValue written as null; a closed (proto2) enum's unnamed numbers are
  // unknown fields.
  std::vector<std::string> enum_json;
  bool null_value = false;
  bool closed = false;
};

struct JsonPrinter::TypePlan {
  const Descriptor* type = nullptr;
  Form form = Form::kObject;
  // False when the walk leaves this type to reflection: fields not declared in number order,
  // more than 64 oneofs, a map, Struct, Value, ListValue or Any.
  bool walkable = true;
  // The same for this type and every type its fields reach: whether the walk is tried.
  bool walks = true;
  std::vector<FieldPlan> fields;   // in declaration order
  std::vector<int16_t> by_number;  // field number -> index in `fields` + 1 (0: none), small ones
};

namespace {

using TypePlan = JsonPrinter::TypePlan;

constexpr int kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5;
// As protobuf's parser: a message nested deeper is refused.
constexpr int kMaxDepth = 100;

// The wire type a field's single value is written with.
int WireTypeOf(FieldDescriptor::Type type) {
  switch (type) {
    case FieldDescriptor::TYPE_DOUBLE:
    case FieldDescriptor::TYPE_FIXED64:
    case FieldDescriptor::TYPE_SFIXED64:
      return kFixed64;
    case FieldDescriptor::TYPE_FLOAT:
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
      return kFixed32;
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP:
      return kLength;
    default:
      return kVarint;
  }
}

// Bytes being read; every read checks the end.
struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  bool done() const { return p >= end; }

  // A varint of up to `max_bytes` bytes (ten for values, five for tags and lengths), as
  // protobuf reads them (bits past the 64th dropped).
  bool Varint(uint64_t* v, int max_bytes = 10) {
    if (p < end && *p < 0x80) {  // most tags, lengths and enum values
      *v = *p++;
      return true;
    }
    uint64_t result = 0;
    for (int shift = 0; shift < 7 * max_bytes; shift += 7) {
      if (p >= end) return false;
      uint8_t b = *p++;
      result |= static_cast<uint64_t>(b & 0x7f) << (shift < 64 ? shift : 63);
      if (b < 0x80) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool Fixed(int bytes, uint64_t* v) {
    if (end - p < bytes) return false;
    uint64_t result = 0;
    std::memcpy(&result, p, bytes);  // little-endian, as the wire
    p += bytes;
    *v = result;
    return true;
  }
  bool Length(std::string_view* s) {
    uint64_t n;
    if (!Varint(&n, 5) || n > static_cast<uint64_t>(end - p) || n > 0x7fffffff) return false;
    *s = std::string_view(reinterpret_cast<const char*>(p), n);
    p += n;
    return true;
  }
};

// One scalar read from the wire: its bits, or its bytes for strings, bytes and messages.
struct Scalar {
  uint64_t bits = 0;
  std::string_view bytes;
};

inline bool ReadScalar(Cursor* c, int wire_type, Scalar* v) {
  switch (wire_type) {
    case kVarint:
      return c->Varint(&v->bits);
    case kFixed64:
      return c->Fixed(8, &v->bits);
    case kFixed32:
      return c->Fixed(4, &v->bits);
    case kLength:
      return c->Length(&v->bytes);
    default:
      return false;
  }
}

// A proto2 enum keeps the numbers it does not name among unknown fields.
bool Closed(const FieldDescriptor* f) {
  return f->file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO2 ||
         f->enum_type()->file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO2;
}

int32_t ZigZag32(uint32_t v) { return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1)); }
int64_t ZigZag64(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

double AsDouble(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}
float AsFloat(uint64_t bits) {
  uint32_t low = static_cast<uint32_t>(bits);
  float f;
  std::memcpy(&f, &low, sizeof f);
  return f;
}

// The value as the field's type holds it, for the default test: integers as stored (an int32
// sent as a 64-bit varint is truncated by parsing), floating values by their bits.
uint64_t Stored(FieldDescriptor::Type type, uint64_t bits) {
  switch (type) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_ENUM:
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
    case FieldDescriptor::TYPE_FLOAT:
      return static_cast<uint32_t>(bits);
    case FieldDescriptor::TYPE_BOOL:
      return bits != 0;
    default:
      return bits;
  }
}

class WireWriter {
 public:
  explicit WireWriter(std::string* out) : out_(out) {}

  // The message `bytes` as `plan` says; false when the walk leaves it to reflection.
  bool Message(const TypePlan& plan, std::string_view bytes, int depth) {
    if (depth > kMaxDepth) return false;
    Cursor c{reinterpret_cast<const uint8_t*>(bytes.data()),
             reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size()};
    if (plan.form != Form::kObject) return Special(plan, &c, depth);
    out_->push_back('{');
    uint64_t last = 0;                // the number of the last field read
    const FieldPlan* open = nullptr;  // the repeated field whose array is open
    uint64_t oneofs = 0;              // the oneofs one of whose fields was read
    bool any = false;                 // a member written
    while (!c.done()) {
      uint64_t tag;
      if (!c.Varint(&tag, 5) || tag > 0xffffffffu) return false;
      const uint64_t number = tag >> 3;
      const int wire_type = static_cast<int>(tag & 7);
      const FieldPlan* f = Find(plan, number);
      if (f == nullptr) return false;  // unknown field (or number 0)
      if (f != open) {
        if (open != nullptr) {
          out_->push_back(']');
          open = nullptr;
        }
        // Out of order, or a field sent twice: parsing would merge, left to reflection.
        if (number <= last) return false;
        last = number;
        if (f->oneof >= 0) {
          if (oneofs & (uint64_t{1} << f->oneof)) return false;
          oneofs |= uint64_t{1} << f->oneof;
        }
      }
      if (f->repeated) {
        const int element = WireTypeOf(f->type);
        if (wire_type == kLength && element != kLength) {
          // Packed: one record holding the elements.
          Scalar packed;
          if (!ReadScalar(&c, kLength, &packed)) return false;
          Cursor p{reinterpret_cast<const uint8_t*>(packed.bytes.data()),
                   reinterpret_cast<const uint8_t*>(packed.bytes.data()) + packed.bytes.size()};
          while (!p.done()) {
            Scalar v;
            if (!ReadScalar(&p, element, &v)) return false;
            Element(*f, &open, &any);
            if (!Value(*f, v, depth)) return false;
          }
          if (open != f) return false;  // an empty record: left to reflection
          continue;
        }
        Scalar v;
        if (wire_type != element || !ReadScalar(&c, wire_type, &v)) return false;
        Element(*f, &open, &any);
        if (!Value(*f, v, depth)) return false;
        continue;
      }
      Scalar v;
      if (wire_type != WireTypeOf(f->type) || !ReadScalar(&c, wire_type, &v)) return false;
      if (f->implicit) {
        if (f->type == FieldDescriptor::TYPE_STRING || f->type == FieldDescriptor::TYPE_BYTES) {
          if (v.bytes.empty()) continue;
        } else {
          uint64_t stored = Stored(f->type, v.bits);
          if (stored == 0) continue;
          // -0.0: whether it counts as set has changed between protobuf versions.
          if ((f->type == FieldDescriptor::TYPE_DOUBLE && AsDouble(stored) == 0) ||
              (f->type == FieldDescriptor::TYPE_FLOAT && AsFloat(stored) == 0)) {
            return false;
          }
        }
      }
      Key(*f, &any);
      if (!Value(*f, v, depth)) return false;
    }
    if (open != nullptr) out_->push_back(']');
    out_->push_back('}');
    return true;
  }

 private:
  static const FieldPlan* Find(const TypePlan& plan, uint64_t number) {
    if (number < plan.by_number.size()) {
      int16_t i = plan.by_number[number];
      return i == 0 ? nullptr : &plan.fields[i - 1];
    }
    if (number > 536870911) return nullptr;
    const FieldDescriptor* f = plan.type->FindFieldByNumber(static_cast<int>(number));
    return f == nullptr ? nullptr : &plan.fields[f->index()];
  }

  // Before an element of a repeated field: the separator, or the key and the array opened.
  void Element(const FieldPlan& f, const FieldPlan** open, bool* any) {
    if (*open == &f) {
      out_->push_back(',');
      return;
    }
    Key(f, any);
    out_->push_back('[');
    *open = &f;
  }

  // A member's key, after a comma unless it is the object's first.
  void Key(const FieldPlan& f, bool* any) {
    out_->append(f.key, *any ? 0 : 1);
    *any = true;
  }

  bool Value(const FieldPlan& f, const Scalar& v, int depth) {
    switch (f.type) {
      case FieldDescriptor::TYPE_INT32:
        Integer(out_, static_cast<int32_t>(v.bits), false);
        return true;
      case FieldDescriptor::TYPE_SFIXED32:
        Integer(out_, static_cast<int32_t>(static_cast<uint32_t>(v.bits)), false);
        return true;
      case FieldDescriptor::TYPE_SINT32:
        Integer(out_, ZigZag32(static_cast<uint32_t>(v.bits)), false);
        return true;
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        Integer(out_, static_cast<uint32_t>(v.bits), false);
        return true;
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SFIXED64:
        Integer(out_, static_cast<int64_t>(v.bits), true);
        return true;
      case FieldDescriptor::TYPE_SINT64:
        Integer(out_, ZigZag64(v.bits), true);
        return true;
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        Integer(out_, v.bits, true);
        return true;
      case FieldDescriptor::TYPE_DOUBLE:
        Floating(out_, AsDouble(v.bits));
        return true;
      case FieldDescriptor::TYPE_FLOAT:
        Floating(out_, AsFloat(v.bits));
        return true;
      case FieldDescriptor::TYPE_BOOL:
        out_->append(v.bits != 0 ? "true" : "false");
        return true;
      case FieldDescriptor::TYPE_ENUM: {
        const int number = static_cast<int32_t>(v.bits);
        if (f.null_value) {
          out_->append("null");
          return true;
        }
        if (number >= 0 && static_cast<size_t>(number) < f.enum_json.size() &&
            !f.enum_json[number].empty()) {
          out_->append(f.enum_json[number]);
          return true;
        }
        if (f.closed && f.field->enum_type()->FindValueByNumber(number) == nullptr) return false;
        WriteEnum(out_, f.field->enum_type(), number);
        return true;
      }
      case FieldDescriptor::TYPE_STRING:
        return text::AppendJsonString(out_, v.bytes);
      case FieldDescriptor::TYPE_BYTES:
        out_->push_back('"');
        out_->append(absl::Base64Escape(absl::string_view(v.bytes.data(), v.bytes.size())));
        out_->push_back('"');
        return true;
      case FieldDescriptor::TYPE_MESSAGE:
        return Message(*f.message, v.bytes, depth + 1);
      default:
        return false;
    }
  }

  // Timestamp, Duration, FieldMask, Empty and the wrappers, read from their fields.
  bool Special(const TypePlan& plan, Cursor* c, int depth) {
    Scalar values[3];  // by field number 1 and 2; an absent one is zero
    std::vector<std::string_view> paths;
    uint64_t last = 0;
    while (!c->done()) {
      uint64_t tag;
      if (!c->Varint(&tag, 5) || tag > 0xffffffffu) return false;
      const uint64_t number = tag >> 3;
      const int wire_type = static_cast<int>(tag & 7);
      const FieldPlan* f = Find(plan, number);
      if (f == nullptr || wire_type != WireTypeOf(f->type)) return false;
      if (plan.form == Form::kFieldMask) {
        Scalar v;
        if (!ReadScalar(c, wire_type, &v)) return false;
        paths.push_back(v.bytes);
        continue;
      }
      if (number <= last || number > 2) return false;
      last = number;
      if (!ReadScalar(c, wire_type, &values[number])) return false;
    }
    switch (plan.form) {
      case Form::kTimestamp:
        return WriteTimestamp(out_, static_cast<int64_t>(values[1].bits),
                              static_cast<int32_t>(values[2].bits));
      case Form::kDuration:
        return WriteDuration(out_, static_cast<int64_t>(values[1].bits),
                             static_cast<int32_t>(values[2].bits));
      case Form::kFieldMask:
        return WriteFieldMask(out_, paths);
      case Form::kEmpty:
        out_->append("{}");
        return true;
      case Form::kWrapper:
        // An absent value is the default one, written as such.
        return Value(plan.fields[0], values[1], depth);
      default:
        return false;
    }
  }

  std::string* out_;
};

// The plans of `type` and of every type its fields reach, added to `plans`.
TypePlan* MakePlan(const Descriptor* type,
                   std::map<const Descriptor*, std::unique_ptr<TypePlan>>* plans) {
  if (auto it = plans->find(type); it != plans->end()) return it->second.get();
  auto owned = std::make_unique<TypePlan>();
  TypePlan* plan = owned.get();
  plans->emplace(type, std::move(owned));
  plan->type = type;
  const std::string& name = type->full_name();
  static constexpr const char* kWrappers[] = {
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
      "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue"};
  if (name == "google.protobuf.Timestamp") {
    plan->form = Form::kTimestamp;
  } else if (name == "google.protobuf.Duration") {
    plan->form = Form::kDuration;
  } else if (name == "google.protobuf.FieldMask") {
    plan->form = Form::kFieldMask;
  } else if (name == "google.protobuf.Empty") {
    plan->form = Form::kEmpty;
  } else if (std::find(std::begin(kWrappers), std::end(kWrappers), name) != std::end(kWrappers)) {
    plan->form = Form::kWrapper;
  } else if (name == "google.protobuf.Struct" || name == "google.protobuf.Value" ||
             name == "google.protobuf.ListValue" || name == "google.protobuf.Any") {
    plan->walkable = false;
  }
  if (type->oneof_decl_count() > 64) plan->walkable = false;
  int max_number = 0;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (i > 0 && f->number() <= type->field(i - 1)->number()) plan->walkable = false;
    max_number = std::max(max_number, f->number());
    FieldPlan fp;
    fp.field = f;
    fp.type = f->type();
    fp.key = ",";
    if (!text::AppendJsonString(&fp.key, f->json_name())) plan->walkable = false;
    fp.key.push_back(':');
    fp.repeated = f->is_repeated();
    fp.implicit = !f->is_repeated() && !f->has_presence();
    fp.oneof = f->containing_oneof() != nullptr ? f->containing_oneof()->index() : -1;
    if (const google::protobuf::EnumDescriptor* e = f->enum_type()) {
      fp.null_value = e->full_name() == "google.protobuf.NullValue";
      fp.closed = Closed(f);
      for (int v = 0; v < e->value_count(); ++v) {
        const int number = e->value(v)->number();
        if (number < 0 || number >= 1024) continue;
        if (static_cast<size_t>(number) >= fp.enum_json.size()) fp.enum_json.resize(number + 1);
        // The first name of a number, as FindValueByNumber gives (aliases).
        if (fp.enum_json[number].empty()) {
          fp.enum_json[number] = absl::StrCat("\"", e->FindValueByNumber(number)->name(), "\"");
        }
      }
    }
    if (f->is_map() || f->type() == FieldDescriptor::TYPE_GROUP) plan->walkable = false;
    plan->fields.push_back(std::move(fp));
  }
  if (max_number < 256) {
    plan->by_number.assign(max_number + 1, 0);
    for (int i = 0; i < type->field_count(); ++i) {
      plan->by_number[type->field(i)->number()] = static_cast<int16_t>(i + 1);
    }
  }
  for (FieldPlan& fp : plan->fields) {
    if (fp.type != FieldDescriptor::TYPE_MESSAGE) continue;
    fp.message = MakePlan(fp.field->message_type(), plans);
  }
  return plan;
}

// Whether the wire walk can take `plan`'s type: it and every type it reaches are walkable.
bool Reachable(const TypePlan* plan, std::set<const TypePlan*>* seen) {
  if (!seen->insert(plan).second) return true;
  if (!plan->walkable) return false;
  for (const FieldPlan& fp : plan->fields) {
    if (fp.message != nullptr && !Reachable(fp.message, seen)) return false;
  }
  return true;
}

// The same fields (number, name, JSON name, type, cardinality), down through message fields.
bool SameFields(const Descriptor* a, const Descriptor* b) {
  if (a->full_name() != b->full_name() || a->field_count() != b->field_count()) return false;
  for (int i = 0; i < a->field_count(); ++i) {
    const FieldDescriptor* x = a->field(i);
    const FieldDescriptor* y = b->field(i);
    if (x->number() != y->number() || x->name() != y->name() || x->json_name() != y->json_name() ||
        x->type() != y->type() || x->label() != y->label() ||
        x->has_presence() != y->has_presence() || x->is_map() != y->is_map()) {
      return false;
    }
    if (x->enum_type() != nullptr && x->enum_type()->full_name() != y->enum_type()->full_name()) {
      return false;
    }
    if (x->message_type() != nullptr && x->message_type() != a &&
        !SameFields(x->message_type(), y->message_type())) {
      return false;
    }
  }
  return true;
}

}  // namespace

JsonPrinter::JsonPrinter(const google::protobuf::DescriptorPool& pool) : factory_(&pool) {}

JsonPrinter::~JsonPrinter() = default;

const Message* JsonPrinter::Prototype(const Descriptor* type) const {
  {
    std::shared_lock lock(mu_);
    if (auto it = prototypes_.find(type); it != prototypes_.end()) return it->second;
  }
  const Message* prototype = FindPrototype(type);
  std::unique_lock lock(mu_);
  prototypes_.emplace(type, prototype);
  return prototype;
}

const Message* JsonPrinter::FindPrototype(const Descriptor* type) const {
  // The same type compiled into this binary parses several times faster than a dynamic
  // message: taken when its generated descriptor is the same definition.
  const Descriptor* generated =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type->full_name());
  if (generated != nullptr && generated != type && SameFields(generated, type)) {
    return google::protobuf::MessageFactory::generated_factory()->GetPrototype(generated);
  }
  return factory_.GetPrototype(type);
}

std::optional<std::string> JsonPrinter::Print(const Descriptor* type,
                                              std::string_view bytes) const {
  if (std::optional<std::string> walked = PrintWire(type, bytes)) return walked;
  return PrintReflection(type, bytes);
}

const JsonPrinter::TypePlan& JsonPrinter::Plan(const Descriptor* type) const {
  {
    std::shared_lock lock(mu_);
    if (auto it = plans_.find(type); it != plans_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  size_t before = plans_.size();
  TypePlan* plan = MakePlan(type, &plans_);
  if (plans_.size() != before) {
    for (auto& [unused, p] : plans_) {
      std::set<const TypePlan*> seen;
      p->walks = Reachable(p.get(), &seen);
    }
  }
  return *plan;
}

std::optional<std::string> JsonPrinter::PrintWire(const Descriptor* type,
                                                  std::string_view bytes) const {
  const TypePlan& plan = Plan(type);
  if (!plan.walks || bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return std::nullopt;
  }
  std::string out;
  // JSON runs to about three times the bytes of a venue (keys, quotes, enum names): one
  // allocation for most answers.
  out.reserve(bytes.size() * 3 + 64);
  if (!WireWriter(&out).Message(plan, bytes, 0)) return std::nullopt;
  return out;
}

std::optional<std::string> JsonPrinter::PrintReflection(const Descriptor* type,
                                                        std::string_view bytes) const {
  const Message* prototype = Prototype(type);
  if (prototype == nullptr) return std::nullopt;
  // The parsed message lives in an arena: one block for its parts instead of one allocation
  // each (a venue has dozens of strings and a few nested messages).
  google::protobuf::ArenaOptions options;
  options.start_block_size = 4096;
  options.max_block_size = 65536;
  google::protobuf::Arena arena(options);
  Message* message = prototype->New(&arena);
  // Merged into the new (empty) message: parsing would clear it first, field by field.
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(bytes.data()),
                                               static_cast<int>(bytes.size()));
  if (!message->MergePartialFromCodedStream(&input) || !input.ConsumedEntireMessage()) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(bytes.size() * 2 + 16);
  Writer writer(&out);
  writer.Write(*message);
  if (writer.failed()) return std::nullopt;
  return out;
}

}  // namespace passerelle::gateway
