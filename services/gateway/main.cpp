// passerelle-gateway: the public door. Builds its routes from the embedded API descriptors,
// connects to the internal services and serves REST/JSON over HTTP/1.1 (docs/gateway.md).
#include <memory>

#include "absl/strings/str_cat.h"
#include "libs/clock/clock.hpp"
#include "libs/events/watch.hpp"
#include "libs/http/server.hpp"
#include "libs/logging/logging.hpp"
#include "libs/service/service.hpp"
#include "libs/text/split.hpp"
#include "services/gateway/answer_cache.hpp"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/forwarder.hpp"
#include "services/gateway/grpc_front.hpp"
#include "services/gateway/key_service.hpp"
#include "services/gateway/key_store.hpp"
#include "services/gateway/map_pages.hpp"
#include "services/gateway/ogc.hpp"
#include "services/gateway/openapi.hpp"
#include "services/gateway/rest_handler.hpp"
#include "services/gateway/routes.hpp"
#include "services/gateway/unsubscribe_page.hpp"

namespace passerelle::gateway {
std::vector<db::Migration> Migrations();
}

int main(int argc, char** argv) {
  using namespace passerelle;
  std::string http_address, grpc_address, venues, referential, sync, notifications, indicators,
      cors, pepper, bootstrap_key, limits;
  std::string public_url;
  gateway::MapOptions map_options;
  std::chrono::milliseconds backend_timeout{0};
  http::ServerOptions http_options;
  int64_t max_upload_mb = 64;
  gateway::AnswerCacheOptions cache_options;
  return service::Run(
      argc, argv,
      {.name = "gateway",
       .components = {{"gateway", gateway::Migrations()}},
       .read_config =
           [&](config::Reader& r) {
             http_address = r.ListenAddress("PASSERELLE_GATEWAY_HTTP_ADDRESS", "0.0.0.0:8080",
                                            "host:port of the public REST/JSON door");
             grpc_address = r.ListenAddress("PASSERELLE_GATEWAY_GRPC_ADDRESS", "0.0.0.0:9090",
                                            "host:port of the public gRPC door");
             venues = r.String("PASSERELLE_VENUES_ADDRESS", "127.0.0.1:50051",
                               "host:port of the venues service");
             referential = r.String("PASSERELLE_REFERENTIAL_ADDRESS", "127.0.0.1:50052",
                                    "host:port of the referential service");
             sync = r.String("PASSERELLE_SYNC_ADDRESS", "127.0.0.1:50053",
                             "host:port of the sync service");
             notifications = r.String("PASSERELLE_NOTIFICATIONS_ADDRESS", "127.0.0.1:50055",
                                      "host:port of the notifications service");
             indicators = r.String("PASSERELLE_INDICATORS_ADDRESS", "127.0.0.1:50054",
                                   "host:port of the indicators service");
             backend_timeout =
                 r.Duration("PASSERELLE_GATEWAY_BACKEND_TIMEOUT", std::chrono::seconds(10),
                            "Deadline of a backend call made for a request");
             // Absolute deadlines against slow clients (docs/http.md, Limits); the test of a
             // client sending a byte a second sets them short.
             http_options.header_timeout = absl::FromChrono(
                 r.Duration("PASSERELLE_GATEWAY_HEADER_TIMEOUT", std::chrono::seconds(10),
                            "Deadline of a request's whole head, from the connection (or, on a "
                            "kept-alive one, from the request's first byte)"));
             http_options.body_timeout = absl::FromChrono(
                 r.Duration("PASSERELLE_GATEWAY_BODY_TIMEOUT", std::chrono::seconds(30),
                            "Deadline of a JSON request's whole body (imports get 10 minutes)"));
             http_options.write_timeout = absl::FromChrono(
                 r.Duration("PASSERELLE_GATEWAY_WRITE_TIMEOUT", std::chrono::seconds(30),
                            "Deadline of each write to a client (a reader that stops is closed)"));
             http_options.idle_timeout = absl::FromChrono(
                 r.Duration("PASSERELLE_GATEWAY_IDLE_TIMEOUT", std::chrono::seconds(30),
                            "How long a keep-alive connection may wait for its next request"));
             max_upload_mb = r.Int("PASSERELLE_GATEWAY_MAX_UPLOAD_MB", 64, 1, 1024,
                                   "Largest import or area layer body, in MiB");
             cache_options.max_bytes =
                 static_cast<size_t>(r.Int("PASSERELLE_GATEWAY_ANSWER_CACHE_MB", 32, 0, 4096,
                                           "Memory for public reads of one venue answered by the "
                                           "door itself (docs/gateway.md, Answer cache); 0: none"))
                 << 20;
             cache_options.max_age = absl::FromChrono(r.Duration(
                 "PASSERELLE_GATEWAY_ANSWER_CACHE_MAX_AGE", std::chrono::seconds(60),
                 "Longest time the door serves a venue's answer from memory, even if the event "
                 "of a change never reached it"));
             pepper = r.RequiredString("PASSERELLE_GATEWAY_KEY_PEPPER",
                                       "Secret mixed into every stored API key hash (HMAC-SHA256); "
                                       "same on every replica");
             bootstrap_key = r.String(
                 "PASSERELLE_GATEWAY_BOOTSTRAP_KEY", "",
                 "An administrator key (psk_…) made to exist at start: how the first key is born");
             limits = r.String("PASSERELLE_GATEWAY_RATE_LIMITS", "",
                               "Token buckets per scope, e.g. public=20:60,partner=100:300 "
                               "(requests per second : burst); each replica counts alone");
             cors = r.String("PASSERELLE_GATEWAY_CORS_ORIGINS", "",
                             "Comma-separated origins allowed by CORS (`*`: any)");
             public_url = r.String(
                 "PASSERELLE_GATEWAY_PUBLIC_URL", "",
                 "Public base URL of the door (https://api.example.fr): the OGC API's absolute "
                 "links start with it. Empty: http://127.0.0.1:<HTTP port>, for local use only");
             map_options.web_dir =
                 r.String("PASSERELLE_GATEWAY_WEB_DIR", PASSERELLE_GATEWAY_DEFAULT_WEB_DIR,
                          "Directory of the map's files (index.html, app.js…), read at start; "
                          "without index.html the map is not served");
             map_options.leaflet_dir =
                 r.String("PASSERELLE_GATEWAY_LEAFLET_DIR", "/usr/share/javascript/leaflet",
                          "Debian's libjs-leaflet files, served under /vendor/leaflet/ (missing: "
                          "the map page shows its list without the map)");
             map_options.tiles_url = r.String(
                 "PASSERELLE_GATEWAY_MAP_TILES_URL", "",
                 "Raster tile URL template of the map "
                 "(https://{s}.tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png); empty: no tiles. "
                 "Its origin is the only one besides the gateway the page may reach");
           },
       .wire = [&](service::Runtime& rt) -> absl::Status {
         absl::StatusOr<std::unique_ptr<gateway::ApiSchema>> schema =
             gateway::ApiSchema::LoadEmbedded();
         if (!schema.ok()) return schema.status();
         auto& api = rt.components.Emplace<std::unique_ptr<gateway::ApiSchema>>(*std::move(schema));
         absl::StatusOr<gateway::RouteTable> table = gateway::RouteTable::Build(*api);
         if (!table.ok()) return table.status();
         auto& routes = rt.components.Emplace<gateway::RouteTable>(*std::move(table));
         auto& store = rt.components.Emplace<gateway::PgKeyStore>(*rt.pool);
         auto& keys = rt.components.Emplace<gateway::KeyRing>(store, pepper, clocks::System());
         if (!bootstrap_key.empty()) {
           gateway::KeyRecord admin;
           admin.display_name = "Clé d'administration initiale";
           admin.scopes = {api::v1::ADMIN};
           if (absl::Status s = keys.Ensure(bootstrap_key, admin); !s.ok()) return s;
         }
         if (absl::Status s = keys.Refresh(); !s.ok()) return s;
         // Keys made or revoked by another replica are seen within 5 s.
         service::RunEvery(rt, std::chrono::seconds(5), [&keys] {
           if (absl::Status s = keys.Refresh(); !s.ok()) {
             logging::Warn("api keys refresh failed", {{"error", std::string(s.message())}});
           }
         });
         service::RunEvery(rt, std::chrono::seconds(60), [&keys] {
           if (absl::Status s = keys.FlushLastUse(); !s.ok()) {
             logging::Warn("api keys last use not saved", {{"error", std::string(s.message())}});
           }
         });
         auto& key_service = rt.components.Emplace<gateway::KeyService>(keys, *rt.page_tokens);
         rt.server->AddService(&key_service);
         server::GrpcServer* grpc_server = rt.server.get();
         absl::StatusOr<std::unique_ptr<gateway::Backends>> connected = gateway::Backends::Connect(
             routes,
             {{"passerelle.venues.v1", venues},
              {"passerelle.referential.v1", referential},
              {"passerelle.sync.v1", sync},
              {"passerelle.notifications.v1", notifications},
              {"passerelle.indicators.v1", indicators}},
             {{"passerelle.gateway.v1",
               [grpc_server] { return grpc_server->InProcessChannel(); }}});
         if (!connected.ok()) return connected.status();
         auto& backends =
             rt.components.Emplace<std::unique_ptr<gateway::Backends>>(*std::move(connected));
         // A key names an organisation and sources that venues knows, checked at creation.
         auto& key_references =
             rt.components.Emplace<gateway::BackendKeyReferences>(routes, *backends);
         key_service.SetReferences(&key_references);
         gateway::RestOptions options;
         absl::StatusOr<std::map<std::string, gateway::RateLimit>> rate_limits =
             gateway::ParseRateLimits(limits);
         if (!rate_limits.ok()) return rate_limits.status();
         options.rate_limits = *std::move(rate_limits);
         options.backend_timeout = absl::FromChrono(backend_timeout);
         options.max_upload_bytes = static_cast<size_t>(max_upload_mb) << 20;
         for (std::string_view origin : text::Split(cors, ',')) {
           if (!text::StripSpaces(origin).empty()) {
             options.cors_origins.emplace_back(text::StripSpaces(origin));
           }
         }
         auto& limiter = rt.components.Emplace<gateway::RateLimiter>(clocks::System());
         // Public reads of a venue answered from memory, kept in step by venues' events: a
         // watch that misses some (NATS lost, a dropped message) empties the cache.
         if (cache_options.max_bytes > 0) {
           auto& cache = rt.components.Emplace<gateway::AnswerCache>(
               cache_options, clocks::System(), &rt.metrics->registry());
           absl::StatusOr<std::unique_ptr<events::EventWatch>> watch = events::EventWatch::Start(
               *rt.nats, rt.topology.EventSubject("venue.>"),
               {.on_event = [&cache](const events::v1::Event& e) { cache.Apply(e); },
                .on_gap = [&cache](bool live, std::string_view why) { cache.SetLive(live, why); }});
           if (!watch.ok()) return watch.status();
           cache.SetLive((*watch)->live(), "start");
           rt.components.Emplace<std::unique_ptr<events::EventWatch>>(*std::move(watch));
           options.answer_cache = &cache;
         }
         gateway::GrpcFrontOptions front_options{.address = grpc_address,
                                                 .default_timeout = options.backend_timeout,
                                                 .max_upload_bytes = options.max_upload_bytes,
                                                 .rate_limits = options.rate_limits,
                                                 .answer_cache = options.answer_cache};
         absl::StatusOr<std::unique_ptr<gateway::GrpcFront>> front = gateway::GrpcFront::Start(
             *api, routes, *backends, keys, limiter, std::move(front_options));
         if (!front.ok()) return front.status();
         auto& grpc_front =
             rt.components.Emplace<std::unique_ptr<gateway::GrpcFront>>(*std::move(front));
         // Generated once from the same routes and descriptors; `/`: the origin it is read from.
         options.openapi_json = gateway::BuildOpenApi(*api, routes, "/");
         options.registry = &rt.metrics->registry();
         gateway::OgcOptions ogc_options;
         ogc_options.public_url = public_url;
         ogc_options.backend_timeout = options.backend_timeout;
         absl::StatusOr<std::unique_ptr<gateway::OgcPages>> ogc =
             gateway::OgcPages::Create(*api, routes, *backends, std::move(ogc_options));
         if (!ogc.ok()) return ogc.status();
         auto& ogc_pages =
             rt.components.Emplace<std::unique_ptr<gateway::OgcPages>>(*std::move(ogc));
         options.pages.push_back({"/ogc", ogc_pages.get()});
         // The page of an e-mail's unsubscribe link, for people (the mail client's button posts
         // the one-click form itself).
         auto& unsubscribe_page = rt.components.Emplace<gateway::UnsubscribePage>();
         options.pages.push_back({std::string(gateway::UnsubscribePage::kPath), &unsubscribe_page});
         // The interactive map (docs/map.md): `/`, `/lieux/<id>`, `/api`, `/web/…`,
         // `/vendor/leaflet/…`.
         absl::StatusOr<std::unique_ptr<gateway::MapPages>> map =
             gateway::MapPages::Create(map_options);
         if (map.ok()) {
           auto& map_pages =
               rt.components.Emplace<std::unique_ptr<gateway::MapPages>>(*std::move(map));
           for (std::string& prefix : gateway::MapPages::Prefixes()) {
             options.pages.push_back({std::move(prefix), map_pages.get(), "map"});
           }
           logging::Info("map served", {{"files", map_pages->size()},
                                        {"web_dir", map_options.web_dir},
                                        {"tiles", !map_options.tiles_url.empty()}});
         } else if (absl::IsNotFound(map.status())) {
           logging::Warn("map not served", {{"error", std::string(map.status().message())}});
         } else {
           return map.status();
         }
         auto& handler = rt.components.Emplace<gateway::RestHandler>(*api, routes, *backends, keys,
                                                                     limiter, std::move(options));
         http_options.address = http_address;
         for (absl::Duration d : {http_options.header_timeout, http_options.body_timeout,
                                  http_options.write_timeout, http_options.idle_timeout}) {
           if (d <= absl::ZeroDuration()) {
             return absl::InvalidArgumentError(
                 "PASSERELLE_GATEWAY_{HEADER,BODY,WRITE,IDLE}_TIMEOUT must be positive");
           }
         }
         absl::StatusOr<std::unique_ptr<http::Server>> server =
             http::Server::Start(http_options, &handler);
         if (!server.ok()) return server.status();
         auto& http_server =
             rt.components.Emplace<std::unique_ptr<http::Server>>(*std::move(server));
         if (public_url.empty()) {
           std::string local = absl::StrCat("http://127.0.0.1:", http_server->port());
           if (absl::Status s = ogc_pages->SetPublicUrl(local); !s.ok()) return s;
           logging::Warn("PASSERELLE_GATEWAY_PUBLIC_URL not set: OGC API links name " + local +
                         ", which only this machine can follow");
         }
         logging::Info("REST/JSON door open", {{"address", http_address},
                                               {"port", http_server->port()},
                                               {"routes", routes.routes().size()}});
         logging::Info("gRPC door open", {{"address", grpc_address}, {"port", grpc_front->port()}});
         rt.server->OnShutdown([&http_server, &grpc_front] {
           http_server->Shutdown(absl::Seconds(5));
           grpc_front->Shutdown(absl::Seconds(5));
         });
         return absl::OkStatus();
       }});
}
