// OGC API – Features (Part 1 Core, GeoJSON) over the venues, under `/ogc`: what GIS clients
// (QGIS, GDAL's OAPIF driver) read without knowing Passerelle. The landing page, conformance,
// the collection and its items are answered here from SearchVenues and GetVenue, with the
// national standard's properties as the GeoJSON export writes them (docs/ogc.md).
#pragma once

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
/// integer from 1 to 999999999 (above 100 it is lowered to 100), any `datetime` (not
/// supported yet), a property filter value outside the standard's spellings.
absl::StatusOr<ItemsQuery> ParseItemsQuery(std::string_view query, const VenueFeatures& features);

/// A public base URL for absolute links: `http(s)://host[:port][/path]`, no query, fragment,
/// credentials or trailing slash. INVALID_ARGUMENT saying what is wrong.
absl::Status CheckPublicUrl(std::string_view url);

struct OgcOptions {
  /// Base of every link (`https://api.example.fr`); empty until SetPublicUrl.
  std::string public_url;
  /// Deadline of each backend call.
  absl::Duration backend_timeout = absl::Seconds(10);
  /// Origins allowed by CORS, as for the REST routes (`*`: any).
  std::vector<std::string> cors_origins;
  /// The clock of `timeStamp`; null: the system clock.
  const clocks::Clock* clock = nullptr;
};

/// The `/ogc` tree, asked by the RestHandler before its routes. Anonymous (public) reads only.
class OgcPages : public ExtraPages {
 public:
  /// FAILED_PRECONDITION when SearchVenues or GetVenue has no route; INVALID_ARGUMENT for a bad
  /// public URL.
  static absl::StatusOr<std::unique_ptr<OgcPages>> Create(const ApiSchema& schema,
                                                          const RouteTable& routes,
                                                          Backends& backends, OgcOptions options);

  bool Serve(const std::shared_ptr<http::Exchange>& exchange,
             const std::string& request_id) override;

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
  mutable std::mutex mu_;  // guards options_.public_url
};

}  // namespace passerelle::gateway
