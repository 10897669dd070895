// Area layers from GeoJSON.
#include "services/venues/areas.hpp"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::venues {

namespace {

constexpr size_t kMaxBytes = 64 << 20;
constexpr int kMaxDepth = 32;  // a MultiPolygon needs 6
constexpr size_t kMaxFeatures = 10000;
constexpr size_t kMaxPositions = 2000000;

// Deepest nesting of arrays and objects, read before parsing: the JSON parser recurses, so a
// document of a million '[' must be refused before it reaches it.
int Depth(std::string_view json) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// Checks a geometry's rings: every position two finite WGS84 numbers, every ring closed with
// at least four positions. Appends violations under `at`; counts positions.
void CheckGeometry(const nlohmann::json& geometry, const std::string& type, const std::string& at,
                   size_t* positions, std::vector<api::FieldViolation>* bad) {
  const auto& coords =
      geometry.contains("coordinates") ? geometry["coordinates"] : nlohmann::json();
  if (!coords.is_array() || coords.empty()) {
    bad->push_back({at + ".coordinates", "[geometry] un tableau non vide attendu"});
    return;
  }
  std::vector<const nlohmann::json*> polygons;
  if (type == "Polygon") {
    polygons.push_back(&coords);
  } else {
    for (const auto& p : coords) polygons.push_back(&p);
  }
  for (size_t p = 0; p < polygons.size(); ++p) {
    const auto& rings = *polygons[p];
    if (!rings.is_array() || rings.empty()) {
      bad->push_back(
          {at + ".coordinates", "[geometry] un polygone est un tableau non vide d'anneaux"});
      return;
    }
    for (const auto& ring : rings) {
      if (!ring.is_array() || ring.size() < 4 || ring.front() != ring.back()) {
        bad->push_back(
            {at + ".coordinates",
             "[geometry] un anneau est un tableau fermé d'au moins quatre positions (RFC 7946)"});
        return;
      }
      for (const auto& pos : ring) {
        ++*positions;
        if (!pos.is_array() || pos.size() < 2 || !pos[0].is_number() || !pos[1].is_number()) {
          bad->push_back(
              {at + ".coordinates", "[geometry] une position est [longitude, latitude]"});
          return;
        }
        const double lon = pos[0].get<double>(), lat = pos[1].get<double>();
        std::vector<api::FieldViolation> range;
        if (!api::CheckNumber(&range, at + ".coordinates (longitude)", lon, -180, 180) ||
            !api::CheckNumber(&range, at + ".coordinates (latitude)", lat, -90, 90)) {
          bad->insert(bad->end(), range.begin(), range.end());
          return;
        }
      }
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<AreaFeature>> ParseAreaLayer(std::string_view geojson,
                                                        const std::string& code_property,
                                                        const std::string& name_property) {
  if (geojson.size() > kMaxBytes) {
    return api::InvalidArgument("couche trop grande",
                                {{"geojson", "[size] au plus 64 Mio ; simplifiez les géométries"}});
  }
  if (Depth(geojson) > kMaxDepth) {
    return api::InvalidArgument(
        "pas une couche GeoJSON",
        {{"geojson", absl::StrCat("[depth] imbriqué sur plus de ", kMaxDepth,
                                  " niveaux : pas des polygones GeoJSON")}});
  }
  nlohmann::json doc = nlohmann::json::parse(geojson, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return api::InvalidArgument("pas du JSON",
                                {{"geojson", "[json] JSON invalide (ou pas en UTF-8)"}});
  }
  if (!doc.is_object() || !doc.contains("type") || doc["type"] != "FeatureCollection" ||
      !doc.contains("features") || !doc["features"].is_array()) {
    return api::InvalidArgument("pas une FeatureCollection",
                                {{"geojson", "[type] une FeatureCollection GeoJSON attendue"}});
  }
  const auto& features = doc["features"];
  if (features.empty()) {
    // A layer is replaced whole: an empty file would erase it, which is never what an
    // export cut short or a wrong filter meant.
    return api::InvalidArgument(
        "couche vide",
        {{"geojson.features",
          "[required] aucune zone : une couche en a au moins une (la couche reste telle quelle)"}});
  }
  if (features.size() > kMaxFeatures) {
    return api::InvalidArgument(
        "trop de zones", {{"geojson.features", absl::StrCat("[size] au plus ", kMaxFeatures,
                                                            " zones, reçu ", features.size())}});
  }
  std::vector<AreaFeature> out;
  std::vector<api::FieldViolation> bad;
  std::set<std::string> codes;
  size_t positions = 0;
  for (size_t i = 0; i < features.size() && bad.size() < 100; ++i) {
    const auto& f = features[i];
    const std::string at = absl::StrCat("features[", i, "]");
    if (!f.is_object()) {
      bad.push_back({at, "[type] un objet Feature attendu"});
      continue;
    }
    const auto props = f.value("properties", nlohmann::json::object());
    auto text = [&](const std::string& key) -> std::string {
      if (!props.is_object() || !props.contains(key)) return "";
      const auto& v = props[key];
      return v.is_string() ? v.get<std::string>() : v.is_number() ? v.dump() : "";
    };
    AreaFeature a{text(code_property), text(name_property), ""};
    const std::string code_at = at + ".properties." + code_property;
    if (a.code.empty()) {
      bad.push_back({code_at, "[required] le code de la zone manque"});
    } else if (api::CheckText(&bad, code_at, a.code, 64)) {
      if (!api::IsNameSegment(a.code)) {
        // Read later as areaLayers/{layer}/areas/{code}: a code no name can hold is refused here.
        bad.push_back({code_at, absl::StrCat("[pattern] « ", text::Quote(a.code),
                                             " » ne peut pas nommer une zone : ni espace ni /")});
      } else if (!codes.insert(a.code).second) {
        bad.push_back({code_at, absl::StrCat("[unique] le code « ", text::Quote(a.code),
                                             " » est déjà celui d'une autre zone")});
      }
    }
    api::CheckText(&bad, at + ".properties." + name_property, a.label, 200);
    const auto geometry = f.value("geometry", nlohmann::json());
    const std::string type =
        geometry.is_object() && geometry.contains("type") && geometry["type"].is_string()
            ? geometry["type"].get<std::string>()
            : "";
    if (type != "Polygon" && type != "MultiPolygon") {
      bad.push_back({at + ".geometry.type", absl::StrCat("[type] Polygon ou MultiPolygon, reçu « ",
                                                         text::Quote(type), " »")});
    } else {
      CheckGeometry(geometry, type, at + ".geometry", &positions, &bad);
      a.geometry_json = geometry.dump();
    }
    if (a.label.empty()) a.label = a.code;
    out.push_back(std::move(a));
  }
  if (positions > kMaxPositions) {
    bad.push_back({"geojson", absl::StrCat("[size] plus de ", kMaxPositions,
                                           " positions ; simplifiez les géométries")});
  }
  if (!bad.empty()) return api::InvalidArgument("couche de zones invalide", bad);
  return out;
}

}  // namespace passerelle::venues
