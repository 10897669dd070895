// The REST/JSON front: each HTTP request is matched to a route, checked against its access
// scope, transcoded and forwarded to its backend; the answer goes back as proto3 JSON with the
// headers clients expect (ETag and 304, 201 and Location, Link to the next page,
// Cache-Control, CORS, X-Request-Id), or as an AIP-193 error.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "libs/http/server.hpp"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/gateway/admission.hpp"
#include "services/gateway/answer_cache.hpp"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/forwarder.hpp"
#include "services/gateway/keys.hpp"
#include "services/gateway/rate_limit.hpp"
#include "services/gateway/routes.hpp"

namespace passerelle::gateway {

/// What the door gives a page set with each request it hands over.
struct PageRequest {
  std::string request_id;
  /// Headers every answer carries: X-Request-Id, RateLimit-*, CORS.
  std::vector<http::Header> headers;
};

/// Pages served beside the annotated routes (OGC API Features, the map's static files) under
/// one path prefix. The door admits the caller, answers OPTIONS, 404 and 405 from `Allowed`,
/// and hands over the rest.
class ExtraPages {
 public:
  virtual ~ExtraPages() = default;
  /// The methods `path` (under the set's prefix) answers; empty when it is none of these pages.
  virtual std::vector<std::string> Allowed(std::string_view path) const = 0;
  /// Answers a request whose method `Allowed` names for its path (exactly once).
  virtual void Serve(const std::shared_ptr<http::Exchange>& exchange, PageRequest request) = 0;
  /// Answers a GET or HEAD of a path the set does not serve with a page of its own (a 404 that
  /// people read), or returns false for the API's JSON error.
  virtual bool ServeNotFound(const std::shared_ptr<http::Exchange>& /*exchange*/,
                             PageRequest& /*request*/) {
    return false;
  }
};

struct PageSet {
  std::string prefix;
  ExtraPages* pages = nullptr;
  /// The route label of its requests in the metrics; empty: the prefix without its `/`.
  std::string name;
};

/// The largest body of a form route (Route::form_request): a one-click unsubscribe's
/// `List-Unsubscribe=One-Click` and room to spare; more is a 413.
inline constexpr size_t kMaxFormBytes = 4096;

struct RestOptions {
  /// Largest JSON body (413 over it).
  size_t max_json_bytes = size_t{1} << 20;
  /// Largest raw upload (imports, area layers).
  size_t max_upload_bytes = size_t{64} << 20;
  /// Deadline of a unary backend call; a client may ask for less with `X-Server-Timeout`.
  absl::Duration backend_timeout = absl::Seconds(10);
  /// Deadline of a whole export stream.
  absl::Duration stream_timeout = absl::Minutes(10);
  /// Origins allowed by CORS (exact matches; `*` for any origin on public reads).
  std::vector<std::string> cors_origins;
  /// Token buckets per scope: `public` (per client address), `partner`, `organisation`,
  /// `admin` (per key).
  std::map<std::string, RateLimit> rate_limits = *ParseRateLimits("");
  /// Where the door's metrics go (requests by route and status, latency); null: none.
  prometheus::Registry* registry = nullptr;
  /// Page sets by path prefix (`/ogc`: that path and every path under it), before the routes
  /// (not owned); the prefix also names their requests in the metrics.
  std::vector<PageSet> pages;
  /// Served at GET /v1/openapi.json when not empty.
  std::string openapi_json;
  /// Where public reads of `cached_methods` are answered from memory, and writes through the
  /// door drop what they change (not owned); null: every read goes to its backend.
  AnswerCache* answer_cache = nullptr;
  /// Full names of the GET methods whose answers may be kept: public, one resource by its
  /// name alone, and every change of it announced by an event that names it.
  std::vector<std::string> cached_methods = {"passerelle.venues.v1.VenueService.GetVenue"};
};

/// The door's answers by route and status, and their latency by route. The series of the
/// routes and statuses named at construction are looked up once, before any request, and read
/// without a lock; any other pair is added under a lock the first time it is seen.
class RouteMetrics {
 public:
  RouteMetrics(prometheus::Registry& registry, const std::vector<std::string>& routes);
  void Record(const std::string& route, int status, double seconds);

 private:
  struct Series {
    prometheus::Histogram* seconds = nullptr;
    std::map<int, prometheus::Counter*> by_status;
  };
  prometheus::Counter& Counter(const std::string& route, int status);
  prometheus::Histogram& Histogram(const std::string& route);

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& seconds_;
  std::map<std::string, Series> known_;  // read-only after construction
  std::mutex mu_;                        // guards the rest below
  std::map<std::pair<std::string, int>, prometheus::Counter*> counters_;
  std::map<std::string, prometheus::Histogram*> histograms_;
};

class RestHandler : public http::Handler {
 public:
  RestHandler(const ApiSchema& schema, const RouteTable& routes, Backends& backends, KeyRing& keys,
              RateLimiter& limiter, RestOptions options);
  http::BodyPlan Plan(const http::Request& head) override;
  void Handle(std::shared_ptr<http::Exchange> exchange) override;

 private:
  struct Context;
  void Preflight(const Context& context, std::vector<std::string> allowed);
  /// 404 naming the path.
  void NotFound(const Context& context);
  /// 405 with `Allow` (OPTIONS added to `allowed`).
  void NotAllowed(const Context& context, std::vector<std::string> allowed);
  void Forward(std::shared_ptr<Context> context);
  void ForwardStream(std::shared_ptr<Context> context, std::string request);
  void ForwardUpload(std::shared_ptr<Context> context, std::string first);
  void Fail(const Context& context, const grpc::Status& status, int http_status = 0,
            std::vector<http::Header> extra = {});
  std::vector<http::Header> CommonHeaders(const Context& context) const;
  /// The head of a read's answer (JSON, its ETag); true when If-None-Match made it a 304,
  /// which was sent.
  bool AnswerHead(const Context& context, const std::string& etag, http::Response* r);
  /// Answers a public read from the answer cache; false when it must go to the backend.
  bool AnswerFromCache(Context& context);
  void Audit(const Context& context, int http_status, grpc::StatusCode code) const;

  const ApiSchema& schema_;
  const RouteTable& routes_;
  Backends& backends_;
  Gate gate_;
  RestOptions options_;
  std::unique_ptr<RouteMetrics> metrics_;
  std::set<const Route*> cached_routes_;
};

}  // namespace passerelle::gateway
