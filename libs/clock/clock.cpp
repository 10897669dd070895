#include "libs/clock/clock.hpp"

#include "absl/time/clock.h"

namespace passerelle::clocks {
namespace {

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

const Clock& System() {
  static const SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace passerelle::clocks
