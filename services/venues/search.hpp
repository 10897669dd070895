// In-memory search over the registry: around a point or inside a box, with the standard's
// filters, referential items and free text. A read model in wire form: each active venue is
// kept as its serialized API message (compact, and copied straight into responses) next to what the
// search needs (position, enumeration bit sets, folded words). Built from the store at start,
// kept current by this process's writes and a poll of the others'.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "libs/standard/standard.hpp"
#include "libs/standard/venue.hpp"
#include "passerelle/venues/v1/venues.pb.h"

namespace passerelle::venues {

/// What a search can filter on. The first kMaskedFields are the standard's enumerations, kept
/// as bit sets in the index; the others are compared as strings.
enum class SearchField {
  kServices,
  kDispositifs,
  kPublics,
  kPrisesEnCharge,
  kFrais,
  kModalitesAcces,
  kModalitesAccompagnement,
  kTypologie,
  kReferentialItems,
  kAreas,
};
inline constexpr size_t kSearchFields = 10;
inline constexpr size_t kMaskedFields = 7;
/// The standard's name of each enumerated field, in SearchField order (the bit sets' order).
inline constexpr std::array<std::string_view, kMaskedFields> kMaskedFieldNames = {
    "services",
    "dispositif_programmes_nationaux",
    "publics_specifiquement_adresses",
    "prise_en_charge_specifique",
    "frais_a_charge",
    "modalites_acces",
    "modalites_accompagnement"};

struct SearchQuery {
  /// Circle: center and radius (meters), results by distance.
  bool has_circle = false;
  double lat = 0, lon = 0, radius_m = 0;
  /// Box: results by name. min_lon > max_lon is a box across the antimeridian.
  bool has_box = false;
  double min_lat = 0, min_lon = 0, max_lat = 0, max_lon = 0;
  /// Each filter keeps venues having at least one of its values (an empty one keeps all);
  /// filters combine with AND. Enumerated fields hold the schema's spelling.
  std::array<std::vector<std::string>, kSearchFields> any_of;
  std::vector<std::string>& AnyOf(SearchField f) { return any_of[static_cast<size_t>(f)]; }
  /// Free text: every word must start a word of the name, address, town or presentation,
  /// ignoring case and accents.
  std::string text;
  /// Open at this local (Europe/Paris) minute, per the venue's `horaires`: only venues known to
  /// be open then are kept; those whose hours are missing, not understood or unknown at that
  /// minute are left out (and counted, see Search).
  std::optional<absl::CivilMinute> open_at;
  /// With open_at: open at some minute of [open_at, open_until) instead (the same rules).
  std::optional<absl::CivilMinute> open_until;
  /// Standard `date_maj` (YYYY-MM-DD) within [min_date_maj, max_date_maj]; an empty bound is
  /// none. Venues without a date_maj are left out by either bound.
  std::string min_date_maj, max_date_maj;
  size_t limit = 20;
  /// Cursor: results strictly after (distance or name key, resource name); with `before`, the
  /// last `limit` results strictly before it instead (a previous page), in the same order.
  bool before = false;
  double after_distance = -1;
  std::string after_key;
  std::string after_id;
};

/// A venue as the index keeps it: its resource name and its API message, serialized once when
/// indexed (responses copy these bytes instead of building and encoding messages per request).
struct IndexedVenue {
  std::string name;   // venues/{id}
  std::string wire;   // serialized v1::Venue
  std::string basic;  // serialized v1::Venue in the BASIC view (BasicView)
};

/// The venue in SearchVenues' BASIC view: the fields a list or a map of results shows (the
/// proto's VenueView names them).
v1::Venue BasicView(const v1::Venue& full);

struct SearchHit {
  std::shared_ptr<const IndexedVenue> venue;
  double distance_m = -1;  // -1 without a circle
  std::string key;         // sort key without a circle (folded name); empty with one
};

class SearchIndex {
 public:
  explicit SearchIndex(const standard::Standard& standard);
  ~SearchIndex();
  /// Adds or replaces a venue (withdrawn ones and hidden duplicates are removed). A revision
  /// older than or equal to the one indexed (or withdrawn) is ignored, so the order puts arrive
  /// in does not matter.
  void Put(const standard::Venue& venue);
  /// Best first, at most q.limit; `total` gets the number of matches (cursor ignored) and
  /// `preceding`, when not null, how many of them come before the first hit returned;
  /// `unknown_hours`, when not null, how many venues only q.open_at (and open_until) left out,
  /// their hours being unknown then.
  std::vector<SearchHit> Search(const SearchQuery& q, size_t* total, size_t* preceding = nullptr,
                                size_t* unknown_hours = nullptr) const;
  size_t size() const;
  /// Whether the index holds venue `id` at `revision` or a later one (active or withdrawn):
  /// Put would change nothing.
  bool Knows(const std::string& id, int revision) const;
  /// The active venue with this id as the index holds it, or nullptr (withdrawn, unknown, or
  /// not indexed yet).
  std::shared_ptr<const IndexedVenue> Find(const std::string& id) const;
  /// Every indexed (active) venue, by resource name.
  std::vector<v1::Venue> All() const;
  /// The same as the index holds them (shared, immutable; serialized once): what an export
  /// walks without copying every venue.
  std::vector<std::shared_ptr<const IndexedVenue>> Snapshot() const;

  /// The index's structures (search.cpp), named here so the search's steps can be free
  /// functions of that file.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace passerelle::venues
