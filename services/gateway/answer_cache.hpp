// The door's answers to public reads of one resource (GET /v1/venues/{id}), kept in memory and
// dropped when the resource changes: venues' events say which one (and the etag it has now),
// and a write through this door says it at once. An answer older than `max_age` is never
// served, so a change whose event was somehow not seen is visible after that time at worst;
// while the event watch is not live (NATS unreachable) nothing is served from memory.
#pragma once

#include <array>
#include <atomic>
#include <list>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "absl/container/node_hash_map.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "libs/clock/clock.hpp"
#include "passerelle/events/v1/event.pb.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
}  // namespace prometheus

namespace passerelle::gateway {

struct CachedAnswer {
  /// The answer's JSON, as the door sends it.
  std::string body;
  std::string etag;
  /// When it was read from the backend (the `Age` header).
  absl::Time stored;
};

struct AnswerCacheOptions {
  /// Memory for answers and change marks; the oldest go first beyond it. 0: no cache.
  size_t max_bytes = size_t{32} << 20;
  /// Longest time an answer is served; also how long a change mark waits for its answer.
  absl::Duration max_age = absl::Seconds(60);
};

class AnswerCache {
 public:
  /// `registry`: where the cache's metrics go (null: none).
  AnswerCache(AnswerCacheOptions options, const clocks::Clock& clock,
              prometheus::Registry* registry = nullptr);
  ~AnswerCache();
  AnswerCache(const AnswerCache&) = delete;
  AnswerCache& operator=(const AnswerCache&) = delete;

  /// The answer kept for resource `name`, or null (none, too old, or the cache is not live).
  std::shared_ptr<const CachedAnswer> Find(std::string_view name);
  /// Taken before asking the backend; Keep accepts an answer only when nothing was invalidated
  /// or cleared in between (the answer may have been read before the change).
  uint64_t Ticket() const { return generation_.load(std::memory_order_acquire); }
  /// Keeps the backend's answer for `name`; refused after a change since `ticket`, when the
  /// resource's last known change gave another etag (the backend has not seen it yet), when it
  /// is larger than half a shard's budget (a thirty-second of the whole), and while the cache
  /// is not live.
  bool Keep(const std::string& name, uint64_t ticket, std::string body, std::string etag);
  /// `name` changed: its answer is dropped, and for `max_age` only an answer with `etag` (the
  /// resource's etag after the change) is kept; empty: none is.
  void Invalidate(std::string_view name, std::string_view etag);
  /// A write through the door succeeded with `answer` (of type `output`): when it names a
  /// resource (`name`), that resource is invalidated with the answer's `etag`, so the writer
  /// reads what it wrote before the change's event arrives.
  void SawWrite(const google::protobuf::Descriptor* output, std::string_view answer);
  /// What an event changes: the resource it names (its subject) is invalidated; a venue's
  /// creation or update gives the etag it now has. An event naming nothing clears everything.
  void Apply(const events::v1::Event& event);
  /// Forgets everything (events may have been missed); `cause` labels the clears' counter.
  void Clear(std::string_view cause);
  /// Not live: nothing found, nothing kept, until live again (both clear, for `why`).
  void SetLive(bool live, std::string_view why);
  bool live() const { return live_.load(std::memory_order_acquire); }
  /// How long ago `answer` was read from the backend (the `Age` header).
  absl::Duration AgeOf(const CachedAnswer& answer) const { return clock_.Now() - answer.stored; }

  size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  size_t entries() const { return entries_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::shared_ptr<const CachedAnswer> answer;  // null: a change mark waiting for its answer
    std::string expected_etag;                   // of a mark; empty: no answer kept
    absl::Time since;                            // answer stored, or change seen
    size_t bytes = 0;
    std::list<const std::string*>::iterator order;
  };
  // Nodes keep their address: the order list points at the map's keys (a name held once).
  using Slots = absl::node_hash_map<std::string, Slot>;
  struct Shard {
    std::shared_mutex mu;
    Slots slots;
    std::list<const std::string*> order;  // oldest first
    size_t bytes = 0;
  };
  static constexpr size_t kShards = 16;
  Shard& ShardOf(std::string_view name);
  // The largest slot kept: half a shard's budget.
  size_t MaxSlot() const { return options_.max_bytes / kShards / 2; }
  // With the shard's lock held: removes `it`.
  void Erase(Shard& shard, Slots::iterator it);
  // With the shard's lock held: puts `slot` under `name` after dropping what has expired and,
  // oldest first, what the shard's budget cannot hold beside it.
  void Place(Shard& shard, const std::string& name, Slot slot, absl::Time now);
  void Count(prometheus::Counter* counter) const;

  AnswerCacheOptions options_;
  const clocks::Clock& clock_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> live_{false};
  std::atomic<size_t> bytes_{0};
  std::atomic<size_t> entries_{0};
  struct Metrics;
  std::unique_ptr<Metrics> metrics_;
};

}  // namespace passerelle::gateway
