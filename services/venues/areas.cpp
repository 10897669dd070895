// Area layers from GeoJSON.
#include "services/venues/areas.hpp"

#include <set>

#include "absl/strings/str_cat.h"
#include "libs/server/errors.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::venues {

bool ValidLayerId(std::string_view layer) {
  if (layer.empty() || layer.size() > 40) return false;
  for (char c : layer) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

absl::StatusOr<std::vector<AreaFeature>> ParseAreaLayer(std::string_view geojson,
                                                        const std::string& code_property,
                                                        const std::string& name_property) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(geojson);
  } catch (const std::exception& e) {
    return server::InvalidArgument("not JSON", {{"geojson", e.what()}});
  }
  if (doc.value("type", "") != "FeatureCollection" || !doc.contains("features") ||
      !doc["features"].is_array()) {
    return server::InvalidArgument("not a FeatureCollection",
                                   {{"geojson", "expected a GeoJSON FeatureCollection"}});
  }
  std::vector<AreaFeature> out;
  std::vector<server::FieldViolation> bad;
  std::set<std::string> codes;
  const auto& features = doc["features"];
  for (size_t i = 0; i < features.size(); ++i) {
    const auto& f = features[i];
    const std::string at = absl::StrCat("features[", i, "]");
    const auto props = f.value("properties", nlohmann::json::object());
    auto text = [&](const std::string& key) -> std::string {
      if (!props.is_object() || !props.contains(key)) return "";
      const auto& v = props[key];
      return v.is_string() ? v.get<std::string>() : v.is_number() ? v.dump() : "";
    };
    AreaFeature a{text(code_property), text(name_property), ""};
    if (a.code.empty()) bad.push_back({at + ".properties." + code_property, "missing"});
    if (!a.code.empty() && !codes.insert(a.code).second) {
      bad.push_back({at + ".properties." + code_property, "code \"" + a.code + "\" repeated"});
    }
    const auto geometry = f.value("geometry", nlohmann::json());
    const std::string type = geometry.is_object() ? geometry.value("type", "") : "";
    if (type != "Polygon" && type != "MultiPolygon") {
      bad.push_back({at + ".geometry.type",
                     absl::StrCat("must be Polygon or MultiPolygon, got \"", type, "\"")});
    } else {
      a.geometry_json = geometry.dump();
    }
    if (a.label.empty()) a.label = a.code;
    out.push_back(std::move(a));
  }
  if (!bad.empty()) return server::InvalidArgument("invalid area layer", bad);
  return out;
}

}  // namespace passerelle::venues
