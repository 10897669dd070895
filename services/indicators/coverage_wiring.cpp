// Wiring of the coverage domain: store, upstream clients, domain, consumer, handler, upkeep.
#include "services/indicators/coverage_wiring.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cctype>

#include "libs/clock/clock.hpp"
#include "libs/events/consumer.hpp"
#include "libs/logging/logging.hpp"
#include "services/indicators/coverage.hpp"
#include "services/indicators/coverage_handler.hpp"

namespace passerelle::indicators::coverage {

void ReadConfig(config::Reader& r, Settings* s) {
  s->venues_address = r.String("PASSERELLE_VENUES_ADDRESS", "127.0.0.1:50051",
                               "gRPC address of the venues service");
  s->referential_address = r.String("PASSERELLE_REFERENTIAL_ADDRESS", "127.0.0.1:50052",
                                    "gRPC address of the referential service");
  s->nomenclature =
      r.String("PASSERELLE_INDICATORS_NOMENCLATURE", "roubaix-aptic",
               "(indicators) nomenclature whose current version gives the offers at first start");
  s->reach_meters = r.Int("PASSERELLE_INDICATORS_REACH", 1500, 1, 100000,
                          "(indicators) metres within which a venue counts as reachable when a "
                          "request gives no reach");
  s->areas_refresh = r.Duration("PASSERELLE_INDICATORS_AREAS_REFRESH", std::chrono::minutes(5),
                                "(indicators) how often area layers are read again from venues");
  s->poll = r.Duration("PASSERELLE_INDICATORS_POLL", std::chrono::milliseconds(200),
                       "(indicators) how often a replica reads read-model changes into memory");
  s->timeout = r.Duration("PASSERELLE_INDICATORS_UPSTREAM_TIMEOUT", std::chrono::seconds(30),
                          "(indicators) deadline of one call to venues or the referential");
  s->future_margin =
      r.Duration("PASSERELLE_INDICATORS_FUTURE_MARGIN", std::chrono::minutes(5),
                 "(indicators) a venue event whose update_time is later than now plus this is "
                 "refused");
}

absl::Status Wire(service::Runtime& rt, const Settings& s) {
  auto& store = rt.components.Emplace<Store>(*rt.pool);
  auto& upstream =
      rt.components.Emplace<GrpcUpstream>(s.venues_address, s.referential_address, s.timeout);
  auto& domain = rt.components.Emplace<Domain>(
      store, upstream, *rt.page_tokens, clocks::System(),
      Options{.default_reach_meters = static_cast<double>(s.reach_meters),
              .areas_refresh = absl::FromChrono(s.areas_refresh),
              .nomenclature = s.nomenclature,
              .future_margin = absl::FromChrono(s.future_margin)});
  // How long a coverage takes to compute (cache misses): the first sign of a layer or an offer
  // list grown past what memory answers quickly.
  auto& seconds = prometheus::BuildHistogram()
                      .Name("passerelle_indicators_coverage_compute_seconds")
                      .Help("Time to compute a layer's coverage and gaps from the read model")
                      .Register(rt.metrics->registry())
                      .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05,
                                                                       0.1, 0.2, 0.5, 1, 2, 5});
  domain.OnCompute([&seconds](double s) { seconds.Observe(s); });
  // Venue events refused by the read model's checks (forged or broken), by reason.
  auto& rejected = prometheus::BuildCounter()
                       .Name("passerelle_indicators_coverage_events_rejected_total")
                       .Help(
                           "Venue events, or their unknown offers, refused by the coverage "
                           "read model, by reason")
                       .Register(rt.metrics->registry());
  for (const char* reason : {"unknown_venue", "future_update_time", "too_many_offers",
                             "too_many_areas", "unknown_offers"}) {
    rejected.Add({{"reason", reason}});  // shown at 0 before the first one
  }
  domain.OnRejected([&rejected](const std::string& reason) {
    rejected.Add({{"reason", reason}}).Increment();
  });
  // What the tables hold now; venues and the referential are read in the background (a service
  // that is down at start does not keep this one from serving what it has).
  if (absl::Status st = domain.Refresh(); !st.ok()) return st;
  auto& handler = rt.components.Emplace<Handler>(domain);
  rt.server->AddService(&handler);
  // One durable per copy of the read model: replicas sharing a schema share it; a copy built
  // into another schema (a rebuild from scratch) gets its own and replays the whole stream.
  std::string durable = "indicators-coverage";
  if (const std::string& schema = rt.pool->options().schema; schema != "indicators") {
    durable += "-";
    for (char c : schema)
      durable += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  }
  auto& consumer = rt.components.Emplace<events::Consumer>(
      *rt.nats, *rt.pool,
      events::ConsumerOptions{
          .topology = rt.topology, .durable = durable, .filter_subject = rt.topology.AllEvents()},
      [&domain](pqxx::work& tx, const events::v1::Event& e) { return domain.Consume(tx, e); },
      &rt.metrics->registry());
  if (absl::Status st = consumer.Init(); !st.ok()) return st;
  consumer.Start();
  rt.server->OnShutdown([&consumer] { consumer.Stop(); });
  service::RunEvery(rt, s.poll, [&domain] {
    if (absl::Status st = domain.Refresh(); !st.ok()) {
      logging::Warn("coverage read model refresh failed", {{"error", std::string(st.message())}});
    }
  });
  service::RunEvery(rt, std::chrono::seconds(1), [&domain] {
    if (absl::Status st = domain.Upkeep(); !st.ok()) {
      logging::Warn("coverage upkeep failed", {{"error", std::string(st.message())}});
    }
  });
  return absl::OkStatus();
}

}  // namespace passerelle::indicators::coverage
