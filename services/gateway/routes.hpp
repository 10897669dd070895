// The REST routes, built at start from the google.api.http rules and passerelle.api.v1.access
// options of the public methods in the API schema (Google's HTTP mapping). A new annotated
// method is served without gateway code; a rule that breaks the mapping rules stops the start.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "passerelle/api/v1/access.pb.h"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/path_template.hpp"

namespace passerelle::gateway {

struct Route {
  std::string http_method;  ///< GET, POST, PATCH, PUT or DELETE
  PathTemplate path;
  const google::protobuf::MethodDescriptor* method = nullptr;
  std::string grpc_path;  ///< `/package.Service/Method`
  /// Empty (no body), `*` (every field not bound by the path) or a top-level request field.
  std::string body;
  const google::protobuf::FieldDescriptor* body_field = nullptr;  ///< when body names a field
  const google::protobuf::FieldDescriptor* response_body = nullptr;
  api::v1::Access access;
  /// Request fields that need a higher scope than the method's when set.
  std::vector<std::pair<const google::protobuf::FieldDescriptor*, api::v1::Scope>> field_scopes;
  /// True when the HTTP body is the raw bytes of `body_field` (a bytes field).
  bool raw_request() const;
  /// True when that raw body is an HTML form (`body_field` named `form`, as Unsubscribe's: RFC
  /// 8058 mail clients post `application/x-www-form-urlencoded`).
  bool form_request() const;
  /// True when the HTTP response is the raw bytes of `response_body` (a bytes field).
  bool raw_response() const;
};

class RouteTable {
 public:
  /// Every method with a google.api.http rule (and its additional bindings) in the schema.
  static absl::StatusOr<RouteTable> Build(const ApiSchema& schema);

  struct Lookup {
    const Route* route = nullptr;  ///< null: no route for this method (see `allowed`)
    std::vector<std::pair<std::string, std::string>> bindings;
    /// When `route` is null: the methods that do match the path (405 with Allow), or empty
    /// (404).
    std::vector<std::string> allowed;
  };
  /// Finds the route of a request. HEAD is looked up as GET.
  Lookup Find(std::string_view http_method, const SplitPath& path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;  // most literal first
};

/// A field of a message by its proto or JSON name (as protobuf's JSON parser finds it); null
/// when there is none.
const google::protobuf::FieldDescriptor* FindField(const google::protobuf::Descriptor* message,
                                                   std::string_view name);

/// The field at a dotted path of a message, by proto or JSON names; null when there is none.
const google::protobuf::FieldDescriptor* FindFieldPath(const google::protobuf::Descriptor* message,
                                                       std::string_view dotted);

/// The door's own routes, beside the annotated methods (served by RestHandler, documented by
/// BuildOpenApi).
inline constexpr std::string_view kHealthPath = "/healthz";
inline constexpr std::string_view kOpenApiPath = "/v1/openapi.json";
struct FixedRoute {
  std::string_view http_method;
  std::string_view path;
};
inline constexpr FixedRoute kFixedRoutes[] = {{"GET", kHealthPath}, {"GET", kOpenApiPath}};

}  // namespace passerelle::gateway
