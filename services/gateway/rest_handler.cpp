#include "services/gateway/rest_handler.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "libs/api/status.hpp"
#include "libs/events/event.hpp"
#include "libs/http/cache_control.hpp"
#include "libs/logging/logging.hpp"
#include "libs/text/split.hpp"
#include "libs/text/utf8.hpp"
#include "services/gateway/errors.hpp"
#include "services/gateway/ids.hpp"
#include "services/gateway/transcode.hpp"

namespace passerelle::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::internal::WireFormatLite;

// An answer without an etag of its own (lists, searches) is tagged by its bytes: a 64-bit
// hash (libstdc++'s, stable for a given build; SHA-256 was 9% of a search's work). Replicas run
// one build; after an upgrade a client revalidates once.
std::string StrongETag(std::string_view bytes) {
  return absl::StrCat("\"", absl::Hex(std::hash<std::string_view>{}(bytes), absl::kZeroPad16),
                      absl::Hex(bytes.size()), "\"");
}

std::string_view Unweak(std::string_view tag) {
  tag = text::StripSpaces(tag);
  if (absl::StartsWith(std::string(tag.substr(0, 2)), "W/")) tag.remove_prefix(2);
  return tag;
}

// If-None-Match (a list of tags, or `*`), compared weakly.
bool NoneMatch(std::string_view header, std::string_view etag) {
  for (std::string_view tag : text::Split(header, ',')) {
    std::string_view t = text::StripSpaces(tag);
    if (t == "*" || Unweak(t) == Unweak(etag)) return true;
  }
  return false;
}

// A request's path and query as a URI reference safe inside `<...>` of a Link header: every
// byte outside RFC 3986's path and query characters is percent-encoded (`%` kept as given).
void AppendUriSafe(std::string_view raw, std::string* out) {
  static constexpr std::string_view kKept = "-._~!$&'()*+,;=:@/?%";
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || kKept.find(c) != std::string_view::npos) {
      out->push_back(c);
    } else {
      absl::StrAppend(out, "%", absl::Hex(u, absl::kZeroPad2));
    }
  }
}

// `<path?query&pageToken=token>; rel="rel"`, the query without its page token.
std::string PageLink(std::string_view path, std::string_view query, std::string_view token,
                     std::string_view rel) {
  std::string link = "<";
  AppendUriSafe(path, &link);
  link.push_back('?');
  for (std::string_view part : text::Split(query, '&')) {
    if (part.empty() || part.starts_with("page_token=") || part.starts_with("pageToken=")) {
      continue;
    }
    AppendUriSafe(part, &link);
    link.push_back('&');
  }
  link += "pageToken=";
  for (char c : token) {  // sealed tokens are base64url; anything else is encoded
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '_') {
      link.push_back(c);
    } else {
      absl::StrAppend(&link, "%", absl::Hex(u, absl::kZeroPad2));
    }
  }
  absl::StrAppend(&link, ">; rel=\"", std::string(rel), "\"");
  return link;
}

std::string ExportFileName(const Route& route, const RouteTable::Lookup& found,
                           std::string_view content_type) {
  std::string base = "export";
  if (!found.bindings.empty()) {
    base = found.bindings.back().second;
  } else {
    for (const auto& s : route.path.segments()) {
      if (s.kind == PathTemplate::Segment::kLiteral) base = s.literal;
    }
  }
  std::replace(base.begin(), base.end(), '/', '-');
  base.erase(std::remove_if(base.begin(), base.end(),
                            [](char c) {
                              return !(absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                                       c == '-' || c == '_' || c == '.');
                            }),
             base.end());
  std::string_view media = text::StripSpaces(content_type.substr(0, content_type.find(';')));
  std::string ext = media == "text/csv"               ? ".csv"
                    : media == "application/geo+json" ? ".geojson"
                    : media == "text/turtle"          ? ".ttl"
                    : media == "application/json"     ? ".json"
                                                      : ".bin";
  return base + ext;
}

// Every credential a request presents (each header counted, so two are refused).
Credentials CredentialsOf(const http::Request& req) {
  Credentials c;
  for (const http::Header& h : req.headers) {
    if (h.name == "authorization") c.authorization.push_back(h.value);
    if (h.name == "x-api-key") c.api_key.push_back(h.value);
  }
  c.peer = req.peer;
  return c;
}

// The HTTP answer to a refused admission: 429 (with Retry-After), 400, or 401 with its
// challenge.
int RefusalCode(const absl::Status& refused) {
  return absl::IsResourceExhausted(refused) ? 429 : HttpStatusOf(FromAbsl(refused).error_code());
}

std::vector<http::Header> ToHeaders(const std::vector<std::pair<std::string, std::string>>& in) {
  std::vector<http::Header> out;
  for (const auto& [name, value] : in) out.push_back({name, value});
  return out;
}

// The methods a path answers (HEAD wherever GET is).
std::vector<std::string> Allowed(const RouteTable::Lookup& found) {
  std::vector<std::string> out = found.allowed;
  if (std::find(out.begin(), out.end(), "GET") != out.end() &&
      std::find(out.begin(), out.end(), "HEAD") == out.end()) {
    out.push_back("HEAD");
  }
  return out;
}

std::vector<http::Header> Challenge(const absl::Status& refused) {
  if (!absl::IsUnauthenticated(refused)) return {};
  return {{"www-authenticate", "Bearer"}};
}

std::string PageSetName(const PageSet& set) {
  return set.name.empty() ? set.prefix.substr(1) : set.name;
}

}  // namespace

namespace {

// Counts every answer by route and status and times it to its first byte, whatever path of
// the handler made it: the exchange is wrapped once, at the door.
class MeteredExchange : public http::Exchange {
 public:
  MeteredExchange(std::shared_ptr<http::Exchange> inner, RouteMetrics* metrics)
      : inner_(std::move(inner)), metrics_(metrics), start_(absl::Now()) {}
  void set_route(std::string route) {
    std::lock_guard<std::mutex> lock(mu_);
    route_ = std::move(route);
  }
  const http::Request& request() const override { return inner_->request(); }
  void Respond(http::Response response) override {
    Record(response.status);
    inner_->Respond(std::move(response));
  }
  void StartStream(http::Response head) override {
    Record(head.status);
    inner_->StartStream(std::move(head));
  }
  void WriteChunk(std::string data, std::function<void(bool ok)> on_written) override {
    inner_->WriteChunk(std::move(data), std::move(on_written));
  }
  void FinishStream() override { inner_->FinishStream(); }
  void AbortStream() override { inner_->AbortStream(); }
  void ReadBody(std::function<void(bool ok, std::string piece, bool last)> cb) override {
    inner_->ReadBody(std::move(cb));
  }
  void OnCancel(std::function<void()> cb) override { inner_->OnCancel(std::move(cb)); }

 private:
  void Record(int status) {
    std::string route;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (recorded_) return;
      recorded_ = true;
      route = route_;
    }
    if (metrics_ != nullptr) {
      metrics_->Record(route, status, absl::ToDoubleSeconds(absl::Now() - start_));
    }
  }
  std::shared_ptr<http::Exchange> inner_;
  RouteMetrics* metrics_;
  absl::Time start_;
  std::mutex mu_;
  std::string route_ = "none";
  bool recorded_ = false;
};

}  // namespace

struct RestHandler::Context {
  std::shared_ptr<http::Exchange> exchange;
  std::string request_id;
  std::string origin;  // allowed CORS origin to echo, or empty
  RouteTable::Lookup found;
  std::string path;
  std::string query;
  bool conditional = false;  // If-Match given
  std::string if_none_match;
  CallOptions call;
  std::shared_ptr<Call> backend;
  std::shared_ptr<std::function<void()>> pump;  // an upload's body reader
  Caller caller;
  std::vector<http::Header> rate;  // RateLimit-* of this request
  std::string cache_name;          // a cacheable read's resource; empty: not one
  uint64_t cache_ticket = 0;
};

void RestHandler::Audit(const Context& c, int http_status, grpc::StatusCode code) const {
  if (c.found.route == nullptr) return;
  AuditWrite("rest", *c.found.route, c.caller, c.path, http_status, code, c.request_id);
}

RouteMetrics::RouteMetrics(prometheus::Registry& registry, const std::vector<std::string>& routes)
    : requests_(prometheus::BuildCounter()
                    .Name("passerelle_gateway_http_requests_total")
                    .Help("Answers of the REST door by route (RPC method, `ogc`, `none`) and "
                          "HTTP status")
                    .Register(registry)),
      seconds_(prometheus::BuildHistogram()
                   .Name("passerelle_gateway_http_request_duration_seconds")
                   .Help("Time from a request's head to its answer's head, by route")
                   .Register(registry)) {
  // prometheus-cpp's Family::Add hashes a label map under its own lock on every call: the
  // statuses the door gives are looked up here once. Only series that count something are
  // exported (a counter at zero is not created until first use).
  for (const std::string& route : routes) {
    Series& series = known_[route];
    series.seconds = &Histogram(route);
    for (int status :
         {200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 429, 500, 503, 504}) {
      series.by_status[status] = nullptr;
    }
  }
}

prometheus::Counter& RouteMetrics::Counter(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  auto c = counters_.find({route, status});
  if (c == counters_.end()) {
    c = counters_
            .emplace(std::make_pair(route, status),
                     &requests_.Add({{"route", route}, {"code", absl::StrCat(status)}}))
            .first;
  }
  return *c->second;
}

prometheus::Histogram& RouteMetrics::Histogram(const std::string& route) {
  std::lock_guard<std::mutex> lock(mu_);
  auto h = histograms_.find(route);
  if (h == histograms_.end()) {
    h = histograms_
            .emplace(route, &seconds_.Add({{"route", route}},
                                          prometheus::Histogram::BucketBoundaries{
                                              0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5, 1, 2.5, 10}))
            .first;
  }
  return *h->second;
}

void RouteMetrics::Record(const std::string& route, int status, double seconds) {
  auto series = known_.find(route);
  if (series == known_.end()) {
    Counter(route, status).Increment();
    Histogram(route).Observe(seconds);
    return;
  }
  series->second.seconds->Observe(seconds);
  auto slot = series->second.by_status.find(status);
  if (slot == series->second.by_status.end()) {
    Counter(route, status).Increment();
    return;
  }
  // A counter pointer is published once: a racing first use finds the same series.
  prometheus::Counter* counter =
      std::atomic_ref<prometheus::Counter*>(slot->second).load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &Counter(route, status);
    std::atomic_ref<prometheus::Counter*>(slot->second).store(counter, std::memory_order_release);
  }
  counter->Increment();
}

RestHandler::RestHandler(const ApiSchema& schema, const RouteTable& routes, Backends& backends,
                         KeyRing& keys, RateLimiter& limiter, RestOptions options)
    : schema_(schema),
      routes_(routes),
      backends_(backends),
      gate_(keys, limiter, options.rate_limits),
      options_(std::move(options)) {
  if (options_.registry != nullptr) {
    std::vector<std::string> names = {"none"};
    for (const Route& r : routes_.routes()) {
      names.push_back(absl::StrCat(r.method->service()->name(), ".", r.method->name()));
    }
    for (const PageSet& set : options_.pages) names.push_back(PageSetName(set));
    metrics_ = std::make_unique<RouteMetrics>(*options_.registry, names);
  }
  // A read may be answered from memory only when its answer depends on nothing but the
  // resource's name: public, no field needing a scope, no source or owner check.
  for (const Route& r : routes_.routes()) {
    const bool named = std::find(options_.cached_methods.begin(), options_.cached_methods.end(),
                                 r.method->full_name()) != options_.cached_methods.end();
    if (named && r.http_method == "GET" && !r.method->client_streaming() &&
        !r.method->server_streaming() && r.access.scope() == api::v1::PUBLIC &&
        r.field_scopes.empty() && r.access.source_field().empty() &&
        r.access.owner_field().empty() && r.method->output_type()->FindFieldByName("etag") &&
        r.method->output_type()->FindFieldByName("name")) {
      cached_routes_.insert(&r);
    }
  }
}

http::BodyPlan RestHandler::Plan(const http::Request& head) {
  http::BodyPlan plan;
  plan.max_bytes = options_.max_json_bytes;
  // Reads carry no body worth deciding about: Handle routes them (once).
  if (head.method == "GET" || head.method == "HEAD" || head.method == "OPTIONS") return plan;
  std::string_view target = head.target;
  absl::StatusOr<SplitPath> path = SplitRequestPath(target.substr(0, target.find('?')));
  if (!path.ok()) return plan;  // refused in Handle, with the reason
  RouteTable::Lookup found = routes_.Find(head.method, *path);
  // A body is read only for a caller who may send it: who and what scope come from the head,
  // so an anonymous client cannot hold the server's body budget (refused before reading). A
  // refusal here is the request's admission: it takes its token.
  if (found.route != nullptr && found.route->access.scope() != api::v1::PUBLIC &&
      head.method != "GET" && head.method != "HEAD") {
    Credentials credentials = CredentialsOf(head);
    absl::StatusOr<Caller> caller = gate_.Identify(credentials);
    absl::Status refused = caller.ok() ? AuthorizeScope(*found.route, *caller) : caller.status();
    if (!refused.ok()) {
      Admission admitted = gate_.Admit(credentials);
      if (!admitted.status.ok()) refused = admitted.status;
      grpc::Status status = FromAbsl(refused);
      int code = RefusalCode(refused);
      plan.kind = http::BodyPlan::kReject;
      plan.rejection.status = code;
      plan.rejection.headers = {{"content-type", "application/json"},
                                {"cache-control", "no-store"}};
      if (admitted.rate) {
        for (http::Header& h : ToHeaders(RateHeaders(*admitted.rate))) {
          plan.rejection.headers.push_back(std::move(h));
        }
      }
      for (http::Header& h : Challenge(refused)) plan.rejection.headers.push_back(std::move(h));
      plan.rejection.body = ErrorJson(schema_, code, status, "");
      return plan;
    }
  }
  if (found.route != nullptr && found.route->form_request()) {
    // A form (a mail client's one-click unsubscribe) is a line: no reason to read more of an
    // anonymous caller's body than a few KiB.
    plan.max_bytes = kMaxFormBytes;
  } else if (found.route != nullptr && found.route->raw_request()) {
    plan.max_bytes = options_.max_upload_bytes;
    plan.timeout = absl::Minutes(10);
    if (found.route->method->client_streaming()) plan.kind = http::BodyPlan::kStream;
  }
  return plan;
}

std::vector<http::Header> RestHandler::CommonHeaders(const Context& c) const {
  std::vector<http::Header> h = {{"x-request-id", c.request_id}};
  h.insert(h.end(), c.rate.begin(), c.rate.end());
  if (!options_.cors_origins.empty() && c.origin.empty()) h.push_back({"vary", "Origin"});
  if (!c.origin.empty()) {
    h.push_back({"access-control-allow-origin", c.origin});
    h.push_back({"access-control-expose-headers",
                 "ETag, Location, Link, X-Request-Id, Retry-After, RateLimit-Limit, "
                 "RateLimit-Remaining, RateLimit-Reset, X-Total-Count"});
    h.push_back({"vary", "Origin"});
  }
  return h;
}

void RestHandler::Fail(const Context& c, const grpc::Status& status, int http_status,
                       std::vector<http::Header> extra) {
  int code = http_status != 0 ? http_status : HttpStatusOf(status.error_code(), c.conditional);
  http::Response r;
  r.status = code;
  r.headers = CommonHeaders(c);
  r.headers.push_back({"content-type", "application/json"});
  r.headers.push_back({"cache-control", "no-store"});
  for (http::Header& h : extra) r.headers.push_back(std::move(h));
  r.body = ErrorJson(schema_, code, status, c.request_id);
  Audit(c, code, status.error_code());
  c.exchange->Respond(std::move(r));
}

void RestHandler::Handle(std::shared_ptr<http::Exchange> raw) {
  auto metered = std::make_shared<MeteredExchange>(std::move(raw), metrics_.get());
  std::shared_ptr<http::Exchange> exchange = metered;
  const http::Request& req = exchange->request();
  auto c = std::make_shared<Context>();
  c->exchange = exchange;
  std::optional<std::string_view> rid = req.Find("x-request-id");
  c->request_id = rid && ValidRequestId(*rid) ? std::string(*rid) : events::NewUuid();
  if (std::optional<std::string_view> origin = req.Find("origin")) {
    for (const std::string& allowed : options_.cors_origins) {
      if (allowed == *origin || allowed == "*") c->origin = allowed == "*" ? "*" : allowed;
    }
  }
  std::string_view target = req.target;
  size_t q = target.find('?');
  c->path = std::string(target.substr(0, q));
  c->query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));

  const bool read = req.method == "GET" || req.method == "HEAD";
  ExtraPages* pages = nullptr;
  for (const PageSet& set : options_.pages) {
    if (c->path == set.prefix || absl::StartsWith(c->path, absl::StrCat(set.prefix, "/"))) {
      pages = set.pages;
      metered->set_route(PageSetName(set));
    }
  }
  // What the path answers when it is a fixed route or a page (empty: ask the route table).
  std::vector<std::string> allowed;
  if (pages != nullptr) {
    allowed = pages->Allowed(c->path);
  } else if (c->path == kHealthPath ||
             (c->path == kOpenApiPath && !options_.openapi_json.empty())) {
    allowed = {"GET", "HEAD"};
  }
  if (req.method == "OPTIONS") {
    if (allowed.empty() && pages == nullptr) {
      absl::StatusOr<SplitPath> path = SplitRequestPath(c->path);
      if (path.ok()) allowed = Allowed(routes_.Find("OPTIONS", *path));
    }
    Preflight(*c, std::move(allowed));
    return;
  }
  if (read && c->path == kHealthPath) {  // probes take no token
    http::Response r;
    r.headers = CommonHeaders(*c);
    r.headers.push_back({"content-type", "application/json"});
    r.headers.push_back({"cache-control", "no-store"});
    r.body = R"({"status":"SERVING"})";
    exchange->Respond(std::move(r));
    return;
  }

  // Admission first: whatever follows (a page, a route, a 404) costs the caller a token.
  Admission admitted = gate_.Admit(CredentialsOf(req));
  c->caller = admitted.caller;
  if (admitted.rate) {
    RateLimiter::Decision shown = *admitted.rate;
    shown.allowed = true;  // Retry-After only on the refusal below
    c->rate = ToHeaders(RateHeaders(shown));
  }
  if (!admitted.status.ok()) {
    std::vector<http::Header> extra = Challenge(admitted.status);
    if (absl::IsUnauthenticated(admitted.status) && !c->caller.anonymous) {
      extra = {{"www-authenticate", "Bearer error=\"invalid_token\""}};
    }
    if (admitted.rate && !admitted.rate->allowed) {
      extra.push_back({"retry-after", absl::StrCat(admitted.rate->retry_after)});
    }
    Fail(*c, FromAbsl(admitted.status), RefusalCode(admitted.status), std::move(extra));
    return;
  }

  if (read && c->path == kOpenApiPath && !options_.openapi_json.empty()) {
    http::Response r;
    r.headers = CommonHeaders(*c);
    r.headers.push_back({"content-type", "application/vnd.oai.openapi+json;version=3.1"});
    r.headers.push_back({"cache-control", "public, max-age=300"});
    r.body = options_.openapi_json;
    exchange->Respond(std::move(r));
    return;
  }
  if (pages != nullptr) {
    if (allowed.empty()) {
      PageRequest request{c->request_id, CommonHeaders(*c)};
      if (!read || !pages->ServeNotFound(exchange, request)) NotFound(*c);
    } else if (std::find(allowed.begin(), allowed.end(), req.method) == allowed.end()) {
      NotAllowed(*c, std::move(allowed));
    } else {
      pages->Serve(exchange, {c->request_id, CommonHeaders(*c)});
    }
    return;
  }
  absl::StatusOr<SplitPath> path = SplitRequestPath(c->path);
  if (!path.ok()) {
    Fail(*c, FromAbsl(path.status()));
    return;
  }
  c->found = routes_.Find(req.method, *path);
  if (c->found.route != nullptr) {
    metered->set_route(absl::StrCat(c->found.route->method->service()->name(), ".",
                                    c->found.route->method->name()));
  }
  if (c->found.route == nullptr) {
    if (!c->found.allowed.empty()) {
      NotAllowed(*c, Allowed(c->found));
    } else {
      NotFound(*c);
    }
    return;
  }
  Forward(c);
}

void RestHandler::NotFound(const Context& c) {
  Fail(c, FromAbsl(api::WithReason(absl::NotFoundError(absl::StrCat("aucune ressource à l'adresse ",
                                                                    text::Quote(c.path, 200))),
                                   "ROUTE_NOT_FOUND")));
}

void RestHandler::NotAllowed(const Context& c, std::vector<std::string> allowed) {
  const std::string& method = c.exchange->request().method;
  allowed.push_back("OPTIONS");
  Fail(c,
       grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                    absl::StrCat("méthode ", text::Quote(method, 20), " non permise sur ",
                                 text::Quote(c.path, 200),
                                 " (permises : ", absl::StrJoin(allowed, ", "), ")")),
       405, {{"allow", absl::StrJoin(allowed, ", ")}});
}

// CORS preflight, or a client asking what a resource allows: 204 with Allow on a path served,
// 404 on one that is not (no token: browsers send it before the real request, which pays).
void RestHandler::Preflight(const Context& c, std::vector<std::string> allowed) {
  if (allowed.empty()) {
    NotFound(c);
    return;
  }
  allowed.push_back("OPTIONS");
  http::Response r;
  r.status = 204;
  r.headers = CommonHeaders(c);
  r.headers.push_back({"allow", absl::StrJoin(allowed, ", ")});
  if (!c.origin.empty()) {
    r.headers.push_back({"access-control-allow-methods", absl::StrJoin(allowed, ", ")});
    r.headers.push_back({"access-control-allow-headers",
                         "Authorization, Content-Type, If-Match, If-None-Match, "
                         "Idempotency-Key, X-Request-Id, X-Server-Timeout, X-Api-Key"});
    r.headers.push_back({"access-control-max-age", "600"});
  }
  c.exchange->Respond(std::move(r));
}

void RestHandler::Forward(std::shared_ptr<Context> c) {
  const http::Request& req = c->exchange->request();
  const Route& route = *c->found.route;
  const Caller& caller = c->caller;

  // One each (RFC 9110): of two Content-Types, which one the body is in is anyone's guess.
  for (std::string_view single :
       {"content-type", "idempotency-key", "if-match", "x-server-timeout"}) {
    int seen = 0;
    for (const http::Header& h : req.headers) seen += h.name == single ? 1 : 0;
    if (seen > 1) {
      Fail(*c, FromAbsl(api::InvalidArgument(
                   absl::StrCat("en-tête ", std::string(single), " donné ", seen, " fois"),
                   {{std::string(single), "[unique] une seule fois attendu"}})));
      return;
    }
  }
  if (route.raw_request() && !route.form_request()) {
    std::string_view type = req.Find("content-type").value_or("");
    std::string media(text::StripSpaces(type.substr(0, type.find(';'))));
    if (absl::StartsWith(media, "multipart/") || media == "application/x-www-form-urlencoded") {
      Fail(*c,
           FromAbsl(UnsupportedMediaType(
               "envoyez le fichier lui-même comme corps de la requête",
               absl::StrCat("[media] type « ", text::Quote(media), " » non pris en charge ici"))),
           415);
      return;
    }
    // Read as UTF-8 all the same, a file declared in another encoding would be refused line by
    // line for its bytes, or its accents broken: the declaration is answered first.
    if (std::optional<std::string> charset = ForeignCharset(type)) {
      Fail(*c,
           FromAbsl(UnsupportedMediaType(
               "envoyez le fichier en UTF-8",
               absl::StrCat("[encoding] fichier déclaré en « ", text::Quote(*charset, 40),
                            " » : seul UTF-8 est lu ; ré-enregistrez-le en UTF-8 (CSV UTF-8 "
                            "dans un tableur)"))),
           415);
      return;
    }
  }
  if (AnswerFromCache(*c)) return;
  HttpInput input;
  input.bindings = c->found.bindings;
  input.query = c->query;
  if (!route.method->client_streaming()) input.body = req.body;
  input.content_type = req.Find("content-type").value_or("");
  if (auto v = req.Find("if-match")) input.if_match = std::string(*v), c->conditional = true;
  if (auto v = req.Find("idempotency-key")) input.idempotency_key = std::string(*v);
  if (auto v = req.FindList("if-none-match")) c->if_none_match = *std::move(v);
  absl::StatusOr<nlohmann::json> json = RequestJson(route, input);
  if (!json.ok()) {
    std::optional<std::string> reason = ReasonOf(FromAbsl(json.status()));
    Fail(*c, FromAbsl(json.status()), reason == "UNSUPPORTED_MEDIA_TYPE" ? 415 : 0);
    return;
  }
  if (absl::Status allowed = Authorize(route, caller, &*json); !allowed.ok()) {
    std::vector<http::Header> extra;
    if (absl::IsUnauthenticated(allowed)) extra.push_back({"www-authenticate", "Bearer"});
    Fail(*c, FromAbsl(allowed), 0, std::move(extra));
    return;
  }
  c->call.metadata = CallerMetadata(caller);
  absl::StatusOr<std::string> request = JsonToRequest(schema_, route, *json);
  if (!request.ok()) {
    Fail(*c, FromAbsl(request.status()));
    return;
  }

  c->call.request_id = c->request_id;
  if (auto tp = req.Find("traceparent"); tp && ValidTraceparent(*tp)) {
    c->call.traceparent = std::string(*tp);
    if (auto ts = req.Find("tracestate"); ts && ValidTracestate(*ts)) {
      c->call.tracestate = std::string(*ts);
    }
  }
  c->call.timeout = options_.backend_timeout;
  if (auto t = req.Find("x-server-timeout")) {
    std::optional<double> seconds = text::ParseDecimal(*t);
    if (!seconds || *seconds <= 0 || *seconds > 3600) {
      Fail(*c, FromAbsl(api::InvalidArgument(
                   "X-Server-Timeout : un nombre de secondes positif est attendu",
                   {{"X-Server-Timeout", "[range] plus de 0 et au plus 3600 secondes"}})));
      return;
    }
    c->call.timeout = std::min(c->call.timeout, absl::Seconds(*seconds));
  }

  if (route.method->server_streaming()) {
    ForwardStream(c, *std::move(request));
    return;
  }
  if (route.method->client_streaming()) {
    ForwardUpload(c, *std::move(request));
    return;
  }
  std::weak_ptr<Context> weak = c;
  c->exchange->OnCancel([weak] {
    if (auto ctx = weak.lock(); ctx && ctx->backend) ctx->backend->Cancel();
  });
  c->backend = backends_.Unary(
      route, *std::move(request), c->call, [this, c](grpc::Status status, std::string bytes) {
        const Route& route = *c->found.route;
        if (!status.ok()) {
          Fail(*c, status);
          return;
        }
        const Descriptor* output = route.method->output_type();
        absl::StatusOr<std::string> body = MessageToJson(schema_, output, bytes);
        if (!body.ok()) {
          logging::Error("backend answer does not print",
                         {{"error", std::string(body.status().message())}});
          Fail(*c, grpc::Status(grpc::StatusCode::INTERNAL, "erreur interne"));
          return;
        }
        std::optional<std::string> etag = WireString(output, bytes, "etag");
        std::string tag = etag && !etag->empty() ? *etag : StrongETag(bytes);
        bool read = route.http_method == "GET";
        if (options_.answer_cache != nullptr) {
          if (!c->cache_name.empty()) {
            // Kept only under the name the resource's events give (its one spelling).
            if (WireString(output, bytes, "name") == c->cache_name) {
              options_.answer_cache->Keep(c->cache_name, c->cache_ticket, *body, tag);
            }
          } else if (!read) {
            options_.answer_cache->SawWrite(output, bytes);
          }
        }
        http::Response r;
        if (AnswerHead(*c, tag, &r)) return;
        if (absl::StartsWith(route.method->name(), "Create")) {
          r.status = 201;
          if (std::optional<std::string> name = WireString(output, bytes, "name")) {
            r.headers.push_back({"location", absl::StrCat("/v1/", *name)});
          }
        }
        for (auto [field, rel] :
             {std::pair{"next_page_token", "next"}, std::pair{"previous_page_token", "prev"}}) {
          if (std::optional<std::string> token = WireString(output, bytes, field);
              token && !token->empty()) {
            r.headers.push_back({"link", PageLink(c->path, c->query, *token, rel)});
          }
        }
        r.body = *std::move(body);
        Audit(*c, r.status, grpc::StatusCode::OK);
        c->exchange->Respond(std::move(r));
      });
}

bool RestHandler::AnswerHead(const Context& c, const std::string& etag, http::Response* r) {
  r->headers = CommonHeaders(c);
  r->headers.push_back({"content-type", "application/json"});
  r->headers.push_back({"etag", etag});
  // On the 304 as on the 200 (RFC 9110 15.4.5): a cache revalidating keeps the same rules.
  const bool public_read =
      c.found.route->http_method == "GET" && c.found.route->access.scope() == api::v1::PUBLIC;
  r->headers.push_back({"cache-control", public_read ? "public, max-age=60" : "private, no-store"});
  if (c.found.route->http_method == "GET" && !c.if_none_match.empty() &&
      NoneMatch(c.if_none_match, etag)) {
    r->status = 304;
    c.exchange->Respond(std::move(*r));
    return true;
  }
  return false;
}

bool RestHandler::AnswerFromCache(Context& c) {
  AnswerCache* cache = options_.answer_cache;
  const Route& route = *c.found.route;
  if (cache == nullptr || !c.query.empty() || c.found.bindings.size() != 1 ||
      !cached_routes_.contains(&route) || !AuthorizeScope(route, c.caller).ok()) {
    return false;
  }
  const http::Request& req = c.exchange->request();
  if (auto v = req.FindList("if-none-match")) c.if_none_match = *std::move(v);
  // `Cache-Control: no-cache` (or HTTP/1.0's Pragma) asks for an answer checked at the origin:
  // the backend answers, and what it says is kept for the next reader.
  const std::optional<std::string> control = req.FindList("cache-control");
  const std::optional<std::string> pragma = req.FindList("pragma");
  const bool revalidate = http::AsksRevalidation(control, pragma);
  const std::string& name = c.found.bindings.front().second;
  std::shared_ptr<const CachedAnswer> answer = revalidate ? nullptr : cache->Find(name);
  if (answer == nullptr) {
    c.cache_name = name;
    c.cache_ticket = cache->Ticket();
    return false;
  }
  http::Response r;
  if (AnswerHead(c, answer->etag, &r)) return true;
  const int64_t age = std::max<int64_t>(0, absl::ToInt64Seconds(cache->AgeOf(*answer)));
  r.headers.push_back({"age", absl::StrCat(age)});
  r.body = answer->body;
  c.exchange->Respond(std::move(r));
  return true;
}

void RestHandler::ForwardStream(std::shared_ptr<Context> c, std::string request) {
  c->call.timeout = options_.stream_timeout;
  const Descriptor* chunk_type = c->found.route->method->output_type();
  auto started = std::make_shared<bool>(false);
  std::weak_ptr<Context> weak = c;
  c->exchange->OnCancel([weak] {
    if (auto ctx = weak.lock(); ctx && ctx->backend) ctx->backend->Cancel();
  });
  StreamCallbacks callbacks;
  callbacks.on_message = [this, c, chunk_type, started](std::string message,
                                                        std::function<void()> next) {
    std::string data =
        WireString(chunk_type, message, c->found.route->response_body->name()).value_or("");
    if (!*started) {
      *started = true;
      std::string type = WireString(chunk_type, message, "content_type").value_or("");
      if (type.empty()) type = "application/octet-stream";
      http::Response head;
      head.headers = CommonHeaders(*c);
      head.headers.push_back({"content-type", type});
      head.headers.push_back({"content-disposition",
                              absl::StrCat("attachment; filename=\"",
                                           ExportFileName(*c->found.route, c->found, type), "\"")});
      head.headers.push_back({"cache-control", c->found.route->access.scope() == api::v1::PUBLIC
                                                   ? "public, max-age=60"
                                                   : "private, no-store"});
      c->exchange->StartStream(std::move(head));
    }
    std::weak_ptr<Context> weak = c;
    c->exchange->WriteChunk(std::move(data), [weak, next = std::move(next)](bool ok) {
      if (ok) {
        next();
      } else if (auto ctx = weak.lock(); ctx && ctx->backend) {
        ctx->backend->Cancel();
      }
    });
  };
  callbacks.on_done = [this, c, started](grpc::Status status) {
    if (!*started) {
      if (status.ok()) {
        http::Response r;
        r.headers = CommonHeaders(*c);
        c->exchange->Respond(std::move(r));
      } else {
        Fail(*c, status);
      }
      return;
    }
    if (status.ok()) {
      c->exchange->FinishStream();
    } else {
      logging::Warn("export stream cut after its head",
                    {{"error", status.error_message()}, {"request_id", c->request_id}});
      c->exchange->AbortStream();
    }
  };
  c->backend =
      backends_.ServerStream(*c->found.route, std::move(request), c->call, std::move(callbacks));
}

void RestHandler::ForwardUpload(std::shared_ptr<Context> c, std::string first) {
  // The first message carries the path and query fields; each body piece follows as a
  // message holding only the bytes field, sent when the previous one was taken (back-pressure
  // from the backend to the client's socket).
  c->call.timeout = options_.stream_timeout;
  const Route& route = *c->found.route;
  const int field = route.body_field->number();
  std::shared_ptr<Backends::Upload> upload =
      backends_.ClientStream(route, c->call, [this, c](grpc::Status status, std::string bytes) {
        if (!status.ok()) {
          Fail(*c, status);
          return;
        }
        absl::StatusOr<std::string> body =
            MessageToJson(schema_, c->found.route->method->output_type(), bytes);
        if (!body.ok()) {
          Fail(*c, grpc::Status(grpc::StatusCode::INTERNAL, "erreur interne"));
          return;
        }
        http::Response r;
        r.headers = CommonHeaders(*c);
        r.headers.push_back({"content-type", "application/json"});
        r.headers.push_back({"cache-control", "private, no-store"});
        r.body = *std::move(body);
        Audit(*c, r.status, grpc::StatusCode::OK);
        c->exchange->Respond(std::move(r));
      });
  c->backend = upload;
  std::weak_ptr<Context> weak = c;
  c->exchange->OnCancel([weak] {
    if (auto ctx = weak.lock(); ctx && ctx->backend) ctx->backend->Cancel();
  });
  auto pump = std::make_shared<std::function<void()>>();
  // The pump holds the context weakly: the context holds the pump, and the backend call's
  // completion holds the context until the answer is sent.
  *pump = [weak, upload, field, pump_weak = std::weak_ptr<std::function<void()>>(pump)]() {
    std::shared_ptr<Context> c = weak.lock();
    if (!c) return;
    c->exchange->ReadBody([upload, field, pump_weak](bool ok, std::string piece, bool last) {
      if (!ok) {
        upload->Cancel();
        return;
      }
      auto after = [upload, last, pump_weak](bool written) {
        if (!written) return;  // the backend ended the call: its status answers
        if (last) {
          upload->Finish();
        } else if (auto pump = pump_weak.lock()) {
          (*pump)();
        }
      };
      if (piece.empty()) {
        after(true);
        return;
      }
      std::string message;
      {
        google::protobuf::io::StringOutputStream raw(&message);
        google::protobuf::io::CodedOutputStream out(&raw);
        WireFormatLite::WriteBytes(field, piece, &out);
      }
      upload->Write(std::move(message), after);
    });
  };
  c->pump = pump;  // kept alive with the exchange's context
  upload->Write(std::move(first), [pump](bool written) {
    if (written) (*pump)();
  });
}

}  // namespace passerelle::gateway
