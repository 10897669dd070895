// Small-count protection on crafted tables: small cells hidden, the sum-of-others attack
// defeated, margins protected, the bounds attack defeated; on random tables no hidden count is
// determined by the published ones, checked by linear algebra and by linear programming over
// what a reader sees (not by the algorithm's own rules).
#include "services/indicators/suppression.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "services/indicators/linear_program.hpp"
#include "services/indicators/perturbation.hpp"

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

// What a reader derives from linked tables' published view: for every count between 1 and k−1
// (and every count shown « < k »), whether the published figures, the displays (« < k »: 1 to
// k−1; « s »: 0 or at least k), the sums and the relations pin it to one value. Built from the
// displays alone. With noise (lt.noise, lt.noise_bound), a published count p > 0 is known to lie
// in [p − bound, p + bound], « < k » in [1, k − 1 + bound], « s » at least k − bound.
std::vector<std::string> PinnedSmallCounts(const LinkedTables& lt, const std::vector<Protection>& p,
                                           int k) {
  const int bound = lt.noise.empty() ? 0 : lt.noise_bound;
  const int R = lt.tables[0].rows + 1, C = lt.tables[0].cols + 1;
  auto value = [&](size_t t, int r, int c) {
    const CountTable& x = lt.tables[t];
    if (r < x.rows && c < x.cols) return x.at(r, c);
    if (r < x.rows) return x.row_totals[r];
    if (c < x.cols) return x.col_totals[c];
    return x.grand_total;
  };
  auto state = [&](size_t t, int r, int c) {
    if (!lt.published_columns.empty() && !lt.published_columns[t][c]) return -1;  // unknown
    const Protection& x = p[t];
    CellState s = r < x.rows && c < x.cols ? x.at(r, c)
                  : r < x.rows             ? x.row_totals[r]
                  : c < x.cols             ? x.col_totals[c]
                                           : x.grand_total;
    return static_cast<int>(s);
  };
  LinearProgram base;
  std::vector<std::vector<int>> var(lt.tables.size(), std::vector<int>(R * C, -1));
  for (size_t t = 0; t < lt.tables.size(); ++t) {
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) {
        const int s = state(t, r, c);
        const int64_t v = value(t, r, c);
        if (s == -1) {
          var[t][r * C + c] = base.AddVariable(0, LinearProgram::kInfinity);
        } else if (s == static_cast<int>(CellState::kSmall)) {
          var[t][r * C + c] = base.AddVariable(1, k - 1 + bound);
        } else if (s == static_cast<int>(CellState::kComplement) && v != 0) {
          var[t][r * C + c] = base.AddVariable(std::max(1, k - bound), LinearProgram::kInfinity);
        } else if (bound > 0 && v != 0) {
          const double shown = static_cast<double>(v + lt.noise[t][r * C + c]);
          var[t][r * C + c] = base.AddVariable(std::max(1.0, shown - bound), shown + bound);
        }
      }
    }
  }
  auto term = [&](LinearProgram::Constraint& c, size_t t, int r, int col, double coef) {
    const int v = var[t][r * C + col];
    if (v >= 0) {
      c.terms.emplace_back(v, coef);
    } else {
      c.rhs -= coef * static_cast<double>(value(t, r, col));
    }
  };
  for (size_t t = 0; t < lt.tables.size(); ++t) {
    for (int r = 0; r < R; ++r) {
      LinearProgram::Constraint c;
      for (int col = 0; col < C; ++col) term(c, t, r, col, col < C - 1 ? 1 : -1);
      if (!c.terms.empty()) base.AddConstraint(c);
    }
    for (int col = 0; col < C; ++col) {
      LinearProgram::Constraint c;
      for (int r = 0; r < R; ++r) term(c, t, r, col, r < R - 1 ? 1 : -1);
      if (!c.terms.empty()) base.AddConstraint(c);
    }
  }
  for (const auto& rel : lt.relations) {
    for (int r = 0; r < R; ++r) {
      for (int col = 0; col < C; ++col) {
        LinearProgram::Constraint c;
        c.equality = false;
        for (int part : rel.parts) term(c, part, r, col, 1);
        term(c, rel.whole, r, col, -1);
        if (!c.terms.empty()) base.AddConstraint(c);
      }
    }
  }
  std::vector<std::string> pinned;
  for (size_t t = 0; t < lt.tables.size(); ++t) {
    for (int r = 0; r < R; ++r) {
      for (int col = 0; col < C; ++col) {
        const int64_t v = value(t, r, col);
        if ((v < 1 || v >= k) && state(t, r, col) != static_cast<int>(CellState::kSmall)) continue;
        const int x = var[t][r * C + col];
        bool is_pinned = x < 0;  // published
        if (!is_pinned) {
          const auto hi = Optimum(base, x, true), lo = Optimum(base, x, false);
          is_pinned = !hi || !lo || std::floor(*hi + 1e-6) - std::ceil(*lo - 1e-6) < 1;
        }
        if (is_pinned) {
          pinned.push_back("table " + std::to_string(t) + " (" + std::to_string(r) + "," +
                           std::to_string(col) + ")=" + std::to_string(v));
        }
      }
    }
  }
  return pinned;
}

TEST(LinearProgramTest, BoundsEqualitiesAndInequalities) {
  LinearProgram lp;
  const int x = lp.AddVariable(0, 3), y = lp.AddVariable(1, LinearProgram::kInfinity);
  lp.AddConstraint({{{x, 1}, {y, 1}}, true, 5});
  EXPECT_DOUBLE_EQ(*Optimum(lp, x, true), 3);
  EXPECT_DOUBLE_EQ(*Optimum(lp, x, false), 0);
  EXPECT_DOUBLE_EQ(*Optimum(lp, y, false), 2);
  lp.AddConstraint({{{x, -1}, {y, 2}}, false, 4});  // 2y − x ≤ 4 → y ≤ 3, x ≥ 2
  EXPECT_DOUBLE_EQ(*Optimum(lp, x, false), 2);
  EXPECT_DOUBLE_EQ(*Optimum(lp, y, true), 3);
  LinearProgram none;
  const int a = none.AddVariable(0, 3), b = none.AddVariable(0, 3);
  none.AddConstraint({{{a, 1}, {b, 1}}, true, 10});
  EXPECT_FALSE(Optimum(none, a, true).has_value());
  LinearProgram open;
  const int u = open.AddVariable(2, LinearProgram::kInfinity);
  EXPECT_EQ(*Optimum(open, u, true), LinearProgram::kInfinity);
  EXPECT_DOUBLE_EQ(*Optimum(open, u, false), 2);
}

// Reached, completed and dropped out by month (rows) and sex (women, men, other, not given), as
// a breakdown publishes them: completed and dropped only for women and men.
LinkedTables Outcomes(const std::vector<std::vector<int64_t>>& reached,
                      const std::vector<std::vector<int64_t>>& completed,
                      const std::vector<std::vector<int64_t>>& dropped) {
  LinkedTables lt;
  lt.tables = {Additive(reached), Additive(completed), Additive(dropped)};
  lt.relations = {{{1, 2}, 0}};
  lt.published_columns = {{true, true, true, true, true},
                          {true, true, false, false, false},
                          {true, true, false, false, false}};
  return lt;
}

// The review's attack: men dropped out and men reached are published month by month, so each
// month's men completing is at most reached − dropped; when those caps add up to the published
// total of men completing, every hidden month sits at its cap. The interval audit sees it.
TEST(SuppressionTest, BoundsAttackIsDefeated) {
  const LinkedTables lt = Outcomes({{20, 10, 0, 0}, {15, 12, 0, 0}, {30, 9, 0, 0}},
                                   {{10, 2, 0, 0}, {10, 5, 0, 0}, {20, 3, 0, 0}},
                                   {{10, 8, 0, 0}, {5, 7, 0, 0}, {10, 6, 0, 0}});
  // Line rules alone: months 1 and 3 of men completing hide each other, and the caps pin them.
  LinkedTables unlinked = lt;
  unlinked.relations.clear();
  const auto naive = Protect(unlinked, 5);
  EXPECT_FALSE(PinnedSmallCounts(lt, naive, 5).empty());
  const auto p = Protect(lt, 5);
  EXPECT_EQ(p[1].at(0, 1), CellState::kSmall);
  EXPECT_EQ(p[1].at(2, 1), CellState::kSmall);
  EXPECT_EQ(PinnedSmallCounts(lt, p, 5), std::vector<std::string>{});
}

// A known zero does not protect: « s » on a zero tells it is 0. Here the only other value of the
// small cell's row is 0, so the complement must come from elsewhere.
TEST(SuppressionTest, HiddenZeroIsNotAComplement) {
  CountTable t = Additive({{3, 0}, {10, 12}, {9, 7}});
  Protection p = Protect(t, 5);
  EXPECT_EQ(p.at(0, 1), CellState::kPublished);
  LinkedTables lt;
  lt.tables = {t};
  EXPECT_EQ(PinnedSmallCounts(lt, {p}, 5), std::vector<std::string>{});
}

// A total row fixed by another answer is kept as given, and the rest protected around it.
TEST(SuppressionTest, FixedTotalRowIsKept) {
  LinkedTables lt;
  lt.tables = {Additive({{10, 2, 1}, {12, 9, 2}})};
  const Protection alone = Protect(Additive({{22, 11, 3}}), 5);
  std::vector<CellState> total(alone.cells.begin(), alone.cells.end());
  total.push_back(alone.row_totals[0]);
  lt.fixed_total_row = {total};
  const auto p = Protect(lt, 5);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(p[0].col_totals[c], total[c]) << c;
  EXPECT_EQ(p[0].grand_total, total[3]);
  EXPECT_EQ(PinnedSmallCounts(lt, p, 5), std::vector<std::string>{});
}

// Outcome tables of 1 to 5 rows from random reports (completed + dropped ≤ reached for each),
// small counts frequent.
LinkedTables RandomOutcomes(std::mt19937& rng) {
  std::uniform_int_distribution<int> shape(1, 5), coin(0, 3), big(0, 30);
  const int rows = shape(rng);
  std::vector<std::vector<int64_t>> reached(rows, std::vector<int64_t>(4)), completed = reached,
                                                                            dropped = reached;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < 4; ++c) {
      const int64_t n = coin(rng) == 0 ? coin(rng) + 1 : big(rng);
      std::uniform_int_distribution<int64_t> part(0, n);
      reached[r][c] = n;
      completed[r][c] = coin(rng) == 0 ? n : part(rng);
      std::uniform_int_distribution<int64_t> rest(0, n - completed[r][c]);
      dropped[r][c] = coin(rng) == 0 ? n - completed[r][c] : rest(rng);
    }
  }
  return Outcomes(reached, completed, dropped);
}

// Random outcome tables built from random reports (completed + dropped ≤ reached for each):
// whatever is hidden, no small count of any table can be pinned by a reader.
TEST(SuppressionTest, RandomLinkedTablesPinNoSmallCount) {
  std::mt19937 rng(29);
  for (int round = 0; round < 300; ++round) {
    const LinkedTables lt = RandomOutcomes(rng);
    const auto p = Protect(lt, 5);
    ASSERT_EQ(PinnedSmallCounts(lt, p, 5), std::vector<std::string>{}) << "round " << round;
  }
}

// The same with the noise every count is published with (perturbation.hpp): smallness is decided
// on count + noise, and a reader who knows that published counts are within ±3 of the truth and
// what « < 5 » and « s » then mean pins no small count, nor any count shown « < 5 ».
TEST(SuppressionTest, RandomNoisyTablesPinNoSmallCount) {
  std::mt19937 rng(31);
  std::mt19937_64 keys(37);
  for (int round = 0; round < 300; ++round) {
    LinkedTables lt = RandomOutcomes(rng);
    const int rows = lt.tables[0].rows;
    for (size_t t = 0; t < lt.tables.size(); ++t) {
      std::vector<int> noise;
      for (int i = 0; i < (rows + 1) * 5; ++i) noise.push_back(Noise(keys()));
      lt.noise.push_back(std::move(noise));
    }
    lt.noise_bound = kNoiseBound;
    const auto p = Protect(lt, 5);
    // Smallness follows the noise.
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < 4; ++c) {
        const int64_t v = lt.tables[0].at(r, c);
        const bool small = v >= 1 && v + lt.noise[0][r * 5 + c] < 5;
        ASSERT_EQ(p[0].at(r, c) == CellState::kSmall, small) << "round " << round;
      }
    }
    ASSERT_EQ(PinnedSmallCounts(lt, p, 5), std::vector<std::string>{}) << "round " << round;
  }
}

}  // namespace
}  // namespace passerelle::indicators
