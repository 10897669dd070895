#include "services/indicators/suppression.hpp"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace passerelle::indicators {

CountTable CountTable::Zero(int rows, int cols) {
  CountTable t;
  t.rows = rows;
  t.cols = cols;
  t.cells.assign(static_cast<size_t>(rows) * cols, 0);
  t.row_totals.assign(rows, 0);
  t.col_totals.assign(cols, 0);
  return t;
}

int Protection::suppressed() const {
  int n = 0;
  auto count = [&n](CellState s) { n += s != CellState::kPublished; };
  for (CellState s : cells) count(s);
  for (CellState s : row_totals) count(s);
  for (CellState s : col_totals) count(s);
  count(grand_total);
  return n;
}

namespace {

// The table and its margins as one (rows+1) × (cols+1) grid, so that margins take part in every
// line as any other cell.
struct Grid {
  int rows, cols;  // of the grid, margins included
  std::vector<int64_t> value;
  std::vector<CellState> state;
  size_t index(int r, int c) const { return static_cast<size_t>(r) * cols + c; }
};

Grid ToGrid(const CountTable& t) {
  Grid g{t.rows + 1, t.cols + 1, {}, {}};
  g.value.assign(static_cast<size_t>(g.rows) * g.cols, 0);
  g.state.assign(g.value.size(), CellState::kPublished);
  for (int r = 0; r < t.rows; ++r) {
    for (int c = 0; c < t.cols; ++c) g.value[g.index(r, c)] = t.at(r, c);
    g.value[g.index(r, t.cols)] = t.row_totals[r];
  }
  for (int c = 0; c < t.cols; ++c) g.value[g.index(t.rows, c)] = t.col_totals[c];
  g.value[g.index(t.rows, t.cols)] = t.grand_total;
  return g;
}

// Hides a second value on a line holding exactly one hidden value; true when it did.
bool CompleteLine(Grid& g, const std::vector<size_t>& line) {
  int hidden = 0;
  for (size_t i : line) hidden += g.state[i] != CellState::kPublished;
  if (hidden != 1) return false;
  size_t best = line.front();
  bool found = false;
  auto rank = [&](size_t i) {
    // Non-zero values first (a hidden zero protects as well, but a known structural zero less),
    // then the smallest.
    const int64_t v = g.value[i];
    return std::pair<int, int64_t>(v == 0 ? 1 : 0, v);
  };
  for (size_t i : line) {
    if (g.state[i] != CellState::kPublished) continue;
    if (!found || rank(i) < rank(best)) {
      best = i;
      found = true;
    }
  }
  if (!found) return false;  // a line of one cell: nothing to pair with
  g.state[best] = CellState::kComplement;
  return true;
}

// The hidden values as a graph: one node per grid row and per grid column, one edge per hidden
// value joining its row and its column. A hidden value can be computed from the published ones
// exactly when its edge lies on no cycle (a bridge): along a cycle, adding to one value and
// taking away from the next keeps every line's relation, so no value of a cycle is determined.
struct HiddenGraph {
  const Grid& g;
  int nodes() const { return g.rows + g.cols; }

  // The nodes reached from `from` over hidden values, `skip` left out.
  std::vector<bool> Reach(int from, size_t skip) const {
    std::vector<bool> seen(nodes(), false);
    std::vector<int> todo{from};
    seen[from] = true;
    while (!todo.empty()) {
      const int n = todo.back();
      todo.pop_back();
      auto visit = [&](size_t i, int other) {
        if (i == skip || g.state[i] == CellState::kPublished || seen[other]) return;
        seen[other] = true;
        todo.push_back(other);
      };
      if (n < g.rows) {
        for (int c = 0; c < g.cols; ++c) visit(g.index(n, c), g.rows + c);
      } else {
        for (int r = 0; r < g.rows; ++r) visit(g.index(r, n - g.rows), r);
      }
    }
    return seen;
  }
};

// Hides one more value so that a hidden value that could be computed no longer can: the
// smallest published value joining the two sides its edge separates. True when it did.
bool BreakOneBridge(Grid& g) {
  HiddenGraph graph{g};
  for (int r = 0; r < g.rows; ++r) {
    for (int c = 0; c < g.cols; ++c) {
      const size_t edge = g.index(r, c);
      if (g.state[edge] == CellState::kPublished) continue;
      const std::vector<bool> side = graph.Reach(r, edge);
      if (side[g.rows + c]) continue;  // on a cycle: safe
      // Any published value between a row on one side and a column on the other closes a cycle
      // through `edge`.
      bool found = false;
      size_t best = 0;
      for (int r2 = 0; r2 < g.rows; ++r2) {
        for (int c2 = 0; c2 < g.cols; ++c2) {
          const size_t i = g.index(r2, c2);
          if (g.state[i] != CellState::kPublished || side[r2] == side[g.rows + c2]) continue;
          auto rank = [&](size_t j) {
            return std::pair<int, int64_t>(g.value[j] == 0, g.value[j]);
          };
          if (!found || rank(i) < rank(best)) {
            best = i;
            found = true;
          }
        }
      }
      if (!found) continue;
      g.state[best] = CellState::kComplement;
      return true;
    }
  }
  return false;
}

}  // namespace

Protection Protect(const CountTable& table, int k) {
  Grid g = ToGrid(table);
  for (size_t i = 0; i < g.value.size(); ++i) {
    if (g.value[i] >= 1 && g.value[i] < k) g.state[i] = CellState::kSmall;
  }
  std::vector<std::vector<size_t>> lines;
  for (int r = 0; r < g.rows; ++r) {
    std::vector<size_t> line;
    for (int c = 0; c < g.cols; ++c) line.push_back(g.index(r, c));
    lines.push_back(std::move(line));
  }
  for (int c = 0; c < g.cols; ++c) {
    std::vector<size_t> line;
    for (int r = 0; r < g.rows; ++r) line.push_back(g.index(r, c));
    lines.push_back(std::move(line));
  }
  // Each pass hides at least one more value or ends: at most rows × cols passes.
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& line : lines) changed |= CompleteLine(g, line);
    // Two hidden values per line are not always enough: a value joining two otherwise separate
    // groups of hidden values is their difference. Such a value gets a cycle of its own.
    if (!changed) changed = BreakOneBridge(g);
  }
  Protection p;
  p.rows = table.rows;
  p.cols = table.cols;
  for (int r = 0; r < table.rows; ++r) {
    for (int c = 0; c < table.cols; ++c) p.cells.push_back(g.state[g.index(r, c)]);
    p.row_totals.push_back(g.state[g.index(r, table.cols)]);
  }
  for (int c = 0; c < table.cols; ++c) p.col_totals.push_back(g.state[g.index(table.rows, c)]);
  p.grand_total = g.state[g.index(table.rows, table.cols)];
  return p;
}

std::string Display(int64_t value, CellState state, int k) {
  switch (state) {
    case CellState::kPublished:
      return absl::StrCat(value);
    case CellState::kSmall:
      return absl::StrCat("< ", k);
    case CellState::kComplement:
      return "s";
  }
  return "s";
}

}  // namespace passerelle::indicators
