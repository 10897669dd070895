// Source profiles: how a source's file, whatever its format and encoding, becomes the standard's
// rows. The mapped CSV and GoGoCarto readers apply a profile's mapping, value maps, filter and
// hours layout; the standard's CSV goes to ReadFile. Pure: no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/api/status.hpp"
#include "libs/standard/exchange.hpp"
#include "libs/text/encoding.hpp"
#include "passerelle/sync/v1/sync.pb.h"
#include "services/sync/sync.hpp"

namespace passerelle::sync {

/// Most mappings of a profile, parts of a mapping, entries of a value map, filter prefixes.
inline constexpr int kMaxMappings = 60;
inline constexpr int kMaxParts = 10;
inline constexpr int kMaxValueMap = 200;
inline constexpr int kMaxPrefixes = 100;
/// Deepest nesting of a GoGoCarto document, and most elements.
inline constexpr int kMaxJsonDepth = 32;
inline constexpr size_t kMaxJsonElements = 200000;

/// The mapping target that is not a standard field: the venue accepts the #APTIC pass.
inline constexpr char kAcceptsApticPass[] = "accepts_aptic_pass";

/// Appends one violation per broken rule of `profile`, each on its path under `prefix` (e.g.
/// `source.profile.mapping[2].field`) with the value quoted and the rule named.
void CheckProfile(const standard::Standard& standard, const v1::SourceProfile& profile,
                  const std::string& prefix, std::vector<api::FieldViolation>* bad);

/// True when `profile` reads the file otherwise than the standard's CSV in UTF-8 or detected
/// (a profile worth previewing before it is saved).
bool IsCustomProfile(const v1::SourceProfile& profile);

/// A source's file read through its profile.
struct SourceFile {
  standard::ParsedFile parsed;
  /// Rows skipped by the filter.
  int filtered = 0;
  /// The encoding read.
  text::Encoding encoding = text::Encoding::kUtf8;
  /// The file's columns (CSV header, JSON paths), at most 200.
  std::vector<std::string> columns;
  /// Accepted rows' `accepts_aptic_pass` is in `parsed.valid[i].venue`.
};

/// Reads `file` through `profile`, or INVALID_ARGUMENT whose message is the run's error when the
/// file fails whole (nothing applied): not in the profile's format, a mapped column the file
/// does not have (unless `allow_missing_columns`: then read as empty, for a preview that lists
/// them with MissingColumns), JSON too deep or too big, UTF-16.
absl::StatusOr<SourceFile> ReadSource(const standard::Standard& standard,
                                      const v1::SourceProfile& profile, std::string_view file,
                                      const std::string& source_id,
                                      bool allow_missing_columns = false);

/// The mapped columns (and filter and hours columns) that `columns` lacks, as problems with
/// their path in `field` (`profile.mapping[0].parts[1].column`), the column and rule `column`.
std::vector<RowError> MissingColumns(const v1::SourceProfile& profile,
                                     const std::vector<std::string>& columns);

}  // namespace passerelle::sync
