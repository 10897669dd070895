// Transactional outbox and its relay to JetStream.
#include "libs/outbox/outbox.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/db/params.hpp"
#include "libs/logging/logging.hpp"

namespace passerelle::outbox {

db::Component OutboxComponent() {
  return {"outbox",
          {{1, "create_outbox",
            "CREATE TABLE outbox (\n"
            "  seq bigserial PRIMARY KEY,\n"
            "  event_id text NOT NULL UNIQUE,\n"
            "  event_type text NOT NULL,\n"
            "  subject text NOT NULL,\n"
            "  nats_subject text NOT NULL,\n"
            "  event bytea NOT NULL,\n"
            "  created_at timestamptz NOT NULL DEFAULT now(),\n"
            "  sent_at timestamptz\n"
            ");\n"
            "CREATE INDEX outbox_pending ON outbox (seq) WHERE sent_at IS NULL;\n"
            "CREATE INDEX outbox_pending_subject ON outbox (subject, seq) WHERE sent_at IS NULL;\n"
            "CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;"},
           // An event the server can never accept (larger than its max_payload) is parked: set
           // aside with the reason, out of the pending queue, kept until an operator acts.
           {2, "park_poison_events",
            "ALTER TABLE outbox ADD COLUMN parked_at timestamptz;\n"
            "ALTER TABLE outbox ADD COLUMN park_reason text;\n"
            "CREATE INDEX outbox_parked ON outbox (seq) WHERE parked_at IS NOT NULL;"}}};
}

void Append(pqxx::work& tx, const events::Topology& topology, const events::v1::Event& event) {
  Append(tx, topology, std::vector<events::v1::Event>{event});
}

void Append(pqxx::work& tx, const events::Topology& topology,
            const std::vector<events::v1::Event>& events) {
  if (events.empty()) return;
  // Parallel text arrays: a json array's elements were lexed again by each ->> (five fields of
  // 500 events of 2 KB: about 25 ms per batch of a bulk load).
  std::vector<std::string> ids, types, subjects, nats_subjects, bodies;
  for (const auto& e : events) {
    ids.push_back(e.id());
    types.push_back(e.type());
    subjects.push_back(e.subject());
    nats_subjects.push_back(topology.EventSubject(e.type()));
    bodies.push_back(db::ToHex(e.SerializeAsString()));
  }
  tx.exec_params(
      "INSERT INTO outbox (event_id, event_type, subject, nats_subject, event) "
      "SELECT r.id, r.type, r.subject, r.nats_subject, decode(r.body, 'hex') "
      "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY "
      "AS r(id, type, subject, nats_subject, body, n) ORDER BY r.n",
      db::TextArray(ids), db::TextArray(types), db::TextArray(subjects),
      db::TextArray(nats_subjects), db::TextArray(bodies));
}

struct Relay::Metrics {
  prometheus::Counter* published = nullptr;
  prometheus::Counter* errors = nullptr;
  prometheus::Gauge* pending = nullptr;
  prometheus::Counter* parked_total = nullptr;
  prometheus::Gauge* parked = nullptr;
};

Relay::Relay(db::Pool& pool, events::NatsClient& nats, RelayOptions options,
             prometheus::Registry* registry)
    : pool_(pool),
      nats_(nats),
      options_(std::move(options)),
      metrics_(std::make_unique<Metrics>()) {
  if (registry != nullptr) {
    metrics_->published = &prometheus::BuildCounter()
                               .Name("passerelle_outbox_published_total")
                               .Help("Outbox events published to JetStream")
                               .Register(*registry)
                               .Add({});
    metrics_->errors = &prometheus::BuildCounter()
                            .Name("passerelle_outbox_publish_errors_total")
                            .Help("Relay batches that failed (NATS or PostgreSQL unavailable)")
                            .Register(*registry)
                            .Add({});
    metrics_->pending = &prometheus::BuildGauge()
                             .Name("passerelle_outbox_pending")
                             .Help("Outbox events not yet published")
                             .Register(*registry)
                             .Add({});
    metrics_->parked_total = &prometheus::BuildCounter()
                                  .Name("passerelle_outbox_parked_total")
                                  .Help("Outbox events parked because NATS can never accept them")
                                  .Register(*registry)
                                  .Add({});
    metrics_->parked = &prometheus::BuildGauge()
                            .Name("passerelle_outbox_parked")
                            .Help("Parked outbox events waiting for an operator")
                            .Register(*registry)
                            .Add({});
  }
}

Relay::~Relay() { Stop(); }

absl::StatusOr<int> Relay::RunOnce() {
  auto lease = pool_.Acquire();
  if (!lease.ok()) return lease.status();
  int published = 0;
  int parked_now = 0;
  absl::Status failure;
  try {
    pqxx::work tx(**lease);
    // Claim a batch; flag rows whose subject has an earlier pending event outside the batch
    // (held by another relay): those wait, so a subject's events never overtake each other.
    auto rows = tx.exec_params(
        "WITH batch AS (SELECT seq, subject FROM outbox WHERE sent_at IS NULL "
        "               ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED) "
        "SELECT o.seq, o.event_id, o.nats_subject, encode(o.event, 'hex'), "
        "       EXISTS (SELECT 1 FROM outbox e WHERE e.sent_at IS NULL AND e.subject = b.subject "
        "               AND e.seq < b.seq AND e.seq NOT IN (SELECT seq FROM batch)) AS blocked "
        "FROM batch b JOIN outbox o ON o.seq = b.seq ORDER BY o.seq",
        options_.batch_size);
    std::vector<std::string> sent;
    std::vector<std::pair<std::string, std::string>> parked;  // seq, reason
    for (const auto& row : rows) {
      if (row[4].as<bool>()) continue;
      std::string data;
      if (!db::FromHex(row[3].c_str(), &data)) continue;
      const std::string event_id = row[1].as<std::string>();
      absl::Status st = nats_.Publish(row[2].as<std::string>(), data, event_id,
                                      {{"Passerelle-Event-Id", event_id}});
      if (st.code() == absl::StatusCode::kOutOfRange) {
        // It will never be accepted: retrying it forever would hold every later event back.
        logging::Error("outbox event parked: the server cannot accept it",
                       {{"event_id", event_id}, {"error", std::string(st.message())}});
        parked.emplace_back(row[0].as<std::string>(), std::string(st.message()));
        continue;
      }
      if (!st.ok()) {
        // Stop here: later events may share this one's subject and must not overtake it.
        failure = st;
        break;
      }
      sent.push_back(row[0].as<std::string>());
    }
    if (!sent.empty()) {
      tx.exec0("UPDATE outbox SET sent_at = now() WHERE seq IN (" + absl::StrJoin(sent, ",") + ")");
    }
    for (const auto& [seq, reason] : parked) {
      // sent_at too: a parked event leaves the pending queue (and its indexes) for good.
      tx.exec_params(
          "UPDATE outbox SET sent_at = now(), parked_at = now(), park_reason = $2 "
          "WHERE seq = $1::bigint",
          seq, reason);
    }
    parked_now = static_cast<int>(parked.size());
    tx.commit();
    published = static_cast<int>(sent.size());
  } catch (const std::exception& e) {
    lease->Discard();
    failure = absl::UnavailableError(absl::StrCat("relay transaction: ", e.what()));
  }
  if (metrics_->published != nullptr) metrics_->published->Increment(published);
  if (metrics_->parked_total != nullptr) metrics_->parked_total->Increment(parked_now);
  if (!failure.ok()) {
    if (metrics_->errors != nullptr) metrics_->errors->Increment();
    return failure;
  }
  return published;
}

absl::StatusOr<int64_t> Relay::Pending() {
  auto lease = pool_.Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::work tx(**lease);
    auto r = tx.exec1(
        "SELECT count(*) FILTER (WHERE sent_at IS NULL), "
        "       (SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL) "
        "FROM outbox WHERE sent_at IS NULL");
    const int64_t n = r[0].as<int64_t>();
    if (metrics_->pending != nullptr) metrics_->pending->Set(static_cast<double>(n));
    if (metrics_->parked != nullptr) metrics_->parked->Set(r[1].as<double>());
    return n;
  } catch (const std::exception& e) {
    lease->Discard();
    return absl::UnavailableError(e.what());
  }
}

absl::StatusOr<int64_t> Relay::Parked() {
  auto lease = pool_.Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::work tx(**lease);
    return tx.exec1("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL")[0].as<int64_t>();
  } catch (const std::exception& e) {
    lease->Discard();
    return absl::UnavailableError(e.what());
  }
}

void Relay::Cleanup() {
  auto lease = pool_.Acquire();
  if (!lease.ok()) return;
  try {
    pqxx::work tx(**lease);
    tx.exec_params(
        "DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => $1) "
        "AND parked_at IS NULL",
        static_cast<double>(options_.retention.count()) / 1000.0);
    tx.commit();
  } catch (const std::exception& e) {
    lease->Discard();
  }
}

void Relay::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Relay::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  woken_ = true;
  cv_.notify_one();
}

void Relay::Stop() {
  stop_ = true;
  Wake();
  if (thread_.joinable()) thread_.join();
}

void Relay::Loop() {
  auto backoff = options_.error_backoff;
  auto last_cleanup = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_count;  // never: the first pass counts
  auto refresh_gauges = [&] {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_count < options_.gauge_interval) return;
    last_count = now;
    Pending().IgnoreError();  // a failure shows in the next batch
  };
  while (!stop_) {
    auto n = RunOnce();
    std::chrono::milliseconds wait = options_.idle_wait;
    if (!n.ok()) {
      logging::Warn("outbox relay failed, retrying", {{"error", std::string(n.status().message())},
                                                      {"retry_in_ms", backoff.count()}});
      wait = backoff;
      backoff = std::min(backoff * 2, options_.max_backoff);
      // The gauge must show a backlog that builds while publishing fails: that is what the
      // OutboxBacklog alert watches.
      refresh_gauges();
    } else {
      backoff = options_.error_backoff;
      if (*n == options_.batch_size) continue;  // more waiting: no pause
      refresh_gauges();
      if (std::chrono::steady_clock::now() - last_cleanup > std::chrono::minutes(10)) {
        Cleanup();
        last_cleanup = std::chrono::steady_clock::now();
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [this] { return woken_ || stop_.load(); });
    woken_ = false;
  }
  // Graceful stop: flush what is pending now (bounded), so a service stopped right after a
  // write does not leave its event waiting for the next start.
  for (int i = 0; i < 10; ++i) {
    auto n = RunOnce();
    if (!n.ok() || *n < options_.batch_size) break;
  }
}

}  // namespace passerelle::outbox
