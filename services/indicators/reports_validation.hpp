// The rules of an activity report and of an equality assessment that need nothing but the
// message and today's date: bounds, dates, lists, and that every breakdown adds up. Pure, so unit
// tests try every rule; the existence of venues and organisations is checked by the domain.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "libs/api/status.hpp"
#include "passerelle/indicators/v1/indicators.pb.h"

namespace passerelle::indicators::reports {

/// Largest count of any cell.
inline constexpr int kMaxCount = 1'000'000;
/// Longest period, days from start to end.
inline constexpr int kMaxPeriodDays = 366;
/// List bounds.
inline constexpr int kMaxVenues = 50;
inline constexpr int kMaxItems = 200;
inline constexpr int kMaxOutcomes = 50;
inline constexpr int kMaxTargets = 20;
/// Text bounds, code points.
inline constexpr size_t kMaxTitle = 200;
inline constexpr size_t kMaxReason = 500;

/// Age bands and dropout reasons, as documented in the proto.
const std::vector<std::string>& AgeBands();
const std::vector<std::string>& DropoutReasons();

/// A calendar day in its one spelling `YYYY-MM-DD` (no other form, no normalised overflow such as
/// 2026-02-30); nullopt otherwise.
std::optional<absl::CivilDay> ParseDay(std::string_view text);

/// An organisation id as the venues service names them: `[a-z0-9][a-z0-9-]{1,62}`.
bool IsOrganisationId(std::string_view id);

/// Every problem of `report` (fields named under `prefix`, e.g. `activity_report`), one
/// violation each, sums quoted. `today` bounds the period. Output-only fields are ignored.
std::vector<api::FieldViolation> ValidateReport(const v1::ActivityReport& report,
                                                absl::CivilDay today, std::string_view prefix);

}  // namespace passerelle::indicators::reports
