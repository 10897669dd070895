// RFC 4180 CSV.
#include "libs/csv/csv.hpp"

#include "absl/strings/str_cat.h"

namespace passerelle::csv {

char SniffDelimiter(std::string_view text) {
  auto end = text.find('\n');
  std::string_view first = text.substr(0, end);
  size_t commas = 0, semis = 0;
  bool quoted = false;
  for (char c : first) {
    if (c == '"') quoted = !quoted;
    if (!quoted && c == ',') ++commas;
    if (!quoted && c == ';') ++semis;
  }
  return semis > commas ? ';' : ',';
}

absl::StatusOr<Table> Parse(std::string_view text, char delimiter) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  Table t;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false, cell_started = false, row_started = false;
  int line = 1, row_line = 1, quote_line = 0;
  auto end_cell = [&] {
    row.push_back(std::move(cell));
    cell.clear();
    cell_started = false;
  };
  auto end_row = [&] {
    end_cell();
    if (t.header.empty()) {
      t.header = std::move(row);
    } else if (!(row.size() == 1 && row[0].empty())) {  // skip blank lines
      t.rows.push_back({row_line, std::move(row)});
    }
    row.clear();
    row_started = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (!row_started) {
      row_started = true;
      row_line = line;
    }
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
      continue;
    }
    if (c == '"' && !cell_started) {
      quoted = true;
      cell_started = true;
      quote_line = line;
    } else if (c == delimiter) {
      end_cell();
      // A row of a million empty cells is an attack or a broken export, not data: stop before
      // it costs memory.
      if (row.size() >= kMaxColumns) {
        return absl::InvalidArgumentError(
            absl::StrCat("[size] ligne ", row_line, " : plus de ", kMaxColumns, " colonnes"));
      }
    } else if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') continue;
      end_row();
      ++line;
    } else if (c == '\n') {
      end_row();
      ++line;
    } else {
      cell += c;
      cell_started = true;
    }
  }
  if (quoted) {
    return absl::InvalidArgumentError(absl::StrCat("[format] ligne ", row_line,
                                                   " : un guillemet ouvert ligne ", quote_line,
                                                   " n'est jamais fermé (fichier tronqué ?)"));
  }
  if (row_started) end_row();
  if (t.header.empty())
    return absl::InvalidArgumentError("[header] fichier vide : aucune ligne d'en-tête");
  return t;
}

std::string Quote(std::string_view v, char delimiter, bool always_quote) {
  const bool needs = always_quote || v.find_first_of("\"\r\n") != std::string_view::npos ||
                     v.find(delimiter) != std::string_view::npos;
  if (!needs) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Line(const std::vector<std::string>& fields, char delimiter, bool always_quote) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += delimiter;
    out += Quote(fields[i], delimiter, always_quote);
  }
  return out + "\r\n";
}

namespace {

bool PlainNumber(std::string_view s) {
  if (s.empty()) return false;
  bool digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '.' && c != ',' && c != ' ') {
      return false;
    }
  }
  return digit;
}

bool Dangerous(std::string_view cell) {
  if (cell.empty()) return false;
  switch (cell.front()) {
    case '=':
    case '@':
    case '\t':
    case '\r':
      return true;
    case '+':
    case '-':
      return !PlainNumber(cell.substr(1));
    default:
      return false;
  }
}

}  // namespace

// Dangerous once any leading apostrophes are set aside: such a cell gets one apostrophe more on
// export and loses one on import, so every value reads back exactly.
bool Guarded(std::string_view cell) {
  while (!cell.empty() && cell.front() == '\'') cell.remove_prefix(1);
  return Dangerous(cell);
}

std::string NeutraliseFormula(std::string_view cell) {
  if (Guarded(cell)) return "'" + std::string(cell);
  return std::string(cell);
}

std::string UnneutraliseFormula(std::string_view cell) {
  if (!cell.empty() && cell.front() == '\'' && Guarded(cell)) return std::string(cell.substr(1));
  return std::string(cell);
}

}  // namespace passerelle::csv
