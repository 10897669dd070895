// Small-count protection of published tables (statistical disclosure control): a count between
// 1 and k−1 is never published, and complementary cells are hidden so that no hidden count can
// be derived by subtraction from the published cells and the margins.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace passerelle::indicators {

/// A table of counts with its margins: `cells` row by row (rows × cols), `row_totals` (one per
/// row), `col_totals` (one per column) and the grand total.
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

/// Several counts of the same people over the same rows and columns (reached, satisfied,
/// completed...), protected together: what one publishes must not pin a small count of another
/// through the relations every report satisfies.
struct LinkedTables {
  /// Additive tables of one shape: margins are the sums of their cells.
  std::vector<CountTable> tables;
  /// Cell by cell, the sum of `tables[parts]` is at most `tables[whole]` (true of every report,
  /// so of every sum, and known to every reader).
  struct AtMost {
    std::vector<int> parts;
    int whole = 0;
  };
  std::vector<AtMost> relations;
  /// Per table (or none: all), whether each column is published, the row totals last (cols + 1
  /// flags). A column never published is unknown to a reader, whatever its protection, and is
  /// left out of the audit with every line and relation it is in. That is exact when any values
  /// of the published columns extend to the unpublished ones, as in a breakdown: the row totals
  /// and the columns other than women and men unpublished in the measures behind shares, whose
  /// relations' wholes publish at least the columns their parts do (zeros in the other columns,
  /// row totals the sums, satisfy every line and relation).
  std::vector<std::vector<bool>> published_columns;
  /// Per table (or none), the states of the total row (the column totals, the grand total
  /// last), fixed by another answer: every breakdown of a year shows the same total row.
  std::vector<std::vector<CellState>> fixed_total_row;
  /// Per table (or none), the noise each value is published with (perturbation.hpp), on the
  /// grid: row by row, each row's total last, then the column totals and the grand total. A
  /// count is small when it is at least 1 and its value plus its noise is under k, so that
  /// whether a cell shows « < k » tells no more than its published value would: a reader adding
  /// known counts to a cell learns where count + noise crosses k, not the count.
  std::vector<std::vector<int>> noise;
  /// The largest noise in absolute value: « < k » then says 1 to k−1+noise_bound, « s » on a
  /// count that is not small at least k−noise_bound.
  int noise_bound = 0;
};

/// Protects linked tables with threshold `k` (≥ 1; k = 1 publishes everything). A reader knows
/// every published count (exactly, for the audit, whatever its noise), that « < k » is between 1
/// and k−1, that « s » is 0 or at least k (both widened by the noise bound when there is noise),
/// that counts are non-negative, the tables' sums and `relations`. Then:
/// 1. primary: every small count (between 1 and k−1, or with its noise under k) is kSmall;
/// 2. lines: seen as a (rows+1) × (cols+1) grid whose last column holds the row totals and last
///    row the column totals, every line (row or column, margins included) holding exactly one
///    hidden value gets a second, its smallest published non-zero value (a hidden zero protects
///    nothing: « s » tells it is 0 or at least k);
/// 3. cycles: a hidden value that alone joins two groups of hidden values gets a complement
///    closing a cycle through it;
/// 4. interval audit: every count between 1 and k−1 must be able to take another value with
///    every published figure unchanged, every bound and relation kept. A quick search for a
///    cycle of ±1 changes within the bounds settles most; the others are settled by linear
///    programming (the smallest and largest value a reader can derive); a count a reader can
///    pin gets one more complement, the one that frees it when there is one. Then 2–4 again to a
///    fixed point.
/// suppression_test checks the result by linear algebra and by linear programming on crafted
/// and random tables.
std::vector<Protection> Protect(const LinkedTables& tables, int k);

/// One table alone.
Protection Protect(const CountTable& table, int k);

/// What to display for a count: the number, « < k » or « s ».
std::string Display(int64_t value, CellState state, int k);

}  // namespace passerelle::indicators
