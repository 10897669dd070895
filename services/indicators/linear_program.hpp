// A small dense linear-program solver (two-phase simplex, Bland's rule): what the small-count
// protection needs to compute the interval an attacker can derive for a hidden count from
// everything a breakdown publishes and every relation its figures are known to satisfy.
#pragma once

#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace passerelle::indicators {

/// Variables with bounds and linear constraints, each `Σ terms = rhs` or `Σ terms ≤ rhs`.
struct LinearProgram {
  static constexpr double kInfinity = std::numeric_limits<double>::infinity();

  struct Constraint {
    std::vector<std::pair<int, double>> terms;
    bool equality = true;
    double rhs = 0;
  };

  /// A new variable within [lower, upper] (upper may be kInfinity); its index.
  int AddVariable(double lower, double upper);
  void AddConstraint(Constraint c) { constraints.push_back(std::move(c)); }

  std::vector<double> lower, upper;
  std::vector<Constraint> constraints;
};

/// The largest (`maximise`) or smallest value of `variable` over the program: nullopt when the
/// program has no solution, ±kInfinity when unbounded. `work`, when given, is a budget in
/// tableau cells touched, spent by each pivot: nullopt as well when it runs out.
std::optional<double> Optimum(const LinearProgram& program, int variable, bool maximise,
                              double* work = nullptr);

}  // namespace passerelle::indicators
