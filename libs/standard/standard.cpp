// The national standard's rules, read from its own schema.
#include "libs/standard/standard.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "libs/text/text.hpp"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::standard {

std::string_view StandardSchemaV102();  // embedded by CMake

namespace {

constexpr std::string_view kEnumPrefix = "(?:(?:^|\\|)(";

// Key under which spelling variants of one enumerated value meet: folded, without spaces,
// with straight apostrophes.
std::string VariantKey(std::string_view v) {
  std::string folded = text::Fold(v);
  std::string key;
  for (char c : folded) {
    if (c == ' ' || c == '\t') continue;
    key += c;
  }
  return key;
}

// Splits the alternatives of an enumeration pattern, unescaping `\(` `\)` `\.`.
std::vector<std::string> Alternatives(std::string_view pattern) {
  std::vector<std::string> out;
  if (!pattern.starts_with(kEnumPrefix)) return out;
  std::string_view body = pattern.substr(kEnumPrefix.size());
  std::string cur;
  int depth = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == '\\' && i + 1 < body.size()) {
      cur += body[++i];
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')') {
      if (depth == 0) {
        out.push_back(cur);
        return out;
      }
      --depth;
    }
    if (c == '|' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  return {};
}

// Years a venue's `date_maj` can hold: the standard's data start long after 1990, and a date
// past 2099 is a typing error.
constexpr int kFirstYear = 1990;
constexpr int kLastYear = 2099;

// Fields whose values are web addresses that a reader will open.
bool IsUrlField(std::string_view name) {
  return name == "site_web" || name == "prise_rdv" || name == "fiche_acces_libre";
}

// `s` without what shows nothing at its ends: spaces, and the invisible characters a
// copy-paste or a concatenated file leaves there (a byte order mark, a no-break or zero-width
// space...). Inside the text they stay.
std::string Trim(std::string_view s) { return std::string(text::TrimInvisible(s)); }

std::string Digits(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c))) out += c;
  }
  return out;
}

}  // namespace

absl::StatusOr<Standard> Standard::FromJson(std::string_view json) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("schema is not valid JSON: ", e.what()));
  }
  Standard s;
  for (const auto& f : doc.value("fields", nlohmann::json::array())) {
    FieldSpec spec;
    spec.name = f.value("name", "");
    const std::string type = f.value("type", "string");
    const auto constraints = f.value("constraints", nlohmann::json::object());
    spec.required = constraints.value("required", false);
    spec.pattern = constraints.value("pattern", "");
    const std::string description = f.value("description", "");
    spec.values = Alternatives(spec.pattern);
    if (type == "number") {
      spec.kind = FieldKind::kNumber;
    } else if (type == "date") {
      spec.kind = FieldKind::kDate;
    } else if (!spec.values.empty() || description.find("`|`") != std::string::npos ||
               f.value("example", "").find('|') != std::string::npos) {
      // The schema has no list type: a list is an enumeration, or a field whose description
      // or example separates values with `|`.
      spec.kind = FieldKind::kList;
    }
    if (!spec.pattern.empty() && spec.values.empty()) {
      try {
        spec.regex.emplace(spec.pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return absl::InvalidArgumentError(
            absl::StrCat("field ", spec.name, ": pattern does not compile: ", e.what()));
      }
    }
    spec.max_length = constraints.value("maxLength", size_t{0});
    if (spec.max_length == 0) {
      spec.max_length = spec.name == "presentation_detail" || spec.name == "horaires"
                            ? kMaxLongTextLength
                            : kMaxTextLength;
    }
    spec.max_items = spec.kind == FieldKind::kList ? kMaxListItems : 1;
    auto& variants = s.canonical_[spec.name];
    for (const auto& v : spec.values) variants[VariantKey(v)] = v;
    s.fields_.push_back(std::move(spec));
  }
  if (s.fields_.empty()) return absl::InvalidArgumentError("schema has no fields");
  return s;
}

const Standard& Standard::V102() {
  static const Standard* standard = [] {
    auto s = FromJson(StandardSchemaV102());
    if (!s.ok()) std::abort();  // the embedded schema is tested; this cannot fail at run time
    return new Standard(*std::move(s));
  }();
  return *standard;
}

const FieldSpec* Standard::Find(std::string_view name) const {
  for (const auto& f : fields_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::optional<std::string> Standard::Canonical(const FieldSpec& field,
                                               std::string_view value) const {
  auto it = canonical_.find(field.name);
  if (it == canonical_.end()) return std::nullopt;
  auto v = it->second.find(VariantKey(value));
  if (v == it->second.end()) return std::nullopt;
  return v->second;
}

Validated ValidateRow(const Standard& standard, const std::map<std::string, std::string>& raw,
                      char list_separator) {
  Validated out;
  // The value is quoted, not copied: a 5 MB value or invalid bytes never reach a report.
  auto violation = [&](const FieldSpec& f, std::string_view value, const std::string& rule,
                       const std::string& message) {
    out.violations.push_back({f.name, text::Quote(value, 200), rule, message});
  };
  auto normalised = [&](const FieldSpec& f, const std::string& from, const std::string& to) {
    if (from != to) {
      out.normalisations.push_back(absl::StrCat(f.name, ": \"", from, "\" -> \"", to, "\""));
    }
  };
  for (const FieldSpec& f : standard.fields()) {
    auto it = raw.find(f.name);
    // Bytes first: what is not text never reaches the field rules, the store or an event.
    if (it != raw.end()) {
      if (auto at = text::FirstInvalidUtf8(it->second)) {
        violation(
            f, it->second, "utf8",
            absl::StrCat("UTF-8 invalide (octet ", *at, ") : enregistrez le fichier en UTF-8"));
        continue;
      }
      if (auto at = text::FirstControl(it->second)) {
        violation(f, it->second, "control",
                  absl::StrCat("caractère de contrôle ou non-caractère Unicode interdit (octet ",
                               *at, ")"));
        continue;
      }
      if (auto at = text::FirstBidiControl(it->second)) {
        violation(f, it->second, "bidi",
                  absl::StrCat("caractère de contrôle bidirectionnel interdit (octet ", *at,
                               ") : le texte s'afficherait dans un autre ordre"));
        continue;
      }
    }
    const std::string value = it == raw.end() ? "" : Trim(it->second);
    // A value made only of invisible characters (U+200B...) is empty to every reader.
    if (value.empty() || text::IsBlank(value)) {
      if (f.required)
        violation(f, value, "required", "champ obligatoire absent, vide ou invisible");
      continue;
    }
    if (f.kind != FieldKind::kList && text::CodePoints(value) > f.max_length) {
      violation(
          f, value, "maxLength",
          absl::StrCat("plus de ", f.max_length, " caractères (", text::CodePoints(value), ")"));
      continue;
    }
    switch (f.kind) {
      case FieldKind::kNumber: {
        // Decimal text only ("50.69", "50,69"): no "nan", "inf", "0x10" or "1e3".
        const std::optional<double> parsed = text::ParseDecimal(value, /*decimal_comma=*/true);
        if (!parsed) {
          violation(f, value, "number", "n'est pas un nombre décimal (ex. 50.6942)");
          break;
        }
        const double d = *parsed;
        std::string v = value;
        for (auto& c : v) {
          if (c == ',') c = '.';  // "50,69": a French spreadsheet's decimal comma
        }
        const double limit = f.name == "latitude" ? 90 : f.name == "longitude" ? 180 : 1e300;
        if (d < -limit || d > limit) {
          violation(f, value, "range",
                    absl::StrCat("hors de l'intervalle [-", limit, ", ", limit, "] (WGS84)"));
          break;
        }
        if (d == 0 && v.starts_with('-')) v.erase(0, 1);  // "-0": one zero
        normalised(f, value, v);
        out.record[f.name] = {v};
        break;
      }
      case FieldKind::kDate: {
        std::string v = value.substr(0, 10);  // "2024-04-02T10:00:00Z" -> the date part
        absl::CivilDay day;
        if (v.size() != 10 || !absl::ParseCivilTime(v, &day)) {
          violation(f, value, "date", "n'est pas une date AAAA-MM-JJ (ISO 8601)");
          break;
        }
        if (day.year() < kFirstYear || day.year() > kLastYear) {
          violation(f, value, "range",
                    absl::StrCat("date hors de l'intervalle ", kFirstYear, "-", kLastYear));
          break;
        }
        // Stored in its one form: the parser also takes `2024-4-2`, `+2024-04-2` or trailing
        // blanks, which another reader (and this one, once a CSV cell is trimmed) would refuse.
        v = absl::FormatCivilTime(day);
        normalised(f, value, v);
        out.record[f.name] = {v};
        break;
      }
      case FieldKind::kList:
      case FieldKind::kText: {
        std::vector<std::string> parts;
        if (f.kind == FieldKind::kList) {
          for (auto p : absl::StrSplit(value, list_separator)) {
            std::string t = Trim(std::string_view(p.data(), p.size()));
            if (!t.empty()) parts.push_back(t);
          }
          if (parts.size() > f.max_items) {
            violation(f, value, "maxItems",
                      absl::StrCat("plus de ", f.max_items, " valeurs (", parts.size(), ")"));
            break;
          }
        } else {
          parts = {value};
        }
        std::vector<std::string> kept;
        for (std::string part : parts) {
          if (f.kind == FieldKind::kList && text::CodePoints(part) > f.max_length) {
            violation(f, part, "maxLength",
                      absl::StrCat("une valeur de plus de ", f.max_length, " caractères"));
            continue;
          }
          std::string v = part;
          if (!f.values.empty()) {
            auto canon = standard.Canonical(f, v);
            if (!canon) {
              violation(f, part, "enum",
                        absl::StrCat("« ", part, " » n'est pas une valeur admise ; valeurs : ",
                                     absl::StrJoin(f.values, " ; ")));
              continue;
            }
            v = *canon;
          } else if (f.name == "telephone") {
            // "03 20 12 34 56", "0033 3 20…", "+33 (0)3 20…" -> "+33320123456"
            std::string digits = Digits(v);
            const bool plus = v.starts_with('+');
            if (!plus && digits.size() == 10 && digits[0] == '0') {
              v = "+33" + digits.substr(1);
            } else if (!plus && digits.starts_with("0033")) {
              v = "+" + digits.substr(2);
            } else if (plus) {
              if (digits.starts_with("330") && digits.size() == 12) digits.erase(2, 1);
              v = "+" + digits;
            }
          } else if (f.name == "code_postal" || f.name == "code_insee") {
            // Spreadsheets drop the leading zero of "01000".
            if (v.size() == 4 && Digits(v).size() == 4) v = "0" + v;
          } else if (f.name == "pivot") {
            std::string compact;
            for (char c : v) {
              if (c != ' ' && c != '.') compact += c;
            }
            v = compact;
          } else if (IsUrlField(f.name)) {
            auto url = NormaliseWebAddress(v);
            if (!url) {
              violation(f, part, "url",
                        "n'est pas une adresse web : doit commencer par https:// ou http://");
              continue;
            }
            v = *url;
          } else if (f.name == "typologie") {
            v = TypologieAsStored(v);
          }
          if (f.regex && !std::regex_match(v, *f.regex)) {
            violation(f, part, "pattern",
                      absl::StrCat("ne respecte pas le motif du standard ", f.pattern));
            continue;
          }
          normalised(f, part, v);
          kept.push_back(v);
        }
        if (!kept.empty()) out.record[f.name] = std::move(kept);
        break;
      }
    }
  }
  // A point needs both coordinates: one alone would put a venue nowhere, or on the equator.
  const bool has_lat = out.record.count("latitude") > 0;
  const bool has_lon = out.record.count("longitude") > 0;
  const bool coordinate_refused = std::any_of(
      out.violations.begin(), out.violations.end(),
      [](const Violation& v) { return v.field == "latitude" || v.field == "longitude"; });
  if (has_lat != has_lon && !coordinate_refused) {
    const FieldSpec* missing = standard.Find(has_lat ? "longitude" : "latitude");
    if (missing != nullptr) {
      violation(*missing, "", "coordinates",
                "latitude et longitude vont ensemble : donnez les deux ou aucune");
    }
  }
  CapViolations(&out.violations);
  return out;
}

void CapViolations(std::vector<Violation>* violations) {
  // A row with every field wrong would otherwise report hundreds of violations (one per list
  // value): the first 30 say enough to fix the source.
  constexpr size_t kMaxRowViolations = 30;
  if (violations->size() <= kMaxRowViolations + 1) return;
  const size_t more = violations->size() - kMaxRowViolations;
  violations->resize(kMaxRowViolations);
  violations->push_back(
      {"", "", "more", absl::StrCat(more, " autres problèmes non listés dans cette ligne")});
}

std::map<std::string, std::string> ToRaw(const Standard& standard, const Record& record) {
  std::map<std::string, std::string> out;
  for (const FieldSpec& f : standard.fields()) {
    auto it = record.find(f.name);
    out[f.name] = it == record.end() ? "" : absl::StrJoin(it->second, "|");
  }
  return out;
}

std::string TypologieAsStored(std::string_view value) {
  std::string out(value);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> NormaliseWebAddress(const std::string& v) {
  if (v.find_first_of(" \t\r\n") != std::string::npos) return std::nullopt;
  const std::string lower = absl::AsciiStrToLower(v);
  if (lower.starts_with("https://") || lower.starts_with("http://")) {
    const size_t host = v.find("://") + 3;
    if (host >= v.size() || v[host] == '/') return std::nullopt;
    return v;
  }
  const size_t colon = v.find(':');
  const size_t dot = v.find('.');
  const size_t slash = v.find('/');
  const bool has_scheme = colon != std::string::npos &&
                          (slash == std::string::npos || colon < slash) &&
                          (dot == std::string::npos || colon < dot);
  if (has_scheme || dot == std::string::npos || dot == 0 ||
      (slash != std::string::npos && slash < dot)) {
    return std::nullopt;
  }
  return "https://" + v;
}

bool CheckSourceId(std::vector<api::FieldViolation>* bad, std::string_view field,
                   std::string_view id) {
  bool ok = !id.empty() && id.size() <= 40 && id.front() != '-' && id.back() != '-';
  for (char c : id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok) {
    bad->push_back({std::string(field),
                    absl::StrCat("[pattern] 1 à 40 lettres minuscules, chiffres ou tirets "
                                 "intérieurs (un identifiant de source comme siilab), reçu « ",
                                 text::Quote(id), " »")});
    return false;
  }
  if (id == "passerelle") {
    bad->push_back({std::string(field),
                    "[reserved] « passerelle » est réservé aux lieux créés un à un ; nommez votre "
                    "propre source"});
    return false;
  }
  return true;
}

}  // namespace passerelle::standard
