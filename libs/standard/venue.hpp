// The venue as the domain knows it, and its mapping to and from the API message.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/standard/standard.hpp"
#include "passerelle/venues/v1/venues.pb.h"

namespace passerelle::standard {

/// A standard field edited locally (through the API): when, and by whom.
struct LocalEdit {
  absl::Time time = absl::UnixEpoch();
  std::string by;  // the caller's key id or acting organisation; empty for internal callers

  bool operator==(const LocalEdit&) const = default;
};

struct Venue {
  std::string id;  // UUID; the resource name is venues/{id}
  Record standard;
  std::string source;
  std::string source_id;
  std::string owner_organisation;
  std::vector<std::string> referential_items;  // items/{item}
  bool accepts_aptic_pass = false;
  std::vector<std::string> areas;
  bool withdrawn = false;
  std::string withdrawal_reason;
  /// The canonical venue's id when this one was resolved as its duplicate (hidden), or empty.
  std::string duplicate_of;
  absl::Time create_time = absl::UnixEpoch();
  absl::Time update_time = absl::UnixEpoch();
  absl::Time first_seen_time = absl::UnixEpoch();
  absl::Time last_seen_time = absl::UnixEpoch();
  int revision = 0;
  /// What the source last sent (its standard fields), for venues written by a source; nullopt
  /// for venues created one by one (source `passerelle`).
  std::optional<Record> source_record;
  /// Standard fields edited locally, whose value wins over the source's, by field name.
  std::map<std::string, LocalEdit> local_fields;

  std::string Name() const { return "venues/" + id; }
};

/// Local (non-standard) fields a client may write.
const std::vector<std::string>& LocalFields();

/// The standard fields of a message as raw standard strings (enum values spelled as the schema
/// spells them, lists joined with `|`), ready for ValidateRow. Uses the message's field names,
/// which are the standard's.
std::map<std::string, std::string> RawFromProto(const Standard& standard,
                                                const venues::v1::Venue& message);

/// Writes a venue into the API message (standard fields by name, enums by schema position).
void ToProto(const Standard& standard, const Venue& venue, venues::v1::Venue* out);

/// Names of the fields whose values differ (standard and local).
std::vector<std::string> ChangedFields(const Venue& before, const Venue& after);

/// Weak etag of the venue's revision.
std::string ETag(const Venue& v);

/// Whether `field` holds the same values in `a` and `b` (both absent, or the same values in any
/// order: a list sent again in another order is not a change).
bool SameFieldValue(const Record& a, const Record& b, const std::string& field);

/// The fields that are edited, merged and given back together: `latitude` and `longitude` (one
/// position: taking one from the source and the other from a local edit would make a point
/// nobody entered); any other field alone.
std::vector<std::string> FieldGroup(const std::string& field);

}  // namespace passerelle::standard
