// The Read step's checks and the standard's CSV reader (run_steps.hpp): pure, and apart from
// the Syncer so that the profile reader and its fuzz target build without the service's I/O.
#include "absl/strings/str_cat.h"
#include "libs/standard/exchange.hpp"
#include "libs/text/utf8.hpp"
#include "services/sync/run_steps.hpp"

namespace passerelle::sync {

// A source's file is the standard's CSV, or it is refused whole before any row is read: a web
// page (an error or login page served with 200), JSON, a binary file, an empty body.
absl::Status CheckNotBinary(std::string_view body) {
  struct Magic {
    std::string_view bytes, what;
  };
  static constexpr Magic kMagic[] = {{"\x89PNG", "une image PNG"},
                                     {"\xFF\xD8\xFF", "une image JPEG"},
                                     {"GIF8", "une image GIF"},
                                     {"%PDF-", "un document PDF"},
                                     {"PK\x03\x04", "une archive ZIP (tableur XLSX ?)"},
                                     {"\x1F\x8B", "une archive gzip"}};
  for (const auto& m : kMagic) {
    if (body.starts_with(m.bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("[format] c'est ", std::string(m.what), ", pas un fichier CSV"));
    }
  }
  if (const size_t nul = body.find('\0'); nul != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "[format] fichier binaire (octet nul à la position ", nul + 1, "), pas un fichier CSV"));
  }
  return absl::OkStatus();
}

absl::Status CheckCsvBody(std::string_view body) {
  if (body.empty()) return absl::InvalidArgumentError("[header] fichier vide (0 octet)");
  if (absl::Status s = CheckNotBinary(body); !s.ok()) return s;
  std::string_view start = body;
  if (start.starts_with("\xEF\xBB\xBF")) start.remove_prefix(3);
  while (!start.empty() && (start.front() == ' ' || start.front() == '\t' ||
                            start.front() == '\r' || start.front() == '\n')) {
    start.remove_prefix(1);
  }
  if (start.empty())
    return absl::InvalidArgumentError("[header] fichier sans contenu (blancs seulement)");
  if (start.front() == '<') {
    return absl::InvalidArgumentError(
        "[format] c'est une page HTML ou un document XML (page d'erreur ou de connexion ?), pas un "
        "fichier "
        "CSV");
  }
  if (start.front() == '{' || start.front() == '[') {
    return absl::InvalidArgumentError("[format] c'est un document JSON, pas un fichier CSV");
  }
  const std::string_view header = start.substr(0, start.find('\n'));
  if (auto bad = text::FirstInvalidUtf8(header)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "[utf8] en-tête illisible : pas en UTF-8 (octet ", *bad + 1,
        " de la première ligne, fichier en Latin-1 ou Windows-1252 ?) ; enregistrez-le en UTF-8"));
  }
  return absl::OkStatus();
}

absl::StatusOr<standard::ParsedFile> ReadFile(const standard::Standard& standard,
                                              std::string_view file, const std::string& source_id) {
  if (absl::Status s = CheckCsvBody(file); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("fichier refusé, rien n'a été modifié : ", s.message()));
  }
  auto parsed = standard::ParseNationalCsv(standard, file, source_id);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("fichier illisible, rien n'a été modifié : ", parsed.status().message()));
  }
  if (parsed->rows == 0) {
    return absl::InvalidArgumentError(
        "[required] le fichier n'a aucune ligne de lieu (en-tête seul) : rien n'a été modifié");
  }
  // A last row with too few columns and no line break after it: the transfer stopped mid-row.
  if (!file.ends_with('\n') && !parsed->rejected.empty() &&
      (parsed->valid.empty() || parsed->rejected.back().line > parsed->valid.back().line)) {
    for (const auto& v : parsed->rejected.back().violations) {
      if (v.rule == "columns") {
        return absl::InvalidArgumentError(
            absl::StrCat("fichier tronqué à la ligne ", parsed->rejected.back().line,
                         " (colonnes manquantes, pas de fin de ligne) : rien n'a été modifié"));
      }
    }
  }
  return parsed;
}

}  // namespace passerelle::sync
