// The OpenAPI 3.1 document of the public REST surface (GET /v1/openapi.json), generated once at
// start from the route table and the commented descriptors the gateway serves, so the document
// cannot describe a route that is not served nor miss one that is (docs/openapi.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "services/gateway/api_schema.hpp"
#include "services/gateway/path_template.hpp"
#include "services/gateway/routes.hpp"

namespace passerelle::gateway {

/// A route the gateway serves by hand, beside the descriptors' (RestHandler).

/// One path parameter of an OpenAPI path: a `*` (or `**`) segment of the template.
struct PathParameter {
  std::string name;        ///< unique within the path, e.g. `venue`
  std::string field_path;  ///< the request field the segment is part of, e.g. `venue.name`
  size_t segment = 0;      ///< index of the segment in the template
};
struct OpenApiPath {
  std::string path;  ///< e.g. `/v1/venues/{venue}:withdraw`
  std::vector<PathParameter> parameters;
};
/// `/v1/{name=nomenclatures/*/versions/*}` → `/v1/nomenclatures/{nomenclature}/versions/{version}`:
/// one parameter per `*`, named after the collection before it in the singular (a variable
/// right after the API version takes its field's name); the custom verb stays.
OpenApiPath ToOpenApiPath(const PathTemplate& path, const google::protobuf::Descriptor* input);

/// The document as compact JSON. `server_url` is the `servers` entry: `/` (the default) means
/// the origin the document was read from.
std::string BuildOpenApi(const ApiSchema& schema, const RouteTable& routes,
                         std::string_view server_url = "/");

}  // namespace passerelle::gateway
