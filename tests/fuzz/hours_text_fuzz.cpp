// Fuzz target: the free-text hours converter (libs/standard/hours_text.hpp), on one free-text
// column and on cells. The input's first byte picks the mode; in cell mode the rest is split on
// '|' into cells given to weekdays and day parts in turn (and one weekday out of range).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "libs/standard/hours_text.hpp"
#include "libs/standard/opening_hours.hpp"
#include "tests/fuzz/check.hpp"

namespace standard = passerelle::standard;
namespace text = passerelle::text;
using standard::HoursConversion;

namespace {

void CheckConversion(const HoursConversion& r, size_t cells) {
  FUZZ_CHECK(r.opening_hours.empty() || r.not_understood.empty(),
             "no string is written when something was not understood");
  FUZZ_CHECK(r.not_understood.size() <= cells, "at most one report per cell");
  if (!r.opening_hours.empty()) {
    FUZZ_CHECK(standard::OpeningHours::Parse(r.opening_hours).has_value(),
               "what is written parses with the registry's own parser: " + r.opening_hours);
  } else {
    FUZZ_CHECK(r.remarks.empty(), "no remarks without hours");
  }
  FUZZ_CHECK(r.opening_hours.size() <= standard::OpeningHours::kMaxBytes, "bounded output");
  passerelle::fuzz::CheckMessage(r.remarks, "remarks");
  for (const auto& n : r.not_understood) {
    passerelle::fuzz::CheckMessage(n.value, "a not-understood value");
    FUZZ_CHECK(text::CodePoints(n.value) <= 200, "a reported value is shortened");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    CheckConversion(standard::ConvertHoursText(input), 1);
    return 0;
  }
  std::vector<standard::HoursCell> cells;
  size_t start = 0;
  for (size_t k = 0;; ++k) {
    const size_t bar = input.find('|', start);
    const std::string_view cell =
        input.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    const int weekday = data[0] % 4 == 3 && k == 3 ? 7 : static_cast<int>(k % 7);
    cells.push_back({weekday, static_cast<standard::DayPart>((k / 7) % 3), std::string(cell)});
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  CheckConversion(standard::ConvertHoursCells(cells), cells.size());
  return 0;
}
