// The equality grid (data/equality-grid.json, embedded): its questions and steps, the checks of
// an assessment and its scores. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "libs/api/status.hpp"
#include "passerelle/indicators/v1/indicators.pb.h"

namespace passerelle::indicators::reports {

/// The grid as embedded in the binary.
std::string_view EqualityGridJson();

struct EqualityGrid {
  struct Question {
    /// `<section>-<n>`.
    std::string id;
    std::string text;
  };
  std::vector<Question> questions;
  std::vector<std::string> steps;

  /// Reads the grid's JSON; INTERNAL when it lacks questions or steps.
  static absl::StatusOr<EqualityGrid> Parse(std::string_view json);
  /// The question's text; empty when unknown.
  std::string TextOf(std::string_view question) const;

  /// Every problem of `assessment` under `prefix` (each question and step once, known, answered),
  /// action and date checked; `today` bounds the date.
  std::vector<api::FieldViolation> Validate(const v1::EqualityAssessment& assessment,
                                            absl::CivilDay today, std::string_view prefix) const;
  /// Sets step_total and yes_share from the answers and steps.
  static void Score(v1::EqualityAssessment* assessment);
};

/// The scores of every action from its assessments, and the questions most answered « non » in
/// the latest assessment of each action, their counts published under the small-count rule of
/// threshold `k` (ProtectTally). `assessments`: any order.
v1::EqualityScores ComputeScores(const EqualityGrid& grid,
                                 std::vector<v1::EqualityAssessment> assessments, int top, int k);
/// Sets a tally's published `no` and `applicable` from its exact counts: a count of 1 to k−1
/// shows « < k »; `applicable` is « s » when « oui » (applicable − non) is 1 to k−1.
void ProtectTally(int k, v1::QuestionTally* tally);

/// CSV of the per-action scores (EqualityTable ACTIONS) and of the tallies (MOST_NO, published
/// figures only).
std::string EqualityActionsCsv(const v1::EqualityScores& scores);
std::string EqualityMostNoCsv(const v1::EqualityScores& scores);

}  // namespace passerelle::indicators::reports
