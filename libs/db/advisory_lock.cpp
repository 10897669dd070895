#include "libs/db/advisory_lock.hpp"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"

namespace passerelle::db {
namespace {

// hashtext is 32 bits; two of them (the name and the name salted) make the 64-bit key, so two
// names rarely share a lock.
constexpr const char* kKey = "(hashtext($1)::bigint << 32) | (hashtext($1 || '#') & 4294967295)";

}  // namespace

absl::StatusOr<std::optional<AdvisoryLock>> TryAdvisoryLock(Pool& pool, const std::string& name) {
  auto lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::nontransaction tx(**lease);
    const bool taken =
        tx.exec_params1(absl::StrCat("SELECT pg_try_advisory_lock(", kKey, ")"), name)[0]
            .as<bool>();
    if (!taken) return std::optional<AdvisoryLock>();
  } catch (const pqxx::broken_connection& e) {
    lease->Discard();
    return absl::UnavailableError(absl::StrCat("advisory lock ", name, ": ", e.what()));
  } catch (const std::exception& e) {
    lease->Discard();
    return absl::InternalError(absl::StrCat("advisory lock ", name, ": ", e.what()));
  }
  return std::optional<AdvisoryLock>(AdvisoryLock(std::move(*lease), name));
}

AdvisoryLock& AdvisoryLock::operator=(AdvisoryLock&& other) noexcept {
  if (this != &other) {
    Unlock();
    lease_ = std::move(other.lease_);
    name_ = std::move(other.name_);
  }
  return *this;
}

AdvisoryLock::~AdvisoryLock() { Unlock(); }

void AdvisoryLock::Unlock() {
  if (!lease_) return;  // moved from
  try {
    pqxx::nontransaction tx(*lease_);
    if (!tx.exec_params1(absl::StrCat("SELECT pg_advisory_unlock(", kKey, ")"), name_)[0]
             .as<bool>()) {
      lease_.Discard();  // not held by this session: the connection is not trusted again
    }
  } catch (const std::exception&) {
    lease_.Discard();  // closing the session unlocks
  }
  lease_ = Lease();
}

}  // namespace passerelle::db
