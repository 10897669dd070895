// Fuzz target: the sync's profile reader (services/sync/profile.hpp, ReadSource) on a profile and
// a document. The input's first line is the profile, as the store keeps it (the API message's
// JSON); the rest is the source's file: a mapped CSV in any encoding, a GoGoCarto JSON export,
// or the standard's CSV, whatever the profile says.
//
// Properties: a profile is read only once CheckProfile accepts it, as the API saves only those;
// a file that fails whole is INVALID_ARGUMENT with a valid UTF-8 message (PreviewSource returns
// it as it is); the columns shown and the reasons given are valid UTF-8; every row is accepted
// or refused, and a refused row says why; every accepted row has a valid UTF-8 id and passes the
// standard's ValidateRow again as it is sent (the registry receives valid rows of the standard,
// unchanged by a second normalisation, so their fingerprints are stable); the preview's reading
// (missing columns allowed) agrees with the run's when the run's succeeds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "google/protobuf/util/json_util.h"
#include "libs/standard/standard.hpp"
#include "services/sync/profile.hpp"
#include "tests/fuzz/check.hpp"

namespace standard = passerelle::standard;

using passerelle::fuzz::CheckMessage;

namespace {

void CheckFile(const standard::Standard& standard, const passerelle::sync::SourceFile& file) {
  const standard::ParsedFile& parsed = file.parsed;
  FUZZ_CHECK(parsed.rows == static_cast<int>(parsed.valid.size() + parsed.rejected.size()),
             "every row read is either accepted or refused");
  FUZZ_CHECK(file.filtered >= 0, "the filtered count is a count");
  for (const auto& c : file.columns) CheckMessage(c, "a column's name");
  // A refused row's id and values are the file's own bytes: the sync quotes them (SafeError)
  // before it stores or returns them, so only the reasons are checked here.
  for (const auto& r : parsed.rejected) {
    FUZZ_CHECK(!r.violations.empty(), "a refused row says why");
    for (const auto& v : r.violations) CheckMessage(v.message, "a violation's message");
  }
  for (const auto& w : parsed.warnings) CheckMessage(w.issue.message, "a warning's message");
  for (const auto& row : parsed.valid) {
    const standard::Venue& venue = row.venue;
    FUZZ_CHECK(!venue.source_id.empty(), "an accepted row has an id");
    CheckMessage(venue.source_id, "an accepted row's id");
    for (const auto& [field, values] : venue.standard) {
      FUZZ_CHECK(standard.Find(field) != nullptr,
                 "an accepted field is a standard field: " + field);
      for (const auto& v : values) CheckMessage(v, "an accepted value (field " + field + ")");
    }
    // What the registry receives is a valid row of the standard, already in its normal form.
    standard::Validated again =
        standard::ValidateRow(standard, standard::ToRaw(standard, venue.standard));
    FUZZ_CHECK(
        again.violations.empty(),
        "an accepted row passes ValidateRow again (first refusal: " +
            (again.violations.empty() ? std::string()
                                      : again.violations[0].field + " " + again.violations[0].rule +
                                            " « " + again.violations[0].value + " »") +
            ")");
    FUZZ_CHECK(again.record == venue.standard,
               "an accepted row is in the standard's normal form (ValidateRow changes nothing)");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const standard::Standard& standard = standard::Standard::V102();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const std::string json(input.substr(0, newline));
  const std::string_view document = input.substr(newline + 1);

  passerelle::sync::v1::SourceProfile profile;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // as the store reads it back
  if (!google::protobuf::util::JsonStringToMessage(json, &profile, options).ok()) return 0;
  std::vector<passerelle::api::FieldViolation> bad;
  passerelle::sync::CheckProfile(standard, profile, "profile", &bad);
  for (const auto& v : bad) {
    CheckMessage(v.field, "a profile violation's field");
    CheckMessage(v.description, "a profile violation's description");
  }
  if (!bad.empty()) return 0;

  // A run's reading, then a preview's (missing columns read as empty).
  auto run = passerelle::sync::ReadSource(standard, profile, document, "fuzz");
  auto preview = passerelle::sync::ReadSource(standard, profile, document, "fuzz",
                                              /*allow_missing_columns=*/true);
  if (run.ok()) {
    CheckFile(standard, *run);
    FUZZ_CHECK(preview.ok(), "a file a run reads, a preview reads");
    FUZZ_CHECK(preview->parsed.rows == run->parsed.rows &&
                   preview->parsed.valid.size() == run->parsed.valid.size() &&
                   preview->filtered == run->filtered,
               "a preview reads a file as the run does");
  } else {
    FUZZ_CHECK(run.status().code() == absl::StatusCode::kInvalidArgument,
               "a file that fails whole is INVALID_ARGUMENT");
    CheckMessage(run.status().message(), "the run's error");
  }
  if (preview.ok()) {
    CheckFile(standard, *preview);
    for (const auto& e : passerelle::sync::MissingColumns(profile, preview->columns)) {
      CheckMessage(e.field, "a missing column's path");
      CheckMessage(e.value, "a missing column's name");
      CheckMessage(e.description, "a missing column's description");
    }
  } else {
    CheckMessage(preview.status().message(), "the preview's error");
  }
  return 0;
}
