#include "services/indicators/suppression.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
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
  std::vector<bool> small;        // at least 1 and, with its noise, under k
  std::vector<int> noise;         // each value's published noise (empty: none)
  // A published count with noise: a reader knows it only within the noise, so a change of the
  // true count by one (within that) is unseen, like a hidden value's.
  bool slack(size_t i) const {
    return !noise.empty() && state[i] == CellState::kPublished && !unpublished[i] && value[i] > 0;
  }

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
  // In the model: hidden and unknown, and not left out (never published: see LinkedTables).
  bool edge(size_t i) const { return unknown(i) && !unpublished[i]; }
  // Lines holding a value never published give a reader no relation: they are left out, all
  // merged into one free node of the graph of hidden values.
  std::vector<bool> free_row, free_col;
  int free_node() const { return rows + cols; }
  int row_node(int r) const { return free_row[r] ? free_node() : r; }
  int col_node(int c) const { return free_col[c] ? free_node() : rows + c; }
  // The values of a node's line (every value of a free line for the free node).
  void Incident(int node, std::vector<size_t>* out) const {
    out->clear();
    if (node < rows) {
      for (int c = 0; c < cols; ++c) out->push_back(index(node, c));
    } else if (node < rows + cols) {
      for (int r = 0; r < rows; ++r) out->push_back(index(r, node - rows));
    } else {
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
          if (free_row[r] || free_col[c]) out->push_back(index(r, c));
        }
      }
    }
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
  g.free_row.assign(g.rows, false);
  g.free_col.assign(g.cols, false);
  for (size_t i = 0; i < n; ++i) {
    if (g.unpublished[i]) g.free_row[g.row_of(i)] = g.free_col[g.col_of(i)] = true;
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
  for (size_t i : line) {
    if (g.unpublished[i]) return false;  // a free line: no relation to protect against
  }
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
  int nodes() const { return g.rows + g.cols + 1; }

  // The nodes reached from `from` over hidden values, `skip` left out.
  std::vector<bool> Reach(int from, size_t skip) const {
    std::vector<bool> seen(nodes(), false);
    std::vector<int> todo{from};
    std::vector<size_t> line;
    seen[from] = true;
    while (!todo.empty()) {
      const int n = todo.back();
      todo.pop_back();
      g.Incident(n, &line);
      for (size_t i : line) {
        if (i == skip || !g.edge(i)) continue;
        const int a = g.row_node(g.row_of(i)), b = g.col_node(g.col_of(i));
        const int other = a == n ? b : a;
        if (seen[other]) continue;
        seen[other] = true;
        todo.push_back(other);
      }
    }
    return seen;
  }
};

// The hidden values that lie on no cycle (bridges of the graph of hidden values), by one
// depth-first search (Tarjan): a value on no cycle is determined by the linear relations alone.
std::vector<size_t> Bridges(const Grid& g) {
  const int nodes = g.rows + g.cols + 1;
  // Adjacency: (other node, value) per node.
  std::vector<std::vector<std::pair<int, size_t>>> adjacent(nodes);
  for (size_t i = 0; i < g.value.size(); ++i) {
    if (!g.edge(i)) continue;
    const int a = g.row_node(g.row_of(i)), b = g.col_node(g.col_of(i));
    if (a == b) continue;
    adjacent[a].emplace_back(b, i);
    adjacent[b].emplace_back(a, i);
  }
  std::vector<int> order(nodes, -1), low(nodes, 0);
  std::vector<size_t> out;
  int counter = 0;
  struct Frame {
    int node;
    size_t via;  // the value that reached it (SIZE_MAX at a root)
    size_t next = 0;
  };
  for (int root = 0; root < nodes; ++root) {
    if (order[root] >= 0) continue;
    std::vector<Frame> stack{{root, SIZE_MAX}};
    order[root] = low[root] = counter++;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next < adjacent[f.node].size()) {
        const auto [other, value] = adjacent[f.node][f.next++];
        if (value == f.via) continue;
        if (order[other] < 0) {
          order[other] = low[other] = counter++;
          stack.push_back({other, value});
        } else {
          low[f.node] = std::min(low[f.node], order[other]);
        }
        continue;
      }
      const Frame done = f;
      stack.pop_back();
      if (stack.empty()) break;
      Frame& parent = stack.back();
      low[parent.node] = std::min(low[parent.node], low[done.node]);
      if (low[done.node] > order[parent.node]) out.push_back(done.via);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Hides one more value so that a hidden value that could be computed no longer can: the
// smallest published value joining the two sides its edge separates. True when it did.
bool BreakOneBridge(Grid& g) {
  HiddenGraph graph{g};
  for (size_t edge : Bridges(g)) {
    // The side of the bridge its row's node lies on, without the bridge.
    const std::vector<bool> side = graph.Reach(g.row_node(g.row_of(edge)), edge);
    bool found = false;
    size_t best = 0;
    for (int r2 = 0; r2 < g.rows; ++r2) {
      for (int c2 = 0; c2 < g.cols; ++c2) {
        const size_t i = g.index(r2, c2);
        if (!g.candidate(i) || side[g.row_node(r2)] == side[g.col_node(c2)]) continue;
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
      const std::vector<int>* noise = m < t.noise.size() ? &t.noise[m] : nullptr;
      g.small.assign(g.value.size(), false);
      if (noise != nullptr && noise->size() == g.value.size()) g.noise = *noise;
      for (size_t i = 0; i < g.value.size(); ++i) {
        const int64_t d = g.noise.empty() ? 0 : g.noise[i];
        g.small[i] = g.value[i] >= 1 && g.value[i] + d < k && !g.unpublished[i];
        if (g.small[i] && !g.fixed[i]) g.state[i] = CellState::kSmall;
      }
    }
    safe_.resize(grids_.size());
    for (size_t m = 0; m < grids_.size(); ++m) safe_[m].assign(grids_[m].value.size(), false);
  }

  void Run() {
    for (;;) {
      for (Grid& g : grids_) LinearPass(g);
      if (!AuditOnce()) return;
      if (steps_ > kMaxSteps || quick_calls_ > kMaxQuickCalls) {
        WithholdRows();
        return;
      }
    }
  }

  /// Whether the work budget ran out and every row was withheld.
  bool withheld() const { return withheld_; }

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
        if (g.slack(i)) {
          const double shown = v + g.noise[i];
          return {std::max(1.0, shown - t_.noise_bound), shown + t_.noise_bound};
        }
        return {v, v};
      case CellState::kSmall:
        return {1, k_ - 1 + t_.noise_bound};
      case CellState::kComplement:
        if (g.value[i] == 0) return {0, 0};
        if (!g.small[i]) return {std::max(1, k_ - t_.noise_bound), kUnbounded};
        return {1, k_ - 1 + t_.noise_bound};
    }
    return {v, v};
  }

  // A relation at position i holding a value never published tells a reader nothing more: any
  // published values extend to the unpublished ones (see LinkedTables).
  bool LeftOut(const LinkedTables::AtMost& rel, size_t i) const {
    if (grids_[rel.whole].unpublished[i]) return true;
    for (int p : rel.parts) {
      if (grids_[p].unpublished[i]) return true;
    }
    return false;
  }

  // Tables changed together by one move, each with its sign: one table, or two that a relation
  // links (two parts: opposite signs, their sum kept; a part and its whole: the same sign).
  using Movers = std::vector<std::pair<size_t, int>>;

  // Whether value i of the movers' tables can change by `delta` (times each sign): bounds, and
  // every relation at i with the other tables' values unchanged.
  bool CanMove(const Movers& movers, size_t i, int64_t delta) const {
    for (const auto& [t, sign] : movers) {
      const auto [lo, hi] = Bounds(t, i);
      const double nv = static_cast<double>(grids_[t].value[i] + delta * sign);
      if (nv < lo || nv > hi) return false;
    }
    for (const auto& rel : t_.relations) {
      if (LeftOut(rel, i)) continue;
      int64_t parts = 0;
      for (int p : rel.parts) parts += grids_[p].value[i];
      int64_t change = 0;
      for (const auto& [t, sign] : movers) {
        int mult = static_cast<size_t>(rel.whole) == t ? -1 : 0;
        for (int p : rel.parts) mult += static_cast<size_t>(p) == t ? 1 : 0;
        change += delta * sign * mult;
      }
      if (change > 0 && parts + change > grids_[rel.whole].value[i]) return false;
    }
    return true;
  }

  // Whether value i of table m can change by `delta` alone.
  bool CanMove(size_t m, size_t i, int64_t delta) const { return CanMove({{m, 1}}, i, delta); }

  // The pairs of tables a move of table m may take along.
  std::vector<Movers> PartnersOf(size_t m) const {
    std::vector<Movers> out;
    for (const auto& rel : t_.relations) {
      const bool whole = static_cast<size_t>(rel.whole) == m;
      const bool part =
          std::find(rel.parts.begin(), rel.parts.end(), static_cast<int>(m)) != rel.parts.end();
      if (!whole && !part) continue;
      if (part) out.push_back({{m, 1}, {static_cast<size_t>(rel.whole), 1}});
      for (int p : rel.parts) {
        if (static_cast<size_t>(p) == m) continue;
        out.push_back({{m, 1}, {static_cast<size_t>(p), part ? -1 : 1}});
      }
    }
    return out;
  }

  // A cycle of ±1 changes through value x of the movers' tables keeping every line's relation
  // (or ending on lines free in all of them), each change within bounds and relations: then x
  // is not determined.
  bool QuickMove(const Movers& movers, size_t x) const {
    const Grid& g = grids_[movers[0].first];
    auto edge = [&](size_t i) {
      for (const auto& [t, sign] : movers) {
        if (!grids_[t].edge(i) && !grids_[t].slack(i)) return false;
      }
      return true;
    };
    std::vector<bool> free_row(g.rows, true), free_col(g.cols, true);
    for (const auto& [t, sign] : movers) {
      for (int r = 0; r < g.rows; ++r) free_row[r] = free_row[r] && grids_[t].free_row[r];
      for (int c = 0; c < g.cols; ++c) free_col[c] = free_col[c] && grids_[t].free_col[c];
    }
    const int free = g.rows + g.cols;
    const int nodes = free + 1;
    auto row_node = [&](int r) { return free_row[r] ? free : r; };
    auto col_node = [&](int c) { return free_col[c] ? free : g.rows + c; };
    // The values of each node's line, once: the search is then linear in the table's size.
    std::vector<std::vector<size_t>> lines(nodes);
    for (size_t i = 0; i < g.value.size(); ++i) {
      if (!edge(i)) continue;
      const int a = row_node(g.row_of(i)), b = col_node(g.col_of(i));
      lines[a].push_back(i);
      if (b != a) lines[b].push_back(i);
    }
    // State: (node, t) where t = coef × change of the value that reached the node; the free
    // node takes any t.
    auto state = [free](int node, int t) { return node * 2 + (node == free || t > 0 ? 1 : 0); };
    for (int sigma : {1, -1}) {
      if (!CanMove(movers, x, sigma)) continue;
      const int a = row_node(g.row_of(x)), b = col_node(g.col_of(x));
      if (a == free && b == free) return true;  // no relation holds x
      std::vector<int> from(static_cast<size_t>(nodes) * 2, -2);
      std::vector<size_t> via(static_cast<size_t>(nodes) * 2, 0);
      std::vector<int> delta_via(static_cast<size_t>(nodes) * 2, 0);
      const int start = state(a, g.row_coef(x) * sigma);
      const int goal = state(b, -g.col_coef(x) * sigma);
      from[start] = -1;
      std::vector<int> queue{start};
      for (size_t q = 0; q < queue.size() && from[goal] == -2; ++q) {
        const int s = queue[q];
        const int node = s / 2, t = (s % 2) ? 1 : -1;
        for (size_t e : lines[node]) {
          if (e == x) continue;
          const int ea = row_node(g.row_of(e)), eb = col_node(g.col_of(e));
          if (ea == eb) continue;
          const bool by_row = ea == node;
          const int other = by_row ? eb : ea;
          const int other_coef = by_row ? g.col_coef(e) : g.row_coef(e);
          for (int d : {1, -1}) {
            // On a kept line the change is set by the relation; on the free node, either.
            if (node != free && d != -t * (by_row ? g.row_coef(e) : g.col_coef(e))) continue;
            if (!CanMove(movers, e, d)) continue;
            const int next = state(other, other_coef * d);
            if (from[next] != -2) continue;
            from[next] = s;
            via[next] = e;
            delta_via[next] = d;
            queue.push_back(next);
          }
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
        if (d != 0 && !CanMove(movers, i, d)) ok = false;
        row_sum[g.row_of(i)] += g.row_coef(i) * d;
        col_sum[g.col_of(i)] += g.col_coef(i) * d;
      }
      for (int r = 0; r < g.rows; ++r) ok &= free_row[r] || row_sum[r] == 0;
      for (int c = 0; c < g.cols; ++c) ok &= free_col[c] || col_sum[c] == 0;
      if (ok) return true;
    }
    return false;
  }

  // Value x of table m can move: alone, or with a table a relation links it to.
  bool QuickMove(size_t m, size_t x) const {
    ++quick_calls_;
    if (QuickMove(Movers{{m, 1}}, x)) return true;
    for (const Movers& movers : PartnersOf(m)) {
      if (QuickMove(movers, x)) return true;
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
        if (!g.hidden(i) || g.unpublished[i]) continue;
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
        if (g.free_row[r]) continue;
        LinearProgram::Constraint c;
        for (int col = 0; col < g.cols; ++col)
          term(c, t, g.index(r, col), g.row_coef(g.index(r, col)));
        if (!c.terms.empty()) all.push_back(std::move(c));
      }
      for (int col = 0; col < g.cols; ++col) {
        if (g.free_col[col]) continue;
        LinearProgram::Constraint c;
        for (int r = 0; r < g.rows; ++r) term(c, t, g.index(r, col), g.col_coef(g.index(r, col)));
        if (!c.terms.empty()) all.push_back(std::move(c));
      }
    }
    const size_t cells = grids_.empty() ? 0 : grids_[0].value.size();
    for (const auto& rel : t_.relations) {
      for (size_t i = 0; i < cells; ++i) {
        if (LeftOut(rel, i)) continue;
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
    const auto hi = Optimum(lp, var[m][x], true, &lp_work_);
    const auto lo = Optimum(lp, var[m][x], false, &lp_work_);
    // No answer (the true values are a solution, so only when the work budget ran out): taken as
    // pinned, so more is hidden rather than less.
    if (!hi || !lo) return true;
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
    // With k = 2, « < 2 » itself says 1: nothing to audit.
    if (k_ <= 2) return false;
    ++steps_;
    for (size_t m = 0; m < grids_.size(); ++m) {
      const Grid& g = grids_[m];
      for (size_t i = 0; i < g.value.size(); ++i) {
        // A value never published can be 0 for all a reader knows (see LinkedTables).
        if (safe_[m][i] || !g.small[i]) continue;
        if (quick_calls_ > kMaxQuickCalls) return true;  // Run withholds the rows
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

  // Past the budget, every value but the total row's is hidden: the total row was protected on
  // its own, and hidden rows tell nothing. An awkward table then costs bounded time and shows
  // its total only.
  void WithholdRows() {
    withheld_ = true;
    for (Grid& g : grids_) {
      for (size_t i = 0; i < g.value.size(); ++i) {
        if (g.row_of(i) == g.rows - 1) continue;
        g.state[i] = g.small[i] ? CellState::kSmall : CellState::kComplement;
      }
    }
  }

  // Audit rounds (each ends with one more value hidden): past kMaxSteps the rows are withheld.
  static constexpr int kMaxSteps = 400;
  static constexpr int64_t kMaxQuickCalls = 100000;
  int steps_ = 0;
  mutable int64_t quick_calls_ = 0;
  bool withheld_ = false;

  const LinkedTables& t_;
  int k_;
  // Linear programming for one protection, in tableau cells touched (a few hundred ms at most):
  // crafted tables cannot make an answer slow, only more suppressed.
  mutable double lp_work_ = 5e8;
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
