// Fuzz target: a needs file (ImportNeeds' `csv`) through ParseNeeds against a fixed layer's
// area codes: encoding detection, delimiter sniffing, the header and every row's checks.
//
// Properties: a whole-file refusal is INVALID_ARGUMENT on field `csv` with a message in valid
// UTF-8; otherwise every reported error (copied into ImportNeedsResponse, proto3 strings) is
// valid UTF-8, its value bounded, its rule one of the documented ones, and at most
// kMaxNeedsErrors are detailed (then one `more`); every accepted row is an area of the layer
// with a whole population in range and scores finite in range (never -0), components only of
// the index; the same bytes give the same result.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "libs/api/status.hpp"
#include "services/indicators/coverage_needs.hpp"
#include "tests/fuzz/check.hpp"

namespace coverage = passerelle::indicators::coverage;
namespace api = passerelle::api;
using passerelle::fuzz::CheckMessage;

namespace {

const std::set<std::string>& Codes() {
  static const auto* codes = new std::set<std::string>{
      "ALMA", "EPEULE", "PILE", "CENTRE", "CULDEFOUR", "NOUVEAUROUBAIX", "É1", "59512"};
  return *codes;
}

void CheckScore(const std::optional<double>& v, const std::string& what) {
  if (!v) return;
  FUZZ_CHECK(std::isfinite(*v) && *v >= 0 && *v <= coverage::kMaxScore,
             what + " is a finite number from 0 to kMaxScore");
  FUZZ_CHECK(!std::signbit(*v), what + " is never -0");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto parsed = coverage::ParseNeeds(bytes, Codes());
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument,
               "a whole-file refusal is INVALID_ARGUMENT");
    CheckMessage(parsed.status().message(), "the file-level error");
    const auto violations = api::Violations(parsed.status());
    FUZZ_CHECK(violations.size() == 1 && violations[0].field == "csv",
               "a whole-file refusal names field csv");
    CheckMessage(violations[0].description, "the file-level violation");
    return 0;
  }
  static const std::set<std::string> kRules = {"required", "exists",  "unique",  "number", "range",
                                               "utf8",     "control", "columns", "more"};
  FUZZ_CHECK(parsed->errors.size() <= coverage::kMaxNeedsErrors + 1,
             "at most kMaxNeedsErrors errors detailed, then one `more`");
  FUZZ_CHECK(parsed->errors_total >= static_cast<int64_t>(parsed->errors.size()) -
                                         (parsed->errors.size() > coverage::kMaxNeedsErrors),
             "errors_total counts every error");
  for (const auto& e : parsed->errors) {
    FUZZ_CHECK(kRules.contains(e.rule), "an error's rule is documented: " + e.rule);
    FUZZ_CHECK(e.rule == "more" ? e.row == 0 : e.row >= 2, "an error names a data line");
    CheckMessage(e.field, "an error's field");
    CheckMessage(e.value, "an error's value");
    CheckMessage(e.message, "an error's message");
    // Quoted to 40 code points: at most 4 bytes each, the quotes and an ellipsis.
    FUZZ_CHECK(e.value.size() <= 40 * 4 + 16, "an error's value is bounded");
  }
  const auto& components = coverage::NeedsComponents();
  for (const auto& [code, row] : parsed->rows) {
    FUZZ_CHECK(Codes().contains(code), "an accepted row is an area of the layer");
    FUZZ_CHECK(row.population >= 0 && row.population <= coverage::kMaxPopulation,
               "a population is from 0 to kMaxPopulation");
    CheckScore(row.score, "score_global");
    for (const auto& [name, v] : row.components) {
      FUZZ_CHECK(std::find(components.begin(), components.end(), name) != components.end(),
                 "a component is one of the index's");
      CheckScore(v, name);
    }
  }
  // Deterministic: the same bytes, the same answer.
  auto again = coverage::ParseNeeds(bytes, Codes());
  FUZZ_CHECK(again.ok() && again->rows == parsed->rows &&
                 again->errors.size() == parsed->errors.size() &&
                 again->errors_total == parsed->errors_total,
             "the same bytes give the same result");
  return 0;
}
