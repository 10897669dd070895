// Runs a unit of work in a transaction, retrying when PostgreSQL asks to.
#pragma once

#include <chrono>
#include <functional>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "libs/db/pool.hpp"

namespace passerelle::db {

enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };

struct TxOptions {
  Isolation isolation = Isolation::kReadCommitted;
  /// Tries in all, for serialization failures, deadlocks and connections lost before commit.
  int max_attempts = 5;
  /// First pause between tries; doubled each time, with jitter.
  std::chrono::milliseconds backoff{5};
  /// When positive, SET LOCAL statement_timeout (e.g. the gRPC call's remaining deadline).
  std::chrono::milliseconds statement_timeout{0};
};

/// Unit of work: OK commits, any other status rolls back and is returned as is.
using Work = std::function<absl::Status(pqxx::work&)>;

/// Runs `work` in a transaction on a pooled connection. Retries the whole unit on
/// serialization_failure (40001), deadlock_detected (40P01) and a connection broken before
/// commit; so `work` must only touch the database and its own locals. Errors after the last
/// try come back as ABORTED (conflicts) or UNAVAILABLE (connection).
/// A connection lost *during* commit is reported as UNAVAILABLE and not retried: the outcome is
/// unknown (pqxx::in_doubt_error), and only the caller's idempotency key can settle it.
absl::Status RunInTransaction(Pool& pool, const Work& work, const TxOptions& options = {});

}  // namespace passerelle::db
