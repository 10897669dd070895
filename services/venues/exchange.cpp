// National CSV and GeoJSON exchange.
#include "services/venues/exchange.hpp"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/csv/csv.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::venues {

absl::StatusOr<ParsedFile> ParseNationalCsv(const Standard& standard, std::string_view text,
                                            const std::string& source) {
  const char delimiter = csv::SniffDelimiter(text);
  auto table = csv::Parse(text, delimiter);
  if (!table.ok()) return table.status();
  ParsedFile out;
  std::vector<int> column_of;  // file column -> standard field index, -1 when not standard
  for (const auto& h : table->header) {
    const FieldSpec* f = standard.Find(h);
    if (f == nullptr) out.ignored_columns.push_back(h);
    column_of.push_back(f == nullptr ? -1 : 0);
  }
  const char list_separator = delimiter == ';' ? ';' : '|';
  std::set<std::string> seen;
  for (const auto& row : table->rows) {
    ++out.rows;
    std::map<std::string, std::string> raw;
    for (size_t c = 0; c < table->header.size() && c < row.cells.size(); ++c) {
      if (column_of[c] >= 0) raw[table->header[c]] = row.cells[c];
    }
    std::vector<Violation> extra;
    if (row.cells.size() != table->header.size()) {
      extra.push_back({"", "", "columns",
                       absl::StrCat(row.cells.size(), " colonnes au lieu de ",
                                    table->header.size(), " (ligne tronquée ou séparateur en trop)")});
    }
    Validated v = ValidateRow(standard, raw, list_separator);
    const std::string id = raw.count("id") ? raw["id"] : "";
    if (!id.empty() && !seen.insert(id).second) {
      extra.push_back({"id", id, "unique", "identifiant déjà présent plus haut dans le fichier"});
    }
    v.violations.insert(v.violations.end(), extra.begin(), extra.end());
    if (!v.violations.empty()) {
      out.rejected.push_back({row.line, id, std::move(v.violations)});
      continue;
    }
    for (const auto& n : v.normalisations) {
      out.normalisations.push_back(absl::StrCat("ligne ", row.line, ", ", n));
    }
    Venue venue;
    venue.standard = std::move(v.record);
    venue.source = source;
    venue.source_id = id;
    out.valid.push_back({row.line, std::move(venue)});
  }
  return out;
}

std::string WriteNationalCsv(const Standard& standard,
                             const std::vector<const v1::Venue*>& venues) {
  std::vector<std::string> header;
  for (const auto& f : standard.fields()) header.push_back(f.name);
  std::string out = csv::Line(header, ',', true);
  for (const v1::Venue* v : venues) {
    auto raw = RawFromProto(standard, *v);
    std::vector<std::string> cells;
    for (const auto& f : standard.fields()) cells.push_back(raw[f.name]);
    out += csv::Line(cells, ',', true);
  }
  return out;
}

std::string WriteGeoJson(const Standard& standard, const std::vector<const v1::Venue*>& venues) {
  nlohmann::json features = nlohmann::json::array();
  for (const v1::Venue* v : venues) {
    if (!v->has_latitude() || !v->has_longitude()) continue;
    auto raw = RawFromProto(standard, *v);
    nlohmann::json props{{"name", v->name()}};
    for (const auto& f : standard.fields()) {
      if (f.kind != FieldKind::kNumber) props[f.name] = raw[f.name];  // numbers: the geometry
    }
    props["accepts_aptic_pass"] = v->accepts_aptic_pass();
    props["owner_organisation"] = v->owner_organisation();
    props["referential_items"] = absl::StrJoin(v->referential_items(), "|");
    features.push_back({{"type", "Feature"},
                        {"id", v->name()},
                        {"geometry",
                         {{"type", "Point"}, {"coordinates", {v->longitude(), v->latitude()}}}},
                        {"properties", props}});
  }
  nlohmann::json doc{{"type", "FeatureCollection"}, {"features", features}};
  return doc.dump() + "\n";
}

}  // namespace passerelle::venues
