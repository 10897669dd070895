#include "services/indicators/linear_program.hpp"

#include <cmath>
#include <cstddef>

namespace passerelle::indicators {

int LinearProgram::AddVariable(double lo, double up) {
  lower.push_back(lo);
  upper.push_back(up);
  return static_cast<int>(lower.size()) - 1;
}

namespace {

constexpr double kEps = 1e-9;

// A dense simplex tableau in standard form: rows `A y = b` (b ≥ 0), y ≥ 0, one basic column per
// row, and the reduced costs of the current objective as the last row.
class Tableau {
 public:
  Tableau(int rows, int cols, double* work)
      : rows_(rows), cols_(cols), t_((rows + 1) * (cols + 1), 0.0), work_(work) {
    basis_.assign(rows, -1);
  }

  double& at(int r, int c) { return t_[static_cast<size_t>(r) * (cols_ + 1) + c]; }
  double& rhs(int r) { return at(r, cols_); }
  double& cost(int c) { return at(rows_, c); }
  double& objective() { return at(rows_, cols_); }
  std::vector<int>& basis() { return basis_; }

  // Sets the reduced costs of `c` (per column) for the current basis.
  void SetObjective(const std::vector<double>& c) {
    for (int j = 0; j <= cols_; ++j) cost(j) = j < cols_ ? c[j] : 0.0;
    for (int i = 0; i < rows_; ++i) {
      const double cb = c[basis_[i]];
      if (cb == 0) continue;
      for (int j = 0; j <= cols_; ++j) cost(j) -= cb * at(i, j);
    }
  }

  void Pivot(int r, int c) {
    const double p = at(r, c);
    for (int j = 0; j <= cols_; ++j) at(r, j) /= p;
    for (int i = 0; i <= rows_; ++i) {
      if (i == r) continue;
      const double f = at(i, c);
      if (std::abs(f) < 1e-15) continue;
      for (int j = 0; j <= cols_; ++j) at(i, j) -= f * at(r, j);
    }
    basis_[r] = c;
  }

  // Minimises the current objective over columns below `allowed`: kUnbounded, or kOutOfWork
  // when the budget ran out.
  enum Result { kOptimal, kUnbounded, kOutOfWork };
  Result Minimise(int allowed) {
    for (;;) {
      int enter = -1;
      for (int j = 0; j < allowed; ++j) {
        if (cost(j) < -kEps) {
          enter = j;  // Bland: the first improving column
          break;
        }
      }
      if (enter < 0) return kOptimal;
      int leave = -1;
      double best = 0;
      for (int i = 0; i < rows_; ++i) {
        const double a = at(i, enter);
        if (a <= kEps) continue;
        const double ratio = rhs(i) / a;
        if (leave < 0 || ratio < best - kEps ||
            (ratio < best + kEps && basis_[i] < basis_[leave])) {
          leave = i;
          best = ratio;
        }
      }
      if (leave < 0) return kUnbounded;
      if (work_ != nullptr) {
        *work_ -= static_cast<double>(rows_ + 1) * (cols_ + 1);
        if (*work_ < 0) return kOutOfWork;
      }
      Pivot(leave, enter);
    }
  }

  int rows() const { return rows_; }
  int cols() const { return cols_; }

 private:
  int rows_, cols_;
  std::vector<double> t_;
  std::vector<int> basis_;
  double* work_;
};

}  // namespace

std::optional<double> Optimum(const LinearProgram& p, int variable, bool maximise, double* work) {
  if (work != nullptr && *work < 0) return std::nullopt;
  const int n = static_cast<int>(p.lower.size());
  // Rows: the constraints, then one `y ≤ upper − lower` per bounded variable.
  struct Row {
    std::vector<std::pair<int, double>> terms;
    bool equality;
    double rhs;
  };
  std::vector<Row> rows;
  for (const auto& c : p.constraints) {
    double rhs = c.rhs;
    for (const auto& [v, a] : c.terms) rhs -= a * p.lower[v];
    rows.push_back({c.terms, c.equality, rhs});
  }
  for (int v = 0; v < n; ++v) {
    if (p.upper[v] < p.lower[v]) return std::nullopt;
    if (std::isfinite(p.upper[v])) rows.push_back({{{v, 1.0}}, false, p.upper[v] - p.lower[v]});
  }
  const int m = static_cast<int>(rows.size());
  int slacks = 0;
  for (const auto& r : rows) slacks += r.equality ? 0 : 1;
  // Columns: variables, slacks, then one artificial per row that needs one.
  int artificials = 0;
  for (const auto& r : rows) artificials += (r.equality || r.rhs < 0) ? 1 : 0;
  const int first_artificial = n + slacks;
  Tableau t(m, n + slacks + artificials, work);
  int slack = n, artificial = first_artificial;
  for (int i = 0; i < m; ++i) {
    const Row& r = rows[i];
    const double sign = r.rhs < 0 ? -1.0 : 1.0;
    for (const auto& [v, a] : r.terms) t.at(i, v) += sign * a;
    t.rhs(i) = sign * r.rhs;
    if (!r.equality) t.at(i, slack) = sign;
    if (r.equality || sign < 0) {
      t.at(i, artificial) = 1.0;
      t.basis()[i] = artificial++;
    } else {
      t.basis()[i] = slack;
    }
    if (!r.equality) ++slack;
  }
  const int cols = t.cols();
  // Phase 1: no artificial left above zero, or no solution.
  if (artificials > 0) {
    std::vector<double> c(cols, 0.0);
    for (int j = first_artificial; j < cols; ++j) c[j] = 1.0;
    t.SetObjective(c);
    if (t.Minimise(cols) == Tableau::kOutOfWork) return std::nullopt;
    if (-t.objective() > 1e-7) return std::nullopt;
    for (int i = 0; i < m; ++i) {
      if (t.basis()[i] < first_artificial) continue;
      for (int j = 0; j < first_artificial; ++j) {
        if (std::abs(t.at(i, j)) > kEps) {
          t.Pivot(i, j);
          break;
        }
      }
    }
  }
  // Phase 2, artificial columns left out.
  std::vector<double> c(cols, 0.0);
  c[variable] = maximise ? -1.0 : 1.0;
  t.SetObjective(c);
  switch (t.Minimise(first_artificial)) {
    case Tableau::kOptimal:
      break;
    case Tableau::kUnbounded:
      return maximise ? LinearProgram::kInfinity : -LinearProgram::kInfinity;
    case Tableau::kOutOfWork:
      return std::nullopt;
  }
  double y = 0;
  for (int i = 0; i < m; ++i) {
    if (t.basis()[i] == variable) y = t.rhs(i);
  }
  return y + p.lower[variable];
}

}  // namespace passerelle::indicators
