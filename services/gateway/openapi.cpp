#include "services/gateway/openapi.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/api/annotations.pb.h"
#include "libs/text/split.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/api/v1/access.pb.h"

namespace passerelle::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;
using json = nlohmann::ordered_json;

constexpr char kSchemas[] = "#/components/schemas/";
constexpr int kMaxQueryDepth = 8;  // nested messages flattened into dotted query parameters

json Ref(std::string_view section, std::string_view name) {
  return json{
      {"$ref", absl::StrCat("#/components/", std::string(section), "/", std::string(name))}};
}

std::string Singular(std::string_view plural) {
  std::string s(plural);
  auto ends = [&](std::string_view tail) { return s.ends_with(tail) && s.size() > tail.size(); };
  if (ends("ies")) return s.substr(0, s.size() - 3) + "y";
  if (ends("sses") || ends("xes") || ends("ches") || ends("shes")) return s.substr(0, s.size() - 2);
  if (ends("s") && !ends("ss")) return s.substr(0, s.size() - 1);
  return s;
}

// A dotted request field path in JSON names (`venue.ownerOrganisation`).
std::string JsonPath(const Descriptor* message, std::string_view dotted) {
  std::vector<std::string> parts;
  for (std::string_view part : text::Split(dotted, '.')) {
    const FieldDescriptor* f = message == nullptr ? nullptr : FindFieldPath(message, part);
    if (f == nullptr) {
      parts.emplace_back(part);
      message = nullptr;
      continue;
    }
    parts.push_back(f->json_name());
    message = f->message_type();
  }
  return absl::StrJoin(parts, ".");
}

// The same path in proto names, to compare paths however they were spelt.
std::string ProtoPath(const Descriptor* message, std::string_view dotted) {
  std::vector<std::string> parts;
  for (std::string_view part : text::Split(dotted, '.')) {
    const FieldDescriptor* f = message == nullptr ? nullptr : FindFieldPath(message, part);
    parts.push_back(f == nullptr ? std::string(part) : f->name());
    message = f == nullptr ? nullptr : f->message_type();
  }
  return absl::StrJoin(parts, ".");
}

std::string ScopeLabel(api::v1::Scope scope) {
  switch (scope) {
    case api::v1::PARTNER:
      return "partner";
    case api::v1::ORGANISATION_WRITE:
      return "organisation:write";
    case api::v1::ADMIN:
      return "admin";
    default:
      return "public";
  }
}

// The first sentence of a comment, on one line and without its final period.
std::string FirstSentence(const std::string& comment) {
  std::string flat = comment.substr(0, comment.find("\n\n"));
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  size_t end = flat.size();
  for (size_t i = 0; i < flat.size(); ++i) {
    if (flat[i] != '.' || (i + 1 < flat.size() && flat[i + 1] != ' ')) continue;
    std::string_view before = std::string_view(flat).substr(0, i);
    if (before.ends_with("e.g") || before.ends_with("i.e") || before.ends_with("etc")) {
      continue;
    }
    end = i;
    break;
  }
  return std::string(text::StripSpaces(std::string_view(flat).substr(0, end)));
}

bool Mentions(const std::string& comment, std::string_view phrase) {
  return absl::AsciiStrToLower(comment).find(phrase) != std::string::npos;
}

// The media type of a raw body, from what its field or enum value says it holds.
std::string MediaTypeOf(const std::string& name, const std::string& comment) {
  for (const std::string& text : {absl::AsciiStrToUpper(name), absl::AsciiStrToUpper(comment)}) {
    if (text.find("GEOJSON") != std::string::npos) return "application/geo+json";
    if (text.find("TURTLE") != std::string::npos) return "text/turtle";
    if (text.find("CSV") != std::string::npos) return "text/csv";
    if (text.find("JSON") != std::string::npos) return "application/json";
  }
  return "application/octet-stream";
}

// "Un seul de : `near`, `within`." for a member of a oneof, else empty.
std::string OneofNote(const FieldDescriptor* f) {
  const google::protobuf::OneofDescriptor* oneof = f->real_containing_oneof();
  if (oneof == nullptr) return "";
  std::vector<std::string> members;
  for (int i = 0; i < oneof->field_count(); ++i) members.push_back(oneof->field(i)->json_name());
  return absl::StrCat("Un seul de : `", absl::StrJoin(members, "`, `"), "`.");
}

// Whether a route is its method's own google.api.http binding (not an additional one).
bool IsPrimary(const Route& route) {
  const google::api::HttpRule& rule = route.method->options().GetExtension(google::api::http);
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      return route.http_method == "GET" && route.path.text() == rule.get();
    case google::api::HttpRule::kPut:
      return route.http_method == "PUT" && route.path.text() == rule.put();
    case google::api::HttpRule::kPost:
      return route.http_method == "POST" && route.path.text() == rule.post();
    case google::api::HttpRule::kDelete:
      return route.http_method == "DELETE" && route.path.text() == rule.delete_();
    case google::api::HttpRule::kPatch:
      return route.http_method == "PATCH" && route.path.text() == rule.patch();
    default:
      return false;
  }
}

json RawSchema(std::string_view media_type) {
  if (media_type.starts_with("text/")) return json{{"type", "string"}};
  if (media_type == "application/geo+json") return json{{"type", "object"}};
  if (media_type.ends_with("json")) return json{{"type", json::array({"object", "array"})}};
  return json{{"type", "string"}, {"contentMediaType", std::string(media_type)}};
}

class Generator {
 public:
  explicit Generator(const ApiSchema& schema) : schema_(schema) {}

  std::string Build(const RouteTable& routes, std::string_view server_url);

 private:
  std::string SchemaName(const std::string& full_name) const {
    std::string_view n = full_name;
    if (n.starts_with("passerelle.")) n.remove_prefix(std::string_view("passerelle.").size());
    return std::string(n);
  }
  json RefTo(const Descriptor* message);
  json RefTo(const EnumDescriptor* type);
  json ValueSchema(const FieldDescriptor* f);
  json FieldSchema(const FieldDescriptor* f, bool with_description);
  json MessageSchema(const Descriptor* message);
  json EnumSchema(const EnumDescriptor* type);
  json WellKnown(const Descriptor* message);
  void Drain();

  json Operation(const Route& route, const OpenApiPath& path, const std::string& operation_id);
  void QueryParameters(const Route& route, const Descriptor* message, const std::string& prefix,
                       const std::string& proto_prefix, const std::string& context,
                       const std::set<std::string>& bound, int depth,
                       std::vector<const Descriptor*>* stack, json* out);
  json SuccessResponse(const Route& route);
  std::string AccessText(const Route& route) const;
  json Components();

  const ApiSchema& schema_;
  std::map<std::string, json> schemas_;
  std::set<std::string> queued_;
  std::vector<const Descriptor*> message_queue_;
  std::vector<const EnumDescriptor*> enum_queue_;
};

json Generator::RefTo(const Descriptor* message) {
  std::string name = SchemaName(message->full_name());
  if (queued_.insert(name).second) message_queue_.push_back(message);
  return json{{"$ref", absl::StrCat(kSchemas, name)}};
}

json Generator::RefTo(const EnumDescriptor* type) {
  std::string name = SchemaName(type->full_name());
  if (queued_.insert(name).second) enum_queue_.push_back(type);
  return json{{"$ref", absl::StrCat(kSchemas, name)}};
}

// Well-known types as their proto3 JSON forms; null for other messages.
json Generator::WellKnown(const Descriptor* message) {
  const std::string& n = message->full_name();
  if (!n.starts_with("google.protobuf.")) return nullptr;
  if (n == "google.protobuf.Timestamp") {
    return {{"type", "string"},
            {"format", "date-time"},
            {"description", "Horodatage RFC 3339, en UTC (`2024-03-01T09:30:00Z`)."}};
  }
  if (n == "google.protobuf.Duration") {
    return {{"type", "string"},
            {"pattern", "^-?[0-9]+(\\.[0-9]{1,9})?s$"},
            {"description", "Durée en secondes suivie de `s` (`3600s`, `1.5s`)."}};
  }
  if (n == "google.protobuf.FieldMask") {
    return {{"type", "string"},
            {"description",
             "Chemins de champs séparés par des virgules, en lowerCamel (`nom,codePostal`)."}};
  }
  if (n == "google.protobuf.Empty") return {{"type", "object"}};
  if (n == "google.protobuf.Struct") return {{"type", "object"}};
  if (n == "google.protobuf.Value") return json::object();
  if (n == "google.protobuf.ListValue") return {{"type", "array"}};
  if (n == "google.protobuf.Any") {
    return {{"type", "object"},
            {"required", json::array({"@type"})},
            {"properties", {{"@type", {{"type", "string"}}}}}};
  }
  if (const FieldDescriptor* value = message->FindFieldByName("value");
      n.ends_with("Value") && value != nullptr && message->field_count() == 1) {
    return ValueSchema(value);  // wrappers: their value's form
  }
  return nullptr;
}

json Generator::ValueSchema(const FieldDescriptor* f) {
  switch (f->type()) {
    case FieldDescriptor::TYPE_DOUBLE:
      return {{"type", "number"}, {"format", "double"}};
    case FieldDescriptor::TYPE_FLOAT:
      return {{"type", "number"}, {"format", "float"}};
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SINT64:
    case FieldDescriptor::TYPE_SFIXED64:
      return {{"type", {"string", "integer"}}, {"format", "int64"}, {"pattern", "^-?[0-9]+$"}};
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64:
      return {{"type", {"string", "integer"}},
              {"format", "uint64"},
              {"minimum", 0},
              {"pattern", "^[0-9]+$"}};
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SFIXED32:
      return {{"type", "integer"}, {"format", "int32"}};
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
      return {{"type", "integer"}, {"format", "uint32"}, {"minimum", 0}};
    case FieldDescriptor::TYPE_BOOL:
      return {{"type", "boolean"}};
    case FieldDescriptor::TYPE_STRING:
      return {{"type", "string"}};
    case FieldDescriptor::TYPE_BYTES:
      return {{"type", "string"}, {"contentEncoding", "base64"}};
    case FieldDescriptor::TYPE_ENUM:
      return RefTo(f->enum_type());
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP:
      if (json known = WellKnown(f->message_type()); !known.is_null()) return known;
      return RefTo(f->message_type());
  }
  return json::object();
}

json Generator::FieldSchema(const FieldDescriptor* f, bool with_description) {
  json s;
  if (f->is_map()) {
    s = {{"type", "object"}, {"additionalProperties", ValueSchema(f->message_type()->map_value())}};
  } else if (f->is_repeated()) {
    s = {{"type", "array"}, {"items", ValueSchema(f)}};
  } else {
    s = ValueSchema(f);
  }
  std::string comment = ApiSchema::Comment(f);
  if (with_description && !comment.empty()) {
    // A well-known type's own description says its form; the field's says what it means.
    if (s.contains("description")) {
      comment = absl::StrCat(comment, "\n\n", s["description"].get<std::string>());
    }
    s["description"] = comment;
  }
  if (Mentions(comment, "output only")) s["readOnly"] = true;
  if (Mentions(comment, "input only")) s["writeOnly"] = true;
  if (f->options().deprecated()) s["deprecated"] = true;
  if (f->options().HasExtension(api::v1::field_scope)) {
    s["x-passerelle-scope"] = ScopeLabel(f->options().GetExtension(api::v1::field_scope));
  }
  return s;
}

json Generator::MessageSchema(const Descriptor* message) {
  json s = {{"type", "object"}, {"title", message->name()}};
  std::string comment = ApiSchema::Comment(message);
  json properties = json::object();
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    properties[f->json_name()] = FieldSchema(f, true);
  }
  // A oneof: at most one of its members may be set.
  json exclusive = json::array();
  for (int o = 0; o < message->real_oneof_decl_count(); ++o) {
    const google::protobuf::OneofDescriptor* oneof = message->oneof_decl(o);
    std::vector<std::string> members;
    for (int i = 0; i < oneof->field_count(); ++i) members.push_back(oneof->field(i)->json_name());
    for (size_t a = 0; a < members.size(); ++a) {
      for (size_t b = a + 1; b < members.size(); ++b) {
        // The pair named as properties too (any value): linters read a `required` without them
        // as a typo (Redocly's no-required-schema-properties-undefined).
        exclusive.push_back(
            json{{"required", json::array({members[a], members[b]})},
                 {"properties", {{members[a], json::object()}, {members[b], json::object()}}}});
      }
    }
    absl::StrAppend(&comment, comment.empty() ? "" : "\n\n", "Au plus un de : `",
                    absl::StrJoin(members, "`, `"), "`.");
  }
  if (!comment.empty()) s["description"] = comment;
  if (exclusive.size() == 1) {
    s["not"] = exclusive[0];
  } else if (exclusive.size() > 1) {
    s["not"] = {{"anyOf", exclusive}};
  }
  s["properties"] = std::move(properties);
  return s;
}

json Generator::EnumSchema(const EnumDescriptor* type) {
  std::string comment = ApiSchema::Comment(type);
  json names = json::array();
  std::string values;
  for (int i = 0; i < type->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* v = type->value(i);
    names.push_back(v->name());
    std::string what = ApiSchema::Comment(v);
    std::replace(what.begin(), what.end(), '\n', ' ');
    absl::StrAppend(&values, "\n- `", v->name(), "`", what.empty() ? "" : " : ", what);
  }
  std::string zero = type->value_count() > 0 ? type->value(0)->name() : "";
  absl::StrAppend(&comment, comment.empty() ? "" : "\n\n", "Valeurs :", values, "\n\n`", zero,
                  "` (0) est la valeur d'un champ non renseigné : une réponse omet un champ qui "
                  "la porte.");
  return {{"type", "string"},
          {"title", type->name()},
          {"description", comment},
          {"enum", std::move(names)}};
}

void Generator::Drain() {
  while (!message_queue_.empty() || !enum_queue_.empty()) {
    if (!enum_queue_.empty()) {
      const EnumDescriptor* e = enum_queue_.back();
      enum_queue_.pop_back();
      schemas_[SchemaName(e->full_name())] = EnumSchema(e);
      continue;
    }
    const Descriptor* m = message_queue_.back();
    message_queue_.pop_back();
    schemas_[SchemaName(m->full_name())] = MessageSchema(m);
  }
}

void Generator::QueryParameters(const Route& route, const Descriptor* message,
                                const std::string& prefix, const std::string& proto_prefix,
                                const std::string& context, const std::set<std::string>& bound,
                                int depth, std::vector<const Descriptor*>* stack, json* out) {
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    std::string proto_path = absl::StrCat(proto_prefix, f->name());
    std::string name = absl::StrCat(prefix, f->json_name());
    if (depth == 0 && f == route.body_field) continue;
    if (bound.count(proto_path) > 0 || f->is_map()) continue;
    if (f->type() == FieldDescriptor::TYPE_MESSAGE && WellKnown(f->message_type()).is_null()) {
      // Nested messages spread into dotted parameters; repeated ones cannot be spelt in a query.
      const Descriptor* nested = f->message_type();
      if (f->is_repeated() || depth + 1 >= kMaxQueryDepth ||
          std::find(stack->begin(), stack->end(), nested) != stack->end()) {
        continue;
      }
      // What the enclosing message is for travels with each of its parameters.
      std::string inner = absl::StrCat(context, context.empty() ? "" : "\n\n", "Dans `", name,
                                       "` : ", ApiSchema::Comment(f));
      if (std::string note = OneofNote(f); !note.empty()) absl::StrAppend(&inner, " ", note);
      stack->push_back(nested);
      QueryParameters(route, nested, name + ".", proto_path + ".", inner, bound, depth + 1, stack,
                      out);
      stack->pop_back();
      continue;
    }
    json p = {{"name", name}, {"in", "query"}};
    std::string comment = ApiSchema::Comment(f);
    if (std::string note = OneofNote(f); !note.empty()) {
      absl::StrAppend(&comment, comment.empty() ? "" : " ", note);
    }
    if (!context.empty()) absl::StrAppend(&comment, comment.empty() ? "" : "\n\n", context);
    json schema = FieldSchema(f, false);
    if (schema.contains("description")) {
      comment = absl::StrCat(comment, comment.empty() ? "" : "\n\n",
                             schema["description"].get<std::string>());
      schema.erase("description");
    }
    if (!comment.empty()) p["description"] = comment;
    if (f->is_repeated()) {
      p["style"] = "form";
      p["explode"] = true;
    }
    if (f->options().deprecated()) p["deprecated"] = true;
    if (schema.contains("x-passerelle-scope")) {
      p["x-passerelle-scope"] = schema["x-passerelle-scope"];
      schema.erase("x-passerelle-scope");
    }
    schema.erase("readOnly");
    schema.erase("writeOnly");
    schema.erase("deprecated");
    p["schema"] = std::move(schema);
    out->push_back(std::move(p));
  }
}

std::string Generator::AccessText(const Route& route) const {
  const Descriptor* input = route.method->input_type();
  std::string text;
  switch (route.access.scope()) {
    case api::v1::PUBLIC:
      text = "Accès : public, sans clé.";
      break;
    case api::v1::ADMIN:
      text = "Accès : clé de portée `admin`.";
      break;
    default: {
      std::string others;
      for (int s : route.access.also()) {
        absl::StrAppend(&others, ", `", ScopeLabel(static_cast<api::v1::Scope>(s)), "`");
      }
      text = absl::StrCat("Accès : clé de portée `", ScopeLabel(route.access.scope()), "`", others,
                          " (ou `admin`).");
    }
  }
  for (const auto& [field, scope] : route.field_scopes) {
    absl::StrAppend(&text, " `", field->json_name(), "` renseigné demande la portée `",
                    ScopeLabel(scope), "`.");
  }
  if (!route.access.source_field().empty()) {
    absl::StrAppend(&text, " Hors `admin`, `", JsonPath(input, route.access.source_field()),
                    "` doit nommer une des sources attribuées à la clé.");
  }
  if (!route.access.owner_field().empty()) {
    absl::StrAppend(&text, " Avec une clé `organisation:write`, `",
                    JsonPath(input, route.access.owner_field()),
                    "` vaut l'organisation de la clé : rempli s'il est vide, refusé s'il en "
                    "nomme une autre.");
  }
  return text;
}

json Generator::SuccessResponse(const Route& route) {
  const Descriptor* output = route.method->output_type();
  // Every answer of a route carries the caller's rate limit (the fixed routes do not).
  json headers = {{"X-Request-Id", Ref("headers", "X-Request-Id")},
                  {"RateLimit-Limit", Ref("headers", "RateLimit-Limit")},
                  {"RateLimit-Remaining", Ref("headers", "RateLimit-Remaining")},
                  {"RateLimit-Reset", Ref("headers", "RateLimit-Reset")}};
  json r;
  if (route.raw_response()) {
    // One content type per export format, as the backend names it on the first chunk.
    const FieldDescriptor* format = nullptr;
    const Descriptor* input = route.method->input_type();
    for (int i = 0; i < input->field_count() && format == nullptr; ++i) {
      const FieldDescriptor* f = input->field(i);
      if (f->type() == FieldDescriptor::TYPE_ENUM && !f->is_repeated() &&
          f->enum_type()->name().ends_with("Format")) {
        format = f;
      }
    }
    json content = json::object();
    std::string description = "Le document, envoyé par morceaux (`Transfer-Encoding: chunked`).";
    if (format != nullptr) {
      absl::StrAppend(&description, " Son type selon `", format->json_name(), "` :");
      for (int i = 0; i < format->enum_type()->value_count(); ++i) {
        const google::protobuf::EnumValueDescriptor* v = format->enum_type()->value(i);
        if (v->number() == 0) continue;
        std::string media = MediaTypeOf(v->name(), ApiSchema::Comment(v));
        absl::StrAppend(&description, "\n- `", v->name(), "` : `", media, "`");
        content[media] = {{"schema", RawSchema(media)}};
      }
    } else {
      content["application/octet-stream"] = {{"schema", RawSchema("application/octet-stream")}};
    }
    headers["Content-Disposition"] = Ref("headers", "Content-Disposition");
    r = {{"description", description}, {"headers", headers}, {"content", content}};
    return r;
  }
  std::string description = FirstSentence(ApiSchema::Comment(output));
  if (description.empty()) description = output->name();
  // An upload's answer is not a resource read: no ETag.
  if (!route.method->client_streaming()) headers["ETag"] = Ref("headers", "ETag");
  if (route.method->name().starts_with("Create")) {
    headers["Location"] = Ref("headers", "Location");
  }
  if (output->FindFieldByName("next_page_token") != nullptr) {
    headers["Link"] = Ref("headers", "Link");
  }
  r = {{"description", description},
       {"headers", headers},
       {"content", {{"application/json", {{"schema", RefTo(output)}}}}}};
  return r;
}

json Generator::Operation(const Route& route, const OpenApiPath& path,
                          const std::string& operation_id) {
  const MethodDescriptor* method = route.method;
  const Descriptor* input = method->input_type();
  std::string comment = ApiSchema::Comment(method);
  std::string summary = FirstSentence(comment);
  if (summary.empty()) summary = method->name();
  json op = {
      {"tags", json::array({method->service()->name()})},
      {"operationId", operation_id},
      {"summary", summary},
      {"description", absl::StrCat(comment, comment.empty() ? "" : "\n\n", AccessText(route))}};
  if (method->options().deprecated()) op["deprecated"] = true;
  op["x-passerelle-scope"] = ScopeLabel(route.access.scope());
  op["x-passerelle-rpc"] = route.grpc_path;
  op["security"] = route.access.scope() == api::v1::PUBLIC
                       ? json::array({json::object(), {{"bearerAuth", json::array()}}})
                       : json::array({{{"bearerAuth", json::array()}}});

  json parameters = json::array();
  std::set<std::string> bound;
  for (const PathTemplate::Variable& v : route.path.variables()) {
    bound.insert(ProtoPath(input, v.field_path));
  }
  for (const PathParameter& p : path.parameters) {
    json param = {{"name", p.name}, {"in", "path"}, {"required", true}};
    std::string description;
    if (!p.field_path.empty()) {
      const FieldDescriptor* f = FindFieldPath(input, p.field_path);
      const PathTemplate::Variable* variable = nullptr;
      for (const PathTemplate::Variable& v : route.path.variables()) {
        if (v.field_path == p.field_path) variable = &v;
      }
      if (variable != nullptr && variable->end - variable->first > 1) {
        std::vector<std::string> pattern;
        for (size_t i = variable->first; i < variable->end; ++i) {
          const PathTemplate::Segment& s = route.path.segments()[i];
          if (s.kind == PathTemplate::Segment::kLiteral) {
            pattern.push_back(s.literal);
            continue;
          }
          for (const PathParameter& other : path.parameters) {
            if (other.segment == i) pattern.push_back(absl::StrCat("{", other.name, "}"));
          }
        }
        description = absl::StrCat("Segment du champ `", JsonPath(input, p.field_path), "` = `",
                                   absl::StrJoin(pattern, "/"), "`");
      } else {
        description = absl::StrCat("Le champ `", JsonPath(input, p.field_path), "`");
      }
      absl::StrAppend(&description, ".");
      std::string field_comment = f == nullptr ? "" : ApiSchema::Comment(f);
      if (!field_comment.empty()) absl::StrAppend(&description, " ", field_comment);
    } else {
      description = "Segment libre du chemin.";
    }
    param["description"] = description;
    param["schema"] = {{"type", "string"}, {"pattern", "^[^/]+$"}};
    parameters.push_back(std::move(param));
  }
  if (route.body != "*") {
    std::vector<const Descriptor*> stack = {input};
    QueryParameters(route, input, "", "", "", bound, 0, &stack, &parameters);
  }
  // Headers the transcoder maps onto request fields: as it does, a top-level field or one of
  // the body field's message.
  auto has_string = [&](const std::string& field) {
    const FieldDescriptor* f = input->FindFieldByName(field);
    if (f == nullptr && route.body_field != nullptr && route.body_field->message_type()) {
      f = route.body_field->message_type()->FindFieldByName(field);
    }
    return f != nullptr && f->type() == FieldDescriptor::TYPE_STRING && !f->is_repeated();
  };
  bool read = route.http_method == "GET" && !route.raw_response();
  bool conditional = has_string("etag") && !method->name().starts_with("Create");
  if (read) parameters.push_back(Ref("parameters", "If-None-Match"));
  if (conditional) parameters.push_back(Ref("parameters", "If-Match"));
  if (has_string("request_id")) parameters.push_back(Ref("parameters", "Idempotency-Key"));
  parameters.push_back(Ref("parameters", "X-Request-Id"));
  parameters.push_back(Ref("parameters", "X-Server-Timeout"));
  op["parameters"] = std::move(parameters);

  if (!route.body.empty()) {
    json body;
    if (route.raw_request()) {
      std::string media = route.form_request() ? "application/x-www-form-urlencoded"
                                               : MediaTypeOf(route.body_field->name(),
                                                             ApiSchema::Comment(route.body_field));
      std::string description = ApiSchema::Comment(route.body_field);
      absl::StrAppend(&description, description.empty() ? "" : "\n\n",
                      "Le corps brut, tel quel (les autres champs passent en paramètres).");
      body = {{"description", description},
              {"required", true},
              {"content", {{media, {{"schema", RawSchema(media)}}}}}};
    } else if (route.body_field != nullptr) {
      json schema = FieldSchema(route.body_field, false);
      schema.erase("readOnly");
      body = {{"required", true}, {"content", {{"application/json", {{"schema", schema}}}}}};
      std::string description = ApiSchema::Comment(route.body_field);
      if (!description.empty()) body["description"] = description;
    } else {
      std::string description = "La requête entière";
      if (!path.parameters.empty()) {
        absl::StrAppend(&description,
                        " ; les champs du chemin peuvent y être omis (s'ils y sont, ils "
                        "doivent être identiques)");
      }
      body = {{"description", description + "."},
              {"content", {{"application/json", {{"schema", RefTo(input)}}}}}};
    }
    op["requestBody"] = std::move(body);
  }

  json responses = json::object();
  std::string success =
      method->name().starts_with("Create") && !route.raw_response() ? "201" : "200";
  responses[success] = SuccessResponse(route);
  if (read) responses["304"] = Ref("responses", "NotModified");
  responses["400"] = Ref("responses", "BadRequest");
  responses["401"] = Ref("responses", "Unauthorized");
  if (route.access.scope() != api::v1::PUBLIC || !route.field_scopes.empty()) {
    responses["403"] = Ref("responses", "Forbidden");
  }
  responses["404"] = Ref("responses", "NotFound");
  if (route.http_method != "GET") responses["409"] = Ref("responses", "Conflict");
  if (conditional) responses["412"] = Ref("responses", "PreconditionFailed");
  if (!route.body.empty()) {
    responses["413"] = Ref("responses", "ContentTooLarge");
    responses["415"] = Ref("responses", "UnsupportedMediaType");
  }
  responses["429"] = Ref("responses", "TooManyRequests");
  responses["500"] = Ref("responses", "InternalError");
  responses["503"] = Ref("responses", "Unavailable");
  responses["504"] = Ref("responses", "GatewayTimeout");
  op["responses"] = std::move(responses);
  return op;
}

json Generator::Components() {
  // The AIP-193 error body and the google.rpc details the gateway and the backends attach.
  json detail_types = json::array();
  std::vector<std::string> detail_names;
  if (const google::protobuf::FileDescriptor* details =
          schema_.pool().FindFileByName("google/rpc/error_details.proto")) {
    for (int i = 0; i < details->message_type_count(); ++i) {
      detail_types.push_back(RefTo(details->message_type(i)));
      detail_names.push_back(
          absl::StrCat("`type.googleapis.com/", details->message_type(i)->full_name(), "`"));
    }
  }
  json codes = json::array();
  for (const char* code : {"CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                           "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                           "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                           "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}) {
    codes.push_back(code);
  }
  schemas_["Error"] = {
      {"type", "object"},
      {"title", "Error"},
      {"description",
       "Une erreur (AIP-193) : le code gRPC de la cause et le statut HTTP qu'en donne la "
       "correspondance de Google (google/rpc/code.proto)."},
      {"required", json::array({"error"})},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"required", {"code", "message", "status"}},
          {"properties",
           {{"code", {{"type", "integer"}, {"description", "Le statut HTTP de la réponse."}}},
            {"message",
             {{"type", "string"},
              {"description",
               "Ce qui ne va pas, en français ; au plus 1 000 caractères, et jamais plus "
               "qu'un court extrait de ce qui a été envoyé."}}},
            {"status", {{"type", "string"}, {"description", "Le code gRPC."}, {"enum", codes}}},
            {"details",
             {{"type", "array"},
              {"items", {{"$ref", absl::StrCat(kSchemas, "ErrorDetail")}}}}}}}}}}}};
  schemas_["ErrorDetail"] = {
      {"type", "object"},
      {"title", "ErrorDetail"},
      {"description",
       absl::StrCat("Un détail typé, nommé par `@type` : ", absl::StrJoin(detail_names, ", "),
                    ". `RequestInfo.requestId` est l'identifiant de la requête (`X-Request-Id`); "
                    "`ErrorInfo.reason` une raison stable (`SCOPE_MISSING`, "
                    "`SOURCE_NOT_FOUND`, `ETAG_MISMATCH`...).")},
      {"required", json::array({"@type"})},
      {"properties", {{"@type", {{"type", "string"}}}}},
      {"anyOf", detail_types}};

  auto header = [](const std::string& description, json schema) {
    return json{{"description", description}, {"schema", std::move(schema)}};
  };
  json string = {{"type", "string"}};
  json integer = {{"type", "integer"}, {"minimum", 0}};
  json headers = {
      {"X-Request-Id",
       header("L'identifiant de la requête : celui envoyé s'il est valide, sinon un UUID créé "
              "par le gateway.",
              string)},
      {"ETag",
       header("La version de la ressource lue (celle de son champ `etag` quand elle en a un) ; "
              "à renvoyer dans `If-None-Match` ou `If-Match`.",
              string)},
      {"Location", header("L'adresse de la ressource créée (`/v1/` suivi de son `name`).",
                          {{"type", "string"}, {"format", "uri-reference"}})},
      {"Link",
       header("La page suivante `</v1/…?pageToken=…>; rel=\"next\"` et, pour une recherche, la "
              "précédente (`rel=\"prev\"`).",
              string)},
      {"Content-Disposition",
       header("`attachment; filename=\"…\"`, l'extension selon le format.", string)},
      {"Retry-After", header("Secondes à attendre avant de réessayer.", integer)},
      {"RateLimit-Limit", header("Requêtes permises par fenêtre.", integer)},
      {"RateLimit-Remaining", header("Requêtes restantes dans la fenêtre.", integer)},
      {"RateLimit-Reset", header("Secondes avant que la fenêtre ne se renouvelle.", integer)},
      {"WWW-Authenticate", header("`Bearer` (ou `Bearer error=\"invalid_token\"`).", string)}};

  auto error = [](const std::string& description, json extra = json::object()) {
    json headers = {{"X-Request-Id", Ref("headers", "X-Request-Id")}};
    for (auto& [name, value] : extra.items()) headers[name] = value;
    return json{{"description", description},
                {"headers", headers},
                {"content", {{"application/json", {{"schema", Ref("schemas", "Error")}}}}}};
  };
  json responses = {
      {"NotModified",
       {{"description", "Non modifié : l'`ETag` est l'un de ceux donnés dans `If-None-Match`."},
        {"headers",
         {{"ETag", Ref("headers", "ETag")}, {"X-Request-Id", Ref("headers", "X-Request-Id")}}}}},
      {"BadRequest",
       error("Requête invalide (INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION) : un "
             "paramètre inconnu, un JSON mal formé (sa position), une valeur hors des règles ; "
             "`details` nomme chaque champ en faute (google.rpc.BadRequest).")},
      {"Unauthorized",
       error("Clé d'API absente alors que l'opération en demande une, ou clé invalide, expirée "
             "ou révoquée (UNAUTHENTICATED).",
             {{"WWW-Authenticate", Ref("headers", "WWW-Authenticate")}})},
      {"Forbidden",
       error("La clé n'a pas la portée demandée, ou n'agit pas pour cette source ou cette "
             "organisation (PERMISSION_DENIED).")},
      {"NotFound", error("Aucune ressource à ce nom, ou aucune route à cette adresse.")},
      {"Conflict",
       error("Conflit : la ressource existe déjà (ALREADY_EXISTS) ou a changé depuis sa lecture "
             "(ABORTED) ; relire puis réessayer.")},
      {"PreconditionFailed",
       error("`If-Match` ne correspond plus à la version de la ressource (ABORTED ou "
             "FAILED_PRECONDITION d'une requête conditionnelle).")},
      {"ContentTooLarge", error("Corps au-delà de la limite du déploiement.")},
      {"UnsupportedMediaType",
       error("Type de contenu refusé : un corps JSON qui n'est pas `application/json`, un "
             "formulaire (`multipart/form-data`) là où le fichier lui-même est attendu, ou un "
             "fichier déclaré dans un autre encodage qu'UTF-8 (`charset`).")},
      {"TooManyRequests",
       error("Trop de requêtes pour cette clé ou cette adresse (RESOURCE_EXHAUSTED).",
             {{"Retry-After", Ref("headers", "Retry-After")},
              {"RateLimit-Limit", Ref("headers", "RateLimit-Limit")},
              {"RateLimit-Remaining", Ref("headers", "RateLimit-Remaining")},
              {"RateLimit-Reset", Ref("headers", "RateLimit-Reset")}})},
      {"InternalError",
       error("Erreur interne (INTERNAL, UNKNOWN, DATA_LOSS), journalisée avec l'identifiant "
             "de la requête ; la cause n'est pas montrée.")},
      {"Unavailable", error("Service momentanément indisponible (UNAVAILABLE) : réessayer.")},
      {"GatewayTimeout",
       error("Délai dépassé (DEADLINE_EXCEEDED) ; `X-Server-Timeout` peut l'avoir raccourci.")}};

  auto header_parameter = [](const std::string& name, const std::string& description, json schema) {
    return json{{"name", name},
                {"in", "header"},
                {"description", description},
                {"schema", std::move(schema)}};
  };
  json parameters = {
      {"X-Request-Id",
       header_parameter("X-Request-Id",
                        "Identifiant de la requête, repris dans la réponse et les journaux ; "
                        "créé par le gateway s'il est absent ou invalide.",
                        {{"type", "string"}, {"pattern", "^[A-Za-z0-9._:-]{1,128}$"}})},
      {"X-Server-Timeout",
       header_parameter("X-Server-Timeout",
                        "Délai de la requête en secondes (au plus celui du déploiement).",
                        {{"type", "string"}, {"pattern", "^[0-9]+(\\.[0-9]+)?$"}})},
      {"If-None-Match",
       header_parameter("If-None-Match",
                        "ETag(s) déjà lus (ou `*`) : 304 sans corps si la ressource n'a pas "
                        "changé.",
                        string)},
      {"If-Match",
       header_parameter("If-Match",
                        "L'etag lu : l'écriture échoue en 412 si la ressource a changé depuis. "
                        "Équivaut au champ `etag` de la requête.",
                        string)},
      {"Idempotency-Key",
       header_parameter("Idempotency-Key",
                        "Clé d'idempotence : une requête rejouée avec la même clé rend le "
                        "premier résultat. Équivaut au champ `requestId` de la requête.",
                        string)}};

  json components;
  Drain();
  json schemas = json::object();
  for (auto& [name, schema] : schemas_) schemas[name] = std::move(schema);
  components["schemas"] = std::move(schemas);
  components["responses"] = std::move(responses);
  components["parameters"] = std::move(parameters);
  components["headers"] = std::move(headers);
  components["securitySchemes"] = {
      {"bearerAuth",
       {{"type", "http"},
        {"scheme", "bearer"},
        {"bearerFormat", "psk_<id>_<secret>"},
        {"description",
         "Une clé d'API Passerelle, `psk_<id>_<secret>`, créée par un administrateur "
         "(`POST /v1/apiKeys`) et montrée une seule fois : `Authorization: Bearer psk_…` (ou "
         "l'en-tête `X-Api-Key`). Ses portées : `partner` (fiches complètes, exports, "
         "propositions), `organisation:write` (les lieux de son organisation), `admin` (tout, "
         "dont les sources, les clés et les décisions). Une clé invalide est refusée (401), "
         "jamais lue comme une absence de clé."}}}};
  return components;
}

constexpr char kDescription[] =
    R"(API publique de Passerelle, le réseau roubaisien de la médiation numérique : le registre des lieux de médiation au standard national (v1.0.2), le référentiel des services de médiation (base #APTIC de Roubaix), ses propositions et ses versions, la synchronisation avec la base régionale et les clés d'API.

Ce document est produit par le gateway à son démarrage, à partir des descripteurs et des commentaires des protos dont il tire ses routes : chaque route servie y figure, et seulement elles. Chaque opération donne son appel gRPC (`x-passerelle-rpc`) et la portée qu'elle demande (`x-passerelle-scope`).

**Accès.** Les lectures publiques se font sans clé. Les autres opérations demandent une clé d'API (`Authorization: Bearer psk_…`) de la portée indiquée : `partner`, `organisation:write` (les lieux de son organisation seulement) ou `admin` (qui comprend les autres). Sans clé : 401 ; portée insuffisante : 403.

**JSON.** Correspondance JSON de proto3 : noms de champs en lowerCamel (snake_case accepté en entrée), énumérations par leur nom, entiers de 64 bits en chaînes, horodatages RFC 3339, durées en secondes (`"3600s"`). Les champs à leur valeur par défaut (0, `""`, `false`, liste vide) sont omis des réponses.

**Paramètres.** Les champs d'une requête qui ne sont ni dans le chemin ni dans le corps se donnent en paramètres de requête : un sous-champ par un nom pointé (`near.latitude=50.69`), un champ répété en répétant le paramètre (`services=A&services=B`). Un paramètre inconnu est refusé (400).

**Listes.** `pageSize` et `pageToken` ; la page suivante est désignée par `nextPageToken` et par l'en-tête `Link` (`rel="next"`). Un jeton de page est opaque et lié à sa liste et à ses paramètres.

**Cache et écritures.** Chaque lecture porte un `ETag` ; avec `If-None-Match`, 304 si rien n'a changé. Une écriture conditionnelle porte `If-Match` (l'etag lu) : 412 si la ressource a changé depuis. `Idempotency-Key` rend une écriture rejouable sans double effet.

**Erreurs.** Corps AIP-193 `{"error": {"code", "message", "status", "details"}}`, message en français ; `details` nomme les champs en faute (google.rpc.BadRequest), la raison (google.rpc.ErrorInfo) et l'identifiant de la requête (google.rpc.RequestInfo).

**Limites.** Un seau de jetons par clé, ou par adresse sans clé, selon la portée : chaque réponse d'une route porte `RateLimit-Limit`, `RateLimit-Remaining` et `RateLimit-Reset` ; au-delà, 429 avec `Retry-After`. Le gateway répond aussi de lui-même 405 (avec `Allow`) à une méthode que le chemin ne sert pas, 413 à un corps trop gros, 414 et 431 à une adresse ou des en-têtes trop longs.

**Suivi.** `X-Request-Id` (donné, ou créé par le gateway) revient dans chaque réponse ; `traceparent` est transmis aux services ; `X-Server-Timeout` (secondes) raccourcit le délai d'une requête.

HEAD est servi partout où GET l'est ; CORS selon la configuration du déploiement.)";

std::string Generator::Build(const RouteTable& routes, std::string_view server_url) {
  std::map<std::string, json> paths;
  std::set<std::string> operation_ids;
  std::vector<const google::protobuf::ServiceDescriptor*> services;
  // The method's own binding is `Service_Method`; additional bindings add `_2`, `_3`...
  std::vector<const Route*> ordered;
  for (const Route& route : routes.routes()) ordered.push_back(&route);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const Route* a, const Route* b) { return IsPrimary(*a) && !IsPrimary(*b); });
  std::map<const Route*, std::string> ids;
  for (const Route* route : ordered) {
    std::string base = absl::StrCat(route->method->service()->name(), "_", route->method->name());
    std::string id = base;
    for (int n = 2; !operation_ids.insert(id).second; ++n) id = absl::StrCat(base, "_", n);
    ids[route] = id;
  }
  for (const Route& route : routes.routes()) {
    OpenApiPath path = ToOpenApiPath(route.path, route.method->input_type());
    const std::string& id = ids[&route];
    if (std::find(services.begin(), services.end(), route.method->service()) == services.end()) {
      services.push_back(route.method->service());
    }
    json& item = paths[path.path];
    if (item.is_null()) item = json::object();
    item[absl::AsciiStrToLower(route.http_method)] = Operation(route, path, id);
  }
  std::sort(services.begin(), services.end(),
            [](const auto* a, const auto* b) { return a->full_name() < b->full_name(); });

  json health = {
      {"tags", json::array({"Gateway"})},
      {"operationId", "Gateway_Health"},
      {"summary", "État du gateway"},
      {"description", "Répond tant que le gateway sert. Accès : public, sans clé."},
      {"x-passerelle-scope", "public"},
      {"security", json::array({json::object()})},
      {"responses",
       {{"200",
         {{"description", "Le gateway sert."},
          {"headers", {{"X-Request-Id", Ref("headers", "X-Request-Id")}}},
          {"content",
           {{"application/json",
             {{"schema",
               {{"type", "object"},
                {"required", json::array({"status"})},
                {"properties",
                 {{"status", {{"type", "string"}, {"enum", json::array({"SERVING"})}}}}}}}}}}}}},
        {"400", Ref("responses", "BadRequest")}}}};
  json openapi = {
      {"tags", json::array({"Gateway"})},
      {"operationId", "Gateway_OpenApi"},
      {"summary", "Ce document"},
      {"description", "Le document OpenAPI 3.1 de l'API publique. Accès : public, sans clé."},
      {"x-passerelle-scope", "public"},
      {"security", json::array({json::object()})},
      {"responses",
       {{"200",
         {{"description", "Le document OpenAPI."},
          {"headers", {{"X-Request-Id", Ref("headers", "X-Request-Id")}}},
          {"content",
           {{"application/vnd.oai.openapi+json;version=3.1",
             {{"schema", {{"type", "object"}}}}}}}}},
        {"400", Ref("responses", "BadRequest")}}}};
  paths[std::string(kHealthPath)] = {{"get", health}};
  paths[std::string(kOpenApiPath)] = {{"get", openapi}};

  json tags = json::array();
  for (const auto* service : services) {
    json tag = {{"name", service->name()}};
    std::string comment = ApiSchema::Comment(service);
    tag["description"] = absl::StrCat(comment, comment.empty() ? "" : "\n\n", "Service gRPC `",
                                      service->full_name(), "`.");
    tags.push_back(std::move(tag));
  }
  tags.push_back({{"name", "Gateway"}, {"description", "Les routes propres au gateway."}});

  json doc;
  doc["openapi"] = "3.1.0";
  doc["info"] = {
      {"title", "Passerelle — API publique"}, {"version", "v1"}, {"description", kDescription}};
  doc["servers"] = {{{"url", std::string(server_url)},
                     {"description", "Le gateway Passerelle qui sert ce document."}}};
  doc["tags"] = std::move(tags);
  json ordered_paths = json::object();
  for (auto& [key, item] : paths) ordered_paths[key] = std::move(item);
  doc["paths"] = std::move(ordered_paths);
  doc["components"] = Components();
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

OpenApiPath ToOpenApiPath(const PathTemplate& path, const Descriptor* input) {
  OpenApiPath out;
  const std::vector<PathTemplate::Segment>& segments = path.segments();
  std::set<std::string> used;
  for (size_t i = 0; i < segments.size(); ++i) {
    const PathTemplate::Segment& s = segments[i];
    out.path += "/";
    if (s.kind == PathTemplate::Segment::kLiteral) {
      out.path += s.literal;
      continue;
    }
    const PathTemplate::Variable* variable = nullptr;
    for (const PathTemplate::Variable& v : path.variables()) {
      if (i >= v.first && i < v.end) variable = &v;
    }
    // The collection before the segment names it, unless that literal is the API version
    // (`/v1/{layer}`): then the field does.
    std::string base;
    bool inside = variable != nullptr && i > variable->first;
    if (i > 0 && segments[i - 1].kind == PathTemplate::Segment::kLiteral && (inside || i > 1)) {
      base = Singular(segments[i - 1].literal);
    } else if (variable != nullptr) {
      const FieldDescriptor* f =
          input == nullptr ? nullptr : FindFieldPath(input, variable->field_path);
      base = f != nullptr ? f->json_name()
                          : std::string(text::Split(variable->field_path, '.').back());
    } else {
      base = "segment";
    }
    std::string name = base;
    for (int n = 2; !used.insert(name).second; ++n) name = absl::StrCat(base, n);
    out.parameters.push_back({name, variable != nullptr ? variable->field_path : "", i});
    absl::StrAppend(&out.path, "{", name, "}");
  }
  if (!path.verb().empty()) absl::StrAppend(&out.path, ":", path.verb());
  return out;
}

std::string BuildOpenApi(const ApiSchema& schema, const RouteTable& routes,
                         std::string_view server_url) {
  return Generator(schema).Build(routes, server_url);
}

}  // namespace passerelle::gateway
