// Small-count protection on crafted tables: small cells hidden, the sum-of-others attack
// defeated, margins protected, and on random additive tables no hidden count is determined by
// the published ones (checked by linear algebra, not by the algorithm's own rule).
#include "services/indicators/suppression.hpp"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace passerelle::indicators {
namespace {

// An additive table from its cells: margins are the sums.
CountTable Additive(const std::vector<std::vector<int64_t>>& rows) {
  CountTable t = CountTable::Zero(static_cast<int>(rows.size()),
                                  rows.empty() ? 0 : static_cast<int>(rows[0].size()));
  for (int r = 0; r < t.rows; ++r) {
    for (int c = 0; c < t.cols; ++c) {
      t.at(r, c) = rows[r][c];
      t.row_totals[r] += rows[r][c];
      t.col_totals[c] += rows[r][c];
      t.grand_total += rows[r][c];
    }
  }
  return t;
}

int Rank(std::vector<std::vector<double>> m) {
  int rank = 0;
  const int cols = m.empty() ? 0 : static_cast<int>(m[0].size());
  for (int c = 0; c < cols && rank < static_cast<int>(m.size()); ++c) {
    int pivot = -1;
    for (int r = rank; r < static_cast<int>(m.size()); ++r) {
      if (std::abs(m[r][c]) > 1e-9) {
        pivot = r;
        break;
      }
    }
    if (pivot < 0) continue;
    std::swap(m[rank], m[pivot]);
    for (int r = 0; r < static_cast<int>(m.size()); ++r) {
      if (r == rank || std::abs(m[r][c]) < 1e-12) continue;
      const double f = m[r][c] / m[rank][c];
      for (int j = 0; j < cols; ++j) m[r][j] -= f * m[rank][j];
    }
    ++rank;
  }
  return rank;
}

// The hidden values (cells and margins) an attacker can compute exactly from the published ones
// through the table's additive relations: those whose unit vector lies in the row space of the
// relations restricted to the hidden values.
int DerivableHidden(const CountTable& t, const Protection& p) {
  // Unknowns: hidden positions of the (rows+1) × (cols+1) grid.
  const int R = t.rows + 1, C = t.cols + 1;
  auto hidden = [&](int r, int c) {
    if (r < t.rows && c < t.cols) return p.at(r, c) != CellState::kPublished;
    if (r < t.rows) return p.row_totals[r] != CellState::kPublished;
    if (c < t.cols) return p.col_totals[c] != CellState::kPublished;
    return p.grand_total != CellState::kPublished;
  };
  std::vector<int> unknown(R * C, -1);
  int n = 0;
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      if (hidden(r, c)) unknown[r * C + c] = n++;
    }
  }
  if (n == 0) return 0;
  std::vector<std::vector<double>> relations;
  // Each grid row: its cells add up to its last; each grid column likewise.
  for (int r = 0; r < R; ++r) {
    std::vector<double> eq(n, 0);
    for (int c = 0; c < C; ++c) {
      if (unknown[r * C + c] >= 0) eq[unknown[r * C + c]] += c < C - 1 ? 1 : -1;
    }
    relations.push_back(eq);
  }
  for (int c = 0; c < C; ++c) {
    std::vector<double> eq(n, 0);
    for (int r = 0; r < R; ++r) {
      if (unknown[r * C + c] >= 0) eq[unknown[r * C + c]] += r < R - 1 ? 1 : -1;
    }
    relations.push_back(eq);
  }
  const int base = Rank(relations);
  int derivable = 0;
  for (int i = 0; i < n; ++i) {
    auto with = relations;
    std::vector<double> unit(n, 0);
    unit[i] = 1;
    with.push_back(unit);
    derivable += Rank(with) == base;
  }
  return derivable;
}

TEST(SuppressionTest, LargeCountsAndZerosArePublished) {
  CountTable t = Additive({{10, 0, 7}, {5, 12, 9}});
  Protection p = Protect(t, 5);
  EXPECT_EQ(p.suppressed(), 0);
  EXPECT_EQ(Display(0, p.at(0, 1), 5), "0");
  EXPECT_EQ(Display(12, p.at(1, 1), 5), "12");
}

TEST(SuppressionTest, SmallCellIsShownAsLessThanK) {
  CountTable t = Additive({{10, 3, 7}, {5, 12, 9}});
  Protection p = Protect(t, 5);
  EXPECT_EQ(p.at(0, 1), CellState::kSmall);
  EXPECT_EQ(Display(3, p.at(0, 1), 5), "< 5");
  EXPECT_EQ(Display(3, CellState::kSmall, 11), "< 11");
}

// The sum-of-others attack: the row total and every other cell of the row published would give
// the small cell by subtraction. A second cell of the row (and of the column) must be hidden.
TEST(SuppressionTest, SumOfOthersAttackIsDefeated) {
  CountTable t = Additive({{20, 2, 30, 25}, {40, 35, 50, 45}, {15, 22, 18, 60}});
  Protection p = Protect(t, 5);
  ASSERT_EQ(p.at(0, 1), CellState::kSmall);
  int hidden_in_row = 0, hidden_in_col = 0;
  for (int c = 0; c < t.cols; ++c) hidden_in_row += p.at(0, c) != CellState::kPublished;
  hidden_in_row += p.row_totals[0] != CellState::kPublished;
  for (int r = 0; r < t.rows; ++r) hidden_in_col += p.at(r, 1) != CellState::kPublished;
  hidden_in_col += p.col_totals[1] != CellState::kPublished;
  EXPECT_GE(hidden_in_row, 2);
  EXPECT_GE(hidden_in_col, 2);
  // The complement chosen in row 0 is its smallest other value, 20.
  EXPECT_EQ(p.at(0, 0), CellState::kComplement);
  // Row total − published cells no longer gives the small count: nothing hidden is derivable.
  EXPECT_EQ(DerivableHidden(t, p), 0);
}

// A small margin is protected too, and the cells that would give it (the row's cells add up to
// it) are hidden as complements of one another.
TEST(SuppressionTest, SmallMarginIsProtected) {
  CountTable t = Additive({{2, 1, 0, 0}, {40, 35, 50, 45}, {15, 22, 18, 60}});
  Protection p = Protect(t, 5);
  EXPECT_EQ(p.row_totals[0], CellState::kSmall);
  EXPECT_EQ(p.at(0, 0), CellState::kSmall);
  EXPECT_EQ(p.at(0, 1), CellState::kSmall);
  EXPECT_EQ(DerivableHidden(t, p), 0);
}

// One small cell in a one-row table: the row holds only it and its total, so the total goes too,
// then the column totals repeat the row and need complements of their own.
TEST(SuppressionTest, SingleRowTable) {
  CountTable t = Additive({{8, 3}});
  Protection p = Protect(t, 5);
  EXPECT_EQ(p.at(0, 1), CellState::kSmall);
  EXPECT_EQ(DerivableHidden(t, p), 0);
  EXPECT_GE(p.suppressed(), 2);
}

TEST(SuppressionTest, ThresholdIsConfigurable) {
  CountTable t = Additive({{10, 6, 7}, {15, 12, 9}});
  EXPECT_EQ(Protect(t, 5).suppressed(), 0);
  Protection p = Protect(t, 11);
  EXPECT_EQ(p.at(0, 1), CellState::kSmall);
  EXPECT_EQ(p.at(0, 0), CellState::kSmall);  // 10 < 11
  EXPECT_EQ(DerivableHidden(t, p), 0);
  EXPECT_EQ(Protect(t, 1).suppressed(), 0);  // k = 1: everything published
}

// Margins that are not the sum of the cells (a report counted in several areas) are protected
// the same way: each line with a hidden value has at least two.
TEST(SuppressionTest, NonAdditiveMarginsKeepPairs) {
  CountTable t = Additive({{10, 3}, {12, 20}});
  t.col_totals = {18, 21};  // overlapping rows: less than the sums
  t.grand_total = 39;
  Protection p = Protect(t, 5);
  for (int r = 0; r < t.rows; ++r) {
    int hidden = p.row_totals[r] != CellState::kPublished;
    for (int c = 0; c < t.cols; ++c) hidden += p.at(r, c) != CellState::kPublished;
    EXPECT_NE(hidden, 1) << "row " << r;
  }
}

// Random additive tables with many small counts: whatever the algorithm hid, no hidden value is
// determined by the published values and margins.
TEST(SuppressionTest, RandomTablesLeaveNothingDerivable) {
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> shape(1, 8), small(0, 3), value(0, 40);
  for (int round = 0; round < 1000; ++round) {
    const int rows = shape(rng), cols = shape(rng);
    std::vector<std::vector<int64_t>> cells(rows, std::vector<int64_t>(cols));
    for (auto& row : cells) {
      for (auto& v : row) v = small(rng) == 0 ? small(rng) + 1 : value(rng);
    }
    CountTable t = Additive(cells);
    Protection p = Protect(t, 5);
    ASSERT_EQ(DerivableHidden(t, p), 0) << "round " << round;
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) {
        if (t.at(r, c) >= 1 && t.at(r, c) < 5) {
          ASSERT_EQ(p.at(r, c), CellState::kSmall);
        }
      }
    }
  }
}

}  // namespace
}  // namespace passerelle::indicators
