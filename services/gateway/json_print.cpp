#include "services/gateway/json_print.hpp"

#include <charconv>
#include <cmath>
#include <memory>
#include <mutex>

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
  std::string digits = absl::StrCat(nanos + 1000000000).substr(1);  // 9 digits
  if (nanos % 1000000 == 0) {
    digits.resize(3);
  } else if (nanos % 1000 == 0) {
    digits.resize(6);
  }
  out->push_back('.');
  out->append(digits);
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
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
        if (f->enum_type()->full_name() == "google.protobuf.NullValue") {
          out_->append("null");
          break;
        }
        const google::protobuf::EnumValueDescriptor* v = f->enum_type()->FindValueByNumber(number);
        if (v != nullptr) {
          // An enum value's name is an identifier (the descriptor pool refuses anything else):
          // nothing to escape.
          out_->push_back('"');
          out_->append(v->name());
          out_->push_back('"');
        } else {
          Integer(out_, number, false);
        }
        break;
      }
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
      int64_t seconds = r->GetInt64(m, d->field(0));
      int32_t nanos = r->GetInt32(m, d->field(1));
      // Four-digit years (1000-01-01 .. 9999-12-31); older ones, and what the JSON mapping
      // refuses, go to protobuf.
      if (seconds < -30610224000 || seconds > 253402300799 || nanos < 0 || nanos > 999999999) {
        failed_ = true;
        return true;
      }
      out_->push_back('"');
      AppendUtc(out_, seconds);
      Nanos(out_, nanos);
      out_->append("Z\"");
      return true;
    }
    if (name == "google.protobuf.Duration") {
      int64_t seconds = r->GetInt64(m, field("seconds"));
      int32_t nanos = r->GetInt32(m, field("nanos"));
      if (seconds < -315576000000 || seconds > 315576000000 || nanos < -999999999 ||
          nanos > 999999999 || (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) {
        failed_ = true;
        return true;
      }
      out_->push_back('"');
      if (seconds < 0 || nanos < 0) out_->push_back('-');
      out_->append(absl::StrCat(seconds < 0 ? -seconds : seconds));
      Nanos(out_, nanos < 0 ? -nanos : nanos);
      out_->append("s\"");
      return true;
    }
    if (name == "google.protobuf.FieldMask") {
      const FieldDescriptor* paths = field("paths");
      std::string joined;
      for (int j = 0; j < r->FieldSize(m, paths); ++j) {
        if (j > 0) joined.push_back(',');
        std::optional<std::string> camel = ToCamel(r->GetRepeatedString(m, paths, j));
        if (!camel) {
          failed_ = true;
          return true;
        }
        joined += *camel;
      }
      Quote(joined);
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
