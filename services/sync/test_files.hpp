// Source files of the national standard for the sync's tests (unit and itest): numbered rows
// that pass the standard, written as a regional server would serve them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/csv/csv.hpp"
#include "libs/standard/standard.hpp"

namespace passerelle::sync::testfiles {

/// A file of the national standard: `rows` as field -> value, in the schema's columns.
inline std::string File(const std::vector<std::map<std::string, std::string>>& rows) {
  std::vector<std::string> header;
  for (const auto& f : standard::Standard::V102().fields()) header.push_back(f.name);
  std::string out = csv::Line(header, ',', true);
  for (const auto& row : rows) {
    std::vector<std::string> cells;
    for (const auto& h : header) {
      auto it = row.find(h);
      cells.push_back(it == row.end() ? "" : it->second);
    }
    out += csv::Line(cells, ',', true);
  }
  return out;
}

/// Row `i`: id `reg-<i>`, a valid venue of Roubaix.
inline std::map<std::string, std::string> Row(int i) {
  return {{"id", absl::StrCat("reg-", i)},
          {"pivot", absl::StrCat(21590512800000LL + i)},
          {"nom", absl::StrCat("Espace numérique n°", i)},
          {"commune", "Roubaix"},
          {"code_postal", "59100"},
          {"adresse", absl::StrCat(i + 1, " rue de l'Alma")},
          {"latitude", absl::StrCat(50.69 + i * 0.001)},
          {"longitude", "3.17"},
          {"date_maj", "2026-11-02"},
          {"services", "Aide aux démarches administratives"}};
}

/// Rows 0 to n-1.
inline std::vector<std::map<std::string, std::string>> Rows(int n) {
  std::vector<std::map<std::string, std::string>> out;
  for (int i = 0; i < n; ++i) out.push_back(Row(i));
  return out;
}

}  // namespace passerelle::sync::testfiles
