// The time a domain reads, injected (style rule 5): production passes the system clock, tests a
// manual one they move by hand, so "open now", schedules, heartbeats and retries are tested
// without sleeping.
#pragma once

#include <mutex>

#include "absl/time/time.h"

namespace passerelle::clocks {

/// Where a domain reads the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  /// The current time.
  virtual absl::Time Now() const = 0;
};

/// The system's wall clock; lives for the whole process.
const Clock& System();

/// A clock that moves only when told to; for tests. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000)) : now_(start) {}

  absl::Time Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  /// Moves the clock forward (or back, with a negative duration).
  void Advance(absl::Duration d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }
  /// Sets the clock.
  void Set(absl::Time t) {
    std::lock_guard lock(mu_);
    now_ = t;
  }

 private:
  mutable std::mutex mu_;
  absl::Time now_;
};

}  // namespace passerelle::clocks
