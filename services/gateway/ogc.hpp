// OGC API – Features (Part 1 Core, GeoJSON) over the venues and the area layers, under `/ogc`:
// what GIS clients (QGIS, GDAL's OAPIF driver) read without knowing Passerelle. The landing
// page, conformance, the collections and their items are answered here from SearchVenues and
// GetVenue (venues, with the national standard's properties as the GeoJSON export writes them)
// and ListAreaLayers, GetAreaLayer, ListAreas and GetArea (one collection per layer; docs/ogc.md).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.hpp"
#include "passerelle/venues/v1/venues.pb.h"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/forwarder.hpp"
#include "services/gateway/rest_handler.hpp"
#include "services/gateway/routes.hpp"

namespace passerelle::gateway {

/// Most features of one items page: SearchVenues' own cap (a larger `limit` is lowered to it,
/// as the OGC standard asks, not refused).
inline constexpr int kOgcMaxLimit = 100;
inline constexpr int kOgcDefaultLimit = 10;

/// How a venue becomes a GeoJSON feature: the properties of the venues GeoJSON export
/// (`name`, then the standard's columns but latitude and longitude, lists joined with `|`,
/// enumerations in the standard's spelling, then `accepts_aptic_pass`, `owner_organisation`,
/// `referential_items`), and the spelling of each enumerated value, read from the comments of
/// the venues proto in the API schema (« … » on each enum value).
class VenueFeatures {
 public:
  /// INTERNAL naming the value when an enumerated standard field has a value without its
  /// spelling in the schema's comments.
  static absl::StatusOr<VenueFeatures> Build(const ApiSchema& schema);

  /// The standard's spellings of an enumerated property (`services`…), in enum order (value n
  /// is the n-th); null for a property that is not enumerated.
  const std::vector<std::string>* Spellings(std::string_view property) const;

  /// Appends the feature `{"type":"Feature","id":<uuid>,"geometry":…,"properties":{…}}`;
  /// geometry null when the venue has no coordinates. `links` (a JSON array, or empty) is added
  /// as the feature's `links` member.
  void Append(const venues::v1::Venue& venue, std::string_view links, std::string* out) const;

 private:
  struct Property {
    const google::protobuf::FieldDescriptor* field = nullptr;  // of the generated Venue
    const std::vector<std::string>* spellings = nullptr;       // enumerated fields
  };
  std::vector<Property> properties_;
  std::map<std::string, std::vector<std::string>, std::less<>> spellings_;
};

/// An items request, checked: the SearchVenues request it becomes and what the links repeat.
struct ItemsQuery {
  venues::v1::SearchVenuesRequest search;  ///< page_size set to the effective limit
  bool hits = false;                       ///< resultType=hits: the count only
  /// The request's `name=value` pieces as received, without page_token (for next/self links).
  std::vector<std::string> echo;
  std::string page_token;  ///< as received (empty: first page)
};

/// Reads the query string of `/ogc/collections/venues/items`. INVALID_ARGUMENT with a
/// BadRequest naming the parameter (French descriptions) for an unknown or repeated
/// parameter, a bad %-escape, a `bbox` that is not 4 (or 6) finite numbers within the
/// WGS84 ranges or whose south edge is north of its north edge, a `limit` that is not an
/// integer from 1 to 999999999 (above 100 it is lowered to 100), a `datetime` that
/// ReadDatetime refuses, a property filter value outside the standard's spellings.
absl::StatusOr<ItemsQuery> ParseItemsQuery(std::string_view query, const VenueFeatures& features);

/// Reads an OGC `datetime` into SearchVenues' `min_date_maj` / `max_date_maj`: the venues'
/// temporal property is the standard's `date_maj`, a calendar day, which matches when the day
/// (00:00 to 24:00 UTC) meets the instant or interval. Accepted: an RFC 3339 date-time
/// (`2024-01-01T10:00:00Z`, `…+01:00`, fractions of seconds) or full-date (`2024-01-01`, the
/// whole day), or an interval `start/end` whose ends are either, `..` or empty for an open end.
/// INVALID_ARGUMENT naming `datetime` otherwise (start after end included).
absl::Status ReadDatetime(std::string_view value, venues::v1::SearchVenuesRequest* search);

/// Whether `id` may name an area layer's collection: a layer id (1 to 40 lower case letters,
/// digits or dashes) other than `venues`, the venues' collection.
bool IsAreaLayerId(std::string_view id);

/// An area layer's items request, checked: the ListAreas request (FULL view) it becomes.
struct AreaItemsQuery {
  venues::v1::ListAreasRequest list;  ///< parent, view, page_size (effective limit), within
  bool hits = false;                  ///< resultType=hits
  std::vector<std::string> echo;      ///< `name=value` pieces as received, but page_token
  std::string page_token;             ///< as received
};

/// Reads the query string of `/ogc/collections/{layer}/items`: `bbox`, `limit`, `page_token`,
/// `resultType`, `f`, refused as for the venues (unknown, repeated, hostile values); areas have
/// no temporal property, so `datetime` is refused naming it.
absl::StatusOr<AreaItemsQuery> ParseAreaItemsQuery(std::string_view layer, std::string_view query);

/// Appends an area as a feature: `id` its code, `geometry` its MultiPolygon, `bbox` its box,
/// properties `name` (`areaLayers/{layer}/areas/{code}`), `code`, `label`, `venue_count`.
void AppendAreaFeature(const venues::v1::Area& area, std::string_view links, std::string* out);

/// A public base URL for absolute links: `http(s)://host[:port][/path]`, no query, fragment,
/// credentials or trailing slash. INVALID_ARGUMENT saying what is wrong.
absl::Status CheckPublicUrl(std::string_view url);

struct OgcOptions {
  /// Base of every link (`https://api.example.fr`); empty until SetPublicUrl.
  std::string public_url;
  /// Deadline of each backend call.
  absl::Duration backend_timeout = absl::Seconds(10);
  /// The clock of `timeStamp`; null: the system clock.
  const clocks::Clock* clock = nullptr;
};

/// The `/ogc` tree, asked by the RestHandler before its routes. Anonymous (public) reads only.
class OgcPages : public ExtraPages {
 public:
  /// FAILED_PRECONDITION when SearchVenues, GetVenue or an area method (ListAreaLayers,
  /// GetAreaLayer, ListAreas, GetArea) has no route; INVALID_ARGUMENT for a bad public URL.
  static absl::StatusOr<std::unique_ptr<OgcPages>> Create(const ApiSchema& schema,
                                                          const RouteTable& routes,
                                                          Backends& backends, OgcOptions options);

  /// GET and HEAD on the tree's paths (the landing page, `api`, `conformance`, `collections`,
  /// a collection, its items, one item); nothing elsewhere.
  std::vector<std::string> Allowed(std::string_view path) const override;
  void Serve(const std::shared_ptr<http::Exchange>& exchange, PageRequest request) override;

  /// Sets the base of the links once the listening port is known (checked as above).
  absl::Status SetPublicUrl(std::string url);

 private:
  struct Reply;
  OgcPages(const ApiSchema& schema, Backends& backends, OgcOptions options, VenueFeatures features);
  std::string PublicUrl() const;
  /// The OpenAPI 3.0 definition of the `/ogc` tree (what GDAL reads for the items' parameters).
  std::string OpenApi(const std::string& root) const;
  void Items(const Reply& reply, std::string_view query);
  void Feature(const Reply& reply, const std::string& id, std::string_view query);
  void Collections(const Reply& reply);
  void AreaCollection(const Reply& reply, const std::string& layer);
  void AreaItems(const Reply& reply, const std::string& layer, std::string_view query);
  void AreaFeature(const Reply& reply, const std::string& layer, const std::string& code,
                   std::string_view query);
  /// Calls a venues method; `done` gets its status and answer (cancelled with the exchange).
  void Ask(const Reply& reply, const Route& route, std::string request,
           std::function<void(grpc::Status, std::string)> done);
  void Send(const Reply& reply, std::string content_type, std::string body,
            std::string_view cache_control) const;
  void Fail(const Reply& reply, const absl::Status& status) const;
  void FailBackend(const Reply& reply, const grpc::Status& status) const;

  const ApiSchema& schema_;
  Backends& backends_;
  OgcOptions options_;
  VenueFeatures features_;
  const Route* search_ = nullptr;
  const Route* get_ = nullptr;
  const Route* list_layers_ = nullptr;
  const Route* get_layer_ = nullptr;
  const Route* list_areas_ = nullptr;
  const Route* get_area_ = nullptr;
  mutable std::mutex mu_;  // guards options_.public_url
};

}  // namespace passerelle::gateway
