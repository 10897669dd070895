// Transaction helper with retries.
#include "libs/db/transaction.hpp"

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "libs/logging/logging.hpp"

namespace passerelle::db {
namespace {

const char* IsolationSql(Isolation i) {
  switch (i) {
    case Isolation::kReadCommitted: return nullptr;
    case Isolation::kRepeatableRead: return "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
    case Isolation::kSerializable: return "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE";
  }
  return nullptr;
}

void Pause(std::chrono::milliseconds base, int attempt) {
  thread_local std::mt19937 rng{std::random_device{}()};
  auto ms = base.count() << std::min(attempt, 8);
  std::uniform_int_distribution<long> jitter(ms / 2, ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
}

}  // namespace

absl::Status RunInTransaction(Pool& pool, const Work& work, const TxOptions& options) {
  absl::Status last;
  for (int attempt = 0; attempt < options.max_attempts; ++attempt) {
    if (attempt > 0) Pause(options.backoff, attempt - 1);
    auto lease = pool.Acquire();
    if (!lease.ok()) {
      last = lease.status();
      continue;
    }
    try {
      pqxx::work tx(**lease);
      if (const char* sql = IsolationSql(options.isolation)) tx.exec0(sql);
      if (options.statement_timeout.count() > 0) {
        tx.exec0(absl::StrCat("SET LOCAL statement_timeout = ", options.statement_timeout.count()));
      }
      absl::Status s = work(tx);
      if (!s.ok()) return s;  // the transaction rolls back as tx goes out of scope
      tx.commit();
      return absl::OkStatus();
    } catch (const pqxx::in_doubt_error& e) {
      lease->Discard();
      return absl::UnavailableError(absl::StrCat("commit outcome unknown: ", e.what()));
    } catch (const pqxx::serialization_failure& e) {
      last = absl::AbortedError(absl::StrCat("serialization conflict: ", e.what()));
    } catch (const pqxx::deadlock_detected& e) {
      last = absl::AbortedError(absl::StrCat("deadlock: ", e.what()));
    } catch (const pqxx::broken_connection& e) {
      lease->Discard();
      last = absl::UnavailableError(absl::StrCat("connection lost: ", e.what()));
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() == "57014") {  // query_canceled: statement_timeout hit
        return absl::DeadlineExceededError(absl::StrCat("statement timed out: ", e.what()));
      }
      if (e.sqlstate().starts_with("57P") || e.sqlstate().starts_with("08")) {
        // admin shutdown / connection exception: the server restarted under us.
        lease->Discard();
        last = absl::UnavailableError(absl::StrCat("server unavailable: ", e.what()));
        continue;
      }
      return absl::InternalError(absl::StrCat("SQL error ", e.sqlstate(), ": ", e.what()));
    } catch (const std::exception& e) {
      return absl::InternalError(e.what());
    }
    logging::Debug("transaction retried", {{"attempt", attempt + 1}, {"reason", last.message()}});
  }
  return last;
}

}  // namespace passerelle::db
