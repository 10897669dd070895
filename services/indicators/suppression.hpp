// Small-count protection of published tables (statistical disclosure control): a count between
// 1 and k−1 is never published, and complementary cells are hidden so that no hidden count can
// be derived by subtraction from the published cells and the margins.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace passerelle::indicators {

/// A table of counts with its margins: `cells` row by row (rows × cols), `row_totals` (one per
/// row), `col_totals` (one per column) and the grand total. Margins need not be the sums of the
/// cells (a report may count in several rows of a breakdown); they are protected the same way.
struct CountTable {
  int rows = 0;
  int cols = 0;
  std::vector<int64_t> cells;
  std::vector<int64_t> row_totals;
  std::vector<int64_t> col_totals;
  int64_t grand_total = 0;

  /// A zero table of the given shape.
  static CountTable Zero(int rows, int cols);
  int64_t& at(int r, int c) { return cells[static_cast<size_t>(r) * cols + c]; }
  int64_t at(int r, int c) const { return cells[static_cast<size_t>(r) * cols + c]; }
};

/// What may be shown of one cell.
enum class CellState {
  /// The count itself (0 or at least k).
  kPublished,
  /// A count between 1 and k−1: shown as « < k ».
  kSmall,
  /// Hidden so that a small one cannot be derived: shown as « s ».
  kComplement,
};

/// The protection of a CountTable, in the same layout.
struct Protection {
  int rows = 0;
  int cols = 0;
  std::vector<CellState> cells;
  std::vector<CellState> row_totals;
  std::vector<CellState> col_totals;
  CellState grand_total = CellState::kPublished;

  CellState at(int r, int c) const { return cells[static_cast<size_t>(r) * cols + c]; }
  /// Cells hidden in all, margins included.
  int suppressed() const;
};

/// Protects `table` with threshold `k` (≥ 1; k = 1 publishes everything):
/// 1. primary: every cell or margin between 1 and k−1 is kSmall;
/// 2. secondary: seen as a (rows+1) × (cols+1) grid whose last column holds the row totals and
///    last row the column totals, every line (row or column, margins included) holding exactly
///    one hidden value gets a second one, its smallest published value (non-zero values first,
///    then the lowest position), repeated until no line has exactly one;
/// 3. a hidden value that still follows from the others (it alone joins two groups of hidden
///    values, which the line rule lets through) gets a complement closing a cycle through it;
///    then 2 and 3 again to a fixed point. On an additive table, no hidden value is then
///    determined by the published values and margins (suppression_test checks it by linear
///    algebra on random tables).
Protection Protect(const CountTable& table, int k);

/// What to display for a count: the number, « < k » or « s ».
std::string Display(int64_t value, CellState state, int k);

}  // namespace passerelle::indicators
