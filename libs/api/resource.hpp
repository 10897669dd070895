// Helpers of every resource-oriented API, free of gRPC: resource names (AIP-122), etags
// (AIP-154) and timestamps.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/api/status.hpp"

namespace passerelle::api {

/// Longest resource name any service accepts, in bytes.
inline constexpr size_t kMaxResourceName = 512;

/// A resource name pattern (AIP-122), e.g. `nomenclatures/{nomenclature}/proposals/{proposal}`:
/// literal collection segments alternate with `{variable}` segments. The one parser of every
/// service's names, so each resource has exactly one name: no empty, extra or padded segment.
class ResourcePattern {
 public:
  /// `pattern` is a constant of the program; a malformed one aborts at start.
  explicit ResourcePattern(std::string_view pattern);

  /// The values of the pattern's variables in `name`, in order. INVALID_ARGUMENT with a
  /// violation on `field` ("must be <pattern>", quoting a short prefix of `name`) when `name`
  /// is longer than kMaxResourceName, not valid UTF-8, holds a control character or a space,
  /// or does not match the pattern.
  absl::StatusOr<std::vector<std::string>> Parse(std::string_view name,
                                                 std::string_view field) const;
  /// The name of `values` (one per variable, in order).
  std::string Format(const std::vector<std::string_view>& values) const;
  /// The pattern as written.
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  /// Each segment: the literal, or empty for a variable.
  std::vector<std::string> segments_;
};

/// True when `value` can be one variable of a resource name as ResourcePattern::Parse reads
/// it: not empty, valid UTF-8, no `/`, space or control character, within kMaxResourceName.
/// What a service stores as an id it will later be asked for by name must pass it.
bool IsNameSegment(std::string_view value);

/// A resource id that is a positive number, in its one canonical spelling: decimal digits
/// without sign or leading zero ("12", not "012", "+12" or "1e1"), at most 2^63-1.
std::optional<int64_t> ParsePositiveId(std::string_view segment);

/// True for a UUID in its canonical text form: lowercase hexadecimal, 8-4-4-4-12.
bool IsCanonicalUuid(std::string_view s);

/// True for an area layer id (`areaLayers/{layer}`, the `qpv` of `qpv:QN05904M`): 1 to 40
/// lower-case ASCII letters, digits or dashes, not starting with a dash (as organisation ids).
/// Venues keeps the layers; indicators names them.
bool IsLayerId(std::string_view layer);
/// The rule IsLayerId checks, in French, for refusals.
inline constexpr char kLayerIdRule[] =
    "1 à 40 lettres minuscules, chiffres ou tirets, sans tiret au début";
/// The layer of `name`, the first variable of `pattern` (`areaLayers/{layer}...`): Parse's
/// refusals, and `[pattern]` on `field` when that variable is not a layer id.
absl::StatusOr<std::string> ParseLayerName(const ResourcePattern& pattern, std::string_view name,
                                           std::string_view field);

/// INVALID_ARGUMENT on `field` for a resource name whose variable `what` is not canonical,
/// e.g. `must be venues/{venue} with a lowercase UUID, got "venues/ABC"`.
absl::Status InvalidName(std::string_view field, std::string_view rule, std::string_view name);

/// Weak etag of a revision: `W/"<revision>"`.
std::string WeakETag(int revision);
/// The revision in an etag this service issued; 0 when `etag` is empty (no precondition),
/// INVALID_ARGUMENT with a field violation on `etag` when it is malformed.
absl::StatusOr<int> RevisionFromETag(const std::string& etag);

/// AIP-134: an update mask names each field once. Adds a violation on `update_mask.paths[i]`
/// (rule `[unique]`, in French) for each path named again.
void CheckMaskPathsOnce(const std::vector<std::string>& mask, std::vector<FieldViolation>* bad);

/// What an update mask may name on one resource.
struct UpdateMaskRules {
  /// The fields a mask may name.
  std::function<bool(std::string_view)> writable;
  /// The resource, as the message names it: "d'un lieu", "d'une source".
  std::string of;
  /// The writable fields, listed in the message when they are few (empty: not listed).
  std::string listed;
  /// Fields that exist but are set once, each with why (the message's end).
  std::vector<std::pair<std::string, std::string>> immutable;
  /// AIP-134: `*` alone names every writable field.
  bool star = false;
};

/// AIP-134 checks of an update mask, the same on every service: each path names a writable
/// field (a violation on `update_mask.paths[i]`, rule `[field]` or `[immutable]`, in French), at
/// most once (`[unique]`), and a mask longer than `max_paths` is refused whole (`[size]`) before
/// its paths are read. Whether an empty mask is allowed is the caller's rule.
void CheckUpdateMask(const std::vector<std::string>& mask, const UpdateMaskRules& rules,
                     std::vector<FieldViolation>* bad, size_t max_paths = 200);

/// absl::Time to google.protobuf.Timestamp (microsecond precision; times before 1970 too).
void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out);
/// The instant a Timestamp names.
absl::Time FromTimestamp(const google::protobuf::Timestamp& t);

}  // namespace passerelle::api
