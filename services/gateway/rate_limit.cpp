#include "services/gateway/rate_limit.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/strings/str_cat.h"
#include "libs/text/split.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::gateway {

absl::StatusOr<std::map<std::string, RateLimit>> ParseRateLimits(std::string_view text) {
  std::map<std::string, RateLimit> out = {{"public", {20, 60}},
                                          {"partner", {100, 300}},
                                          {"organisation", {50, 100}},
                                          {"admin", {50, 100}}};
  for (std::string_view entry : text::Split(text, ',')) {
    entry = text::StripSpaces(entry);
    if (entry.empty()) continue;
    auto bad = [&] {
      return absl::InvalidArgumentError(absl::StrCat(
          "rate limit ", text::Quote(entry), ": <scope>=<per second>:<burst> expected, scope ",
          "public, partner, organisation or admin, numbers above 0"));
    };
    size_t eq = entry.find('='), colon = entry.find(':');
    if (eq == std::string_view::npos || colon == std::string_view::npos || colon < eq) {
      return bad();
    }
    std::string scope(entry.substr(0, eq));
    std::optional<double> rate = text::ParseDecimal(entry.substr(eq + 1, colon - eq - 1));
    std::optional<double> burst = text::ParseDecimal(entry.substr(colon + 1));
    if (!out.count(scope) || !rate || !burst || *rate <= 0 || *burst < 1 || *rate > 1e6 ||
        *burst > 1e6) {
      return bad();
    }
    out[scope] = {*rate, *burst};
  }
  return out;
}

RateLimiter::RateLimiter(const clocks::Clock& clock, size_t max_entries)
    : clock_(clock), max_per_shard_(std::max<size_t>(1, max_entries / 16)) {}

RateLimiter::Decision RateLimiter::Take(const std::string& who, const RateLimit& limit) {
  absl::Time now = clock_.Now();
  Shard& shard = shards_[std::hash<std::string>{}(who) % shards_.size()];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(who);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) EvictLocked(shard, now);
    it = shard.buckets.emplace(who, Bucket{limit.burst, now, limit.per_second, limit.burst}).first;
  }
  Bucket& b = it->second;
  b.per_second = limit.per_second;
  b.burst = limit.burst;
  double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.updated));
  b.tokens = std::min(b.burst, b.tokens + elapsed * b.per_second);
  b.updated = now;
  Decision d;
  d.limit = static_cast<int>(b.burst);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    d.allowed = true;
  } else {
    d.allowed = false;
    d.retry_after = std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / b.per_second)));
  }
  d.remaining = static_cast<int>(std::floor(b.tokens));
  d.reset = static_cast<int>(std::ceil((b.burst - b.tokens) / b.per_second));
  return d;
}

void RateLimiter::EvictLocked(Shard& shard, absl::Time now) {
  // Buckets that have refilled hold no information: drop them first.
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    const Bucket& b = it->second;
    double tokens = b.tokens + absl::ToDoubleSeconds(now - b.updated) * b.per_second;
    it = tokens >= b.burst ? shard.buckets.erase(it) : std::next(it);
  }
  // Still full (a flood of new addresses): drop the least recently seen half.
  if (shard.buckets.size() >= max_per_shard_) {
    std::vector<std::pair<absl::Time, std::string>> by_age;
    for (const auto& [who, b] : shard.buckets) by_age.emplace_back(b.updated, who);
    std::sort(by_age.begin(), by_age.end());
    for (size_t i = 0; i < by_age.size() / 2 + 1 && i < by_age.size(); ++i) {
      shard.buckets.erase(by_age[i].second);
    }
  }
}

size_t RateLimiter::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace passerelle::gateway
