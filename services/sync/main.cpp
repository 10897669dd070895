// passerelle-sync: wires the sync's layers and runs it.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "libs/clock/clock.hpp"
#include "libs/logging/logging.hpp"
#include "libs/metrics/metrics.hpp"
#include "libs/net/destination.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/service/service.hpp"
#include "services/sync/clients.hpp"
#include "services/sync/handler.hpp"
#include "services/sync/store.hpp"

namespace passerelle::sync {
std::vector<db::Migration> Migrations();
}

int main(int argc, char** argv) {
  using namespace passerelle;
  // Settings live in main's frame, which outlives Run; objects live in rt.components.
  std::string venues_address, allowed_networks, allowed_ports;
  std::chrono::milliseconds tick{0}, fetch_timeout{0}, retry_after{0}, fetch_backoff{0},
      dead_after{0};
  int fetch_attempts = 0;
  return service::Run(
      argc, argv,
      {.name = "sync",
       .components = {outbox::OutboxComponent(), {"sync", sync::Migrations()}},
       .read_config =
           [&](config::Reader& r) {
             venues_address = r.String("PASSERELLE_VENUES_ADDRESS", "127.0.0.1:50051",
                                       "gRPC address of the venues service");
             tick = r.Duration("PASSERELLE_SYNC_TICK", std::chrono::seconds(10),
                               "How often the scheduler looks for due sources and dead runs");
             fetch_timeout = r.Duration("PASSERELLE_SYNC_FETCH_TIMEOUT", std::chrono::seconds(60),
                                        "Connection and read timeout when fetching a file");
             fetch_attempts = static_cast<int>(
                 r.Int("PASSERELLE_SYNC_FETCH_ATTEMPTS", 4, 1, 20,
                       "Tries to fetch a file when its server is unreachable or answers 5xx"));
             fetch_backoff = r.Duration("PASSERELLE_SYNC_FETCH_BACKOFF", std::chrono::seconds(5),
                                        "Wait before the second try, doubled for each next one");
             dead_after = r.Duration("PASSERELLE_SYNC_DEAD_AFTER", std::chrono::minutes(2),
                                     "A run silent this long is failed: its process died");
             allowed_networks = r.String(
                 "PASSERELLE_SYNC_ALLOWED_NETWORKS", "",
                 "Networks sources may be fetched from besides public addresses, CIDR, comma "
                 "separated (e.g. 127.0.0.0/8,::1/128 for a local server); empty: none");
             allowed_ports = r.String("PASSERELLE_SYNC_ALLOWED_PORTS", "80,443",
                                      "Ports sources may be fetched from: ports or ranges, comma "
                                      "separated (e.g. 80,443,8000-8999)");
             retry_after = r.Duration("PASSERELLE_SYNC_RETRY_AFTER", std::chrono::minutes(15),
                                      "When a scheduled run fails, how long before trying again "
                                      "(at most the source's own interval)");
           },
       .wire = [&](service::Runtime& rt) -> absl::Status {
         // (config::Reader has no hook for a custom check: a bad value stops the start here.)
         auto policy = net::DestinationPolicy::FromStrings(allowed_networks, allowed_ports);
         if (!policy.ok()) {
           return absl::InvalidArgumentError(
               absl::StrCat("PASSERELLE_SYNC_ALLOWED_NETWORKS / PASSERELLE_SYNC_ALLOWED_PORTS: ",
                            policy.status().message()));
         }
         auto& destinations = rt.components.Emplace<net::DestinationPolicy>(*std::move(policy));
         auto& store = rt.components.Emplace<sync::PgStore>(*rt.pool, rt.topology);
         auto& registry = rt.components.Emplace<sync::GrpcRegistry>(
             standard::Standard::V102(), venues_address, std::chrono::minutes(2));
         auto& fetcher = rt.components.Emplace<sync::HttpFetcher>(
             destinations, fetch_timeout, size_t{256} << 20, fetch_attempts, fetch_backoff);
         auto& syncer = rt.components.Emplace<sync::Syncer>(
             standard::Standard::V102(), store, registry, fetcher, destinations, clocks::System(),
             absl::Milliseconds(retry_after.count()), absl::Milliseconds(dead_after.count()));
         // Per source (a handful): runs by outcome, rows by what became of them, last success.
         auto& runs = prometheus::BuildCounter()
                          .Name("passerelle_sync_runs_total")
                          .Help("Sync runs ended, by source and state")
                          .Register(rt.metrics->registry());
         auto& rows = prometheus::BuildCounter()
                          .Name("passerelle_sync_rows_total")
                          .Help("Rows of sync runs, by source and outcome")
                          .Register(rt.metrics->registry());
         auto& success = prometheus::BuildGauge()
                             .Name("passerelle_sync_last_success_timestamp_seconds")
                             .Help("When a run of the source last succeeded")
                             .Register(rt.metrics->registry());
         syncer.OnRunEnded([&runs, &rows, &success](const sync::RunRecord& run) {
           runs.Add({{"source", run.source_id},
                     {"state", std::string(sync::RunStateName(run.state))}})
               .Increment();
           const std::pair<const char*, int> counts[] = {
               {"skipped", run.skipped},   {"created", run.created},
               {"updated", run.updated},   {"unchanged", run.unchanged},
               {"rejected", run.rejected}, {"withdrawn", run.withdrawn}};
           for (const auto& [outcome, n] : counts) {
             rows.Add({{"source", run.source_id}, {"outcome", outcome}}).Increment(n);
           }
           if (run.state == sync::RunState::kSucceeded) {
             success.Add({{"source", run.source_id}})
                 .Set(absl::ToDoubleSeconds(run.end_time.value_or(clocks::System().Now()) -
                                            absl::UnixEpoch()));
           }
         });
         auto& handler = rt.components.Emplace<sync::Handler>(syncer, *rt.page_tokens);
         rt.server->AddService(&handler);
         // The runs in progress end before the drain (each fails as interrupted), so that no
         // batch is sent while a client holds a call open; later runs are refused as stopping.
         rt.server->OnStopping([&syncer] { syncer.Shutdown(); });
         // The scheduler: due sources, and runs whose process died.
         service::RunEvery(rt, tick, [&syncer] { syncer.Tick(); });
         return absl::OkStatus();
       }});
}
