#include "services/gateway/ogc.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/logging/logging.hpp"
#include "libs/standard/exchange.hpp"
#include "libs/text/json_string.hpp"
#include "libs/text/split.hpp"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"
#include "services/gateway/errors.hpp"
#include "services/gateway/path_template.hpp"
#include "services/gateway/transcode.hpp"

namespace passerelle::gateway {
namespace {

using google::protobuf::FieldDescriptor;
namespace v1 = venues::v1;

constexpr char kGeoJson[] = "application/geo+json";
constexpr char kJson[] = "application/json";
constexpr char kOpenApi30[] = "application/vnd.oai.openapi+json;version=3.0";
constexpr char kOpenApi31[] = "application/vnd.oai.openapi+json;version=3.1";
constexpr char kCrs84[] = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
constexpr char kSearchMethod[] = "passerelle.venues.v1.VenueService.SearchVenues";
constexpr char kGetMethod[] = "passerelle.venues.v1.VenueService.GetVenue";
constexpr char kListLayersMethod[] = "passerelle.venues.v1.VenueService.ListAreaLayers";
constexpr char kGetLayerMethod[] = "passerelle.venues.v1.VenueService.GetAreaLayer";
constexpr char kListAreasMethod[] = "passerelle.venues.v1.VenueService.ListAreas";
constexpr char kGetAreaMethod[] = "passerelle.venues.v1.VenueService.GetArea";
constexpr char kGregorian[] = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian";
// Layers listed in /collections: ListAreaLayers' largest page (a city has a handful).
constexpr int kMaxLayers = 1000;

// Metropolitan France: the network's venues are in Roubaix, and the standard is national. The
// data's own extent would need a venues method that computes it.
constexpr double kExtent[4] = {-5.2, 41.3, 9.6, 51.1};

// Property filters of the items: the standard's field → the SearchVenues field it fills.
struct Filter {
  std::string_view property;
  std::string_view request_field;
};
constexpr Filter kFilters[] = {
    {"services", "services"},
    {"typologie", "typologie"},
    {"dispositif_programmes_nationaux", "dispositifs"},
    {"publics_specifiquement_adresses", "publics"},
    {"prise_en_charge_specifique", "prises_en_charge"},
    {"frais_a_charge", "frais"},
    {"modalites_acces", "modalites_acces"},
    {"modalites_accompagnement", "modalites_accompagnement"},
};
constexpr size_t kMaxFilterValues = 50;
constexpr size_t kMaxTypologieCodePoints = 100;
constexpr size_t kMaxPageTokenBytes = 2048;

const Filter* FindFilter(std::string_view name) {
  for (const Filter& f : kFilters) {
    if (f.property == name) return &f;
  }
  return nullptr;
}

// --- JSON text, written directly: an items page of 100 venues is the hot path. ---

// The shortest text that reads back as the same double.
void AppendNumber(std::string* out, double v) {
  char buf[32];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendLink(std::string* out, std::string_view href, std::string_view rel,
                std::string_view type, std::string_view title) {
  out->append(R"({"href":)");
  text::AppendJsonStringRepaired(out, href);
  out->append(R"(,"rel":)");
  text::AppendJsonStringRepaired(out, rel);
  out->append(R"(,"type":)");
  text::AppendJsonStringRepaired(out, type);
  out->append(R"(,"title":)");
  text::AppendJsonStringRepaired(out, title);
  out->push_back('}');
}

nlohmann::json Link(const std::string& href, const std::string& rel, const std::string& type,
                    const std::string& title) {
  return {{"href", href}, {"rel", rel}, {"type", type}, {"title", title}};
}

std::string Dump(const nlohmann::json& doc) {
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Query values of links: everything but the unreserved characters %-encoded.
std::string PercentEncode(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

// --- Query parameters ---

absl::Status Invalid(std::string_view parameter, const std::string& description) {
  return api::InvalidArgument(
      absl::StrCat("paramètre « ", std::string(parameter), " » invalide : ", description),
      {{std::string(parameter), description}});
}

// A decimal number as clients write coordinates: sign, digits, fraction, and an exponent since
// GDAL prints bounding boxes with %.18g. No hex, no "nan" or "inf", at most 40 characters.
// Out of double's range: infinity, which the range check then refuses.
std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 40) return std::nullopt;
  size_t i = 0;
  bool negative = false;
  if (s[i] == '+' || s[i] == '-') negative = s[i++] == '-';
  const size_t start = i;
  size_t digits = 0;
  auto skip_digits = [&] {
    size_t n = 0;
    while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) ++i, ++n;
    return n;
  };
  digits += skip_digits();
  if (i < s.size() && s[i] == '.') {
    ++i;
    digits += skip_digits();
  }
  if (digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t exponent = skip_digits();
    if (exponent == 0 || exponent > 4) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  double value = 0;
  const std::from_chars_result r = std::from_chars(s.data() + start, s.data() + s.size(), value);
  if (r.ec == std::errc::result_out_of_range) {
    value = HUGE_VAL;  // or an underflow: both far from a coordinate's digits, refused as huge
  } else if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

absl::Status ReadBbox(std::string_view value, v1::BoundingBox* box) {
  std::vector<std::string_view> parts = text::Split(value, ',');
  if (parts.size() != 4 && parts.size() != 6) {
    return Invalid("bbox",
                   absl::StrCat("[format] 4 nombres attendus, minLon,minLat,maxLon,maxLat (ou 6 "
                                "avec les altitudes), reçu ",
                                parts.size(), " valeur(s)"));
  }
  const bool three_d = parts.size() == 6;
  double v[6];
  for (size_t i = 0; i < parts.size(); ++i) {
    std::optional<double> d = ParseNumber(text::StripSpaces(parts[i]));
    if (!d) {
      return Invalid("bbox",
                     absl::StrCat("[number] valeur ", i + 1, " : nombre décimal attendu, reçu « ",
                                  text::Quote(parts[i], 30), " »"));
    }
    v[i] = *d;
  }
  struct Edge {
    const char* name;
    size_t index;
    double limit;
  };
  const Edge edges[4] = {{"minLon", 0, 180},
                         {"minLat", 1, 90},
                         {"maxLon", three_d ? size_t{3} : size_t{2}, 180},
                         {"maxLat", three_d ? size_t{4} : size_t{3}, 90}};
  for (const Edge& e : edges) {
    if (!std::isfinite(v[e.index]) || std::abs(v[e.index]) > e.limit) {
      return Invalid(
          "bbox", absl::StrCat("[range] ", e.name, " doit être entre -", e.limit, " et ", e.limit,
                               " (degrés WGS84), reçu « ", text::Quote(parts[e.index], 30), " »"));
    }
  }
  if (three_d && (!std::isfinite(v[2]) || !std::isfinite(v[5]))) {
    return Invalid("bbox", "[number] les altitudes doivent être des nombres finis");
  }
  box->set_min_longitude(v[edges[0].index]);
  box->set_min_latitude(v[edges[1].index]);
  box->set_max_longitude(v[edges[2].index]);
  box->set_max_latitude(v[edges[3].index]);
  // minLon > maxLon is a box across the antimeridian (OGC API Features, and SearchVenues reads it
  // so); latitudes cannot wrap.
  if (box->min_latitude() > box->max_latitude()) {
    return Invalid("bbox", absl::StrCat("[order] boîte inversée : minLat (",
                                        text::Quote(parts[1], 30), ") est au nord de maxLat (",
                                        text::Quote(parts[edges[3].index], 30), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ReadLimit(std::string_view value) {
  const bool digits = !value.empty() && value.size() <= 9 && value[0] != '0' &&
                      std::all_of(value.begin(), value.end(), [](char c) {
                        return absl::ascii_isdigit(static_cast<unsigned char>(c));
                      });
  if (!digits) {
    return Invalid(
        "limit",
        absl::StrCat("[range] entier de 1 à 999999999 attendu (au-delà de ", kOgcMaxLimit, ", ",
                     kOgcMaxLimit, " lieux par page), reçu « ", text::Quote(value, 30), " »"));
  }
  int limit = 0;
  std::from_chars(value.data(), value.data() + value.size(), limit);
  return std::min(limit, kOgcMaxLimit);
}

// Only `f=json` (or geojson where it applies): the pages take no other parameter.
absl::Status CheckPlainQuery(std::string_view query, bool geojson) {
  std::set<std::string> seen;
  for (std::string_view piece : text::Split(query, '&')) {
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    std::optional<std::string> name = DecodeQueryComponent(piece.substr(0, eq));
    std::optional<std::string> value =
        DecodeQueryComponent(eq == std::string_view::npos ? "" : piece.substr(eq + 1));
    if (!name || !value || !text::IsValidUtf8(*name) || name->size() > 100 ||
        text::FirstControl(*name)) {
      return Invalid("query",
                     absl::StrCat("[format] paramètre illisible : « ", text::Quote(piece), " »"));
    }
    if (*name != "f") {
      return Invalid(*name, "[unknown] paramètre inconnu : cette page n'accepte que « f »");
    }
    if (!seen.insert(*name).second) return Invalid(*name, "[unique] paramètre répété");
    if (*value != "json" && !(geojson && *value == "geojson")) {
      return Invalid("f", absl::StrCat("[enum] format « ", text::Quote(*value, 30),
                                       " » non disponible : json", geojson ? " ou geojson" : ""));
    }
  }
  return absl::OkStatus();
}

// One end of a `datetime`: an RFC 3339 date-time, or a full-date (the whole day: its start, or
// its end when `end`). The instant and its UTC day (YYYY-MM-DD), or nullopt.
struct Instant {
  absl::Time time;
  std::string day;
};
std::optional<Instant> ReadInstant(std::string_view s, bool end) {
  if (s.size() < 10 || s.size() > 40) return std::nullopt;
  // Only what RFC 3339 writes: absl's parser would stop at a NUL and accept what precedes it.
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == '.' ||
           c == '+' || c == 'T' || c == 't' || c == 'Z' || c == 'z';
  });
  if (!plain) return std::nullopt;
  for (size_t i = 0; i < 10; ++i) {
    const bool ok =
        i == 4 || i == 7 ? s[i] == '-' : absl::ascii_isdigit(static_cast<unsigned char>(s[i]));
    if (!ok) return std::nullopt;
  }
  // GDAL 3.6 writes a Date field's value as `2026-01-01T` (its `-where` on date_maj): a day.
  if (s.size() == 11 && (s[10] == 'T' || s[10] == 't')) s = s.substr(0, 10);
  absl::Time t;
  std::string error;
  if (s.size() == 10) {
    if (!absl::ParseTime("%Y-%m-%d", std::string(s), absl::UTCTimeZone(), &t, &error)) {
      return std::nullopt;
    }
    // A date that does not exist (2024-02-30) is normalised by the parser: refused here.
    if (absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()) != s) return std::nullopt;
    if (end) t += absl::Hours(24) - absl::Nanoseconds(1);
  } else {
    // Date-time: T (or t), hours, minutes, seconds, optional fraction, Z or an offset.
    if (s[10] != 'T' && s[10] != 't') return std::nullopt;
    if (!absl::ParseTime(absl::RFC3339_full, std::string(s), &t, &error)) return std::nullopt;
    const std::string day(s.substr(0, 10));
    absl::Time midnight;
    if (!absl::ParseTime("%Y-%m-%d", day, absl::UTCTimeZone(), &midnight, &error) ||
        absl::FormatTime("%Y-%m-%d", midnight, absl::UTCTimeZone()) != day) {
      return std::nullopt;
    }
  }
  Instant out{t, absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone())};
  if (out.day.size() != 10 || out.day[0] == '-') return std::nullopt;  // beyond years 0000-9999
  return out;
}

// The query pieces every items page shares: name and value decoded and checked.
absl::StatusOr<std::pair<std::string, std::string>> ReadPiece(std::string_view piece) {
  const size_t eq = piece.find('=');
  std::optional<std::string> name = DecodeQueryComponent(piece.substr(0, eq));
  std::optional<std::string> value =
      DecodeQueryComponent(eq == std::string_view::npos ? "" : piece.substr(eq + 1));
  if (!name || !value || !text::IsValidUtf8(*name)) {
    return Invalid(
        "query", absl::StrCat("[encoding] séquence % invalide dans « ", text::Quote(piece), " »"));
  }
  if (name->empty() || name->size() > 100 || text::FirstControl(*name)) {
    return Invalid("query", absl::StrCat("[format] nom de paramètre illisible : « ",
                                         text::Quote(*name), " »"));
  }
  if (value->size() > kMaxQueryValueBytes) {
    return Invalid(*name,
                   absl::StrCat("[size] valeur de plus de ", kMaxQueryValueBytes, " octets"));
  }
  return std::make_pair(*std::move(name), *std::move(value));
}

absl::StatusOr<std::string> ReadPageToken(const std::string& value) {
  const bool printable =
      !value.empty() && value.size() <= kMaxPageTokenBytes &&
      std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (!printable) {
    return Invalid("page_token",
                   "[token] jeton illisible : reprenez le lien « next » ou « prev » de la page");
  }
  return value;
}

// The self, next and prev links of an items page, then its collection's.
void AppendItemsLinks(std::string* body, const std::string& collection_url,
                      const std::vector<std::string>& echo, const std::string& page_token,
                      const std::string& next, const std::string& previous) {
  const std::string items_url = collection_url + "/items";
  const std::string repeated = absl::StrJoin(echo, "&");
  auto with_token = [&](const std::string& token) {
    if (repeated.empty() && token.empty()) return items_url;
    std::string url = absl::StrCat(items_url, "?", repeated);
    if (!token.empty()) {
      absl::StrAppend(&url, repeated.empty() ? "" : "&", "page_token=", PercentEncode(token));
    }
    return url;
  };
  AppendLink(body, with_token(page_token), "self", kGeoJson, "Cette page");
  if (!next.empty()) {
    body->push_back(',');
    AppendLink(body, with_token(next), "next", kGeoJson, "Page suivante");
  }
  if (!previous.empty()) {
    body->push_back(',');
    AppendLink(body, with_token(previous), "prev", kGeoJson, "Page précédente");
  }
  body->push_back(',');
  AppendLink(body, collection_url, "collection", kJson, "La collection");
}

// The standard's spelling of an enum value: its comment is « spelling ».
std::optional<std::string> SpellingOf(const google::protobuf::EnumValueDescriptor* value) {
  std::string comment = ApiSchema::Comment(value);
  std::string_view c = text::StripSpaces(comment);
  constexpr std::string_view kOpen = "«", kClose = "»";
  if (!c.starts_with(kOpen) || !c.ends_with(kClose) || c.size() <= kOpen.size() + kClose.size()) {
    return std::nullopt;
  }
  c = c.substr(kOpen.size(), c.size() - kOpen.size() - kClose.size());
  c = text::StripSpaces(c);
  if (c.empty()) return std::nullopt;
  return std::string(c);
}

// The venues collection as /collections and /collections/venues describe it.
nlohmann::json Collection(const std::string& root) {
  const std::string collection_url = root + "/collections/venues";
  return {{"id", "venues"},
          {"title", "Lieux de médiation numérique"},
          {"description",
           "Les lieux actifs du registre Passerelle (réseau de l'inclusion numérique de Roubaix), "
           "avec les colonnes du standard national des lieux de médiation numérique (schéma "
           "v1.0.2) comme l'export GeoJSON : listes séparées par « | ». Emprise annoncée : la "
           "France métropolitaine."},
          {"itemType", "feature"},
          {"crs", {kCrs84}},
          {"extent",
           {{"spatial",
             {{"bbox", {{kExtent[0], kExtent[1], kExtent[2], kExtent[3]}}}, {"crs", kCrs84}}},
            {"temporal", {{"interval", {{nullptr, nullptr}}}, {"trs", kGregorian}}}}},
          {"links",
           {Link(collection_url, "self", kJson, "Cette collection"),
            Link(collection_url + "/items", "items", kGeoJson, "Les lieux (GeoJSON)")}}};
}

// An area layer as /collections and /collections/{layer} describe it.
nlohmann::json LayerCollection(const std::string& root, const v1::AreaLayer& layer) {
  const std::string id = layer.name().substr(std::string_view("areaLayers/").size());
  const std::string collection_url = root + "/collections/" + id;
  nlohmann::json bbox = {kExtent[0], kExtent[1], kExtent[2], kExtent[3]};
  if (layer.has_extent()) {
    bbox = {layer.extent().min_longitude(), layer.extent().min_latitude(),
            layer.extent().max_longitude(), layer.extent().max_latitude()};
  }
  return {{"id", id},
          {"title", layer.title()},
          {"description",
           absl::StrCat("Couche de zones « ", layer.title(), " » (", layer.area_count(),
                        " zones) : le contour de chaque zone (MultiPolygon), son code, son nom "
                        "et le nombre de lieux actifs qu'elle contient (les lieux la citent "
                        "dans « areas » sous la forme ",
                        id, ":<code>).")},
          {"itemType", "feature"},
          {"crs", {kCrs84}},
          {"extent", {{"spatial", {{"bbox", {bbox}}, {"crs", kCrs84}}}}},
          {"links",
           {Link(collection_url, "self", kJson, "Cette collection"),
            Link(collection_url + "/items", "items", kGeoJson, "Les zones (GeoJSON)")}}};
}

std::string UuidOf(const std::string& name) {
  constexpr std::string_view kPrefix = "venues/";
  return std::string_view(name).starts_with(kPrefix) ? name.substr(kPrefix.size()) : name;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

absl::StatusOr<VenueFeatures> VenueFeatures::Build(const ApiSchema& schema) {
  VenueFeatures out;
  const google::protobuf::Descriptor* venue = v1::Venue::descriptor();
  // Fields 2 to 33 are the standard's columns, in its order (venues.proto).
  for (int number = 2; number <= 33; ++number) {
    const FieldDescriptor* f = venue->FindFieldByNumber(number);
    if (f == nullptr) {
      return absl::InternalError(absl::StrCat("passerelle.venues.v1.Venue has no field ", number));
    }
    if (f->type() == FieldDescriptor::TYPE_DOUBLE) continue;  // latitude, longitude: geometry
    Property p{f, nullptr};
    if (f->type() == FieldDescriptor::TYPE_ENUM) {
      const google::protobuf::EnumDescriptor* e =
          schema.pool().FindEnumTypeByName(f->enum_type()->full_name());
      if (e == nullptr) {
        return absl::InternalError(
            absl::StrCat("enum ", f->enum_type()->full_name(), " missing from the API schema"));
      }
      std::vector<std::string> values;
      for (int i = 0; i < e->value_count(); ++i) {
        const google::protobuf::EnumValueDescriptor* v = e->FindValueByNumber(i + 1);
        if (v == nullptr) break;
        std::optional<std::string> spelling = SpellingOf(v);
        if (!spelling) {
          return absl::InternalError(absl::StrCat(
              v->full_name(), " has no « spelling » comment: its standard value is unknown"));
        }
        values.push_back(*std::move(spelling));
      }
      if (values.size() + 1 != static_cast<size_t>(e->value_count())) {
        return absl::InternalError(
            absl::StrCat(e->full_name(), ": values must be 0 (unset) then 1, 2, … in order"));
      }
      p.spellings = &(out.spellings_[f->name()] = std::move(values));
    }
    out.properties_.push_back(p);
  }
  return out;
}

const std::vector<std::string>* VenueFeatures::Spellings(std::string_view property) const {
  auto it = spellings_.find(property);
  return it == spellings_.end() ? nullptr : &it->second;
}

void VenueFeatures::Append(const v1::Venue& venue, std::string_view links, std::string* out) const {
  const google::protobuf::Reflection* r = venue.GetReflection();
  out->append(R"({"type":"Feature","id":)");
  text::AppendJsonStringRepaired(out, UuidOf(venue.name()));
  out->append(R"(,"geometry":)");
  if (venue.has_latitude() && venue.has_longitude() && std::isfinite(venue.latitude()) &&
      std::isfinite(venue.longitude())) {
    out->append(R"({"type":"Point","coordinates":[)");
    AppendNumber(out, venue.longitude());
    out->push_back(',');
    AppendNumber(out, venue.latitude());
    out->append("]}");
  } else {
    out->append("null");
  }
  out->append(R"(,"properties":{"name":)");
  text::AppendJsonStringRepaired(out, venue.name());
  std::string value;
  for (const Property& p : properties_) {
    out->push_back(',');
    text::AppendJsonStringRepaired(out, p.field->name());
    out->push_back(':');
    if (p.field->number() == v1::Venue::kIdFieldNumber) {
      // `<source>:<id>` as every export writes it: unique across sources, and the key that joins
      // a layer from here with a CSV or GeoJSON export in QGIS.
      text::AppendJsonStringRepaired(out, standard::QualifiedId(venue));
      continue;
    }
    if (!p.field->is_repeated()) {
      text::AppendJsonStringRepaired(out, r->GetStringReference(venue, p.field, &value));
      continue;
    }
    value.clear();
    const int n = r->FieldSize(venue, p.field);
    for (int i = 0; i < n; ++i) {
      if (i > 0) value.push_back('|');
      if (p.spellings != nullptr) {
        const int number = r->GetRepeatedEnumValue(venue, p.field, i);
        if (number >= 1 && number <= static_cast<int>(p.spellings->size())) {
          value.append((*p.spellings)[number - 1]);
        } else {
          absl::StrAppend(&value, "(valeur d'énumération inconnue ", number, ")");
        }
      } else {
        value.append(r->GetRepeatedString(venue, p.field, i));
      }
    }
    text::AppendJsonStringRepaired(out, value);
  }
  out->append(R"(,"accepts_aptic_pass":)");
  out->append(venue.accepts_aptic_pass() ? "true" : "false");
  out->append(R"(,"owner_organisation":)");
  text::AppendJsonStringRepaired(out, venue.owner_organisation());
  out->append(R"(,"referential_items":)");
  text::AppendJsonStringRepaired(out, absl::StrJoin(venue.referential_items(), "|"));
  out->push_back('}');
  if (!links.empty()) {
    out->append(R"(,"links":)");
    out->append(links);
  }
  out->push_back('}');
}

absl::StatusOr<ItemsQuery> ParseItemsQuery(std::string_view query, const VenueFeatures& features) {
  ItemsQuery out;
  v1::SearchVenuesRequest& search = out.search;
  const google::protobuf::Descriptor* type = search.GetDescriptor();
  const google::protobuf::Reflection* r = search.GetReflection();
  int limit = kOgcDefaultLimit;
  std::set<std::string> seen;
  std::map<std::string, size_t> values_per_filter;
  size_t count = 0;
  for (std::string_view piece : text::Split(query, '&')) {
    if (piece.empty()) continue;
    if (++count > kMaxQueryParameters) {
      return Invalid("query", absl::StrCat("[size] plus de ", kMaxQueryParameters, " paramètres"));
    }
    absl::StatusOr<std::pair<std::string, std::string>> read = ReadPiece(piece);
    if (!read.ok()) return read.status();
    const std::string* name = &read->first;
    const std::string* value = &read->second;
    const Filter* filter = FindFilter(*name);
    if (filter == nullptr && !seen.insert(*name).second) {
      return Invalid(*name, "[unique] paramètre répété");
    }
    if (*name != "page_token") out.echo.emplace_back(piece);

    if (*name == "bbox") {
      if (absl::Status s = ReadBbox(*value, search.mutable_within()); !s.ok()) return s;
    } else if (*name == "limit") {
      absl::StatusOr<int> l = ReadLimit(*value);
      if (!l.ok()) return l.status();
      limit = *l;
    } else if (*name == "datetime") {
      if (absl::Status s = ReadDatetime(*value, &search); !s.ok()) return s;
    } else if (*name == "page_token") {
      absl::StatusOr<std::string> token = ReadPageToken(*value);
      if (!token.ok()) return token.status();
      out.page_token = *token;
      search.set_page_token(*token);
    } else if (*name == "resultType") {
      if (*value != "results" && *value != "hits") {
        return Invalid("resultType", "[enum] « results » ou « hits » attendu");
      }
      out.hits = *value == "hits";
    } else if (*name == "f") {
      if (*value != "json" && *value != "geojson") {
        return Invalid("f", absl::StrCat("[enum] format « ", text::Quote(*value, 30),
                                         " » non disponible : json ou geojson"));
      }
    } else if (filter != nullptr) {
      const FieldDescriptor* field = type->FindFieldByName(std::string(filter->request_field));
      const std::vector<std::string>* spellings = features.Spellings(filter->property);
      for (std::string_view one : text::Split(*value, '|')) {
        one = text::StripSpaces(one);
        if (one.empty()) {
          return Invalid(*name,
                         "[required] valeur vide : une ou plusieurs valeurs du standard, séparées "
                         "par « | »");
        }
        if (++values_per_filter[*name] > kMaxFilterValues) {
          return Invalid(*name, absl::StrCat("[size] au plus ", kMaxFilterValues, " valeurs"));
        }
        if (spellings != nullptr) {
          auto at = std::find(spellings->begin(), spellings->end(), one);
          if (at == spellings->end()) {
            return Invalid(*name, absl::StrCat("[enum] valeur « ", text::Quote(one, 60),
                                               " » inconnue du standard ; valeurs admises : ",
                                               absl::StrJoin(*spellings, " | ")));
          }
          r->AddEnumValue(&search, field, static_cast<int>(at - spellings->begin()) + 1);
        } else {
          std::vector<api::FieldViolation> bad;
          if (!api::CheckText(&bad, *name, one, kMaxTypologieCodePoints)) {
            return Invalid(*name, bad.front().description);
          }
          r->AddString(&search, field, std::string(one));
        }
      }
    } else {
      std::vector<std::string> known = {"bbox",       "datetime",   "limit",
                                        "page_token", "resultType", "f"};
      for (const Filter& f : kFilters) known.emplace_back(f.property);
      return Invalid(*name, absl::StrCat("[unknown] paramètre inconnu ; paramètres admis : ",
                                         absl::StrJoin(known, ", ")));
    }
  }
  search.set_page_size(limit);
  return out;
}

absl::Status ReadDatetime(std::string_view value, v1::SearchVenuesRequest* search) {
  constexpr char kForms[] =
      "un instant RFC 3339 (2024-01-01T00:00:00Z), une date (2024-01-01) ou un intervalle "
      "début/fin (2024-01-01T00:00:00Z/2024-06-30T23:59:59Z, ../2024-06-30, 2024-01-01/..)";
  const size_t slash = value.find('/');
  if (slash != std::string_view::npos && value.find('/', slash + 1) != std::string_view::npos) {
    return Invalid("datetime", absl::StrCat("[date] un seul « / » attendu : ", kForms));
  }
  auto end_of = [&](std::string_view part, bool end, std::optional<Instant>* out) -> absl::Status {
    if (slash != std::string_view::npos && (part.empty() || part == "..")) return absl::OkStatus();
    *out = ReadInstant(part, end);
    if (!*out) {
      return Invalid("datetime",
                     absl::StrCat("[date] « ", text::Quote(part, 40), " » illisible : ", kForms));
    }
    return absl::OkStatus();
  };
  std::optional<Instant> start, finish;
  if (slash == std::string_view::npos) {
    if (absl::Status s = end_of(value, false, &start); !s.ok()) return s;
    if (absl::Status s = end_of(value, true, &finish); !s.ok()) return s;
  } else {
    if (absl::Status s = end_of(value.substr(0, slash), false, &start); !s.ok()) return s;
    if (absl::Status s = end_of(value.substr(slash + 1), true, &finish); !s.ok()) return s;
  }
  if (start && finish && start->time > finish->time) {
    return Invalid("datetime",
                   absl::StrCat("[order] intervalle inversé : le début (",
                                text::Quote(value.substr(0, slash), 40), ") est après la fin"));
  }
  if (start) search->set_min_date_maj(start->day);
  if (finish) search->set_max_date_maj(finish->day);
  return absl::OkStatus();
}

bool IsAreaLayerId(std::string_view id) {
  return !id.empty() && id.size() <= 40 && id != "venues" &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
                  c == '-';
         });
}

absl::StatusOr<AreaItemsQuery> ParseAreaItemsQuery(std::string_view layer, std::string_view query) {
  AreaItemsQuery out;
  v1::ListAreasRequest& list = out.list;
  list.set_parent(absl::StrCat("areaLayers/", std::string(layer)));
  list.set_view(v1::AREA_VIEW_FULL);
  int limit = kOgcDefaultLimit;
  std::set<std::string> seen;
  size_t count = 0;
  for (std::string_view piece : text::Split(query, '&')) {
    if (piece.empty()) continue;
    if (++count > kMaxQueryParameters) {
      return Invalid("query", absl::StrCat("[size] plus de ", kMaxQueryParameters, " paramètres"));
    }
    absl::StatusOr<std::pair<std::string, std::string>> read = ReadPiece(piece);
    if (!read.ok()) return read.status();
    const auto& [name, value] = *read;
    if (!seen.insert(name).second) return Invalid(name, "[unique] paramètre répété");
    if (name != "page_token") out.echo.emplace_back(piece);
    if (name == "bbox") {
      if (absl::Status s = ReadBbox(value, list.mutable_within()); !s.ok()) return s;
    } else if (name == "limit") {
      absl::StatusOr<int> l = ReadLimit(value);
      if (!l.ok()) return l.status();
      limit = *l;
    } else if (name == "datetime") {
      return Invalid(
          "datetime",
          "[filter] les zones n'ont pas de dimension temporelle : filtre non pris en charge "
          "sur cette collection");
    } else if (name == "page_token") {
      absl::StatusOr<std::string> token = ReadPageToken(value);
      if (!token.ok()) return token.status();
      out.page_token = *token;
      list.set_page_token(*token);
    } else if (name == "resultType") {
      if (value != "results" && value != "hits") {
        return Invalid("resultType", "[enum] « results » ou « hits » attendu");
      }
      out.hits = value == "hits";
    } else if (name == "f") {
      if (value != "json" && value != "geojson") {
        return Invalid("f", absl::StrCat("[enum] format « ", text::Quote(value, 30),
                                         " » non disponible : json ou geojson"));
      }
    } else {
      return Invalid(name,
                     "[unknown] paramètre inconnu ; paramètres admis : bbox, limit, page_token, "
                     "resultType, f");
    }
  }
  list.set_page_size(limit);
  return out;
}

void AppendAreaFeature(const v1::Area& area, std::string_view links, std::string* out) {
  out->append(R"({"type":"Feature","id":)");
  text::AppendJsonStringRepaired(out, area.code());
  out->append(R"(,"geometry":)");
  // The venues service writes it with PostGIS (ST_AsGeoJSON): an object, copied as it is.
  const std::string_view g = text::StripSpaces(area.geometry());
  if (g.size() >= 2 && g.front() == '{' && g.back() == '}') {
    out->append(g);
  } else {
    out->append("null");
  }
  if (area.has_extent()) {
    out->append(R"(,"bbox":[)");
    AppendNumber(out, area.extent().min_longitude());
    out->push_back(',');
    AppendNumber(out, area.extent().min_latitude());
    out->push_back(',');
    AppendNumber(out, area.extent().max_longitude());
    out->push_back(',');
    AppendNumber(out, area.extent().max_latitude());
    out->push_back(']');
  }
  out->append(R"(,"properties":{"name":)");
  text::AppendJsonStringRepaired(out, area.name());
  out->append(R"(,"code":)");
  text::AppendJsonStringRepaired(out, area.code());
  out->append(R"(,"label":)");
  text::AppendJsonStringRepaired(out, area.label());
  absl::StrAppend(out, R"(,"venue_count":)", area.venue_count(), "}");
  if (!links.empty()) {
    out->append(R"(,"links":)");
    out->append(links);
  }
  out->push_back('}');
}

absl::Status CheckPublicUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("adresse publique « ", text::Quote(url, 100),
                                                   " » invalide : ", std::string(why)));
  };
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return bad("http:// ou https:// attendu");
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.empty()) return bad("nom d'hôte manquant");
  if (authority.find('@') != std::string_view::npos) return bad("pas d'identifiants dans l'URL");
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("adresse IPv6 non fermée");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("caractère inattendu après l'adresse IPv6");
      port = after.substr(1);
      if (port.empty()) return bad("port vide");
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        })) {
      return bad("adresse IPv6 illisible");
    }
  } else {
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("port vide");
    }
    if (host.empty() || host.size() > 253 || !std::all_of(host.begin(), host.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
        })) {
      return bad("nom d'hôte illisible (lettres, chiffres, « . » et « - »)");
    }
  }
  if (!port.empty()) {
    int number = 0;
    const bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                          return absl::ascii_isdigit(static_cast<unsigned char>(c));
                        });
    if (digits) std::from_chars(port.data(), port.data() + port.size(), number);
    if (!digits || number < 1 || number > 65535) return bad("port entre 1 et 65535 attendu");
  }
  if (!path.empty()) {
    if (path.ends_with("/")) return bad("pas de « / » final");
    if (path.find("//") != std::string_view::npos) return bad("segment de chemin vide");
    if (!std::all_of(path.begin(), path.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '-' ||
                 c == '_' || c == '.' || c == '~';
        })) {
      return bad("chemin illisible (ni requête, ni fragment, ni caractère réservé)");
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------

struct OgcPages::Reply {
  std::shared_ptr<http::Exchange> exchange;
  std::string request_id;
  std::vector<http::Header> headers;  // the door's: X-Request-Id, RateLimit-*, CORS
  std::string base;                   // the public URL
};

absl::StatusOr<std::unique_ptr<OgcPages>> OgcPages::Create(const ApiSchema& schema,
                                                           const RouteTable& routes,
                                                           Backends& backends, OgcOptions options) {
  while (options.public_url.ends_with("/")) options.public_url.pop_back();
  if (!options.public_url.empty()) {
    if (absl::Status s = CheckPublicUrl(options.public_url); !s.ok()) return s;
  }
  absl::StatusOr<VenueFeatures> features = VenueFeatures::Build(schema);
  if (!features.ok()) return features.status();
  std::unique_ptr<OgcPages> pages(
      new OgcPages(schema, backends, std::move(options), *std::move(features)));
  for (const Route& route : routes.routes()) {
    if (route.method->full_name() == kSearchMethod) pages->search_ = &route;
    if (route.method->full_name() == kGetMethod) pages->get_ = &route;
    if (route.method->full_name() == kListLayersMethod) pages->list_layers_ = &route;
    if (route.method->full_name() == kGetLayerMethod) pages->get_layer_ = &route;
    if (route.method->full_name() == kListAreasMethod) pages->list_areas_ = &route;
    if (route.method->full_name() == kGetAreaMethod) pages->get_area_ = &route;
  }
  if (pages->search_ == nullptr || pages->get_ == nullptr || pages->list_layers_ == nullptr ||
      pages->get_layer_ == nullptr || pages->list_areas_ == nullptr ||
      pages->get_area_ == nullptr) {
    return absl::FailedPreconditionError(
        "OGC API needs the SearchVenues, GetVenue, ListAreaLayers, GetAreaLayer, ListAreas and "
        "GetArea routes (venues.proto's http rules)");
  }
  return pages;
}

OgcPages::OgcPages(const ApiSchema& schema, Backends& backends, OgcOptions options,
                   VenueFeatures features)
    : schema_(schema),
      backends_(backends),
      options_(std::move(options)),
      features_(std::move(features)) {}

absl::Status OgcPages::SetPublicUrl(std::string url) {
  while (url.ends_with("/")) url.pop_back();
  if (absl::Status s = CheckPublicUrl(url); !s.ok()) return s;
  std::lock_guard lock(mu_);
  options_.public_url = std::move(url);
  return absl::OkStatus();
}

std::string OgcPages::PublicUrl() const {
  std::lock_guard lock(mu_);
  return options_.public_url;
}

void OgcPages::Send(const Reply& reply, std::string content_type, std::string body,
                    std::string_view cache_control) const {
  http::Response r;
  r.headers = reply.headers;
  r.headers.push_back({"content-type", std::move(content_type)});
  r.headers.push_back({"cache-control", std::string(cache_control)});
  r.body = std::move(body);
  reply.exchange->Respond(std::move(r));
}

void OgcPages::FailBackend(const Reply& reply, const grpc::Status& status) const {
  const int code = HttpStatusOf(status.error_code());
  http::Response r;
  r.status = code;
  r.headers = reply.headers;
  r.headers.push_back({"content-type", kJson});
  r.headers.push_back({"cache-control", "no-store"});
  if (code == 503) r.headers.push_back({"retry-after", "1"});
  r.body = ErrorJson(schema_, code, status, reply.request_id);
  reply.exchange->Respond(std::move(r));
}

void OgcPages::Fail(const Reply& reply, const absl::Status& status) const {
  FailBackend(reply, FromAbsl(status));
}

std::vector<std::string> OgcPages::Allowed(std::string_view path) const {
  if (path.ends_with("/") && path != "/ogc/") return {};
  std::vector<std::string_view> s = text::Split(path, '/');  // s[0] == "", s[1] == "ogc"
  if (s.size() < 2 || s[1] != "ogc") return {};
  const size_t n = s.size() - 1;  // segments from "ogc" on, as Serve counts them
  bool known = n == 1 || (n == 2 && s[2].empty());
  if (n == 2) known = known || s[2] == "api" || s[2] == "conformance" || s[2] == "collections";
  if (n >= 3 && n <= 5 && s[2] == "collections" && (s[3] == "venues" || IsAreaLayerId(s[3]))) {
    known = n == 3 || (s[4] == "items" && (n == 4 || !s[5].empty()));
  }
  if (!known) return {};
  return {"GET", "HEAD"};
}

void OgcPages::Serve(const std::shared_ptr<http::Exchange>& exchange, PageRequest request) {
  const http::Request& req = exchange->request();
  const std::string_view target = req.target;
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  Reply reply{exchange, std::move(request.request_id), std::move(request.headers), PublicUrl()};
  if (reply.base.empty()) {  // only in the instant between the port's binding and its setting
    FailBackend(reply, grpc::Status(grpc::StatusCode::UNAVAILABLE, "la passerelle démarre"));
    return;
  }
  const std::string& base = reply.base;
  const std::string root = base + "/ogc";
  if (path == "/ogc" || path == "/ogc/") {
    if (absl::Status s = CheckPlainQuery(query, false); !s.ok()) {
      Fail(reply, s);
      return;
    }
    nlohmann::json landing = {
        {"title", "Passerelle — lieux de médiation numérique"},
        {"description",
         "OGC API – Features (Part 1 Core, GeoJSON) sur le registre des lieux de médiation "
         "numérique de Roubaix : lecture publique, sans clé."},
        {"links",
         {Link(root, "self", kJson, "Cette page"),
          Link(root + "/api", "service-desc", kOpenApi30,
               "Définition OpenAPI 3.0 de cette API OGC"),
          Link(base + "/v1/openapi.json", "related", kOpenApi31,
               "Définition OpenAPI 3.1 de toute l'API REST de Passerelle"),
          Link(root + "/conformance", "conformance", kJson, "Classes de conformité"),
          Link(root + "/collections", "data", kJson, "Les collections")}}};
    Send(reply, kJson, Dump(landing), "public, max-age=300");
    return;
  }

  absl::StatusOr<SplitPath> split = SplitRequestPath(path);
  if (!split.ok()) {
    // /ogc/collections/{collection}/items/{featureId}: the bad part is the feature id.
    std::vector<std::string_view> parts = text::Split(path, '/');
    const bool feature = parts.size() == 6 && parts[2] == "collections" && parts[4] == "items" &&
                         (parts[3] == "venues" || IsAreaLayerId(parts[3]));
    Fail(reply, api::InvalidArgument(
                    std::string(split.status().message()),
                    {{feature ? "featureId" : "path", std::string(split.status().message())}}));
    return;
  }
  const std::vector<std::string>& s = split->segments_with_verb;  // s[0] == "ogc"
  const size_t n = s.size();
  auto not_found = [&](const std::string& what) {
    Fail(reply, api::WithReason(absl::NotFoundError(what), "ROUTE_NOT_FOUND"));
  };
  if (n >= 3 && s[1] == "collections" && s[2] != "venues") {
    if (!IsAreaLayerId(s[2])) {
      not_found(
          absl::StrCat("collection « ", text::Quote(s[2], 60),
                       " » inconnue : « venues » ou une couche de zones (voir /collections)"));
      return;
    }
    if (n == 3) {
      if (absl::Status st = CheckPlainQuery(query, false); !st.ok()) {
        Fail(reply, st);
      } else {
        AreaCollection(reply, s[2]);
      }
    } else if (n == 4 && s[3] == "items") {
      AreaItems(reply, s[2], query);
    } else if (n == 5 && s[3] == "items") {
      AreaFeature(reply, s[2], s[4], query);
    } else {
      not_found(absl::StrCat("aucune ressource OGC à l'adresse ", text::Quote(path, 200)));
    }
    return;
  }
  if (n == 5 && s[1] == "collections" && s[3] == "items") {
    Feature(reply, s[4], query);
    return;
  }
  if (n == 4 && s[1] == "collections" && s[3] == "items") {
    Items(reply, query);
    return;
  }
  const bool known =
      (n == 2 && (s[1] == "api" || s[1] == "conformance" || s[1] == "collections")) ||
      (n == 3 && s[1] == "collections");
  if (!known) {
    not_found(absl::StrCat("aucune ressource OGC à l'adresse ", text::Quote(path, 200)));
    return;
  }
  if (absl::Status st = CheckPlainQuery(query, false); !st.ok()) {
    Fail(reply, st);
    return;
  }
  if (n == 3) {
    Send(reply, kJson, Dump(Collection(root)), "public, max-age=300");
  } else if (s[1] == "collections") {
    Collections(reply);
  } else if (s[1] == "conformance") {
    nlohmann::json conformance = {
        {"conformsTo",
         {"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
          "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
          "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"}}};
    Send(reply, kJson, Dump(conformance), "public, max-age=300");
  } else {
    Send(reply, kOpenApi30, OpenApi(root), "public, max-age=300");
  }
}

std::string OgcPages::OpenApi(const std::string& root) const {
  using nlohmann::json;
  auto query = [](const std::string& name, const std::string& description, json schema) {
    return json{{"name", name},
                {"in", "query"},
                {"required", false},
                {"description", description},
                {"schema", std::move(schema)}};
  };
  auto answer = [](const std::string& description, const std::string& type) {
    return json{{"description", description}, {"content", {{type, json::object()}}}};
  };
  const json error =
      answer("Requête refusée, avec le paramètre en cause (google.rpc.Status)", kJson);
  const json f = query("f", "Format : json (le seul)", {{"type", "string"}, {"enum", {"json"}}});
  auto page = [&](const std::string& id, const std::string& summary, const std::string& type) {
    return json{{"get",
                 {{"operationId", id},
                  {"summary", summary},
                  {"parameters", {f}},
                  {"responses", {{"200", answer(summary, type)}, {"400", error}}}}}};
  };
  json items_parameters = {
      query("bbox",
            "Boîte minLon,minLat,maxLon,maxLat en degrés WGS84 (CRS84) ; minLon > maxLon : "
            "boîte à cheval sur l'antiméridien",
            {{"type", "array"}, {"minItems", 4}, {"maxItems", 6}, {"items", {{"type", "number"}}}}),
      query("limit",
            absl::StrCat("Lieux par page : ", kOgcDefaultLimit, " par défaut ; au-delà de ",
                         kOgcMaxLimit, ", ", kOgcMaxLimit, " (le plafond de la recherche)"),
            {{"type", "integer"},
             {"minimum", 1},
             {"maximum", kOgcMaxLimit},
             {"default", kOgcDefaultLimit}}),
      query("datetime",
            "Les lieux dont la date de mise à jour du standard (date_maj, un jour, de 00:00 à "
            "24:00 UTC) rencontre cet instant ou intervalle RFC 3339 : 2024-01-01T00:00:00Z, "
            "2024-01-01, 2024-01-01T00:00:00Z/2024-06-30T23:59:59Z, ../2024-06-30, 2024-01-01/..",
            {{"type", "string"}}),
      query("page_token",
            "Jeton de la page suivante ou précédente, tel que le lien « next » ou « prev » le "
            "donne",
            {{"type", "string"}}),
      query("resultType", "hits : le nombre de lieux seulement (numberMatched), sans les lieux",
            {{"type", "string"}, {"enum", {"results", "hits"}}, {"default", "results"}}),
      query("f", "Format : json ou geojson (le même GeoJSON)",
            {{"type", "string"}, {"enum", {"json", "geojson"}}}),
  };
  const json collection_id = {
      {"name", "collectionId"},
      {"in", "path"},
      {"required", true},
      {"description", "L'identifiant d'une couche de zones (voir /collections)"},
      {"schema", {{"type", "string"}}}};
  const json area_items_parameters = {
      collection_id,
      items_parameters[0],
      items_parameters[1],
      items_parameters[3],
      query("resultType", "hits : le nombre de zones seulement (numberMatched), sans les zones",
            {{"type", "string"}, {"enum", {"results", "hits"}}, {"default", "results"}}),
      items_parameters[5],
  };
  for (const Filter& filter : kFilters) {
    json item = {{"type", "string"}};
    if (const std::vector<std::string>* values = features_.Spellings(filter.property)) {
      item["enum"] = *values;
    }
    json parameter = query(std::string(filter.property),
                           "Les lieux ayant au moins une de ces valeurs du standard (paramètre "
                           "répété, ou valeurs séparées par « | »)",
                           {{"type", "array"}, {"items", item}});
    parameter["style"] = "form";
    parameter["explode"] = true;
    items_parameters.push_back(std::move(parameter));
  }
  json doc = {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "Passerelle — OGC API Features"},
        {"version", "1.0.0"},
        {"description",
         "Les lieux de médiation numérique en OGC API – Features (Part 1 Core, GeoJSON)."}}},
      {"servers", {{{"url", root}}}},
      {"paths",
       {{"/", page("getLandingPage", "Page d'accueil", kJson)},
        {"/conformance", page("getConformanceDeclaration", "Classes de conformité", kJson)},
        {"/api", page("getApiDefinition", "Cette définition", kOpenApi30)},
        {"/collections", page("getCollections", "Les collections", kJson)},
        {"/collections/venues", page("describeVenuesCollection", "La collection des lieux", kJson)},
        {"/collections/venues/items",
         {{"get",
           {{"operationId", "getVenues"},
            {"summary", "Les lieux actifs, par nom, page par page"},
            {"parameters", items_parameters},
            {"responses",
             {{"200", answer("Une page de lieux (FeatureCollection)", kGeoJson)},
              {"400", error}}}}}}},
        {"/collections/{collectionId}",
         {{"get",
           {{"operationId", "describeAreaLayerCollection"},
            {"summary", "Une couche de zones"},
            {"parameters", {collection_id, f}},
            {"responses",
             {{"200", answer("La couche", kJson)},
              {"400", error},
              {"404", answer("Aucune couche n'a cet identifiant", kJson)}}}}}}},
        {"/collections/{collectionId}/items",
         {{"get",
           {{"operationId", "getAreas"},
            {"summary", "Les zones d'une couche, par code, page par page"},
            {"parameters", area_items_parameters},
            {"responses",
             {{"200", answer("Une page de zones (FeatureCollection)", kGeoJson)},
              {"400", error},
              {"404", answer("Aucune couche n'a cet identifiant", kJson)}}}}}}},
        {"/collections/{collectionId}/items/{featureId}",
         {{"get",
           {{"operationId", "getArea"},
            {"summary", "Une zone"},
            {"parameters",
             {collection_id,
              {{"name", "featureId"},
               {"in", "path"},
               {"required", true},
               {"description", "Le code de la zone"},
               {"schema", {{"type", "string"}}}},
              query("f", "Format : json ou geojson",
                    {{"type", "string"}, {"enum", {"json", "geojson"}}})}},
            {"responses",
             {{"200", answer("La zone (Feature)", kGeoJson)},
              {"400", error},
              {"404", answer("Aucune zone de cette couche n'a ce code", kJson)}}}}}}},
        {"/collections/venues/items/{featureId}",
         {{"get",
           {{"operationId", "getVenue"},
            {"summary", "Un lieu"},
            {"parameters",
             {{{"name", "featureId"},
               {"in", "path"},
               {"required", true},
               {"description", "L'UUID du lieu (la fin de son « name »)"},
               {"schema", {{"type", "string"}, {"format", "uuid"}}}},
              query("f", "Format : json ou geojson",
                    {{"type", "string"}, {"enum", {"json", "geojson"}}})}},
            {"responses",
             {{"200", answer("Le lieu (Feature)", kGeoJson)},
              {"400", error},
              {"404", answer("Aucun lieu publié n'a cet identifiant", kJson)}}}}}}}}}};
  return Dump(doc);
}

void OgcPages::Items(const Reply& reply, std::string_view query) {
  absl::StatusOr<ItemsQuery> parsed = ParseItemsQuery(query, features_);
  if (!parsed.ok()) {
    Fail(reply, parsed.status());
    return;
  }
  auto items = std::make_shared<ItemsQuery>(*std::move(parsed));
  v1::SearchVenuesRequest request = items->search;
  if (items->hits) request.set_page_size(1);  // the count comes with any page
  CallOptions call;
  call.request_id = reply.request_id;
  call.timeout = options_.backend_timeout;
  std::shared_ptr<Call> pending = backends_.Unary(
      *search_, request.SerializeAsString(), call,
      [this, reply, items](grpc::Status status, std::string bytes) {
        if (!status.ok()) {
          FailBackend(reply, status);
          return;
        }
        v1::SearchVenuesResponse found;
        if (!found.ParseFromString(bytes)) {
          logging::Error("SearchVenues answer does not parse", {{"request_id", reply.request_id}});
          FailBackend(reply, grpc::Status(grpc::StatusCode::INTERNAL, "erreur interne"));
          return;
        }
        const int returned = items->hits ? 0 : found.results_size();
        const clocks::Clock& clock = options_.clock != nullptr ? *options_.clock : clocks::System();
        std::string body;
        body.reserve(1024 + static_cast<size_t>(returned) * 2048);
        absl::StrAppend(&body, R"({"type":"FeatureCollection","numberMatched":)",
                        found.total_size(), R"(,"numberReturned":)", returned, R"(,"timeStamp":")",
                        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", clock.Now(), absl::UTCTimeZone()),
                        R"(","links":[)");
        AppendItemsLinks(&body, reply.base + "/ogc/collections/venues", items->echo,
                         items->page_token, items->hits ? "" : found.next_page_token(),
                         items->hits ? "" : found.previous_page_token());
        body.append(R"(],"features":[)");
        for (int i = 0; i < returned; ++i) {
          if (i > 0) body.push_back(',');
          features_.Append(found.results(i).venue(), "", &body);
        }
        body.append("]}");
        Send(reply, kGeoJson, std::move(body), "public, max-age=60");
      });
  reply.exchange->OnCancel([weak = std::weak_ptr<Call>(pending)] {
    if (std::shared_ptr<Call> call = weak.lock()) call->Cancel();
  });
}

void OgcPages::Feature(const Reply& reply, const std::string& id, std::string_view query) {
  if (absl::Status s = CheckPlainQuery(query, true); !s.ok()) {
    Fail(reply, s);
    return;
  }
  auto missing = [id] {
    return api::WithReason(
        absl::NotFoundError(absl::StrCat("aucun lieu n'a l'identifiant « ", text::Quote(id, 60),
                                         " » (un UUID, comme dans « name »)")),
        "VENUE_NOT_FOUND");
  };
  if (!api::IsCanonicalUuid(id)) {
    Fail(reply, missing());
    return;
  }
  v1::GetVenueRequest request;
  request.set_name(absl::StrCat("venues/", id));
  CallOptions call;
  call.request_id = reply.request_id;
  call.timeout = options_.backend_timeout;
  std::shared_ptr<Call> pending = backends_.Unary(
      *get_, request.SerializeAsString(), call,
      [this, reply, id, missing](grpc::Status status, std::string bytes) {
        if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
          Fail(reply, missing());
          return;
        }
        if (!status.ok()) {
          FailBackend(reply, status);
          return;
        }
        v1::Venue venue;
        if (!venue.ParseFromString(bytes)) {
          logging::Error("GetVenue answer does not parse", {{"request_id", reply.request_id}});
          FailBackend(reply, grpc::Status(grpc::StatusCode::INTERNAL, "erreur interne"));
          return;
        }
        if (venue.state() == v1::WITHDRAWN) {
          Fail(reply, api::WithReason(absl::NotFoundError(absl::StrCat(
                                          "le lieu « ", id,
                                          " » a été retiré du registre : il n'est plus publié")),
                                      "VENUE_WITHDRAWN"));
          return;
        }
        const std::string url = reply.base + "/ogc/collections/venues/items/" + id;
        std::string links = "[";
        AppendLink(&links, url, "self", kGeoJson, "Ce lieu");
        links.push_back(',');
        AppendLink(&links, reply.base + "/ogc/collections/venues", "collection", kJson,
                   "La collection");
        links.push_back(']');
        std::string body;
        features_.Append(venue, links, &body);
        Send(reply, kGeoJson, std::move(body), "public, max-age=60");
      });
  reply.exchange->OnCancel([weak = std::weak_ptr<Call>(pending)] {
    if (std::shared_ptr<Call> call = weak.lock()) call->Cancel();
  });
}

void OgcPages::Ask(const Reply& reply, const Route& route, std::string request,
                   std::function<void(grpc::Status, std::string)> done) {
  CallOptions call;
  call.request_id = reply.request_id;
  call.timeout = options_.backend_timeout;
  std::shared_ptr<gateway::Call> pending =
      backends_.Unary(route, std::move(request), call, std::move(done));
  reply.exchange->OnCancel([weak = std::weak_ptr<gateway::Call>(pending)] {
    if (std::shared_ptr<gateway::Call> call = weak.lock()) call->Cancel();
  });
}

void OgcPages::Collections(const Reply& reply) {
  v1::ListAreaLayersRequest request;
  request.set_page_size(kMaxLayers);
  Ask(reply, *list_layers_, request.SerializeAsString(),
      [this, reply](grpc::Status status, std::string bytes) {
        v1::ListAreaLayersResponse layers;
        if (status.ok() && !layers.ParseFromString(bytes)) {
          logging::Error("ListAreaLayers answer does not parse",
                         {{"request_id", reply.request_id}});
          status = grpc::Status(grpc::StatusCode::INTERNAL, "erreur interne");
        }
        if (!status.ok()) {
          FailBackend(reply, status);
          return;
        }
        const std::string root = reply.base + "/ogc";
        nlohmann::json collections = nlohmann::json::array({Collection(root)});
        for (const v1::AreaLayer& layer : layers.area_layers()) {
          // A layer called `venues` would hide the venues: not published (docs/ogc.md).
          constexpr std::string_view kPrefix = "areaLayers/";
          if (!layer.name().starts_with(kPrefix) ||
              !IsAreaLayerId(std::string_view(layer.name()).substr(kPrefix.size()))) {
            continue;
          }
          collections.push_back(LayerCollection(root, layer));
        }
        nlohmann::json all = {
            {"links", {Link(root + "/collections", "self", kJson, "Les collections")}},
            {"collections", std::move(collections)}};
        Send(reply, kJson, Dump(all), "public, max-age=300");
      });
}

namespace {

absl::Status UnknownLayer(const std::string& layer) {
  return api::WithReason(
      absl::NotFoundError(
          absl::StrCat("collection « ", layer,
                       " » inconnue : « venues » ou une couche de zones (voir /collections)")),
      "ROUTE_NOT_FOUND");
}

}  // namespace

void OgcPages::AreaCollection(const Reply& reply, const std::string& layer) {
  v1::GetAreaLayerRequest request;
  request.set_name("areaLayers/" + layer);
  Ask(reply, *get_layer_, request.SerializeAsString(),
      [this, reply, layer](grpc::Status status, std::string bytes) {
        if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
          Fail(reply, UnknownLayer(layer));
          return;
        }
        v1::AreaLayer found;
        if (status.ok() && !found.ParseFromString(bytes)) {
          logging::Error("GetAreaLayer answer does not parse", {{"request_id", reply.request_id}});
          status = grpc::Status(grpc::StatusCode::INTERNAL, "erreur interne");
        }
        if (!status.ok()) {
          FailBackend(reply, status);
          return;
        }
        Send(reply, kJson, Dump(LayerCollection(reply.base + "/ogc", found)),
             "public, max-age=300");
      });
}

void OgcPages::AreaItems(const Reply& reply, const std::string& layer, std::string_view query) {
  absl::StatusOr<AreaItemsQuery> parsed = ParseAreaItemsQuery(layer, query);
  if (!parsed.ok()) {
    Fail(reply, parsed.status());
    return;
  }
  auto items = std::make_shared<AreaItemsQuery>(*std::move(parsed));
  v1::ListAreasRequest request = items->list;
  if (items->hits) {  // the count comes with any page; no polygon needed for it
    request.set_page_size(1);
    request.set_view(v1::AREA_VIEW_BASIC);
  }
  Ask(reply, *list_areas_, request.SerializeAsString(),
      [this, reply, layer, items](grpc::Status status, std::string bytes) {
        if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
          Fail(reply, UnknownLayer(layer));
          return;
        }
        v1::ListAreasResponse found;
        if (status.ok() && !found.ParseFromString(bytes)) {
          logging::Error("ListAreas answer does not parse", {{"request_id", reply.request_id}});
          status = grpc::Status(grpc::StatusCode::INTERNAL, "erreur interne");
        }
        if (!status.ok()) {
          FailBackend(reply, status);
          return;
        }
        const int returned = items->hits ? 0 : found.areas_size();
        const clocks::Clock& clock = options_.clock != nullptr ? *options_.clock : clocks::System();
        std::string body;
        absl::StrAppend(&body, R"({"type":"FeatureCollection","numberMatched":)",
                        found.total_size(), R"(,"numberReturned":)", returned, R"(,"timeStamp":")",
                        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", clock.Now(), absl::UTCTimeZone()),
                        R"(","links":[)");
        AppendItemsLinks(&body, reply.base + "/ogc/collections/" + layer, items->echo,
                         items->page_token, items->hits ? "" : found.next_page_token(),
                         items->hits ? "" : found.previous_page_token());
        body.append(R"(],"features":[)");
        for (int i = 0; i < returned; ++i) {
          if (i > 0) body.push_back(',');
          AppendAreaFeature(found.areas(i), "", &body);
        }
        body.append("]}");
        Send(reply, kGeoJson, std::move(body), "public, max-age=60");
      });
}

void OgcPages::AreaFeature(const Reply& reply, const std::string& layer, const std::string& code,
                           std::string_view query) {
  if (absl::Status s = CheckPlainQuery(query, true); !s.ok()) {
    Fail(reply, s);
    return;
  }
  auto missing = [layer, code] {
    return api::WithReason(
        absl::NotFoundError(absl::StrCat("la couche « ", layer, " » n'a pas de zone de code « ",
                                         text::Quote(code, 60), " »")),
        "AREA_NOT_FOUND");
  };
  if (!text::IsValidUtf8(code) || text::FirstControl(code)) {
    Fail(reply, Invalid("featureId",
                        "[format] code de zone illisible (UTF-8 invalide ou caractère de "
                        "contrôle)"));
    return;
  }
  v1::GetAreaRequest request;
  request.set_name(absl::StrCat("areaLayers/", layer, "/areas/", code));
  Ask(reply, *get_area_, request.SerializeAsString(),
      [this, reply, layer, code, missing](grpc::Status status, std::string bytes) {
        // A code the service's names cannot hold (spaces…) is no area either.
        if (status.error_code() == grpc::StatusCode::NOT_FOUND ||
            status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
          Fail(reply, missing());
          return;
        }
        v1::Area area;
        if (status.ok() && !area.ParseFromString(bytes)) {
          logging::Error("GetArea answer does not parse", {{"request_id", reply.request_id}});
          status = grpc::Status(grpc::StatusCode::INTERNAL, "erreur interne");
        }
        if (!status.ok()) {
          FailBackend(reply, status);
          return;
        }
        const std::string collection_url = reply.base + "/ogc/collections/" + layer;
        std::string links = "[";
        AppendLink(&links, collection_url + "/items/" + PercentEncode(code), "self", kGeoJson,
                   "Cette zone");
        links.push_back(',');
        AppendLink(&links, collection_url, "collection", kJson, "La collection");
        links.push_back(']');
        std::string body;
        AppendAreaFeature(area, links, &body);
        Send(reply, kGeoJson, std::move(body), "public, max-age=60");
      });
}

}  // namespace passerelle::gateway
