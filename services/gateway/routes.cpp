#include "services/gateway/routes.hpp"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "google/api/annotations.pb.h"
#include "libs/text/split.hpp"

namespace passerelle::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;

absl::Status Bad(const MethodDescriptor* method, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("HTTP rule of ", method->full_name(), ": ", why));
}

absl::Status AddRule(const MethodDescriptor* method, const google::api::HttpRule& rule,
                     const api::v1::Access& access, std::vector<Route>* out) {
  Route r;
  std::string text;
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      r.http_method = "GET", text = rule.get();
      break;
    case google::api::HttpRule::kPut:
      r.http_method = "PUT", text = rule.put();
      break;
    case google::api::HttpRule::kPost:
      r.http_method = "POST", text = rule.post();
      break;
    case google::api::HttpRule::kDelete:
      r.http_method = "DELETE", text = rule.delete_();
      break;
    case google::api::HttpRule::kPatch:
      r.http_method = "PATCH", text = rule.patch();
      break;
    case google::api::HttpRule::kCustom:
      return Bad(method, "custom verbs are not served");
    case google::api::HttpRule::PATTERN_NOT_SET:
      return Bad(method, "no verb and path");
  }
  absl::StatusOr<PathTemplate> path = PathTemplate::Parse(text);
  if (!path.ok()) return Bad(method, std::string(path.status().message()));
  r.path = *std::move(path);
  r.method = method;
  r.grpc_path = absl::StrCat("/", method->service()->full_name(), "/", method->name());
  r.access = access;
  const Descriptor* input = method->input_type();
  for (const PathTemplate::Variable& v : r.path.variables()) {
    const FieldDescriptor* f = FindFieldPath(input, v.field_path);
    if (f == nullptr) return Bad(method, absl::StrCat("no field ", v.field_path));
    if (f->is_repeated() || f->type() != FieldDescriptor::TYPE_STRING) {
      return Bad(method, absl::StrCat("path field ", v.field_path, " is not a single string"));
    }
  }
  r.body = rule.body();
  if (!r.body.empty() && r.body != "*") {
    r.body_field = input->FindFieldByName(r.body);
    if (r.body_field == nullptr || r.body_field->is_repeated()) {
      return Bad(method, absl::StrCat("body ", r.body, " is not a top-level single field"));
    }
  }
  if (method->client_streaming() &&
      (r.body_field == nullptr || r.body_field->type() != FieldDescriptor::TYPE_BYTES)) {
    return Bad(method, "a client stream needs `body` naming its bytes field");
  }
  if (!rule.response_body().empty()) {
    r.response_body = method->output_type()->FindFieldByName(rule.response_body());
    if (r.response_body == nullptr || r.response_body->is_repeated()) {
      return Bad(method, "response_body is not a top-level single field");
    }
  }
  if (method->server_streaming() &&
      (r.response_body == nullptr || r.response_body->type() != FieldDescriptor::TYPE_BYTES)) {
    return Bad(method, "a server stream needs `response_body` naming its bytes field");
  }
  if (r.http_method == "GET" && !r.body.empty()) return Bad(method, "a GET has no body");
  if (access.scope() == api::v1::SCOPE_UNSPECIFIED) {
    return Bad(method, "no passerelle.api.v1.access scope");
  }
  for (const std::string& field : {access.source_field(), access.owner_field()}) {
    if (!field.empty() && FindFieldPath(input, field) == nullptr) {
      return Bad(method, absl::StrCat("access names no field ", field));
    }
  }
  for (int i = 0; i < input->field_count(); ++i) {
    const FieldDescriptor* f = input->field(i);
    if (f->options().HasExtension(api::v1::field_scope)) {
      r.field_scopes.emplace_back(f, f->options().GetExtension(api::v1::field_scope));
    }
  }
  out->push_back(std::move(r));
  for (const google::api::HttpRule& more : rule.additional_bindings()) {
    if (more.additional_bindings_size() > 0) {
      return Bad(method, "additional bindings nest one level only");
    }
    if (absl::Status s = AddRule(method, more, access, out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

bool Route::raw_request() const {
  return body_field != nullptr && body_field->type() == FieldDescriptor::TYPE_BYTES;
}
bool Route::form_request() const { return raw_request() && body_field->name() == "form"; }
bool Route::raw_response() const {
  return response_body != nullptr && response_body->type() == FieldDescriptor::TYPE_BYTES;
}

const FieldDescriptor* FindField(const Descriptor* message, std::string_view name) {
  if (const FieldDescriptor* f = message->FindFieldByName(std::string(name))) return f;
  for (int i = 0; i < message->field_count(); ++i) {
    if (message->field(i)->json_name() == name) return message->field(i);
  }
  return nullptr;
}

const FieldDescriptor* FindFieldPath(const Descriptor* message, std::string_view dotted) {
  const FieldDescriptor* f = nullptr;
  for (std::string_view part : text::Split(dotted, '.')) {
    if (message == nullptr) return nullptr;
    f = FindField(message, part);
    if (f == nullptr) return nullptr;
    message = f->message_type();
  }
  return f;
}

absl::StatusOr<RouteTable> RouteTable::Build(const ApiSchema& schema) {
  RouteTable table;
  for (const google::protobuf::FileDescriptorProto& proto : schema.files().file()) {
    const google::protobuf::FileDescriptor* file = schema.pool().FindFileByName(proto.name());
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const MethodDescriptor* method = service->method(m);
        if (!method->options().HasExtension(google::api::http)) continue;
        absl::Status added =
            AddRule(method, method->options().GetExtension(google::api::http),
                    method->options().GetExtension(api::v1::access), &table.routes_);
        if (!added.ok()) return added;
      }
    }
  }
  std::set<std::string> shapes;
  for (const Route& r : table.routes_) {
    if (!shapes.insert(absl::StrCat(r.http_method, " ", r.path.Shape())).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "two routes for ", r.http_method, " ", r.path.Shape(), " (", r.method->full_name(), ")"));
    }
  }
  std::stable_sort(table.routes_.begin(), table.routes_.end(), [](const Route& a, const Route& b) {
    return a.path.literal_count() > b.path.literal_count();
  });
  return table;
}

RouteTable::Lookup RouteTable::Find(std::string_view http_method, const SplitPath& path) const {
  std::string_view wanted = http_method == "HEAD" ? "GET" : http_method;
  Lookup out;
  for (const Route& r : routes_) {
    auto bindings = r.path.Match(path);
    if (!bindings) continue;
    if (r.http_method == wanted) {
      out.route = &r;
      out.bindings = *std::move(bindings);
      out.allowed.clear();
      return out;
    }
    if (std::find(out.allowed.begin(), out.allowed.end(), r.http_method) == out.allowed.end()) {
      out.allowed.push_back(r.http_method);
    }
  }
  return out;
}

}  // namespace passerelle::gateway
