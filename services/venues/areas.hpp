// Area layers (QPV perimeters, quartiers): reading a GeoJSON FeatureCollection into areas.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace passerelle::venues {

struct AreaFeature {
  std::string code;
  std::string label;
  std::string geometry_json;  // the feature's geometry, as GeoJSON text (Polygon/MultiPolygon)
};

/// Reads the features; INVALID_ARGUMENT with one violation per bad feature
/// (`features[3].properties.code`, `features[5].geometry.type`), duplicates included.
absl::StatusOr<std::vector<AreaFeature>> ParseAreaLayer(std::string_view geojson,
                                                        const std::string& code_property,
                                                        const std::string& name_property);

}  // namespace passerelle::venues
