#include "services/gateway/answer_cache.hpp"

#include <functional>
#include <mutex>

#include "passerelle/venues/v1/events.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/gateway/transcode.hpp"

namespace passerelle::gateway {

// What a slot costs beyond its strings' contents: the map's node and bucket, the order list's
// node, the answer and its shared block, each string's heap block rounded up.
constexpr size_t kSlotOverhead = 320;

// The memory a slot holds: a name (stored once), a body with the allocator's rounding (at most
// an eighth more), an etag.
size_t Cost(size_t name, size_t body, size_t etag) {
  return name + body + body / 8 + etag + kSlotOverhead;
}

struct AnswerCache::Metrics {
  prometheus::Counter* hits;
  prometheus::Counter* misses;
  prometheus::Counter* kept;
  prometheus::Counter* refused;
  prometheus::Counter* invalidations;
  prometheus::Family<prometheus::Counter>* clears;
  prometheus::Gauge* bytes;
  prometheus::Gauge* live;
};

AnswerCache::AnswerCache(AnswerCacheOptions options, const clocks::Clock& clock,
                         prometheus::Registry* registry)
    : options_(options), clock_(clock) {
  if (registry == nullptr) return;
  auto& lookups = prometheus::BuildCounter()
                      .Name("passerelle_gateway_answer_cache_lookups_total")
                      .Help(
                          "Public reads of one resource looked up in the door's answer cache, "
                          "by result (hit: answered from memory)")
                      .Register(*registry);
  auto& keeps = prometheus::BuildCounter()
                    .Name("passerelle_gateway_answer_cache_keeps_total")
                    .Help(
                        "Backend answers offered to the answer cache, by outcome (refused: a "
                        "change since the read, an etag older than the last change seen, too "
                        "large, or not live)")
                    .Register(*registry);
  auto& invalidations = prometheus::BuildCounter()
                            .Name("passerelle_gateway_answer_cache_invalidations_total")
                            .Help(
                                "Resources dropped from the answer cache because they changed "
                                "(an event, or a write through this door)")
                            .Register(*registry);
  auto& clears = prometheus::BuildCounter()
                     .Name("passerelle_gateway_answer_cache_clears_total")
                     .Help(
                         "Times the whole answer cache was dropped, by cause: start, "
                         "disconnected, reconnected, dropped or unreadable (events may have been "
                         "missed), unnamed (an event naming no resource)")
                     .Register(*registry);
  auto& bytes = prometheus::BuildGauge()
                    .Name("passerelle_gateway_answer_cache_bytes")
                    .Help("Memory the answer cache accounts for (answers and change marks)")
                    .Register(*registry);
  auto& live = prometheus::BuildGauge()
                   .Name("passerelle_gateway_answer_cache_live")
                   .Help("1 while the answer cache sees venues' events and answers from memory")
                   .Register(*registry);
  metrics_ = std::make_unique<Metrics>(Metrics{
      .hits = &lookups.Add({{"result", "hit"}}),
      .misses = &lookups.Add({{"result", "miss"}}),
      .kept = &keeps.Add({{"outcome", "kept"}}),
      .refused = &keeps.Add({{"outcome", "refused"}}),
      .invalidations = &invalidations.Add({}),
      .clears = &clears,
      .bytes = &bytes.Add({}),
      .live = &live.Add({}),
  });
}

AnswerCache::~AnswerCache() = default;

void AnswerCache::Count(prometheus::Counter* counter) const {
  if (counter != nullptr) counter->Increment();
}

AnswerCache::Shard& AnswerCache::ShardOf(std::string_view name) {
  return shards_[std::hash<std::string_view>{}(name) % kShards];
}

std::shared_ptr<const CachedAnswer> AnswerCache::Find(std::string_view name) {
  std::shared_ptr<const CachedAnswer> found;
  if (options_.max_bytes > 0 && live()) {
    Shard& shard = ShardOf(name);
    std::shared_lock<std::shared_mutex> lock(shard.mu);
    auto it = shard.slots.find(absl::string_view(name.data(), name.size()));
    if (it != shard.slots.end() && it->second.answer != nullptr &&
        clock_.Now() - it->second.since < options_.max_age) {
      found = it->second.answer;
    }
  }
  if (metrics_) Count(found ? metrics_->hits : metrics_->misses);
  return found;
}

void AnswerCache::Erase(Shard& shard, Slots::iterator it) {
  shard.bytes -= it->second.bytes;
  bytes_.fetch_sub(it->second.bytes, std::memory_order_relaxed);
  entries_.fetch_sub(1, std::memory_order_relaxed);
  shard.order.erase(it->second.order);
  shard.slots.erase(it);
}

void AnswerCache::Place(Shard& shard, const std::string& name, Slot slot, absl::Time now) {
  if (auto old = shard.slots.find(name); old != shard.slots.end()) Erase(shard, old);
  // Slots leave in the order they came: the expired ones first, whatever the budget.
  while (!shard.order.empty()) {
    auto oldest = shard.slots.find(*shard.order.front());
    if (now - oldest->second.since < options_.max_age) break;
    Erase(shard, oldest);  // an expired mark refuses nothing any more
  }
  const size_t budget = options_.max_bytes / kShards;
  bool mark_lost = false;
  while (!shard.order.empty() && shard.bytes + slot.bytes > budget) {
    auto oldest = shard.slots.find(*shard.order.front());
    // A change mark pushed out can no longer refuse a late answer: every read in flight is
    // refused instead (the next ticket).
    mark_lost = mark_lost || oldest->second.answer == nullptr;
    Erase(shard, oldest);
  }
  if (mark_lost) generation_.fetch_add(1, std::memory_order_acq_rel);
  const size_t bytes = slot.bytes;
  auto [it, inserted] = shard.slots.emplace(name, std::move(slot));
  it->second.order = shard.order.insert(shard.order.end(), &it->first);
  shard.bytes += bytes;
  bytes_.fetch_add(bytes, std::memory_order_relaxed);
  entries_.fetch_add(1, std::memory_order_relaxed);
}

bool AnswerCache::Keep(const std::string& name, uint64_t ticket, std::string body,
                       std::string etag) {
  const size_t bytes = Cost(name.size(), body.size(), etag.size());
  bool kept = false;
  if (options_.max_bytes > 0 && bytes <= MaxSlot() && live()) {
    Shard& shard = ShardOf(name);
    std::unique_lock<std::shared_mutex> lock(shard.mu);
    const absl::Time now = clock_.Now();
    auto it = shard.slots.find(name);
    // A change mark still waiting decides; an expired one no longer does.
    const bool marked = it != shard.slots.end() && it->second.answer == nullptr &&
                        now - it->second.since < options_.max_age;
    if (Ticket() == ticket && live() && (!marked || it->second.expected_etag == etag)) {
      auto answer = std::make_shared<CachedAnswer>(
          CachedAnswer{.body = std::move(body), .etag = std::move(etag), .stored = now});
      Place(shard, name, Slot{.answer = std::move(answer), .since = now, .bytes = bytes}, now);
      kept = true;
    }
  }
  if (metrics_) {
    Count(kept ? metrics_->kept : metrics_->refused);
    metrics_->bytes->Set(static_cast<double>(this->bytes()));
  }
  return kept;
}

void AnswerCache::Invalidate(std::string_view name, std::string_view etag) {
  if (options_.max_bytes == 0) return;
  generation_.fetch_add(1, std::memory_order_acq_rel);  // reads in flight may predate the change
  {
    Shard& shard = ShardOf(name);
    std::unique_lock<std::shared_mutex> lock(shard.mu);
    std::string key(name);
    const size_t bytes = Cost(key.size(), 0, etag.size());
    if (bytes > MaxSlot()) {
      // No answer this large is ever kept (Keep's bound): nothing to mark, only to drop.
      if (auto it = shard.slots.find(key); it != shard.slots.end()) Erase(shard, it);
    } else {
      const absl::Time now = clock_.Now();
      Place(shard, key, Slot{.expected_etag = std::string(etag), .since = now, .bytes = bytes},
            now);
    }
  }
  if (metrics_) {
    Count(metrics_->invalidations);
    metrics_->bytes->Set(static_cast<double>(bytes()));
  }
}

void AnswerCache::SawWrite(const google::protobuf::Descriptor* output, std::string_view answer) {
  std::optional<std::string> name = WireString(output, answer, "name");
  if (!name || name->empty()) return;
  Invalidate(*name, WireString(output, answer, "etag").value_or(""));
}

void AnswerCache::Apply(const events::v1::Event& event) {
  if (event.subject().empty()) {
    Clear("unnamed");  // what changed is unknown
    return;
  }
  std::string etag;
  std::string named;  // the venue the payload names, when it is not the subject
  auto read = [&](const venues::v1::Venue& venue) {
    etag = venue.etag();
    if (venue.name() != event.subject()) named = venue.name();
  };
  if (event.type() == "venue.created") {
    if (venues::v1::VenueCreated p; event.payload().UnpackTo(&p)) read(p.venue());
  } else if (event.type() == "venue.updated") {
    if (venues::v1::VenueUpdated p; event.payload().UnpackTo(&p)) read(p.venue());
  }
  // Anything else (a withdrawal, a payload that is not what its type says): no answer is kept
  // for the resource until max_age has passed.
  if (!named.empty()) {
    Invalidate(named, "");
    etag.clear();  // which of the two the change was about is unclear: keep neither
  }
  Invalidate(event.subject(), etag);
}

void AnswerCache::Clear(std::string_view cause) {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  for (Shard& shard : shards_) {
    std::unique_lock<std::shared_mutex> lock(shard.mu);
    bytes_.fetch_sub(shard.bytes, std::memory_order_relaxed);
    entries_.fetch_sub(shard.slots.size(), std::memory_order_relaxed);
    shard.slots.clear();
    shard.order.clear();
    shard.bytes = 0;
  }
  if (metrics_) {
    metrics_->clears->Add({{"cause", std::string(cause)}}).Increment();
    metrics_->bytes->Set(static_cast<double>(bytes()));
  }
}

void AnswerCache::SetLive(bool live, std::string_view why) {
  live_.store(live, std::memory_order_release);
  Clear(why);
  if (metrics_) metrics_->live->Set(live ? 1 : 0);
}

}  // namespace passerelle::gateway
