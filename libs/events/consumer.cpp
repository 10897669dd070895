// Durable pull consumer with inbox-based idempotency and dead letters.
#include "libs/events/consumer.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "libs/db/transaction.hpp"
#include "libs/logging/logging.hpp"

namespace passerelle::events {

namespace {
constexpr char kPermanentPayload[] = "passerelle.events/permanent";
}  // namespace

absl::Status Permanent(absl::Status status) {
  if (!status.ok()) status.SetPayload(kPermanentPayload, absl::Cord("1"));
  return status;
}

bool IsPermanent(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kPermanentPayload).has_value();
}

db::Component InboxComponent() {
  return {"inbox",
          {{1, "create_inbox",
            "CREATE TABLE inbox (\n"
            "  consumer text NOT NULL,\n"
            "  event_id text NOT NULL,\n"
            "  event_type text NOT NULL,\n"
            "  processed_at timestamptz NOT NULL DEFAULT now(),\n"
            "  PRIMARY KEY (consumer, event_id)\n"
            ");\n"
            "CREATE INDEX inbox_processed_at ON inbox (processed_at);"}}};
}

struct Consumer::Metrics {
  prometheus::Counter* handled = nullptr;
  prometheus::Counter* duplicate = nullptr;
  prometheus::Counter* retry = nullptr;
  prometheus::Counter* dead = nullptr;
  prometheus::Histogram* seconds = nullptr;
};

Consumer::Consumer(NatsClient& nats, db::Pool& pool, ConsumerOptions options, Handler handler,
                   prometheus::Registry* registry)
    : nats_(nats),
      pool_(pool),
      options_(std::move(options)),
      handler_(std::move(handler)),
      metrics_(std::make_unique<Metrics>()) {
  if (registry != nullptr) {
    auto& family = prometheus::BuildCounter()
                       .Name("passerelle_events_consumed_total")
                       .Help("Event deliveries handled by a consumer, by outcome")
                       .Register(*registry);
    const std::string& c = options_.durable;
    metrics_->handled = &family.Add({{"consumer", c}, {"outcome", "handled"}});
    metrics_->duplicate = &family.Add({{"consumer", c}, {"outcome", "duplicate"}});
    metrics_->retry = &family.Add({{"consumer", c}, {"outcome", "retry"}});
    metrics_->dead = &family.Add({{"consumer", c}, {"outcome", "dead_lettered"}});
    metrics_->seconds = &prometheus::BuildHistogram()
                             .Name("passerelle_events_handle_seconds")
                             .Help("Time to handle one event delivery")
                             .Register(*registry)
                             .Add({{"consumer", c}}, prometheus::Histogram::BucketBoundaries{
                                                         0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
  }
}

Consumer::~Consumer() {
  Stop();
  if (sub_ != nullptr) natsSubscription_Destroy(sub_);  // never Unsubscribe: it would delete
}  // the durable (toolchain.md)

absl::Status Consumer::Init() {
  absl::Status st = EnsureStreams(nats_, options_.topology);
  if (!st.ok()) return st;
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = options_.durable.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.FilterSubject = options_.filter_subject.c_str();
  cc.AckWait = static_cast<int64_t>(options_.ack_wait.count()) * 1000000;
  cc.MaxDeliver = -1;  // we dead-letter ourselves at max_deliver; the server never drops
  cc.MaxAckPending = 1000;
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_AddConsumer(&ci, nats_.jetstream(), options_.topology.events_stream.c_str(),
                                &cc, nullptr, &jerr);
  if (s != NATS_OK && jerr != 0) {
    // Exists with another configuration (e.g. a new backoff): update in place.
    jerr = jsErrCode(0);
    s = js_UpdateConsumer(&ci, nats_.jetstream(), options_.topology.events_stream.c_str(), &cc,
                          nullptr, &jerr);
  }
  if (ci != nullptr) jsConsumerInfo_Destroy(ci);
  if (s != NATS_OK) return FromNats(s, jerr, "creating consumer " + options_.durable);

  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = options_.topology.events_stream.c_str();
  so.Consumer = options_.durable.c_str();
  s = js_PullSubscribe(&sub_, nats_.jetstream(), options_.filter_subject.c_str(),
                       options_.durable.c_str(), nullptr, &so, &jerr);
  return FromNats(s, jerr, "binding to consumer " + options_.durable);
}

absl::StatusOr<int> Consumer::PollOnce() {
  if (sub_ == nullptr) return absl::FailedPreconditionError("consumer not initialised");
  natsMsgList list{};
  jsErrCode jerr = jsErrCode(0);
  natsStatus s =
      natsSubscription_Fetch(&list, sub_, options_.batch, options_.fetch_wait.count(), &jerr);
  if (s == NATS_TIMEOUT) return 0;
  if (s != NATS_OK) return FromNats(s, jerr, "fetching for " + options_.durable);
  for (int i = 0; i < list.Count; ++i) Count(Handle(list.Msgs[i]));
  int n = list.Count;
  natsMsgList_Destroy(&list);
  return n;
}

void Consumer::Count(Outcome outcome) {
  if (metrics_->handled == nullptr) return;
  switch (outcome) {
    case Outcome::kHandled:
      metrics_->handled->Increment();
      break;
    case Outcome::kDuplicate:
      metrics_->duplicate->Increment();
      break;
    case Outcome::kRetry:
      metrics_->retry->Increment();
      break;
    case Outcome::kDeadLettered:
      metrics_->dead->Increment();
      break;
  }
}

Outcome Consumer::Handle(natsMsg* msg) {
  const auto started = std::chrono::steady_clock::now();
  uint64_t delivered = 1;
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    delivered = meta->NumDelivered;
    jsMsgMetaData_Destroy(meta);
  }
  v1::Event event;
  if (!event.ParseFromArray(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)) ||
      event.id().empty()) {
    DeadLetter(msg, "undecodable event envelope", delivered);
    return Outcome::kDeadLettered;
  }
  logging::ScopedRequest ids({"", event.trace_id()});
  bool duplicate = false;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    duplicate = false;
    auto r = tx.exec_params(
        "INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        options_.durable, event.id(), event.type());
    if (r.affected_rows() == 0) {
      duplicate = true;
      return absl::OkStatus();
    }
    return handler_(tx, event);
  });
  if (metrics_->seconds != nullptr) {
    metrics_->seconds->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  if (st.ok()) {
    if (!duplicate && options_.after_commit) options_.after_commit();
    natsMsg_AckSync(msg, nullptr, nullptr);
    return duplicate ? Outcome::kDuplicate : Outcome::kHandled;
  }
  if (IsPermanent(st)) {
    DeadLetter(msg, absl::StrCat("permanent: ", std::string(st.message())), delivered);
    return Outcome::kDeadLettered;
  }
  if (delivered >= static_cast<uint64_t>(options_.max_deliver)) {
    DeadLetter(msg, std::string(st.ToString()), delivered);
    return Outcome::kDeadLettered;
  }
  const auto& b = options_.backoff;
  auto delay =
      b.empty() ? std::chrono::milliseconds(0) : b[std::min<size_t>(delivered - 1, b.size() - 1)];
  logging::Warn("event handling failed, will retry", {{"consumer", options_.durable},
                                                      {"event_id", event.id()},
                                                      {"event_type", event.type()},
                                                      {"delivery", delivered},
                                                      {"retry_in_ms", delay.count()},
                                                      {"error", std::string(st.message())}});
  natsMsg_NakWithDelay(msg, static_cast<int64_t>(delay.count()), nullptr);
  return Outcome::kRetry;
}

void Consumer::DeadLetter(natsMsg* msg, const std::string& reason, uint64_t delivered) {
  std::string data(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  jsMsgMetaData* meta = nullptr;
  std::string seq = "0";
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    seq = std::to_string(meta->Sequence.Stream);
    jsMsgMetaData_Destroy(meta);
  }
  absl::Status st = nats_.Publish(options_.topology.DeadLetterSubject(options_.durable), data,
                                  options_.durable + ":" + seq,
                                  {{"Passerelle-Consumer", options_.durable},
                                   {"Passerelle-Error", reason.substr(0, 1000)},
                                   {"Passerelle-Deliveries", std::to_string(delivered)},
                                   {"Passerelle-Original-Subject", natsMsg_GetSubject(msg)},
                                   {"Passerelle-Stream-Sequence", seq}});
  if (!st.ok()) {
    // Keep the event: it comes back after the backoff and we try the dead letter again.
    natsMsg_NakWithDelay(msg, 1000, nullptr);
    return;
  }
  logging::Error("event dead-lettered", {{"consumer", options_.durable},
                                         {"stream_sequence", seq},
                                         {"deliveries", delivered},
                                         {"error", reason}});
  natsMsg_AckSync(msg, nullptr, nullptr);
}

void Consumer::Start() {
  stop_ = false;
  thread_ = std::thread([this] {
    while (!stop_) {
      auto n = PollOnce();
      if (!n.ok()) {
        logging::Warn("consumer poll failed", {{"consumer", options_.durable},
                                               {"error", std::string(n.status().message())}});
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    }
  });
}

void Consumer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace passerelle::events
