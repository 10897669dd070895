// Rate limits: a token bucket per API key, or per client address for anonymous calls, with
// settings per scope. Each gateway replica counts on its own: behind N replicas a client gets
// up to N times its limit (docs/gateway.md). Memory is bounded: at most `max_entries` buckets,
// full ones evicted first.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "libs/clock/clock.hpp"

namespace passerelle::gateway {

struct RateLimit {
  double per_second = 20;  ///< refill rate
  double burst = 60;       ///< bucket size
};

/// `public=20:60,partner=100:300,organisation=50:100,admin=50:100` (rate per second : burst).
/// INVALID_ARGUMENT naming the bad entry; scopes not given keep their defaults.
absl::StatusOr<std::map<std::string, RateLimit>> ParseRateLimits(std::string_view text);

class RateLimiter {
 public:
  explicit RateLimiter(const clocks::Clock& clock, size_t max_entries = 100000);

  struct Decision {
    bool allowed = true;
    int limit = 0;        ///< RateLimit-Limit: the burst
    int remaining = 0;    ///< RateLimit-Remaining
    int reset = 0;        ///< RateLimit-Reset: seconds until the bucket is full again
    int retry_after = 0;  ///< Retry-After when refused: seconds until one token is back
  };
  /// Takes one token from `who`'s bucket.
  Decision Take(const std::string& who, const RateLimit& limit);
  size_t size() const;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
    double per_second = 0;
    double burst = 0;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
  };
  void EvictLocked(Shard& shard, absl::Time now);
  const clocks::Clock& clock_;
  size_t max_per_shard_;
  std::array<Shard, 16> shards_;
};

}  // namespace passerelle::gateway
