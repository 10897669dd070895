// Reading a needs file, row by row.
#include "services/indicators/coverage_needs.hpp"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/api/status.hpp"
#include "libs/csv/csv.hpp"
#include "libs/text/encoding.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::indicators::coverage {
namespace {

absl::Status FileError(const std::string& description) {
  return api::InvalidArgument(absl::StrCat("fichier de besoins illisible : ", description),
                              {{"csv", description}});
}

class Errors {
 public:
  explicit Errors(ParsedNeeds* out) : out_(out) {}
  void Add(int64_t row, const std::string& field, std::string_view value, const std::string& rule,
           std::string message) {
    ++out_->errors_total;
    if (out_->errors.size() < kMaxNeedsErrors) {
      out_->errors.push_back({row, field, text::Quote(value, 40), rule, std::move(message)});
    }
  }

 private:
  ParsedNeeds* out_;
};

// A number cell: '.' decimals, or ',' when the file is `;` separated (French spreadsheets).
std::optional<double> Number(std::string_view cell, bool decimal_comma) {
  if (auto v = text::ParseDecimal(cell, false)) return v;
  if (decimal_comma) return text::ParseDecimal(cell, true);
  return std::nullopt;
}

}  // namespace

absl::StatusOr<ParsedNeeds> ParseNeeds(std::string_view bytes, const std::set<std::string>& codes) {
  if (bytes.size() > kMaxNeedsBytes) {
    return FileError(absl::StrCat("[size] plus de ", kMaxNeedsBytes >> 20, " Mio"));
  }
  auto decoded = text::DecodeFile(bytes);
  if (!decoded) return FileError(absl::StrCat("[encoding] ", text::kUtf16Refusal));
  const std::string_view utf8 = decoded->utf8();
  if (utf8.find_first_not_of(" \t\n\v\f\r") == std::string_view::npos) {
    return FileError("[header] fichier vide");
  }
  const char delimiter = csv::SniffDelimiter(utf8);
  auto table = csv::Parse(utf8, delimiter);
  if (!table.ok()) return FileError(std::string(table.status().message()));
  // The header: required and known columns only, each once.
  std::map<std::string, size_t> column;
  std::vector<std::string> unknown;
  const auto& components = NeedsComponents();
  for (size_t i = 0; i < table->header.size(); ++i) {
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(table->header[i]));
    const bool known = name == "code" || name == "population" || name == "score_global" ||
                       std::find(components.begin(), components.end(), name) != components.end();
    if (!known) {
      unknown.push_back(text::Quote(name, 40));
    } else if (!column.emplace(name, i).second) {
      return FileError(absl::StrCat("[unique] colonne « ", name, " » en double"));
    }
  }
  std::vector<std::string> missing;
  // `score_global` and the components are optional (docs/indicators.md): without a score an
  // area's need is its population alone.
  for (const char* required : {"code", "population"}) {
    if (!column.contains(required)) missing.push_back(required);
  }
  if (!missing.empty()) {
    return FileError(
        absl::StrCat("[required] colonnes obligatoires absentes : ", absl::StrJoin(missing, ", "),
                     " (en-tête attendu : code,population[,score_global])"));
  }
  if (!unknown.empty()) {
    return FileError(absl::StrCat("[unknown] colonnes inconnues : ", absl::StrJoin(unknown, ", ")));
  }
  if (table->rows.size() > kMaxNeedsRows) {
    return FileError(absl::StrCat("[size] plus de ", kMaxNeedsRows, " lignes"));
  }
  ParsedNeeds out;
  Errors errors(&out);
  const bool decimal_comma = delimiter == ';';
  std::set<std::string> seen;
  for (const auto& row : table->rows) {
    const int64_t line = row.line;
    if (row.cells.size() != table->header.size()) {
      errors.Add(line, "", "", "columns",
                 absl::StrCat(row.cells.size(), " cellules au lieu de ", table->header.size()));
      continue;
    }
    bool ok = true;
    // Text safety first: a bad cell is reported as such, not as a bad number.
    for (const auto& [name, at] : column) {
      const std::string& cell = row.cells[at];
      if (!text::IsValidUtf8(cell)) {
        errors.Add(line, name, cell, "utf8", "texte qui n'est pas de l'UTF-8 valide");
        ok = false;
      } else if (text::FirstControl(cell)) {
        errors.Add(line, name, cell, "control", "caractère de contrôle interdit");
        ok = false;
      }
    }
    if (!ok) continue;
    const std::string code(absl::StripAsciiWhitespace(row.cells[column["code"]]));
    if (code.empty()) {
      errors.Add(line, "code", code, "required", "code de zone obligatoire");
      ok = false;
    } else if (!codes.contains(code)) {
      errors.Add(line, "code", code, "exists", "aucune zone de cette couche n'a ce code");
      ok = false;
    } else if (!seen.insert(code).second) {
      errors.Add(line, "code", code, "unique", "zone déjà présente plus haut dans le fichier");
      ok = false;
    }
    NeedsRow needs;
    // Population: a whole number of inhabitants.
    const std::string& pop = row.cells[column["population"]];
    if (absl::StripAsciiWhitespace(pop).empty()) {
      errors.Add(line, "population", pop, "required", "population obligatoire");
      ok = false;
    } else if (auto v = Number(pop, decimal_comma); !v || !std::isfinite(*v)) {
      errors.Add(line, "population", pop, "number", "nombre attendu (chiffres, sans exposant)");
      ok = false;
    } else if (*v < 0 || *v > kMaxPopulation || *v != std::floor(*v)) {
      errors.Add(line, "population", pop, "range",
                 absl::StrCat("nombre entier d'habitants entre 0 et ", kMaxPopulation, " attendu"));
      ok = false;
    } else {
      needs.population = static_cast<int64_t>(*v);
    }
    // The index and its components: optional numbers within bounds.
    auto score = [&](const std::string& name) -> std::optional<double> {
      auto it = column.find(name);
      if (it == column.end()) return std::nullopt;
      const std::string& cell = row.cells[it->second];
      if (absl::StripAsciiWhitespace(cell).empty()) return std::nullopt;
      auto v = Number(cell, decimal_comma);
      if (!v || !std::isfinite(*v)) {
        errors.Add(line, name, cell, "number", "nombre attendu (chiffres, sans exposant)");
        ok = false;
        return std::nullopt;
      }
      if (*v < 0 || *v > kMaxScore) {
        errors.Add(line, name, cell, "range",
                   absl::StrCat("indice entre 0 et ", kMaxScore, " attendu"));
        ok = false;
        return std::nullopt;
      }
      return *v == 0 ? 0.0 : *v;  // no -0
    };
    needs.score = score("score_global");
    for (const auto& c : components) {
      if (auto v = score(c)) needs.components[c] = *v;
    }
    if (ok) out.rows.emplace(code, std::move(needs));
  }
  if (out.errors_total > static_cast<int64_t>(out.errors.size())) {
    out.errors.push_back({0, "", "", "more",
                          absl::StrCat(out.errors_total - static_cast<int64_t>(out.errors.size()),
                                       " autres erreurs non détaillées")});
  }
  return out;
}

}  // namespace passerelle::indicators::coverage
