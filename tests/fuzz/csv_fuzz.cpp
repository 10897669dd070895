// Fuzz target: libs/csv reading (SniffDelimiter, Parse), its writing round trip, and the
// spreadsheet-formula guard's round trip on every cell read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "libs/csv/csv.hpp"
#include "tests/fuzz/check.hpp"

using passerelle::csv::Line;
using passerelle::csv::NeutraliseFormula;
using passerelle::csv::Parse;
using passerelle::csv::SniffDelimiter;
using passerelle::csv::UnneutraliseFormula;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const char delimiter = SniffDelimiter(text);
  FUZZ_CHECK(delimiter == ',' || delimiter == ';', "SniffDelimiter answers ',' or ';'");
  for (char d : {delimiter, delimiter == ',' ? ';' : ','}) {
    auto table = Parse(text, d);
    if (!table.ok()) {
      passerelle::fuzz::CheckMessage(table.status().message(), "the error");
      continue;
    }
    int previous = 1;
    for (const auto& row : table->rows) {
      FUZZ_CHECK(row.line > previous, "rows start on increasing lines after the header");
      previous = row.line;
    }
    // What we write, we read back: header and rows, every cell as it was.
    std::string written = Line(table->header, d, /*always_quote=*/true);
    for (const auto& row : table->rows) written += Line(row.cells, d, true);
    auto again = Parse(written, d);
    FUZZ_CHECK(again.ok(), "a written table parses");
    FUZZ_CHECK(again->header == table->header, "the header reads back unchanged");
    FUZZ_CHECK(again->rows.size() == table->rows.size(), "every row reads back");
    for (size_t i = 0; i < table->rows.size(); ++i) {
      FUZZ_CHECK(again->rows[i].cells == table->rows[i].cells, "every cell reads back unchanged");
    }
    for (const auto& row : table->rows) {
      for (const auto& cell : row.cells) {
        FUZZ_CHECK(UnneutraliseFormula(NeutraliseFormula(cell)) == cell,
                   "a neutralised cell reads back unchanged");
      }
    }
  }
  return 0;
}
