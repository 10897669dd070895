#include "services/gateway/transcode.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "absl/base/casts.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "google/protobuf/wire_format_lite.h"
#include "libs/api/status.hpp"
#include "libs/text/split.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::gateway {

std::optional<std::string> ForeignCharset(std::string_view content_type) {
  // The parameters after the media type (RFC 9110, 5.6.6): `; name=value`, the value a token or
  // a quoted string in which a backslash escapes the next character (so `;` may be quoted).
  const size_t n = content_type.size();
  auto blank = [&](size_t i) { return content_type[i] == ' ' || content_type[i] == '\t'; };
  size_t i = content_type.find(';');
  while (i != std::string_view::npos && i < n) {
    ++i;  // past the ';'
    const size_t name_start = i;
    while (i < n && content_type[i] != '=' && content_type[i] != ';') ++i;
    const std::string_view name =
        text::StripSpaces(content_type.substr(name_start, i - name_start));
    std::string value;
    if (i < n && content_type[i] == '=') {
      ++i;
      while (i < n && blank(i)) ++i;
      const size_t start = i;
      const bool quoted = i < n && content_type[i] == '"';
      if (quoted) {
        for (++i; i < n && content_type[i] != '"'; ++i) {
          if (content_type[i] == '\\' && i + 1 < n) ++i;
          value += content_type[i];
        }
      }
      while (i < n && content_type[i] != ';') ++i;  // after a quoted string: ignored
      if (!quoted) value = text::StripSpaces(content_type.substr(start, i - start));
    }
    // An empty charset declares nothing: the body is read (and checked) as UTF-8.
    if (absl::EqualsIgnoreCase(std::string(name), "charset") && !value.empty() &&
        !absl::EqualsIgnoreCase(value, "utf-8") && !absl::EqualsIgnoreCase(value, "utf8")) {
      return value;
    }
  }
  return std::nullopt;
}

absl::Status UnsupportedMediaType(std::string_view message, std::string violation) {
  return api::WithReason(
      api::InvalidArgument(std::string(message), {{"Content-Type", std::move(violation)}}),
      "UNSUPPORTED_MEDIA_TYPE");
}

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;
using nlohmann::json;

absl::Status Invalid(const std::string& field, const std::string& description) {
  return api::InvalidArgument(absl::StrCat(field, " : ", description), {{field, description}});
}

// The member of `object` holding field `f`, under its JSON or proto name; null when absent.
json* Member(json& object, const FieldDescriptor* f) {
  if (!object.is_object()) return nullptr;
  for (const std::string& key : {f->json_name(), f->name()}) {
    auto it = object.find(key);
    if (it != object.end()) return &*it;
  }
  return nullptr;
}
const json* Member(const json& object, const FieldDescriptor* f) {
  return Member(const_cast<json&>(object), f);
}

bool IsWellKnownLeaf(const Descriptor* m) {
  const std::string& n = m->full_name();
  return n == "google.protobuf.Timestamp" || n == "google.protobuf.Duration" ||
         n == "google.protobuf.FieldMask";
}

// snake_case paths of a field mask as JSON wants them (lowerCamel), each segment alone.
std::string MaskToCamel(std::string_view mask) {
  std::string out;
  bool upper = false;
  for (char c : mask) {
    if (c == '_') {
      upper = true;
    } else {
      out.push_back(upper ? absl::ascii_toupper(static_cast<unsigned char>(c)) : c);
      upper = false;
    }
  }
  return out;
}

// Longest number literal read: a double in full (17 digits, sign, exponent) fits many times.
constexpr size_t kMaxNumberChars = 64;

class SyntaxCheck : public json::json_sax_t {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t v, const string_t& raw) override {
    if (raw.size() > kMaxNumberChars) return TooLong(raw.size());
    if (std::isfinite(v)) return true;
    error = absl::StrCat("[range] nombre hors des limites : ", text::Quote(raw, 40));
    return false;
  }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    keys_.emplace_back();
    return Deeper();
  }
  bool key(string_t& k) override {
    if (keys_.back().insert(k).second) return true;
    error = absl::StrCat("[unique] clé ", text::Quote(k), " donnée deux fois dans un même objet");
    return false;
  }
  bool end_object() override {
    keys_.pop_back();
    return --depth_, true;
  }
  bool start_array(std::size_t) override { return Deeper(); }
  bool end_array() override { return --depth_, true; }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& e) override {
    // 406: a number beyond a double's limits. A literal no field could hold (megabytes of
    // digits) is not a number this API reads; a short one (1e400) is out of range.
    if (e.id == 406) {
      if (last_token.size() > kMaxNumberChars) return TooLong(last_token.size());
      error = absl::StrCat("[range] nombre hors des limites : ", text::Quote(last_token, 40));
      return false;
    }
    error = absl::StrCat("[json] JSON invalide à l'octet ", position, " près de ",
                         text::Quote(last_token, 20));
    return false;
  }
  std::string error;

 private:
  bool TooLong(size_t size) {
    error = absl::StrCat("[number] un nombre de ", size, " caractères (au plus ", kMaxNumberChars,
                         ") : ce n'est pas un nombre que l'API lit");
    return false;
  }
  bool Deeper() {
    if (++depth_ <= kMaxJsonDepth) return true;
    error = absl::StrCat("[depth] JSON imbriqué sur plus de ", kMaxJsonDepth, " niveaux");
    return false;
  }
  int depth_ = 0;
  std::vector<std::set<std::string>> keys_;
};

// A field given under both its names (`ownerOrganisation` and `owner_organisation`): the JSON
// parser would keep one of them silently, and access checks may have read the other.
absl::Status CheckOneSpelling(const json& node, const Descriptor* type, const std::string& path) {
  if (!node.is_object() || type == nullptr) return absl::OkStatus();
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    std::string here = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    if (f->json_name() != f->name() && node.contains(f->json_name()) && node.contains(f->name())) {
      return Invalid(here, absl::StrCat("[unique] donné deux fois, en ", f->json_name(), " et en ",
                                        f->name()));
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->is_map() ||
        IsWellKnownLeaf(f->message_type())) {
      continue;
    }
    const json* child = Member(node, f);
    if (child == nullptr) continue;
    if (f->is_repeated() && child->is_array()) {
      for (size_t k = 0; k < child->size() && k < 100000; ++k) {
        absl::Status s =
            CheckOneSpelling((*child)[k], f->message_type(), absl::StrCat(here, "[", k, "]"));
        if (!s.ok()) return s;
      }
    } else if (absl::Status s = CheckOneSpelling(*child, f->message_type(), here); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// application/json, with no charset or UTF-8's (RFC 8259: JSON exchanged between systems is
// UTF-8; a body declared in another would be read as UTF-8 all the same, its accents broken).
absl::Status CheckJsonType(std::string_view content_type) {
  std::string_view media = text::StripSpaces(content_type.substr(0, content_type.find(';')));
  if (!absl::EqualsIgnoreCase(std::string(media), "application/json")) {
    return UnsupportedMediaType(
        "envoyez application/json, en UTF-8",
        content_type.empty()
            ? std::string("[media] type de contenu absent : application/json attendu")
            : absl::StrCat("[media] type de contenu « ", text::Quote(content_type, 60),
                           " » non pris en charge : application/json attendu"));
  }
  if (std::optional<std::string> charset = ForeignCharset(content_type)) {
    return UnsupportedMediaType(
        "envoyez le corps en UTF-8",
        absl::StrCat("[encoding] corps déclaré en « ", text::Quote(*charset, 40),
                     " » : seul UTF-8 est lu (application/json)"));
  }
  return absl::OkStatus();
}

// A control character a parameter's name may not hold: FirstControl's, and tab and line breaks.
bool HasControl(std::string_view s) {
  return text::FirstControl(s).has_value() || s.find_first_of("\t\n\r") != std::string_view::npos;
}

// A field mask's text: comma-separated paths of dotted field names; empty for an empty mask.
bool IsFieldMaskText(std::string_view mask) {
  if (mask.empty() || mask == "*") return true;  // `*` alone: every field (AIP-134)
  for (std::string_view path : text::Split(mask, ',')) {
    for (std::string_view name : text::Split(path, '.')) {
      if (name.empty() || absl::ascii_isdigit(name[0])) return false;
      for (char c : name) {
        if (!absl::ascii_isalnum(c) && c != '_') return false;
      }
    }
  }
  return true;
}

// The first name of a field mask (IsFieldMaskText's) that is neither a field's proto name
// (snake_case: lower case, digits, `_`) nor its JSON name (lowerCamel: no `_`, a lower-case
// first letter, no two capitals in a row); empty when every name is one of these. The JSON
// parser folds case (`TELEPHONE`, `Telephone` and `teLEPHONE` would all reach the method as
// `telephone`): REST must refuse what gRPC refuses.
std::string_view FirstMisspelledMaskName(std::string_view mask) {
  for (std::string_view path : text::Split(mask, ',')) {
    for (std::string_view name : text::Split(path, '.')) {
      bool snake = true, camel = !absl::ascii_isupper(name[0]);
      for (size_t i = 0; i < name.size(); ++i) {
        const bool upper = absl::ascii_isupper(name[i]);
        if (upper) snake = false;
        if (name[i] == '_' || (upper && i > 0 && absl::ascii_isupper(name[i - 1]))) camel = false;
      }
      if (!snake && !camel) return name;
    }
  }
  return {};
}

// A misspelled mask name as its field would be spelled in snake_case: `prise_RDV` and
// `priseRDV` give `prise_rdv`, `NOM` gives `nom` (a capital after a small letter starts a word).
std::string SnakeSpelling(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const bool upper = absl::ascii_isupper(name[i]);
    if (upper && i > 0 && (absl::ascii_islower(name[i - 1]) || absl::ascii_isdigit(name[i - 1]))) {
      out.push_back('_');
    }
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(name[i])));
  }
  return out;
}

// A number written as a JSON string, as proto3's JSON mapping allows: decimal only ("12",
// "-1.5e3"), or NaN and the infinities for floating fields; protobuf's parser would also take
// hexadecimal ("0x10").
bool DecimalText(const std::string& t, bool floating) {
  if (floating && (t == "NaN" || t == "Infinity" || t == "-Infinity")) return true;
  size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  size_t digits = 0;
  while (i < t.size() && absl::ascii_isdigit(t[i])) ++i, ++digits;
  if (i < t.size() && t[i] == '.') {
    ++i;
    while (i < t.size() && absl::ascii_isdigit(t[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    size_t exponent = 0;
    while (i < t.size() && absl::ascii_isdigit(t[i])) ++i, ++exponent;
    if (exponent == 0) return false;
  }
  return i == t.size();
}

// A query value as the JSON value of field `f` (a scalar or a well-known leaf). Every refusal
// names its rule in brackets and quotes the value received (text::Quote).
absl::StatusOr<json> QueryValue(const std::string& name, const FieldDescriptor* f,
                                const std::string& value) {
  auto bad = [&](std::string_view rule, std::string_view expected) {
    return Invalid(name, absl::StrCat("[", std::string(rule), "] ", std::string(expected),
                                      ", reçu ", text::Quote(value)));
  };
  if (!text::IsValidUtf8(value)) return bad("utf8", "du texte UTF-8 attendu");
  auto integer = [&](auto parsed) -> absl::StatusOr<json> {
    using Int = decltype(parsed);
    bool digits = !value.empty();
    for (size_t i = 0; i < value.size(); ++i) {
      if (!(absl::ascii_isdigit(value[i]) || (i == 0 && value[i] == '-' && value.size() > 1))) {
        digits = false;
      }
    }
    if (!digits) return bad("number", "un nombre entier attendu (chiffres décimaux)");
    if (!absl::SimpleAtoi(value, &parsed)) {
      return bad("range", absl::StrCat("un nombre entier de ", std::numeric_limits<Int>::min(),
                                       " à ", std::numeric_limits<Int>::max(), " attendu"));
    }
    // A JSON number (nlohmann keeps 64-bit integers exact): the request encoder takes it.
    return json(parsed);
  };
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return integer(int32_t{});
    case FieldDescriptor::CPPTYPE_INT64:
      return integer(int64_t{});
    case FieldDescriptor::CPPTYPE_UINT32:
      return integer(uint32_t{});
    case FieldDescriptor::CPPTYPE_UINT64:
      return integer(uint64_t{});
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      // As a JSON body writes it (50.69, -3.1e2), so that the query and the body read the same
      // numbers: no sign +, no space, no comma, no NaN (a JSON number cannot be one).
      if (!DecimalText(value, /*floating=*/false)) {
        return bad("number", "un nombre décimal attendu (50.69, -3.1e2)");
      }
      double d = 0;
      const std::errc read = std::from_chars(value.data(), value.data() + value.size(), d).ec;
      if (read != std::errc() || !std::isfinite(d) ||
          (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT &&
           std::abs(d) > std::numeric_limits<float>::max())) {
        return bad("range", "un nombre dans les limites d'un nombre à virgule flottante attendu");
      }
      return json(d);
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      if (value == "true") return json(true);
      if (value == "false") return json(false);
      return bad("boolean", "true ou false attendu");
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (f->enum_type()->FindValueByName(value) == nullptr) {
        std::string names;
        for (int i = 0; i < f->enum_type()->value_count() && i < 12; ++i) {
          if (f->enum_type()->value(i)->number() == 0) continue;
          absl::StrAppend(&names, names.empty() ? "" : ", ", f->enum_type()->value(i)->name());
        }
        return bad("enum", absl::StrCat("une valeur parmi ", names, " attendue"));
      }
      return json(value);
    }
    case FieldDescriptor::CPPTYPE_STRING:
      return json(value);
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      // Checked here rather than by the JSON parser, whose message would name neither the
      // parameter nor the rule.
      const std::string& type = f->message_type()->full_name();
      if (type == "google.protobuf.FieldMask") {
        if (!IsFieldMaskText(value)) {
          return bad("format", "des noms de champs séparés par des virgules attendus (a,b.c)");
        }
        if (std::string_view name = FirstMisspelledMaskName(value); !name.empty()) {
          const std::string snake = SnakeSpelling(name), camel = MaskToCamel(snake);
          return bad("case",
                     absl::StrCat("« ", text::Quote(name, 60), " » : la casse compte, écrivez « ",
                                  text::Quote(snake, 60), snake == camel ? "" : " » ou « ",
                                  snake == camel ? "" : text::Quote(camel, 60), " »"));
        }
        return json(MaskToCamel(value));
      }
      if (type == "google.protobuf.Timestamp") {
        google::protobuf::Timestamp t;
        if (!google::protobuf::util::TimeUtil::FromString(value, &t)) {
          return bad("date", "un instant RFC 3339 attendu (2026-12-01T10:00:00Z)");
        }
        return json(value);
      }
      // A Duration (no method takes one in its query today): its JSON string, for the parser.
      return json(value);
    }
  }
  return Invalid(name, "[type] type de paramètre non pris en charge");
}

absl::Status SetQueryParameter(const Route& route, const HttpInput& input, const std::string& name,
                               const std::string& value, json* req) {
  const Descriptor* message = route.method->input_type();
  std::vector<std::string_view> parts = text::Split(name, '.');
  json* node = req;
  std::string canonical;
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* f = message == nullptr ? nullptr : FindField(message, parts[i]);
    if (f == nullptr) return Invalid(name, "[unknown] paramètre inconnu");
    absl::StrAppend(&canonical, i ? "." : "", f->name());
    if (i == 0 && route.body_field == f) {
      return Invalid(name, "[unexpected] donné par le corps de la requête");
    }
    for (const auto& [bound, unused] : input.bindings) {
      if (bound == canonical) return Invalid(name, "[unexpected] déjà donné par le chemin");
    }
    bool leaf =
        f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || IsWellKnownLeaf(f->message_type());
    if (!leaf && (f->is_repeated() || i + 1 == parts.size())) {
      return Invalid(name, "[unexpected] champ composé : donnez ses sous-champs (a.b=…)");
    }
    if (leaf && i + 1 != parts.size()) return Invalid(name, "[unknown] paramètre inconnu");
    if (!node->is_object()) *node = json::object();
    json* existing = Member(*node, f);
    if (!leaf) {
      node = existing != nullptr ? existing : &(*node)[f->json_name()];
      message = f->message_type();
      continue;
    }
    absl::StatusOr<json> v = QueryValue(name, f, value);
    if (!v.ok()) return v.status();
    if (f->is_repeated()) {
      json& array = existing != nullptr ? *existing : (*node)[f->json_name()];
      if (!array.is_array()) array = json::array();
      array.push_back(*std::move(v));
    } else {
      if (existing != nullptr) return Invalid(name, "[unique] donné deux fois");
      (*node)[f->json_name()] = *std::move(v);
    }
  }
  return absl::OkStatus();
}

// Puts `value` into the request's `field` (top-level, or in the body field's message), refusing a
// different value already there.
absl::Status SetFromHeader(const Route& route, json* req, const std::string& field,
                           const std::string& header, const std::string& value) {
  if (!text::IsValidUtf8(value)) return Invalid(header, "[utf8] en-tête qui n'est pas de l'UTF-8");
  if (text::FirstControl(value)) {
    return Invalid(header, "[control] en-tête avec un caractère de contrôle");
  }
  const Descriptor* input = route.method->input_type();
  json* target = req;
  const FieldDescriptor* f = input->FindFieldByName(field);
  if (f == nullptr && route.body_field != nullptr && route.body_field->message_type() != nullptr) {
    f = route.body_field->message_type()->FindFieldByName(field);
    json* body = Member(*req, route.body_field);
    target = body != nullptr ? body : &(*req)[route.body_field->json_name()];
    if (!target->is_object()) return absl::OkStatus();  // the parser names the wrong type
  }
  if (f == nullptr || f->type() != FieldDescriptor::TYPE_STRING) {
    return Invalid(header, "[unexpected] cette opération ne le prend pas en compte");
  }
  if (json* existing = Member(*target, f)) {
    if (!existing->is_string() || existing->get<std::string>() != value) {
      return Invalid(header, absl::StrCat("[conflict] différent du champ ", f->json_name(),
                                          " donné dans la requête"));
    }
    return absl::OkStatus();
  }
  (*target)[f->json_name()] = value;
  return absl::OkStatus();
}

// AIP-134: a PATCH that gives no mask changes the fields its body names, as a REST client means
// by PATCH, rather than the methods' "empty: every field" (gRPC's reading, where a body of the
// changed fields would blank all the others). The path's name and the etag are how the resource
// is found and checked, not fields to change; a body naming nothing is refused.
absl::Status ImplyUpdateMask(const Route& route, const HttpInput& input, json* req) {
  if (route.http_method != "PATCH" || route.body_field == nullptr ||
      route.body_field->message_type() == nullptr) {
    return absl::OkStatus();
  }
  const FieldDescriptor* mask = route.method->input_type()->FindFieldByName("update_mask");
  if (mask == nullptr || mask->message_type() == nullptr ||
      mask->message_type()->full_name() != "google.protobuf.FieldMask" ||
      Member(*req, mask) != nullptr) {
    return absl::OkStatus();
  }
  const Descriptor* resource_type = route.body_field->message_type();
  std::set<const FieldDescriptor*> bound;
  for (const auto& [path, value] : input.bindings) {
    const std::string prefix = absl::StrCat(route.body_field->name(), ".");
    if (path.rfind(prefix, 0) == 0)
      bound.insert(FindField(resource_type, path.substr(prefix.size())));
  }
  std::string paths;
  if (const json* resource = Member(*req, route.body_field); resource && resource->is_object()) {
    for (auto it = resource->begin(); it != resource->end(); ++it) {
      const FieldDescriptor* f = FindField(resource_type, it.key());
      if (f == nullptr) continue;  // refused as unknown when the request is encoded
      if (bound.count(f) != 0 || f->name() == "etag") continue;
      absl::StrAppend(&paths, paths.empty() ? "" : ",", f->json_name());
    }
  }
  if (paths.empty()) {
    return Invalid("updateMask",
                   "[required] le corps ne nomme aucun champ à modifier : nommez-les dans le "
                   "corps, ou dans updateMask (* pour tout remplacer)");
  }
  (*req)[mask->json_name()] = paths;
  return absl::OkStatus();
}

}  // namespace

std::optional<std::string> DecodeQueryComponent(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= raw.size()) return std::nullopt;
      int value = 0;
      for (int k = 1; k <= 2; ++k) {
        char h = raw[i + k];
        int d = absl::ascii_isdigit(h)   ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (d < 0) return std::nullopt;
        value = value * 16 + d;
      }
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<json> ParseJsonBody(std::string_view body) {
  SyntaxCheck check;
  if (!json::sax_parse(body, &check)) {
    return Invalid("body", check.error.empty() ? "[json] JSON invalide" : check.error);
  }
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Invalid("body", "[json] JSON invalide");
  return parsed;
}

absl::StatusOr<json> RequestJson(const Route& route, const HttpInput& input) {
  json req = json::object();
  if (route.body == "*") {
    if (!input.body.empty()) {
      if (absl::Status s = CheckJsonType(input.content_type); !s.ok()) return s;
      absl::StatusOr<json> body = ParseJsonBody(input.body);
      if (!body.ok()) return body.status();
      if (!body->is_object()) return Invalid("body", "[json] un objet JSON est attendu");
      req = *std::move(body);
    }
  } else if (route.body_field != nullptr) {
    if (route.raw_request()) {
      req[route.body_field->json_name()] = absl::Base64Escape(std::string(input.body));
    } else if (!input.body.empty()) {
      if (absl::Status s = CheckJsonType(input.content_type); !s.ok()) return s;
      absl::StatusOr<json> body = ParseJsonBody(input.body);
      if (!body.ok()) return body.status();
      // A message is an object (the well-known types aside: a Timestamp is a string). Anything
      // else would be replaced by an empty object when the path fills in the name, and a
      // PATCH would then blank the fields of its mask.
      const Descriptor* message = route.body_field->message_type();
      if (message != nullptr && message->file()->name().rfind("google/protobuf/", 0) != 0 &&
          !body->is_object()) {
        return Invalid("body", "[json] un objet JSON est attendu");
      }
      req[route.body_field->json_name()] = *std::move(body);
    }
  } else if (!input.body.empty()) {
    return Invalid("body", "[unexpected] cette opération ne prend pas de corps");
  }
  const Descriptor* type = route.method->input_type();
  if (absl::Status s = CheckOneSpelling(req, type, ""); !s.ok()) return s;
  for (const auto& [field, value] : input.bindings) {
    if (std::optional<std::string> in_body = GetStringField(req, type, field);
        in_body && *in_body != value) {
      return Invalid(field, absl::StrCat("[conflict] le corps dit ", text::Quote(*in_body),
                                         " mais le chemin dit ", text::Quote(value)));
    }
    SetStringField(&req, type, field, value);
  }
  size_t count = 0;
  if (!input.query.empty()) {
    for (std::string_view pair : text::Split(input.query, '&')) {
      if (pair.empty()) continue;
      if (++count > kMaxQueryParameters) {
        return Invalid("query",
                       absl::StrCat("[size] plus de ", kMaxQueryParameters, " paramètres"));
      }
      size_t eq = pair.find('=');
      // The name first: it is the field the other refusals name, so it must be fit to echo.
      std::optional<std::string> name = DecodeQueryComponent(pair.substr(0, eq));
      if (!name) {
        return Invalid("query", absl::StrCat("[encoding] séquence % invalide dans le nom ",
                                             text::Quote(pair.substr(0, eq))));
      }
      if (!text::IsValidUtf8(*name)) {
        return Invalid("query", absl::StrCat("[utf8] nom de paramètre qui n'est pas de l'UTF-8 : ",
                                             text::Quote(*name)));
      }
      if (HasControl(*name)) {
        return Invalid("query", absl::StrCat("[control] caractère de contrôle dans le nom ",
                                             text::Quote(*name)));
      }
      if (name->size() > 200) {
        return Invalid("query", absl::StrCat("[size] nom de paramètre de plus de 200 octets : ",
                                             text::Quote(*name)));
      }
      std::string_view raw = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
      std::optional<std::string> value = DecodeQueryComponent(raw);
      if (!value) {
        return Invalid(*name,
                       absl::StrCat("[encoding] séquence % invalide, reçu ", text::Quote(raw)));
      }
      if (value->size() > kMaxQueryValueBytes) {
        return Invalid(*name, absl::StrCat("[size] valeur de plus de ", kMaxQueryValueBytes,
                                           " octets, reçu ", text::Quote(*value)));
      }
      if (route.body == "*") {
        return Invalid(*name, "[unknown] paramètre inconnu : cette opération lit tout du corps");
      }
      absl::Status s = SetQueryParameter(route, input, *name, *value, &req);
      if (!s.ok()) return s;
    }
  }
  // `If-Match: *` asks only that the resource exists (RFC 9110 13.1.1), which every write to a
  // named resource checks: no etag to compare.
  if (input.if_match && *input.if_match != "*") {
    absl::Status s = SetFromHeader(route, &req, "etag", "If-Match", *input.if_match);
    if (!s.ok()) return s;
  }
  if (input.idempotency_key) {
    absl::Status s =
        SetFromHeader(route, &req, "request_id", "Idempotency-Key", *input.idempotency_key);
    if (!s.ok()) return s;
  }
  if (absl::Status s = ImplyUpdateMask(route, input, &req); !s.ok()) return s;
  return req;
}

namespace {

// What protobuf's JSON parser takes and proto3's JSON mapping does not mean: a number written
// in a string in anything but decimal (protobuf reads "0x10" as 16), a list inside a list or a
// null in a list (protobuf flattens or drops them). Refused with the field's path, before
// either way of encoding; what it does not look at (unknown fields, well-known types) protobuf
// refuses in its own words.
absl::Status Strict(const Descriptor* d, const json& object, const std::string& path, int depth) {
  if (depth > kMaxJsonDepth || !object.is_object()) return absl::OkStatus();
  if (d->file()->name().rfind("google/protobuf/", 0) == 0) return absl::OkStatus();
  auto one = [&](const FieldDescriptor* f, const json& v, const std::string& where) {
    const FieldDescriptor::CppType cpp = f->cpp_type();
    if (cpp == FieldDescriptor::CPPTYPE_MESSAGE) {
      return f->is_map() ? absl::OkStatus() : Strict(f->message_type(), v, where, depth + 1);
    }
    if (cpp == FieldDescriptor::CPPTYPE_ENUM && v.is_string() &&
        f->enum_type()->FindValueByName(v.get_ref<const std::string&>()) == nullptr) {
      // protobuf's parser would say "invalid value … for type type.googleapis.com/…".
      std::string names;
      for (int i = 0; i < f->enum_type()->value_count() && i < 12; ++i) {
        if (f->enum_type()->value(i)->number() == 0) continue;
        absl::StrAppend(&names, names.empty() ? "" : ", ", f->enum_type()->value(i)->name());
      }
      return Invalid(where, absl::StrCat("[enum] une valeur parmi ", names, " attendue, reçu « ",
                                         text::Quote(v.get_ref<const std::string&>(), 60), " »"));
    }
    if (v.is_string() && cpp != FieldDescriptor::CPPTYPE_STRING &&
        cpp != FieldDescriptor::CPPTYPE_ENUM && cpp != FieldDescriptor::CPPTYPE_BOOL &&
        !DecimalText(v.get_ref<const std::string&>(), cpp == FieldDescriptor::CPPTYPE_DOUBLE ||
                                                          cpp == FieldDescriptor::CPPTYPE_FLOAT)) {
      return Invalid(where, absl::StrCat("[number] un nombre en chiffres décimaux attendu, reçu ",
                                         text::Quote(v.get_ref<const std::string&>(), 60)));
    }
    return absl::OkStatus();
  };
  // The member of each oneof already given: a second is refused here, on its own name, whether
  // it came from the body, the path or the query, rather than by protobuf against `body`.
  std::vector<const FieldDescriptor*> given;
  for (auto it = object.begin(); it != object.end(); ++it) {
    const FieldDescriptor* f = FindField(d, it.key());
    if (f == nullptr) {
      // protobuf's parser would say "foo: Cannot find field."
      const std::string key = text::Quote(it.key(), 60);
      return Invalid(path.empty() ? key : absl::StrCat(path, ".", key),
                     absl::StrCat("[unknown] pas de champ « ", key, " » dans ", d->name()));
    }
    const std::string where = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    if (const google::protobuf::OneofDescriptor* oneof = f->real_containing_oneof();
        oneof != nullptr && !it.value().is_null()) {
      for (const FieldDescriptor* other : given) {
        if (other->real_containing_oneof() == oneof) {
          return Invalid(where, absl::StrCat("[oneof] ", f->json_name(), " et ", other->json_name(),
                                             " s'excluent : un seul des deux"));
        }
      }
      given.push_back(f);
    }
    if (!f->is_repeated() || !it.value().is_array()) {
      if (absl::Status s = one(f, it.value(), where); !s.ok()) return s;
      continue;
    }
    for (size_t k = 0; k < it.value().size(); ++k) {
      const json& element = it.value()[k];
      const std::string at = absl::StrCat(where, "[", k, "]");
      if (element.is_null()) return Invalid(at, "[json] null n'est pas une valeur de liste");
      if (element.is_array() && !f->is_map()) {
        return Invalid(at, "[json] une liste dans une liste n'est pas acceptée");
      }
      if (absl::Status s = one(f, element, at); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// A request encoded straight from its JSON object where every value is plain: numbers, strings,
// booleans, enums by name, messages and lists of these, as proto3's JSON mapping reads them.
// Anything else — well-known types, maps, bytes, numbers written as strings, null, a field
// named twice (by both its names) or two fields of one oneof — is left to protobuf's parser,
// which reads it or refuses it in its own words: Encode answers false and writes nothing
// useful. Saves protobuf's parser (a tenth of the door's work on a REST search).
class RequestEncoder {
 public:
  bool Message(const Descriptor* d, const json& object, std::string* out, int depth) {
    if (depth > kMaxJsonDepth || !object.is_object()) return false;
    if (d->file()->name().rfind("google/protobuf/", 0) == 0) return false;
    std::vector<bool> seen(d->field_count(), false);
    std::vector<bool> oneofs(d->oneof_decl_count(), false);
    for (auto it = object.begin(); it != object.end(); ++it) {
      const FieldDescriptor* f = FindField(d, it.key());
      if (f == nullptr || f->is_map() || seen[f->index()]) return false;
      seen[f->index()] = true;
      if (const google::protobuf::OneofDescriptor* o = f->containing_oneof()) {
        if (oneofs[o->index()]) return false;
        oneofs[o->index()] = true;
      }
      const json& value = it.value();
      if (!f->is_repeated()) {
        if (!Value(f, value, out, depth)) return false;
        continue;
      }
      if (!value.is_array()) return false;
      for (const json& element : value) {
        if (!Value(f, element, out, depth)) return false;
      }
    }
    return true;
  }

 private:
  static void Varint(std::string* out, uint64_t v) {
    while (v >= 0x80) {
      out->push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out->push_back(static_cast<char>(v));
  }
  static void Tag(std::string* out, const FieldDescriptor* f, int wire_type) {
    Varint(out, (static_cast<uint64_t>(f->number()) << 3) | static_cast<uint64_t>(wire_type));
  }
  static void Fixed(std::string* out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }

  // A JSON integer in [lo, hi].
  static bool Integer(const json& v, int64_t lo, int64_t hi, int64_t* out) {
    if (v.is_number_unsigned()) {
      uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(hi)) return false;
      *out = static_cast<int64_t>(u);
      return true;
    }
    if (!v.is_number_integer()) return false;
    int64_t i = v.get<int64_t>();
    if (i < lo || i > hi) return false;
    *out = i;
    return true;
  }

  bool Value(const FieldDescriptor* f, const json& v, std::string* out, int depth) {
    constexpr int kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5;
    constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
    constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
    constexpr int64_t kUInt32Max = std::numeric_limits<uint32_t>::max();
    constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
    constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
    // A scalar: its wire type and bits, written once after the switch.
    int wire = kVarint;
    uint64_t bits = 0;
    int64_t i = 0;
    switch (f->type()) {
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32:
        if (!Integer(v, kInt32Min, kInt32Max, &i)) return false;
        if (f->type() == FieldDescriptor::TYPE_SINT32) {
          bits = WireFormatLite::ZigZagEncode32(static_cast<int32_t>(i));
        } else if (f->type() == FieldDescriptor::TYPE_SFIXED32) {
          wire = kFixed32;
          bits = static_cast<uint32_t>(i);
        } else {
          bits = static_cast<uint64_t>(i);
        }
        break;
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        if (!Integer(v, 0, kUInt32Max, &i)) return false;
        if (f->type() == FieldDescriptor::TYPE_FIXED32) wire = kFixed32;
        bits = static_cast<uint64_t>(i);
        break;
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64:
        if (!Integer(v, kInt64Min, kInt64Max, &i)) return false;
        if (f->type() == FieldDescriptor::TYPE_SINT64) {
          bits = WireFormatLite::ZigZagEncode64(i);
        } else {
          if (f->type() == FieldDescriptor::TYPE_SFIXED64) wire = kFixed64;
          bits = static_cast<uint64_t>(i);
        }
        break;
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        if (v.is_number_unsigned()) {
          bits = v.get<uint64_t>();
        } else if (Integer(v, 0, kInt64Max, &i)) {
          bits = static_cast<uint64_t>(i);
        } else {
          return false;
        }
        if (f->type() == FieldDescriptor::TYPE_FIXED64) wire = kFixed64;
        break;
      case FieldDescriptor::TYPE_DOUBLE:
      case FieldDescriptor::TYPE_FLOAT: {
        if (!v.is_number()) return false;
        double d = v.get<double>();
        if (!std::isfinite(d)) return false;
        if (f->type() == FieldDescriptor::TYPE_DOUBLE) {
          wire = kFixed64;
          bits = absl::bit_cast<uint64_t>(d);
        } else {
          if (std::fabs(d) > std::numeric_limits<float>::max()) return false;
          wire = kFixed32;
          bits = absl::bit_cast<uint32_t>(static_cast<float>(d));
        }
        break;
      }
      case FieldDescriptor::TYPE_BOOL:
        if (!v.is_boolean()) return false;
        bits = v.get<bool>() ? 1 : 0;
        break;
      case FieldDescriptor::TYPE_ENUM: {
        if (!v.is_string()) return false;
        const google::protobuf::EnumValueDescriptor* e =
            f->enum_type()->FindValueByName(v.get_ref<const std::string&>());
        if (e == nullptr) return false;
        bits = static_cast<uint64_t>(static_cast<int64_t>(e->number()));
        break;
      }
      case FieldDescriptor::TYPE_STRING: {
        if (!v.is_string()) return false;
        const std::string& text = v.get_ref<const std::string&>();
        if (!text::IsValidUtf8(text)) return false;
        Tag(out, f, kLength);
        Varint(out, text.size());
        out->append(text);
        return true;
      }
      case FieldDescriptor::TYPE_MESSAGE: {
        std::string inner;
        if (!Message(f->message_type(), v, &inner, depth + 1)) return false;
        Tag(out, f, kLength);
        Varint(out, inner.size());
        out->append(inner);
        return true;
      }
      default:  // bytes, groups
        return false;
    }
    Tag(out, f, wire);
    if (wire == kVarint) {
      Varint(out, bits);
    } else {
      Fixed(out, bits, wire == kFixed32 ? 4 : 8);
    }
    return true;
  }
};

}  // namespace

absl::StatusOr<std::string> JsonToRequest(const ApiSchema& schema, const Route& route,
                                          const json& request) {
  std::string encoded;
  if (absl::Status s = Strict(route.method->input_type(), request, "", 0); !s.ok()) return s;
  if (RequestEncoder().Message(route.method->input_type(), request, &encoded, 0)) return encoded;
  std::string text = request.dump();
  std::string binary;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  google::protobuf::util::Status s = google::protobuf::util::JsonToBinaryString(
      schema.resolver(), ApiSchema::TypeUrl(route.method->input_type()), text, &binary, options);
  if (!s.ok()) {
    return Invalid("body", absl::StrCat("[json] requête refusée : ",
                                        text::Quote(std::string(s.message()), 300)));
  }
  return binary;
}

absl::StatusOr<std::string> MessageToJson(const ApiSchema& schema, const Descriptor* type,
                                          std::string_view bytes) {
  if (std::optional<std::string> fast = schema.printer().Print(type, bytes)) {
    return std::move(*fast);
  }
  std::string out;
  google::protobuf::util::Status s = google::protobuf::util::BinaryToJsonString(
      schema.resolver(), ApiSchema::TypeUrl(type), std::string(bytes), &out);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("backend answer of type ", type->full_name(),
                                            " does not print as JSON: ", s.message().as_string()));
  }
  return out;
}

std::optional<std::string> GetStringField(const json& request, const Descriptor* type,
                                          std::string_view dotted) {
  const json* node = &request;
  for (std::string_view part : text::Split(dotted, '.')) {
    const FieldDescriptor* f = type == nullptr ? nullptr : FindFieldPath(type, part);
    if (f == nullptr) return std::nullopt;
    node = Member(*node, f);
    if (node == nullptr) return std::nullopt;
    type = f->message_type();
  }
  if (!node->is_string()) return std::nullopt;
  return node->get<std::string>();
}

void SetStringField(json* request, const Descriptor* type, std::string_view dotted,
                    const std::string& value) {
  json* node = request;
  for (std::string_view part : text::Split(dotted, '.')) {
    const FieldDescriptor* f = type == nullptr ? nullptr : FindFieldPath(type, part);
    if (f == nullptr) return;
    if (!node->is_object()) *node = json::object();
    json* existing = Member(*node, f);
    node = existing != nullptr ? existing : &(*node)[f->json_name()];
    type = f->message_type();
  }
  *node = value;
}

std::optional<std::string> WireString(const google::protobuf::Descriptor* type,
                                      std::string_view bytes, std::string_view field_name) {
  using google::protobuf::FieldDescriptor;
  using google::protobuf::internal::WireFormatLite;
  const FieldDescriptor* f = type->FindFieldByName(std::string(field_name));
  if (f == nullptr ||
      (f->type() != FieldDescriptor::TYPE_STRING && f->type() != FieldDescriptor::TYPE_BYTES)) {
    return std::nullopt;
  }
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  std::optional<std::string> found;
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == static_cast<int>(f->number()) &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      std::string value;
      if (!WireFormatLite::ReadBytes(&in, &value)) return std::nullopt;
      found = std::move(value);  // the last one wins, as in parsing
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return std::nullopt;
    }
  }
  return found;
}

std::optional<bool> WireFieldSet(std::string_view bytes, int number) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  bool set = false;
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) != number) {
      if (!WireFormatLite::SkipField(&in, tag)) return std::nullopt;
      continue;
    }
    switch (WireFormatLite::GetTagWireType(tag)) {
      case WireFormatLite::WIRETYPE_VARINT: {
        uint64_t v;
        if (!in.ReadVarint64(&v)) return std::nullopt;
        set = set || v != 0;
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED64: {
        uint64_t v;
        if (!in.ReadLittleEndian64(&v)) return std::nullopt;
        set = set || v != 0;
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED32: {
        uint32_t v;
        if (!in.ReadLittleEndian32(&v)) return std::nullopt;
        set = set || v != 0;
        break;
      }
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        // Strings, bytes, messages and packed lists: only an empty string or list is a default
        // (an empty message is a set one); a caller cannot tell them apart here, so any
        // length-delimited occurrence counts as set.
        uint32_t length;
        if (!in.ReadVarint32(&length) || !in.Skip(static_cast<int>(length))) return std::nullopt;
        set = true;
        break;
      }
      default:
        return std::nullopt;
    }
  }
  if (!in.ConsumedEntireMessage() || in.CurrentPosition() != static_cast<int>(bytes.size())) {
    return std::nullopt;
  }
  return set;
}

}  // namespace passerelle::gateway
