// A PostgreSQL session-level advisory lock: one holder among the replicas of a service for work
// that spans several transactions (a pass over the registry), released when the holder drops it
// or, if its process or connection dies, by the server.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "libs/db/pool.hpp"

namespace passerelle::db {

/// Held on a connection borrowed from the pool for as long as the lock is held.
class AdvisoryLock {
 public:
  AdvisoryLock(AdvisoryLock&& other) noexcept = default;
  AdvisoryLock& operator=(AdvisoryLock&& other) noexcept;
  /// Unlocks; if that fails the connection is closed, which unlocks too.
  ~AdvisoryLock();

 private:
  friend absl::StatusOr<std::optional<AdvisoryLock>> TryAdvisoryLock(Pool& pool,
                                                                     const std::string& name);
  AdvisoryLock(Lease lease, std::string name) : lease_(std::move(lease)), name_(std::move(name)) {}
  void Unlock();

  Lease lease_;
  std::string name_;
};

/// The lock named `name` (hashed to PostgreSQL's 64-bit key; the name should carry the schema,
/// since locks are per database) when no other session holds it, nullopt when one does;
/// UNAVAILABLE when no connection can be had.
absl::StatusOr<std::optional<AdvisoryLock>> TryAdvisoryLock(Pool& pool, const std::string& name);

}  // namespace passerelle::db
