// Source profiles: mapped CSV and GoGoCarto JSON read into the standard's rows.
#include "services/sync/profile.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/csv/csv.hpp"
#include "libs/standard/hours_text.hpp"
#include "libs/standard/opening_hours.hpp"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"
#include "services/sync/run_steps.hpp"

namespace passerelle::sync {
namespace {

using v1::SourceProfile;

constexpr size_t kMaxColumnName = 200;
constexpr size_t kMaxConstant = 500;
constexpr size_t kMaxColumnsShown = 200;

// A violation's description: the rule, what is wrong and the value, quoted safely.
api::FieldViolation Bad(std::string field, std::string_view rule, std::string_view what,
                        std::string_view value = {}) {
  std::string d = absl::StrCat("[", std::string(rule), "] ", std::string(what));
  if (!value.empty()) absl::StrAppend(&d, " (valeur « ", text::Quote(value, 60), " »)");
  return {std::move(field), std::move(d)};
}

bool IsFormat(int v) { return SourceProfile::Format_IsValid(v); }

void CheckColumn(std::vector<api::FieldViolation>* bad, const std::string& field,
                 const std::string& column) {
  if (column.empty()) {
    bad->push_back(Bad(field, "required", "nom de colonne vide"));
    return;
  }
  api::CheckText(bad, field, column, kMaxColumnName);
}

// The standard's fields a GoGoCarto element gives without any mapping.
const std::vector<std::pair<std::string, std::string>>& GoGoCartoDefaults() {
  static const auto* defaults =
      new std::vector<std::pair<std::string, std::string>>{{"id", "id"},
                                                           {"nom", "name"},
                                                           {"latitude", "geo.latitude"},
                                                           {"longitude", "geo.longitude"},
                                                           {"adresse", "address.streetAddress"},
                                                           {"code_postal", "address.postalCode"},
                                                           {"commune", "address.addressLocality"},
                                                           {"telephone", "telephone"},
                                                           {"courriels", "email"},
                                                           {"site_web", "website"}};
  return *defaults;
}

}  // namespace

bool IsCustomProfile(const v1::SourceProfile& p) {
  return p.format() == SourceProfile::MAPPED_CSV || p.format() == SourceProfile::GOGOCARTO_JSON ||
         p.encoding() == SourceProfile::LATIN_1 || p.encoding() == SourceProfile::WINDOWS_1252 ||
         p.mapping_size() > 0 || p.has_filter() || p.has_hours();
}

void CheckProfile(const standard::Standard& standard, const v1::SourceProfile& p,
                  const std::string& prefix, std::vector<api::FieldViolation>* bad) {
  const auto path = [&](const std::string& rest) { return absl::StrCat(prefix, ".", rest); };
  if (!IsFormat(p.format())) {
    bad->push_back(Bad(path("format"), "enum", absl::StrCat("format inconnu ", p.format())));
  }
  if (!SourceProfile::Encoding_IsValid(p.encoding())) {
    bad->push_back(Bad(path("encoding"), "enum", absl::StrCat("encodage inconnu ", p.encoding())));
  }
  if (!SourceProfile::Delimiter_IsValid(p.delimiter())) {
    bad->push_back(
        Bad(path("delimiter"), "enum", absl::StrCat("séparateur inconnu ", p.delimiter())));
  }
  const bool standard_csv =
      p.format() == SourceProfile::FORMAT_UNSPECIFIED || p.format() == SourceProfile::STANDARD_CSV;
  if (standard_csv && (p.mapping_size() > 0 || p.has_filter() || p.has_hours())) {
    bad->push_back(Bad(path("format"), "format",
                       "mapping, filter et hours ne s'appliquent qu'aux formats MAPPED_CSV et "
                       "GOGOCARTO_JSON ; le CSV du standard se lit tel quel"));
  }
  if (p.format() == SourceProfile::MAPPED_CSV && p.mapping_size() == 0) {
    bad->push_back(Bad(path("mapping"), "required",
                       "un fichier MAPPED_CSV a besoin d'un mapping (au moins id et nom)"));
  }
  if (p.mapping_size() > kMaxMappings) {
    bad->push_back(Bad(path("mapping"), "maxItems",
                       absl::StrCat("au plus ", kMaxMappings, " champs (", p.mapping_size(), ")")));
    return;
  }
  std::set<std::string> targets;
  for (int i = 0; i < p.mapping_size(); ++i) {
    const v1::FieldMapping& m = p.mapping(i);
    const std::string at = path(absl::StrCat("mapping[", i, "]"));
    if (api::CheckText(bad, at + ".field", m.field(), 100)) {
      if (m.field().empty()) {
        bad->push_back(Bad(at + ".field", "required", "champ du standard manquant"));
      } else if (m.field() != kAcceptsApticPass && standard.Find(m.field()) == nullptr) {
        bad->push_back(Bad(at + ".field", "field",
                           "ce n'est pas un champ du standard national (ni accepts_aptic_pass)",
                           m.field()));
      } else if (!targets.insert(m.field()).second) {
        bad->push_back(
            Bad(at + ".field", "unique", "champ déjà lu par un autre mapping", m.field()));
      }
    }
    if (m.parts_size() == 0 || m.parts_size() > kMaxParts) {
      bad->push_back(Bad(at + ".parts", m.parts_size() == 0 ? "required" : "maxItems",
                         absl::StrCat("de 1 à ", kMaxParts, " colonnes ou constantes")));
    } else {
      for (int j = 0; j < m.parts_size(); ++j) {
        const v1::MappingPart& part = m.parts(j);
        const std::string pat = absl::StrCat(at, ".parts[", j, "]");
        switch (part.part_case()) {
          case v1::MappingPart::kColumn:
            CheckColumn(bad, pat + ".column", part.column());
            break;
          case v1::MappingPart::kConstant:
            api::CheckText(bad, pat + ".constant", part.constant(), kMaxConstant);
            break;
          default:
            bad->push_back(
                Bad(pat, "required", "une colonne (column) ou une constante (constant)"));
        }
      }
    }
    api::CheckText(bad, at + ".separator", m.separator(), 10);
    static const std::set<std::string> kSplits = {"", "-", ",", ";", "|", "/"};
    if (!kSplits.contains(m.split())) {
      bad->push_back(
          Bad(at + ".split", "enum", "un de « - », « , », « ; », « | », « / » ou vide", m.split()));
    }
    if (m.values_size() > kMaxValueMap) {
      bad->push_back(Bad(at + ".values", "maxItems",
                         absl::StrCat("au plus ", kMaxValueMap, " codes (", m.values_size(), ")")));
    } else {
      for (const auto& [code, value] : m.values()) {
        const std::string vat = absl::StrCat(at, ".values[", text::Quote(code, 40), "]");
        api::CheckText(bad, vat, code, 200);
        api::CheckText(bad, vat, value, 200);
      }
    }
  }
  if (p.has_filter()) {
    const std::string at = path("filter");
    CheckColumn(bad, at + ".column", p.filter().column());
    if (p.filter().prefixes_size() == 0 || p.filter().prefixes_size() > kMaxPrefixes) {
      bad->push_back(
          Bad(at + ".prefixes", "required",
              absl::StrCat("de 1 à ", kMaxPrefixes, " préfixes (code INSEE ou postal)")));
    } else {
      for (int i = 0; i < p.filter().prefixes_size(); ++i) {
        const std::string& x = p.filter().prefixes(i);
        bool ok = !x.empty() && x.size() <= 5;
        for (char c : x) ok = ok && (absl::ascii_isdigit(c) || c == 'A' || c == 'B');
        if (!ok) {
          bad->push_back(Bad(absl::StrCat(at, ".prefixes[", i, "]"), "pattern",
                             "1 à 5 chiffres (ou 2A, 2B) : début de code INSEE ou postal", x));
        }
      }
    }
  }
  if (p.has_hours()) {
    const std::string at = path("hours");
    const v1::HoursLayout& h = p.hours();
    if (h.columns_size() > 0 && !h.text_column().empty()) {
      bad->push_back(Bad(at, "oneof",
                         "des colonnes par jour (columns) ou une colonne de texte, pas les deux"));
    }
    if (h.columns_size() == 0 && h.text_column().empty()) {
      bad->push_back(Bad(at, "required", "colonnes par jour (columns) ou text_column"));
    }
    if (h.columns_size() > 14) {
      bad->push_back(
          Bad(at + ".columns", "maxItems", "au plus 14 colonnes (7 jours, 2 demi-journées)"));
    }
    std::set<std::pair<int, int>> seen;
    for (int i = 0; i < h.columns_size() && i < 14; ++i) {
      const v1::HoursColumn& c = h.columns(i);
      const std::string cat = absl::StrCat(at, ".columns[", i, "]");
      CheckColumn(bad, cat + ".column", c.column());
      if (c.weekday() < 0 || c.weekday() > 6) {
        bad->push_back(
            Bad(cat + ".weekday", "range", "0 (lundi) à 6 (dimanche)", absl::StrCat(c.weekday())));
      }
      if (!v1::HoursColumn::Part_IsValid(c.part())) {
        bad->push_back(
            Bad(cat + ".part", "enum", absl::StrCat("partie de journée inconnue ", c.part())));
      } else if (!seen.insert({c.weekday(), c.part()}).second) {
        bad->push_back(
            Bad(cat, "unique", "ce jour (et cette partie de journée) a déjà une colonne"));
      }
    }
    if (!h.text_column().empty()) CheckColumn(bad, at + ".text_column", h.text_column());
    if (targets.contains("horaires")) {
      bad->push_back(Bad(at, "unique", "horaires est déjà lu par un mapping : l'un ou l'autre"));
    }
  }
}

std::vector<RowError> MissingColumns(const v1::SourceProfile& p,
                                     const std::vector<std::string>& columns) {
  const std::set<std::string> have(columns.begin(), columns.end());
  std::vector<RowError> out;
  const auto check = [&](const std::string& field, const std::string& column) {
    if (!column.empty() && !have.contains(column)) {
      out.push_back({0, "", field, text::Quote(column, 200), "column",
                     absl::StrCat("colonne « ", text::Quote(column, 80),
                                  " » absente du fichier (en-tête ou chemins JSON)")});
    }
  };
  for (int i = 0; i < p.mapping_size(); ++i) {
    for (int j = 0; j < p.mapping(i).parts_size(); ++j) {
      if (p.mapping(i).parts(j).part_case() == v1::MappingPart::kColumn) {
        check(absl::StrCat("profile.mapping[", i, "].parts[", j, "].column"),
              p.mapping(i).parts(j).column());
      }
    }
  }
  if (p.has_filter()) check("profile.filter.column", p.filter().column());
  for (int i = 0; i < p.hours().columns_size(); ++i) {
    check(absl::StrCat("profile.hours.columns[", i, "].column"), p.hours().columns(i).column());
  }
  check("profile.hours.text_column", p.hours().text_column());
  return out;
}

namespace {

// A table of cells by column, from a CSV or from GoGoCarto's elements.
using Table = csv::Table;

char Delimiter(const SourceProfile& p, std::string_view text) {
  switch (p.delimiter()) {
    case SourceProfile::SEMICOLON:
      return ';';
    case SourceProfile::COMMA:
      return ',';
    case SourceProfile::TAB:
      return '\t';
    default:
      break;
  }
  const std::string_view header = text.substr(0, text.find('\n'));
  const size_t semi = std::count(header.begin(), header.end(), ';');
  const size_t comma = std::count(header.begin(), header.end(), ',');
  const size_t tab = std::count(header.begin(), header.end(), '\t');
  if (tab > semi && tab > comma) return '\t';
  return semi > comma ? ';' : ',';
}

absl::StatusOr<Table> ReadCsv(const SourceProfile& p, std::string_view text) {
  if (absl::Status s = CheckCsvBody(text); !s.ok()) return s;
  auto table = csv::Parse(text, Delimiter(p, text));
  if (!table.ok()) return table.status();
  for (size_t c = 0; c < table->header.size(); ++c) {
    std::string& h = table->header[c];
    if (auto bad = text::FirstInvalidUtf8(h)) {
      return absl::InvalidArgumentError(
          absl::StrCat("en-tête illisible : la colonne ", c + 1, " n'est pas en UTF-8 (octet ",
                       *bad + 1, ") ; déclarez l'encodage du fichier dans le profil (encoding)"));
    }
    h = std::string(absl::StripAsciiWhitespace(h));
  }
  return table;
}

// The maximum nesting of a JSON text, read without parsing (strings skipped), so that a hostile
// document is refused before the parser recurses into it.
absl::Status CheckJsonDepth(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) {
        return absl::InvalidArgumentError(absl::StrCat("document JSON trop imbriqué (plus de ",
                                                       kMaxJsonDepth, " niveaux à l'octet ", i + 1,
                                                       ")"));
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return absl::OkStatus();
}

// Flattens `v` under `path` into `cells` (dotted paths; the items of an array under the same
// path, their values joined with `|`).
void Flatten(const nlohmann::json& v, const std::string& path,
             std::map<std::string, std::string>* cells) {
  if (v.is_object()) {
    for (const auto& [k, item] : v.items()) {
      if (cells->size() > 1000) return;  // an element is a venue, not a database
      Flatten(item, path.empty() ? k : absl::StrCat(path, ".", k), cells);
    }
    return;
  }
  if (v.is_array()) {
    for (const auto& item : v) Flatten(item, path, cells);
    return;
  }
  std::string s;
  if (v.is_string()) {
    s = v.get<std::string>();
  } else if (v.is_null()) {
    return;
  } else {
    s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string& cell = (*cells)[path];
  if (!cell.empty()) cell += '|';
  cell += s;
}

constexpr const char* kOsmDays[] = {"Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"};

// GoGoCarto's elements as a table of the `wanted` paths (those the profile reads): an element
// names any paths it likes, so a table of every path would grow as elements times paths
// (gigabytes from a 1 MiB sample whose elements each bring new ones). Every path of the
// document, in the order met, goes to `paths`.
absl::StatusOr<Table> ReadGoGoCarto(std::string_view text, const std::set<std::string>& wanted,
                                    std::vector<std::string>* paths) {
  std::string_view start = text;
  while (!start.empty() && absl::ascii_isspace(static_cast<unsigned char>(start.front()))) {
    start.remove_prefix(1);
  }
  if (start.empty()) return absl::InvalidArgumentError("fichier vide");
  if (start.front() == '<') {
    return absl::InvalidArgumentError(
        "c'est une page HTML ou un document XML (page d'erreur ou de connexion ?), pas l'export "
        "JSON de GoGoCarto");
  }
  if (start.front() != '{' && start.front() != '[') {
    return absl::InvalidArgumentError("ce n'est pas un document JSON (export GoGoCarto attendu)");
  }
  if (absl::Status s = CheckJsonDepth(start); !s.ok()) return s;
  const nlohmann::json doc = nlohmann::json::parse(start, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError("document JSON illisible (coupé ou mal formé)");
  }
  const nlohmann::json* data = &doc;
  if (doc.is_object()) {
    auto it = doc.find("data");
    if (it == doc.end() || !it->is_array()) {
      return absl::InvalidArgumentError(
          "export GoGoCarto attendu : un objet avec un tableau « data » d'éléments "
          "(/api/elements.json)");
    }
    data = &*it;
  }
  if (data->size() > kMaxJsonElements) {
    return absl::InvalidArgumentError(
        absl::StrCat("trop d'éléments (", data->size(), ", au plus ", kMaxJsonElements, ")"));
  }
  Table table;
  std::set<std::string> met;
  std::map<std::string, size_t> index;  // wanted path -> column
  std::vector<std::map<std::string, std::string>> rows;
  for (const auto& element : *data) {
    std::map<std::string, std::string> cells;
    if (element.is_object()) Flatten(element, "", &cells);
    for (auto it = cells.begin(); it != cells.end();) {
      if (met.insert(it->first).second) paths->push_back(it->first);
      if (!wanted.contains(it->first)) {
        it = cells.erase(it);
        continue;
      }
      if (index.emplace(it->first, table.header.size()).second) table.header.push_back(it->first);
      ++it;
    }
    rows.push_back(std::move(cells));
  }
  int n = 0;
  for (auto& cells : rows) {
    Table::Row row{++n, std::vector<std::string>(table.header.size())};
    for (auto& [k, v] : cells) row.cells[index[k]] = std::move(v);
    table.rows.push_back(std::move(row));
  }
  return table;
}

// A profile's mapping, resolved against a table's columns.
struct Resolved {
  struct Part {
    int column = -1;  // -1: constant
    std::string constant;
  };
  struct Field {
    std::string name;
    bool list = false;
    std::vector<Part> parts;
    std::string separator;
    const v1::FieldMapping* mapping = nullptr;
  };
  std::vector<Field> fields;
  int filter_column = -1;
  std::vector<std::string> prefixes;
  // GoGoCarto's openHours.<Day> columns, by weekday (-1: none).
  std::vector<int> osm_days;
  // The hours layout's columns, as cells without their text.
  std::vector<std::pair<int, standard::HoursCell>> hour_cells;
  int hours_text = -1;
};

constexpr const char* kFrenchDays[] = {"lundi",    "mardi",  "mercredi", "jeudi",
                                       "vendredi", "samedi", "dimanche"};

std::string DayName(int weekday, standard::DayPart part) {
  const char* day = weekday >= 0 && weekday < 7 ? kFrenchDays[weekday] : "?";
  switch (part) {
    case standard::DayPart::kMorning:
      return absl::StrCat(day, " matin");
    case standard::DayPart::kAfternoon:
      return absl::StrCat(day, " après-midi");
    case standard::DayPart::kWholeDay:
      break;
  }
  return day;
}

// The hours of a row by the profile's layout: `horaires` when understood; what is not, and the
// converter's remarks, appended to `presentation_detail` (the standard has no field for a
// description of hours). The not-understood value for the run's warning, empty when none.
std::string ApplyHours(const Resolved& r, const csv::Table::Row& row,
                       std::map<std::string, std::string>* raw);

std::string Cell(const Table::Row& row, int column) {
  if (column < 0 || static_cast<size_t>(column) >= row.cells.size()) return "";
  return std::string(absl::StripAsciiWhitespace(row.cells[column]));
}

// The value of one mapped field of `row`.
std::string MapField(const Resolved::Field& f, const Table::Row& row) {
  std::vector<std::string> parts;
  for (const auto& part : f.parts) {
    std::string v =
        part.column < 0 ? part.constant : csv::UnneutraliseFormula(Cell(row, part.column));
    if (!v.empty()) parts.push_back(std::move(v));
  }
  std::string joined = absl::StrJoin(parts, f.separator.empty() ? " " : f.separator);
  const v1::FieldMapping& m = *f.mapping;
  if (m.values().empty() && m.split().empty()) return joined;
  std::vector<std::string> codes;
  if (m.split().empty()) {
    codes.push_back(joined);
  } else {
    for (absl::string_view c : absl::StrSplit(joined, m.split()[0])) {
      c = absl::StripAsciiWhitespace(c);
      if (!c.empty()) codes.emplace_back(c);
    }
  }
  std::vector<std::string> out;
  for (auto& code : codes) {
    auto it = m.values().find(code);
    if (it != m.values().end()) {
      if (!it->second.empty()) out.push_back(it->second);
    } else if (!m.drop_unmapped()) {
      out.push_back(std::move(code));
    }
  }
  if (out.empty()) return "";
  if (f.list) return absl::StrJoin(out, "|");
  return out.front();
}

std::string ApplyHours(const Resolved& r, const csv::Table::Row& row,
                       std::map<std::string, std::string>* raw) {
  if (r.hour_cells.empty() && r.hours_text < 0) return "";
  standard::HoursConversion conv;
  if (r.hours_text >= 0) {
    conv = standard::ConvertHoursText(Cell(row, r.hours_text));
  } else {
    std::vector<standard::HoursCell> cells;
    for (const auto& [column, cell] : r.hour_cells) {
      cells.push_back({cell.weekday, cell.part, Cell(row, column)});
    }
    conv = standard::ConvertHoursCells(cells);
  }
  std::vector<std::string> words;
  std::vector<std::string> values;
  for (const auto& n : conv.not_understood) {
    words.push_back(r.hours_text >= 0 ? n.value
                                      : absl::StrCat(DayName(n.weekday, n.part), " : ", n.value));
    values.push_back(words.back());
  }
  if (!conv.remarks.empty()) words.push_back(conv.remarks);
  if (values.empty() && !conv.opening_hours.empty()) (*raw)["horaires"] = conv.opening_hours;
  if (!words.empty()) {
    std::string& detail = (*raw)["presentation_detail"];
    if (!detail.empty()) detail += "\n";
    absl::StrAppend(&detail, "Horaires : ", absl::StrJoin(words, " ; "));
  }
  return absl::StrJoin(values, " ; ");
}

}  // namespace

namespace {

// Rows a reading thread takes at least, and the most threads one read uses.
constexpr size_t kRowsPerThread = 2000;
constexpr size_t kMaxReadThreads = 4;

// Threads that read `rows` rows: one per kRowsPerThread rows, at most kMaxReadThreads and the
// machine's cores, at least one.
size_t ReadThreads(size_t rows) {
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max<size_t>(1, std::min({rows / kRowsPerThread, kMaxReadThreads, cores}));
}

// One row of a mapped file read into the standard, before the checks across rows.
struct ConvertedRow {
  bool filtered = false;
  std::string id;
  standard::Validated v;
  standard::Venue venue;  // when `v` has no violation: the record, moved here
  std::vector<standard::Violation> refusals;
  std::string hours_not_understood;
  std::optional<std::string> hours_warning;
};

ConvertedRow ConvertRow(const standard::Standard& standard, const SourceProfile& profile,
                        const Resolved& r, bool json, size_t columns, const Table::Row& row) {
  ConvertedRow c;
  if (r.filter_column >= 0 || profile.has_filter()) {
    const std::string key = Cell(row, r.filter_column);
    bool keep = false;
    for (const auto& prefix : r.prefixes) keep = keep || key.starts_with(prefix);
    if (!keep) {
      c.filtered = true;
      return c;
    }
  }
  std::map<std::string, std::string> raw;
  bool accepts_pass = false;
  for (const auto& f : r.fields) {
    std::string v = MapField(f, row);
    if (f.name == kAcceptsApticPass) {
      accepts_pass = !v.empty();
    } else {
      raw[f.name] = std::move(v);
    }
  }
  // GoGoCarto's own opening hours: OSM ranges per day (`09:00-12:00,14:00-18:00`).
  std::vector<std::string> days;
  for (size_t d = 0; d < r.osm_days.size(); ++d) {
    const std::string v = Cell(row, r.osm_days[d]);
    if (!v.empty()) days.push_back(absl::StrCat(kOsmDays[d], " ", v));
  }
  if (!days.empty()) raw["horaires"] = absl::StrJoin(days, "; ");
  c.hours_not_understood = ApplyHours(r, row, &raw);
  c.v = standard::ValidateRow(standard, raw, '|');
  auto stored_id = c.v.record.find("id");
  c.id = stored_id != c.v.record.end() && !stored_id->second.empty() ? stored_id->second.front()
                                                                     : raw["id"];
  if (!json && row.cells.size() != columns) {
    c.v.violations.push_back({"", "", "columns",
                              absl::StrCat(row.cells.size(), " colonnes au lieu de ", columns,
                                           " (ligne tronquée ou séparateur en trop)")});
  }
  if (!c.v.violations.empty()) return c;
  c.refusals = standard::AnctRefusals(c.v.record);
  c.venue.accepts_aptic_pass = accepts_pass;
  c.venue.standard = std::move(c.v.record);
  c.venue.source_id = c.id;
  if (auto h = c.venue.standard.find("horaires");
      h != c.venue.standard.end() && !h->second.empty()) {
    c.hours_warning = standard::HoursNotUnderstood(h->second.front());
  }
  return c;
}

}  // namespace

absl::StatusOr<SourceFile> ReadSource(const standard::Standard& standard,
                                      const v1::SourceProfile& profile, std::string_view file,
                                      const std::string& source_id, bool allow_missing_columns) {
  SourceFile out;
  std::optional<text::Encoding> declared;
  switch (profile.encoding()) {
    case SourceProfile::UTF_8:
      declared = text::Encoding::kUtf8;
      break;
    case SourceProfile::LATIN_1:
      declared = text::Encoding::kLatin1;
      break;
    case SourceProfile::WINDOWS_1252:
      declared = text::Encoding::kWindows1252;
      break;
    default:
      break;
  }
  auto decoded = text::DecodeFile(file, declared);
  if (!decoded) {
    return absl::InvalidArgumentError(
        absl::StrCat("fichier refusé, rien n'a été modifié : [encoding] ", text::kUtf16Refusal));
  }
  if (absl::Status s = CheckNotBinary(file); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("fichier refusé, rien n'a été modifié : ", s.message()));
  }
  out.encoding = decoded->encoding();
  const std::string_view utf8 = decoded->utf8();
  const SourceProfile::Format format = profile.format();
  if (format != SourceProfile::MAPPED_CSV && format != SourceProfile::GOGOCARTO_JSON) {
    auto parsed = ReadFile(standard, utf8, source_id);
    if (!parsed.ok()) return parsed.status();
    out.parsed = *std::move(parsed);
    return out;
  }
  const bool json = format == SourceProfile::GOGOCARTO_JSON;
  // The mapping: for GoGoCarto, its defaults under the profile's own fields.
  std::vector<v1::FieldMapping> mappings(profile.mapping().begin(), profile.mapping().end());
  if (json) {
    std::set<std::string> given;
    for (const auto& m : mappings) given.insert(m.field());
    for (const auto& [field, path] : GoGoCartoDefaults()) {
      if (given.contains(field)) continue;
      v1::FieldMapping m;
      m.set_field(field);
      m.add_parts()->set_column(path);
      mappings.push_back(std::move(m));
    }
  }
  absl::StatusOr<Table> table;
  std::vector<std::string> paths;  // GoGoCarto's: every path of the document
  if (json) {
    std::set<std::string> wanted;
    for (const auto& m : mappings) {
      for (const auto& part : m.parts()) {
        if (part.part_case() == v1::MappingPart::kColumn) wanted.insert(part.column());
      }
    }
    if (profile.has_filter()) wanted.insert(profile.filter().column());
    for (const auto& c : profile.hours().columns()) wanted.insert(c.column());
    if (!profile.hours().text_column().empty()) wanted.insert(profile.hours().text_column());
    for (const char* day : kOsmDays) wanted.insert(absl::StrCat("openHours.", day));
    table = ReadGoGoCarto(utf8, wanted, &paths);
  } else {
    table = ReadCsv(profile, utf8);
    if (table.ok()) paths = table->header;
  }
  if (!table.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("fichier refusé, rien n'a été modifié : ", table.status().message()));
  }
  for (size_t i = 0; i < paths.size() && i < kMaxColumnsShown; ++i) {
    out.columns.push_back(text::Quote(paths[i], 200));
  }
  std::map<std::string, int> index;
  for (size_t i = 0; i < table->header.size(); ++i) index.emplace(table->header[i], i);
  Resolved r;
  std::vector<std::string> missing;
  const auto column = [&](const std::string& name) {
    auto it = index.find(name);
    if (it != index.end()) return it->second;
    // A GoGoCarto path that no element has is an empty field; a CSV column must exist.
    if (!json) missing.push_back(text::Quote(name, 80));
    return -1;
  };
  for (const auto& m : mappings) {
    Resolved::Field f{.name = m.field(), .separator = m.separator(), .mapping = &m};
    const standard::FieldSpec* spec = standard.Find(m.field());
    f.list = spec != nullptr && spec->kind == standard::FieldKind::kList;
    for (const auto& part : m.parts()) {
      if (part.part_case() == v1::MappingPart::kColumn) {
        f.parts.push_back({column(part.column()), ""});
      } else {
        f.parts.push_back({-1, part.constant()});
      }
    }
    r.fields.push_back(std::move(f));
  }
  if (profile.has_filter()) {
    r.filter_column = column(profile.filter().column());
    r.prefixes.assign(profile.filter().prefixes().begin(), profile.filter().prefixes().end());
  }
  for (const auto& c : profile.hours().columns()) {
    standard::HoursCell cell;
    cell.weekday = c.weekday();
    cell.part = c.part() == v1::HoursColumn::MORNING     ? standard::DayPart::kMorning
                : c.part() == v1::HoursColumn::AFTERNOON ? standard::DayPart::kAfternoon
                                                         : standard::DayPart::kWholeDay;
    r.hour_cells.push_back({column(c.column()), std::move(cell)});
  }
  if (!profile.hours().text_column().empty()) r.hours_text = column(profile.hours().text_column());
  if (!missing.empty() && !allow_missing_columns) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fichier refusé, rien n'a été modifié : colonnes du profil absentes du fichier : ",
        absl::StrJoin(missing, ", "), " ; colonnes du fichier : ",
        absl::StrJoin(out.columns.begin(),
                      out.columns.begin() + std::min<size_t>(out.columns.size(), 30), ", ")));
  }
  bool maps_hours = false;
  for (const auto& f : r.fields) maps_hours = maps_hours || f.name == "horaires";
  if (json && !maps_hours && !profile.has_hours()) {
    for (const char* day : kOsmDays) {
      auto it = index.find(absl::StrCat("openHours.", day));
      r.osm_days.push_back(it == index.end() ? -1 : it->second);
    }
  }
  // Each row is converted and validated on its own (the file's two-thirds of the read's time),
  // so rows are shared among threads; what depends on earlier rows (repeated ids) and the
  // order of the results are decided after, in the file's order.
  std::vector<ConvertedRow> converted(table->rows.size());
  const auto convert = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      converted[i] = ConvertRow(standard, profile, r, json, table->header.size(), table->rows[i]);
    }
  };
  const size_t threads = ReadThreads(table->rows.size());
  {
    std::vector<std::thread> helpers;
    const size_t share = (table->rows.size() + threads - 1) / threads;
    for (size_t t = 1; t < threads; ++t) {
      helpers.emplace_back(convert, std::min(t * share, table->rows.size()),
                           std::min((t + 1) * share, table->rows.size()));
    }
    convert(0, std::min(share, table->rows.size()));
    for (auto& h : helpers) h.join();
  }
  standard::ParsedFile& parsed = out.parsed;
  std::set<std::string> seen;
  for (size_t i = 0; i < converted.size(); ++i) {
    ConvertedRow& c = converted[i];
    const int line = table->rows[i].line;
    if (c.filtered) {
      ++out.filtered;
      continue;
    }
    ++parsed.rows;
    if (!c.id.empty() && !seen.insert(c.id).second) {
      c.v.violations.push_back({"id", text::Quote(c.id, 200), "unique",
                                "identifiant déjà présent plus haut dans le fichier"});
    }
    if (!c.v.violations.empty()) {
      standard::CapViolations(&c.v.violations);
      parsed.rejected.push_back({line, text::Quote(c.id, 200), std::move(c.v.violations)});
      continue;
    }
    for (auto& refusal : c.refusals) {
      parsed.warnings.push_back({line, text::Quote(c.id, 200), std::move(refusal)});
    }
    if (!c.hours_not_understood.empty()) {
      parsed.warnings.push_back(
          {line,
           c.id,
           {"horaires", text::Quote(c.hours_not_understood, 200), "horaires",
            "horaires non compris : gardés en toutes lettres dans presentation_detail, horaires "
            "reste vide"}});
    }
    if (c.hours_warning) {
      parsed.warnings.push_back(
          {line,
           c.id,
           {"horaires", text::Quote(c.venue.standard.at("horaires").front(), 200), "horaires",
            *c.hours_warning}});
    }
    c.venue.source = source_id;
    parsed.valid.push_back({line, std::move(c.venue)});
  }
  if (parsed.rows == 0) {
    return absl::InvalidArgumentError(
        out.filtered > 0
            ? absl::StrCat("aucune ligne du fichier ne passe le filtre du profil (", out.filtered,
                           " écartées) : rien n'a été modifié")
            : std::string("le fichier n'a aucune ligne de lieu : rien n'a été modifié"));
  }
  return out;
}

}  // namespace passerelle::sync
