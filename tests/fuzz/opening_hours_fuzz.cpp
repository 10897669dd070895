// Fuzz target: the `horaires` parser (OpenStreetMap opening_hours), then the answer at
// instants that cover every weekday, midnight, spans past midnight and public holidays.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "libs/standard/opening_hours.hpp"
#include "tests/fuzz/check.hpp"

namespace standard = passerelle::standard;
using standard::OpeningHours;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto hours = OpeningHours::Parse(text);
  FUZZ_CHECK(standard::HoursNotUnderstood(text).has_value() == (!hours && !text.empty()),
             "a write warns exactly when a non-empty text is not understood");
  if (!hours) return 0;
  FUZZ_CHECK(text.size() <= OpeningHours::kMaxBytes, "longer texts are refused");
  // A week from Monday 2026-12-21 (Christmas on the Friday), then the first of January and
  // Easter Monday 2027, each at 00:00, 08:59, 09:00, 12:30, 23:59.
  static const absl::CivilDay kDays[] = {
      absl::CivilDay(2026, 12, 21), absl::CivilDay(2026, 12, 22), absl::CivilDay(2026, 12, 23),
      absl::CivilDay(2026, 12, 24), absl::CivilDay(2026, 12, 25), absl::CivilDay(2026, 12, 26),
      absl::CivilDay(2026, 12, 27), absl::CivilDay(2027, 1, 1),   absl::CivilDay(2027, 3, 29)};
  static const int kMinutes[] = {0, 8 * 60 + 59, 9 * 60, 12 * 60 + 30, 23 * 60 + 59};
  for (const absl::CivilDay day : kDays) {
    for (const int m : kMinutes) {
      const absl::CivilMinute at(day.year(), day.month(), day.day(), m / 60, m % 60);
      const auto answer = hours->At(at);
      FUZZ_CHECK(hours->IsOpen(at) == (answer.state == standard::HoursState::kOpen),
                 "IsOpen is the open answer");
      FUZZ_CHECK(answer.comment.empty() || text.find(answer.comment) != std::string_view::npos,
                 "a comment comes from the text");
    }
  }
  const std::string_view trimmed = text.substr(0, text.find_last_not_of(" \t\r\n\v\f") + 1);
  if (trimmed.find_first_not_of(" \t\r\n\v\f") != std::string_view::npos &&
      trimmed.substr(trimmed.find_first_not_of(" \t\r\n\v\f")) == "24/7") {
    FUZZ_CHECK(hours->IsOpen(absl::CivilMinute(2026, 12, 25, 3, 0)), "24/7 is always open");
  }
  return 0;
}
