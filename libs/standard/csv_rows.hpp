// Test support: a CSV file's rows by their `id` column, for the export tests of both tiers.
#pragma once

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "libs/csv/csv.hpp"

namespace passerelle::standard::testing_support {

/// Rows keyed by id, each a map column -> value (delimiter sniffed). A file that does not
/// parse fails the calling test and gives no row.
inline std::map<std::string, std::map<std::string, std::string>> RowsById(const std::string& text) {
  auto t = csv::Parse(text, csv::SniffDelimiter(text));
  EXPECT_TRUE(t.ok()) << t.status();
  std::map<std::string, std::map<std::string, std::string>> out;
  if (!t.ok()) return out;
  for (const auto& r : t->rows) {
    std::map<std::string, std::string> m;
    for (size_t i = 0; i < t->header.size() && i < r.cells.size(); ++i) {
      m[t->header[i]] = r.cells[i];
    }
    out[m["id"]] = m;
  }
  return out;
}

}  // namespace passerelle::standard::testing_support
