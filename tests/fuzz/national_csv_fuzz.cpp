// Fuzz target: a whole national CSV file through ParseNationalCsv (delimiter sniffing, v1.0.2
// or v0.1 header, ValidateRow on every row), then the exports of the rows it accepts.
//
// Properties: every row is either valid or rejected; whatever the import reports back to the
// client (ignored columns, rejected ids, violations, normalisations) is valid UTF-8, as
// protobuf requires of string fields; an accepted row, exported as the API returns it and read
// again, gives the same venue; the exports of accepted rows are well-formed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "libs/standard/exchange.hpp"
#include "libs/standard/roundtrip_generator.hpp"
#include "libs/standard/venue.hpp"
#include "nlohmann/json.hpp"
#include "tests/fuzz/check.hpp"

namespace standard = passerelle::standard;
namespace venues = passerelle::venues;
using passerelle::fuzz::CheckMessage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const standard::Standard& standard = standard::Standard::V102();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = standard::ParseNationalCsv(standard, text, "fuzz");
  if (!parsed.ok()) {
    CheckMessage(parsed.status().message(), "the file-level error");
    return 0;
  }
  FUZZ_CHECK(parsed->rows == static_cast<int>(parsed->valid.size() + parsed->rejected.size()),
             "every row is either valid or rejected");
  for (const auto& c : parsed->ignored_columns) CheckMessage(c, "an ignored column's name");
  for (const auto& n : parsed->normalisations) CheckMessage(n, "a normalisation note");
  for (const auto& r : parsed->rejected) {
    FUZZ_CHECK(!r.violations.empty(), "a rejected row says why");
    CheckMessage(r.source_id, "a rejected row's source_id");
    for (const auto& v : r.violations) {
      CheckMessage(v.field, "a violation's field");
      CheckMessage(v.value, "a violation's value");
      CheckMessage(v.message, "a violation's message");
    }
  }

  std::vector<venues::v1::Venue> messages(parsed->valid.size());
  std::vector<const venues::v1::Venue*> pointers;
  for (size_t i = 0; i < parsed->valid.size(); ++i) {
    for (const auto& [field, values] : parsed->valid[i].venue.standard) {
      for (const auto& v : values) CheckMessage(v, "an accepted value (field " + field + ")");
    }
    standard::ToProto(standard, parsed->valid[i].venue, &messages[i]);
    pointers.push_back(&messages[i]);
  }
  if (pointers.empty()) return 0;

  // The export of what the API holds reads back as the same venues.
  const std::string exported = standard::WriteNationalCsv(standard, pointers);
  auto again = standard::ParseNationalCsv(standard, exported, "fuzz");
  FUZZ_CHECK(again.ok(), "our own export parses");
  FUZZ_CHECK(again->rejected.empty(),
             "our own export of accepted rows is accepted (first refusal: " +
                 (again->rejected.empty() || again->rejected[0].violations.empty()
                      ? std::string()
                      : again->rejected[0].violations[0].field + " " +
                            again->rejected[0].violations[0].rule) +
                 ")");
  FUZZ_CHECK(again->valid.size() == messages.size(), "every exported venue reads back");
  for (size_t i = 0; i < messages.size(); ++i) {
    venues::v1::Venue back;
    standard::ToProto(standard, again->valid[i].venue, &back);
    // The standard's fields only: the CSV carries nothing else (a v0.1 file's pass numérique
    // is a local field, the source id is the row's raw id).
    const std::string diff =
        standard::roundtrip::Differences(standard::roundtrip::StandardOnly(standard, messages[i]),
                                         standard::roundtrip::StandardOnly(standard, back));
    FUZZ_CHECK(diff.empty(), "an exported venue reads back unchanged: " + diff);
  }

  // The other exports of accepted rows are valid JSON (nlohmann throws on bad UTF-8 when
  // dumping: an exception here would be a crash of ExportVenues).
  for (const std::string& doc : {standard::WriteGeoJson(standard, pointers),
                                 standard::WriteDataInclusionStructures(standard, pointers),
                                 standard::WriteDataInclusionServices(standard, pointers)}) {
    FUZZ_CHECK(nlohmann::json::accept(doc), "an export is valid JSON");
  }
  return 0;
}
