// Prints the gateway's OpenAPI document (the one GET /v1/openapi.json serves), indented, for the
// schema check (tools/openapi/validate.py) and for linters: `gateway_openapi_dump [server_url]`.
#include <iostream>

#include "nlohmann/json.hpp"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/openapi.hpp"
#include "services/gateway/routes.hpp"

int main(int argc, char** argv) {
  using namespace passerelle::gateway;
  auto schema = ApiSchema::LoadEmbedded();
  if (!schema.ok()) {
    std::cerr << schema.status() << "\n";
    return 1;
  }
  auto routes = RouteTable::Build(**schema);
  if (!routes.ok()) {
    std::cerr << routes.status() << "\n";
    return 1;
  }
  std::string doc = BuildOpenApi(**schema, *routes, argc > 1 ? argv[1] : "/");
  nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(doc, nullptr, false);
  if (parsed.is_discarded()) {
    std::cerr << "the document is not JSON\n";
    return 1;
  }
  std::cout << parsed.dump(2) << "\n";
  return 0;
}
