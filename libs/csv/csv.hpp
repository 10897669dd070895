// CSV reading and writing (RFC 4180): quoted fields, doubled quotes, CRLF or LF, UTF-8 BOM.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace passerelle::csv {

/// A parsed file: the header and the rows, each row with the line where it starts (1-based,
/// header = line 1), so errors can name it.
struct Table {
  std::vector<std::string> header;
  struct Row {
    int line;
    std::vector<std::string> cells;
  };
  std::vector<Row> rows;
};

/// Most cells in one row; a row with more fails the whole parse (naming its line).
inline constexpr size_t kMaxColumns = 1000;

/// Parses `text` with `delimiter` (',' or ';'). A row whose cell count differs from the header's
/// is kept with its cells as read (the caller reports it); an unterminated quote or a row of
/// more than kMaxColumns cells is an error naming its line. A truncated last line is parsed as
/// far as it goes.
absl::StatusOr<Table> Parse(std::string_view text, char delimiter = ',');

/// Guesses ',' or ';' from the header line.
char SniffDelimiter(std::string_view text);

/// One field, quoted when needed (or always, when `always_quote`).
std::string Quote(std::string_view value, char delimiter = ',', bool always_quote = false);
/// One line: fields joined by `delimiter`, ending in CRLF.
std::string Line(const std::vector<std::string>& fields, char delimiter = ',',
                 bool always_quote = false);

/// Spreadsheet formula injection (OWASP "CSV Injection"): a cell that a spreadsheet would run as
/// a formula, i.e. starting with '=', '@', tab or CR, or with '+' or '-' when the rest is not a
/// plain number, gets a leading apostrophe. Telephone numbers (+33…) and negative coordinates
/// stay as they are. `Unneutralise` undoes it on import, so a file we export reads back
/// unchanged.
std::string NeutraliseFormula(std::string_view cell);
std::string UnneutraliseFormula(std::string_view cell);

}  // namespace passerelle::csv
