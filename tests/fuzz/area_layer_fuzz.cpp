// Fuzz target: area layers (services/venues ParseAreaLayer), GeoJSON from a client.
//
// Properties: an error is INVALID_ARGUMENT with valid UTF-8 violations; accepted areas have a
// unique, non-empty code, a label and a Polygon/MultiPolygon geometry that is valid JSON.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>

#include "libs/server/errors.hpp"
#include "nlohmann/json.hpp"
#include "services/venues/areas.hpp"
#include "tests/fuzz/check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view geojson(reinterpret_cast<const char*>(data), size);
  auto areas = passerelle::venues::ParseAreaLayer(geojson, "code", "nom");
  if (!areas.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(areas.status()), "a bad layer is INVALID_ARGUMENT");
    passerelle::fuzz::CheckMessage(areas.status().message(), "the error message");
    for (const auto& v : passerelle::server::Violations(areas.status())) {
      passerelle::fuzz::CheckMessage(v.field, "a violation's field");
      passerelle::fuzz::CheckMessage(v.description, "a violation");
    }
    return 0;
  }
  std::set<std::string> codes;
  for (const auto& a : *areas) {
    FUZZ_CHECK(!a.code.empty() && codes.insert(a.code).second, "codes are non-empty and unique");
    FUZZ_CHECK(!a.label.empty(), "every area has a label");
    passerelle::fuzz::CheckMessage(a.code, "a code");
    passerelle::fuzz::CheckMessage(a.label, "a label");
    const auto geometry = nlohmann::json::parse(a.geometry_json, nullptr, false);
    FUZZ_CHECK(!geometry.is_discarded() && geometry.is_object(), "the geometry is a JSON object");
    const auto type = geometry.find("type");
    FUZZ_CHECK(type != geometry.end() && (*type == "Polygon" || *type == "MultiPolygon"),
               "the geometry is a Polygon or a MultiPolygon");
  }
  return 0;
}
