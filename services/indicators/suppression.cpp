#include "services/indicators/suppression.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/indicators/linear_program.hpp"

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

// A table and its margins as one (rows+1) × (cols+1) grid, so that margins take part in every
// line as any other cell. A line's relation: its cells add up to its last value.
struct Grid {
  int rows = 0, cols = 0;  // of the grid, margins included
  std::vector<int64_t> value;
  std::vector<CellState> state;
  std::vector<bool> fixed;        // state set by another answer
  std::vector<bool> unpublished;  // never shown: unknown to a reader

  size_t index(int r, int c) const { return static_cast<size_t>(r) * cols + c; }
  int row_of(size_t i) const { return static_cast<int>(i / cols); }
  int col_of(size_t i) const { return static_cast<int>(i % cols); }
  // The coefficient of a value in its row's and its column's relation.
  int row_coef(size_t i) const { return col_of(i) < cols - 1 ? 1 : -1; }
  int col_coef(size_t i) const { return row_of(i) < rows - 1 ? 1 : -1; }
  bool hidden(size_t i) const { return state[i] != CellState::kPublished || unpublished[i]; }
  // Hidden and not known: « s » on a zero tells it is 0 (anything else being at least k).
  bool unknown(size_t i) const {
    return hidden(i) && !(state[i] == CellState::kComplement && value[i] == 0 && !unpublished[i]);
  }
  // A published value that may still be hidden to protect another: not fixed, and not zero (a
  // hidden zero protects nothing: « s » says it is 0 or at least k).
  bool candidate(size_t i) const { return !hidden(i) && !fixed[i] && value[i] != 0; }
};

Grid ToGrid(const CountTable& t, const std::vector<bool>* published_columns,
            const std::vector<CellState>* fixed_total_row) {
  Grid g;
  g.rows = t.rows + 1;
  g.cols = t.cols + 1;
  const size_t n = static_cast<size_t>(g.rows) * g.cols;
  g.value.assign(n, 0);
  g.state.assign(n, CellState::kPublished);
  g.fixed.assign(n, false);
  g.unpublished.assign(n, false);
  for (int r = 0; r < t.rows; ++r) {
    for (int c = 0; c < t.cols; ++c) g.value[g.index(r, c)] = t.at(r, c);
    g.value[g.index(r, t.cols)] = t.row_totals[r];
  }
  for (int c = 0; c < t.cols; ++c) g.value[g.index(t.rows, c)] = t.col_totals[c];
  g.value[g.index(t.rows, t.cols)] = t.grand_total;
  if (published_columns != nullptr && !published_columns->empty()) {
    for (int r = 0; r < g.rows; ++r) {
      for (int c = 0; c < g.cols; ++c) {
        if (!(*published_columns)[c]) {
          g.unpublished[g.index(r, c)] = true;
          g.state[g.index(r, c)] = CellState::kComplement;
        }
      }
    }
  }
  if (fixed_total_row != nullptr && !fixed_total_row->empty()) {
    for (int c = 0; c < g.cols; ++c) {
      const size_t i = g.index(t.rows, c);
      g.fixed[i] = true;
      if (!g.unpublished[i]) g.state[i] = (*fixed_total_row)[c];
    }
  }
  return g;
}

// Hides a second value on a line holding exactly one hidden value; true when it did.
bool CompleteLine(Grid& g, const std::vector<size_t>& line) {
  int hidden = 0;
  for (size_t i : line) hidden += g.unknown(i);
  if (hidden != 1) return false;
  size_t best = 0;
  bool found = false;
  for (size_t i : line) {
    if (!g.candidate(i)) continue;
    if (!found || g.value[i] < g.value[best]) {
      best = i;
      found = true;
    }
  }
  if (!found) return false;  // nothing left to pair with: the audit decides
  g.state[best] = CellState::kComplement;
  return true;
}

// The hidden values as a graph: one node per grid row and per grid column, one edge per hidden
// value joining its row and its column. A hidden value is determined by the linear relations
// alone exactly when its edge lies on no cycle (a bridge).
struct HiddenGraph {
  const Grid& g;
  int nodes() const { return g.rows + g.cols; }
  bool edge(size_t i) const { return g.unknown(i); }

  // The nodes reached from `from` over hidden values, `skip` left out.
  std::vector<bool> Reach(int from, size_t skip) const {
    std::vector<bool> seen(nodes(), false);
    std::vector<int> todo{from};
    seen[from] = true;
    while (!todo.empty()) {
      const int n = todo.back();
      todo.pop_back();
      auto visit = [&](size_t i, int other) {
        if (i == skip || !edge(i) || seen[other]) return;
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
      if (!graph.edge(edge)) continue;
      const std::vector<bool> side = graph.Reach(r, edge);
      if (side[g.rows + c]) continue;  // on a cycle
      bool found = false;
      size_t best = 0;
      for (int r2 = 0; r2 < g.rows; ++r2) {
        for (int c2 = 0; c2 < g.cols; ++c2) {
          const size_t i = g.index(r2, c2);
          if (!g.candidate(i) || side[r2] == side[g.rows + c2]) continue;
          if (!found || g.value[i] < g.value[best]) {
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

bool LinearPass(Grid& g) {
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
  bool any = false;
  // Each pass hides at least one more value or ends.
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& line : lines) changed |= CompleteLine(g, line);
    if (!changed) changed = BreakOneBridge(g);
    any |= changed;
  }
  return any;
}

constexpr double kUnbounded = LinearProgram::kInfinity;

// The protection of linked tables under way.
class Auditor {
 public:
  Auditor(const LinkedTables& t, int k) : t_(t), k_(k) {
    for (size_t m = 0; m < t.tables.size(); ++m) {
      grids_.push_back(ToGrid(t.tables[m],
                              m < t.published_columns.size() ? &t.published_columns[m] : nullptr,
                              m < t.fixed_total_row.size() ? &t.fixed_total_row[m] : nullptr));
      Grid& g = grids_.back();
      for (size_t i = 0; i < g.value.size(); ++i) {
        if (g.value[i] >= 1 && g.value[i] < k && !g.fixed[i] && !g.unpublished[i]) {
          g.state[i] = CellState::kSmall;
        }
      }
    }
    safe_.resize(grids_.size());
    for (size_t m = 0; m < grids_.size(); ++m) safe_[m].assign(grids_[m].value.size(), false);
  }

  void Run() {
    for (;;) {
      for (Grid& g : grids_) LinearPass(g);
      if (!AuditOnce()) return;
    }
  }

  Protection Result(size_t m) const {
    const Grid& g = grids_[m];
    const CountTable& table = t_.tables[m];
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

 private:
  // What a reader knows of a value: published, or within [lower, upper].
  std::pair<double, double> Bounds(size_t m, size_t i) const {
    const Grid& g = grids_[m];
    const double v = static_cast<double>(g.value[i]);
    if (g.unpublished[i]) return {0, kUnbounded};
    switch (g.state[i]) {
      case CellState::kPublished:
        return {v, v};
      case CellState::kSmall:
        return {1, k_ - 1};
      case CellState::kComplement:
        if (g.value[i] == 0) return {0, 0};
        if (g.value[i] >= k_) return {static_cast<double>(k_), kUnbounded};
        return {1, k_ - 1};
    }
    return {v, v};
  }

  // Whether value i of table m can change by `delta` alone: its bounds, and every relation at
  // its position with the other tables' values unchanged.
  bool CanMove(size_t m, size_t i, int64_t delta) const {
    const auto [lo, hi] = Bounds(m, i);
    const double nv = static_cast<double>(grids_[m].value[i] + delta);
    if (nv < lo || nv > hi) return false;
    for (const auto& rel : t_.relations) {
      int64_t parts = 0;
      int mult = 0;
      for (int p : rel.parts) {
        parts += grids_[p].value[i];
        mult += static_cast<size_t>(p) == m ? 1 : 0;
      }
      const int64_t whole = grids_[rel.whole].value[i];
      const int64_t change = delta * (mult - (static_cast<size_t>(rel.whole) == m ? 1 : 0));
      if (change > 0 && parts + change > whole) return false;
    }
    return true;
  }

  // A cycle of ±1 changes in table m through value x keeping every line's relation, each change
  // within its bounds and relations: then x is not determined.
  bool QuickMove(size_t m, size_t x) const {
    const Grid& g = grids_[m];
    const int nodes = g.rows + g.cols;
    for (int sigma : {1, -1}) {
      if (!CanMove(m, x, sigma)) continue;
      // State: (node, t) where t = coef × change of the edge that reached the node.
      auto state = [](int node, int t) { return node * 2 + (t > 0 ? 1 : 0); };
      std::vector<int> from(static_cast<size_t>(nodes) * 2, -2);
      std::vector<size_t> via(static_cast<size_t>(nodes) * 2, 0);
      std::vector<int> delta_via(static_cast<size_t>(nodes) * 2, 0);
      const int start = state(g.row_of(x), g.row_coef(x) * sigma);
      const int goal = state(g.rows + g.col_of(x), -g.col_coef(x) * sigma);
      from[start] = -1;
      std::vector<int> queue{start};
      for (size_t q = 0; q < queue.size() && from[goal] == -2; ++q) {
        const int s = queue[q];
        const int node = s / 2, t = (s % 2) ? 1 : -1;
        const bool row_line = node < g.rows;
        const int count = row_line ? g.cols : g.rows;
        for (int j = 0; j < count; ++j) {
          const size_t e = row_line ? g.index(node, j) : g.index(j, node - g.rows);
          if (e == x || !g.hidden(e)) continue;
          const int coef = row_line ? g.row_coef(e) : g.col_coef(e);
          const int d = -t * coef;
          if (!CanMove(m, e, d)) continue;
          const int other = row_line ? g.rows + g.col_of(e) : g.row_of(e);
          const int other_coef = row_line ? g.col_coef(e) : g.row_coef(e);
          const int next = state(other, other_coef * d);
          if (from[next] != -2) continue;
          from[next] = s;
          via[next] = e;
          delta_via[next] = d;
          queue.push_back(next);
        }
      }
      if (from[goal] == -2) continue;
      // The walk may pass a value twice: check the summed changes.
      std::map<size_t, int64_t> change{{x, sigma}};
      for (int s = goal; from[s] != -1; s = from[s]) change[via[s]] += delta_via[s];
      if (change[x] == 0) continue;
      bool ok = true;
      std::vector<int64_t> row_sum(g.rows, 0), col_sum(g.cols, 0);
      for (const auto& [i, d] : change) {
        if (d != 0 && !CanMove(m, i, d)) ok = false;
        row_sum[g.row_of(i)] += g.row_coef(i) * d;
        col_sum[g.col_of(i)] += g.col_coef(i) * d;
      }
      for (int64_t v : row_sum) ok &= v == 0;
      for (int64_t v : col_sum) ok &= v == 0;
      if (ok) return true;
    }
    return false;
  }

  // The interval a reader derives for value x of table m by linear programming over every
  // table, bound and relation (the values linked to x only): true when it holds one integer.
  bool Pinned(size_t m, size_t x) const {
    // Variables: hidden values; published ones are constants.
    LinearProgram lp;
    std::vector<std::vector<int>> var(grids_.size());
    for (size_t t = 0; t < grids_.size(); ++t) {
      const Grid& g = grids_[t];
      var[t].assign(g.value.size(), -1);
      for (size_t i = 0; i < g.value.size(); ++i) {
        if (!g.hidden(i)) continue;
        const auto [lo, hi] = Bounds(t, i);
        if (lo == hi) continue;
        var[t][i] = lp.AddVariable(lo, hi);
      }
    }
    if (var[m][x] < 0) return true;
    std::vector<LinearProgram::Constraint> all;
    auto term = [&](LinearProgram::Constraint& c, size_t t, size_t i, double coef) {
      if (var[t][i] >= 0) {
        c.terms.emplace_back(var[t][i], coef);
      } else {
        c.rhs -= coef * static_cast<double>(grids_[t].value[i]);
      }
    };
    for (size_t t = 0; t < grids_.size(); ++t) {
      const Grid& g = grids_[t];
      for (int r = 0; r < g.rows; ++r) {
        LinearProgram::Constraint c;
        for (int col = 0; col < g.cols; ++col)
          term(c, t, g.index(r, col), g.row_coef(g.index(r, col)));
        if (!c.terms.empty()) all.push_back(std::move(c));
      }
      for (int col = 0; col < g.cols; ++col) {
        LinearProgram::Constraint c;
        for (int r = 0; r < g.rows; ++r) term(c, t, g.index(r, col), g.col_coef(g.index(r, col)));
        if (!c.terms.empty()) all.push_back(std::move(c));
      }
    }
    const size_t cells = grids_.empty() ? 0 : grids_[0].value.size();
    for (const auto& rel : t_.relations) {
      for (size_t i = 0; i < cells; ++i) {
        LinearProgram::Constraint c;
        c.equality = false;
        for (int p : rel.parts) term(c, p, i, 1.0);
        term(c, rel.whole, i, -1.0);
        if (!c.terms.empty()) all.push_back(std::move(c));
      }
    }
    // Only the constraints linked to x (union-find over variables).
    std::vector<int> parent(lp.lower.size());
    for (size_t v = 0; v < parent.size(); ++v) parent[v] = static_cast<int>(v);
    auto find = [&](int v) {
      while (parent[v] != v) v = parent[v] = parent[parent[v]];
      return v;
    };
    for (const auto& c : all) {
      for (size_t j = 1; j < c.terms.size(); ++j) {
        parent[find(c.terms[j].first)] = find(c.terms[0].first);
      }
    }
    const int root = find(var[m][x]);
    for (auto& c : all) {
      if (find(c.terms[0].first) == root) lp.AddConstraint(std::move(c));
    }
    const auto hi = Optimum(lp, var[m][x], true);
    const auto lo = Optimum(lp, var[m][x], false);
    if (!hi || !lo) return true;  // cannot happen: the true values are a solution
    return std::floor(*hi + 1e-6) - std::ceil(*lo - 1e-6) < 1;
  }

  // Hides one more value to free value x of table m; false when none is left.
  bool Escalate(size_t m, size_t x) {
    const Grid& g = grids_[m];
    std::vector<std::pair<size_t, size_t>> candidates;  // (table, index), by preference
    auto add_line = [&](size_t t, size_t at) {
      const Grid& h = grids_[t];
      std::vector<std::pair<size_t, size_t>> line;
      for (int c = 0; c < h.cols; ++c) line.emplace_back(t, h.index(h.row_of(at), c));
      for (int r = 0; r < h.rows; ++r) line.emplace_back(t, h.index(r, h.col_of(at)));
      std::sort(line.begin(), line.end(), [&](const auto& a, const auto& b) {
        return grids_[a.first].value[a.second] < grids_[b.first].value[b.second];
      });
      for (const auto& c : line) {
        if (grids_[c.first].candidate(c.second) &&
            std::find(candidates.begin(), candidates.end(), c) == candidates.end()) {
          candidates.push_back(c);
        }
      }
    };
    add_line(m, x);
    for (const auto& rel : t_.relations) {
      std::vector<int> members = rel.parts;
      members.push_back(rel.whole);
      if (std::find(members.begin(), members.end(), static_cast<int>(m)) == members.end()) continue;
      for (int t : members) {
        if (static_cast<size_t>(t) != m && grids_[t].candidate(x)) candidates.emplace_back(t, x);
      }
      for (int t : members) {
        if (static_cast<size_t>(t) != m) add_line(t, x);
      }
    }
    for (size_t i = 0; i < g.value.size(); ++i) {
      if (g.candidate(i) && std::find(candidates.begin(), candidates.end(), std::make_pair(m, i)) ==
                                candidates.end()) {
        candidates.emplace_back(m, i);
      }
    }
    if (candidates.empty()) return false;
    constexpr size_t kTries = 6;
    for (size_t n = 0; n < candidates.size() && n < kTries; ++n) {
      auto [t, i] = candidates[n];
      grids_[t].state[i] = CellState::kComplement;
      if (QuickMove(m, x) || !Pinned(m, x)) return true;
      grids_[t].state[i] = CellState::kPublished;
    }
    grids_[candidates[0].first].state[candidates[0].second] = CellState::kComplement;
    return true;
  }

  // Audits every count between 1 and k−1; true when it hid one more value.
  bool AuditOnce() {
    for (size_t m = 0; m < grids_.size(); ++m) {
      const Grid& g = grids_[m];
      for (size_t i = 0; i < g.value.size(); ++i) {
        if (safe_[m][i] || g.value[i] < 1 || g.value[i] >= k_) continue;
        // Hiding more only widens what a reader can derive: a value once free stays free.
        if (QuickMove(m, i) || !Pinned(m, i)) {
          safe_[m][i] = true;
          continue;
        }
        if (Escalate(m, i)) return true;
      }
    }
    return false;
  }

  const LinkedTables& t_;
  int k_;
  std::vector<Grid> grids_;
  std::vector<std::vector<bool>> safe_;
};

}  // namespace

std::vector<Protection> Protect(const LinkedTables& tables, int k) {
  Auditor auditor(tables, k);
  if (k > 1) auditor.Run();
  std::vector<Protection> out;
  for (size_t m = 0; m < tables.tables.size(); ++m) out.push_back(auditor.Result(m));
  return out;
}

Protection Protect(const CountTable& table, int k) {
  LinkedTables one;
  one.tables.push_back(table);
  return Protect(one, k)[0];
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
