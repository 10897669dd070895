// Pool, migrations and transactions against the real PostgreSQL the test command started.
#include <atomic>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/db/advisory_lock.hpp"
#include "libs/db/listener.hpp"
#include "libs/db/migrations.hpp"
#include "libs/db/params.hpp"
#include "libs/db/pool.hpp"
#include "libs/db/transaction.hpp"
#include "libs/logging/logging.hpp"
#include "libs/testing/testing.hpp"

namespace passerelle::db {
namespace {

using ::testing::HasSubstr;

class DbTest : public testing::PgTest {};

std::vector<Component> History(int up_to) {
  std::vector<Migration> all = {
      {1, "create_things", "CREATE TABLE things (id int PRIMARY KEY, label text NOT NULL)"},
      {2, "add_counter", "CREATE TABLE counter (n int NOT NULL); INSERT INTO counter VALUES (0)"},
      {3, "add_note", "ALTER TABLE things ADD COLUMN note text"},
  };
  all.resize(up_to);
  return {{"things", all}};
}

int Count(Pool& pool, const std::string& sql) {
  auto lease = pool.Acquire();
  pqxx::work tx(**lease);
  return tx.exec1(sql)[0].as<int>();
}

TEST_F(DbTest, MigrationsApplyOnceAndAreIdempotent) {
  auto lease = pool().Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(Migrate(**lease, schema(), History(2)).ok());
  ASSERT_TRUE(Migrate(**lease, schema(), History(2)).ok());
  ASSERT_TRUE(Migrate(**lease, schema(), History(3)).ok());
  lease = Lease();
  EXPECT_EQ(Count(pool(), "SELECT count(*) FROM schema_migrations"), 3);
  EXPECT_EQ(Count(pool(), "SELECT count(*) FROM counter"), 1) << "migration 2 ran twice";
  EXPECT_EQ(Count(pool(), "SELECT count(*) FROM information_schema.columns WHERE table_schema = '" +
                              schema() + "' AND table_name = 'things' AND column_name = 'note'"),
            1);
}

TEST_F(DbTest, ConcurrentStartersApplyEachMigrationOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto lease = pool().Acquire();
      if (!lease.ok() || !Migrate(**lease, schema(), History(3)).ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count(pool(), "SELECT count(*) FROM counter"), 1);
}

TEST_F(DbTest, RefusesADatabaseNewerThanTheBinary) {
  auto lease = pool().Acquire();
  ASSERT_TRUE(Migrate(**lease, schema(), History(3)).ok());
  absl::Status s = Migrate(**lease, schema(), History(2));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("is at version 3, newer than this binary knows (2)"));
}

TEST_F(DbTest, RefusesAnAppliedMigrationThatChanged) {
  auto lease = pool().Acquire();
  ASSERT_TRUE(Migrate(**lease, schema(), History(1)).ok());
  auto edited = History(1);
  edited[0].migrations[0].sql += " -- edited";
  absl::Status s = Migrate(**lease, schema(), edited);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("was changed after it was applied"));
}

TEST_F(DbTest, FailedMigrationLeavesNothingHalfDone) {
  auto lease = pool().Acquire();
  std::vector<Component> bad = {
      {"things",
       {{1, "ok", "CREATE TABLE a (x int)"}, {2, "broken", "CREATE TABLE b (x nosuchtype)"}}}};
  EXPECT_FALSE(Migrate(**lease, schema(), bad).ok());
  lease = Lease();
  EXPECT_EQ(Count(pool(), "SELECT count(*) FROM information_schema.tables WHERE table_schema = '" +
                              schema() + "' AND table_name = 'a'"),
            0);
}

TEST_F(DbTest, SerializationFailuresAreRetriedUntilEveryIncrementLands) {
  {
    auto lease = pool().Acquire();
    ASSERT_TRUE(Migrate(**lease, schema(), History(2)).ok());
  }
  // Serializable read-modify-write from several threads: PostgreSQL aborts the losers with
  // 40001, and the helper must retry them so no increment is lost.
  constexpr int kThreads = 4, kEach = 25;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto s = RunInTransaction(pool(),
                                  [](pqxx::work& tx) {
                                    int n = tx.exec1("SELECT n FROM counter")[0].as<int>();
                                    tx.exec0("UPDATE counter SET n = " + std::to_string(n + 1));
                                    return absl::OkStatus();
                                  },
                                  {.isolation = Isolation::kSerializable, .max_attempts = 50});
        if (!s.ok()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(Count(pool(), "SELECT n FROM counter"), kThreads * kEach);
}

TEST_F(DbTest, ErrorStatusRollsBack) {
  {
    auto lease = pool().Acquire();
    ASSERT_TRUE(Migrate(**lease, schema(), History(1)).ok());
  }
  auto s = RunInTransaction(pool(), [](pqxx::work& tx) {
    tx.exec0("INSERT INTO things VALUES (1, 'x')");
    return absl::InvalidArgumentError("no");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(pool(), "SELECT count(*) FROM things"), 0);
}

TEST_F(DbTest, StatementTimeoutBecomesDeadlineExceeded) {
  auto s = RunInTransaction(pool(),
                            [](pqxx::work& tx) {
                              tx.exec0("SELECT pg_sleep(2)");
                              return absl::OkStatus();
                            },
                            {.statement_timeout = std::chrono::milliseconds(50)});
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(DbTest, PoolReplacesConnectionsKilledByTheServer) {
  int backend = 0;
  {
    auto lease = pool().Acquire();
    pqxx::work tx(**lease);
    backend = tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  }
  {
    pqxx::connection admin(testing::DatabaseUrl());
    pqxx::nontransaction tx(admin);
    tx.exec("SELECT pg_terminate_backend(" + std::to_string(backend) + ")");
  }
  // The idle connection is dead; the helper must notice, drop it and succeed on a fresh one.
  auto s = RunInTransaction(pool(), [](pqxx::work& tx) {
    tx.exec1("SELECT 1");
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(DbTest, AdvisoryLockHasOneHolderAndIsFreedWhenDroppedOrWhenItsSessionDies) {
  Pool other({.uri = testing::DatabaseUrl(),
              .schema = schema(),
              .size = 2,
              .application_name = "other-" + schema()});
  auto first = TryAdvisoryLock(pool(), "passerelle.test." + schema());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  // Another replica (another pool), and this one again: both find it held.
  auto second = TryAdvisoryLock(other, "passerelle.test." + schema());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->has_value());
  EXPECT_FALSE(TryAdvisoryLock(pool(), "passerelle.test." + schema())->has_value());
  // Another name is another lock.
  EXPECT_TRUE(TryAdvisoryLock(other, "passerelle.other." + schema())->has_value());
  *first = std::nullopt;  // dropped: unlocked
  auto third = TryAdvisoryLock(other, "passerelle.test." + schema());
  ASSERT_TRUE(third.ok() && third->has_value());
  EXPECT_FALSE(TryAdvisoryLock(pool(), "passerelle.test." + schema())->has_value());
  // The holder's session dies (a replica killed): the server frees the lock.
  {
    pqxx::connection admin(testing::DatabaseUrl());
    pqxx::nontransaction tx(admin);
    EXPECT_FALSE(tx.exec_params("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                                "application_name = $1",
                                "other-" + schema())
                     .empty());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool freed = false;
  while (!freed && std::chrono::steady_clock::now() < deadline) {
    auto again = TryAdvisoryLock(pool(), "passerelle.test." + schema());
    freed = again.ok() && again->has_value();
    if (!freed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(freed);
  *third = std::nullopt;  // unlocking on a dead session only closes it: no error, no hang
}

using Wake = Listener::Wake;
using std::chrono::milliseconds;

void Notify(const std::string& channel, const std::string& payload = "") {
  pqxx::connection conn(testing::DatabaseUrl());
  pqxx::work tx(conn);
  tx.exec_params("SELECT pg_notify($1, $2)", channel, payload);
  tx.commit();
}

// Milliseconds `f` took.
template <typename F>
int64_t Millis(F f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start).count();
}

TEST_F(DbTest, ListenerWakesAtTheNotifyingCommitAndNotBefore) {
  // Any name: quoted as LISTEN's identifier (a quote, a space, capitals).
  const std::string channel = schema() + " \"Chan\"";
  Listener listener(testing::DatabaseUrl(), channel, "listener-" + schema());
  EXPECT_EQ(listener.Wait(milliseconds(500)), Wake::kTimeout);  // connects, nothing yet
  ASSERT_TRUE(listener.listening());
  EXPECT_EQ(Count(pool(), absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE "
                                       "application_name = 'listener-",
                                       schema(), "'")),
            1);
  pqxx::connection conn(testing::DatabaseUrl());
  {
    pqxx::work tx(conn);
    tx.exec_params("SELECT pg_notify($1, 'a')", channel);
    tx.exec_params("SELECT pg_notify($1, 'b')", channel);
    EXPECT_EQ(listener.Wait(milliseconds(200)), Wake::kTimeout) << "delivered before commit";
    tx.commit();
  }
  Wake wake = Wake::kTimeout;
  EXPECT_LT(Millis([&] { wake = listener.Wait(milliseconds(5000)); }), 1000);
  EXPECT_EQ(wake, Wake::kNotified);
  // Both were read by that wake; another channel does not wake it.
  Notify(schema() + "-other");
  EXPECT_EQ(listener.Wait(milliseconds(200)), Wake::kTimeout);
  // A rolled-back transaction notifies nobody.
  {
    pqxx::work tx(conn);
    tx.exec_params("SELECT pg_notify($1, 'c')", channel);
    tx.abort();
  }
  EXPECT_EQ(listener.Wait(milliseconds(200)), Wake::kTimeout);
}

TEST_F(DbTest, ListenerReadsAFloodOfBigNotificationsInOneWake) {
  const std::string channel = schema() + "-flood";
  Listener listener(testing::DatabaseUrl(), channel);
  ASSERT_EQ(listener.Wait(milliseconds(300)), Wake::kTimeout);
  pqxx::connection conn(testing::DatabaseUrl());
  {
    // Payloads near PostgreSQL's 8000-byte limit, with bytes that are not text: never read.
    pqxx::work tx(conn);
    tx.exec_params(
        "SELECT pg_notify($1, i::text || repeat(chr(1) || 'é', 2600)) FROM generate_series(1, "
        "1000) i",
        channel);
    tx.commit();
  }
  EXPECT_EQ(listener.Wait(milliseconds(5000)), Wake::kNotified);
  // Each wake reads all that has arrived (8 MB come in several reads): far fewer wakes than
  // notifications, then nothing is left.
  int wakes = 1;
  while (listener.Wait(milliseconds(300)) == Wake::kNotified && wakes < 1000) ++wakes;
  EXPECT_LT(wakes, 200);
  EXPECT_EQ(listener.Wait(milliseconds(300)), Wake::kTimeout);
  EXPECT_TRUE(listener.listening());
}

TEST_F(DbTest, ListenerListensAgainAfterItsConnectionIsKilled) {
  const std::string channel = schema() + "-kill";
  Listener listener(testing::DatabaseUrl(), channel);
  EXPECT_EQ(listener.Wait(milliseconds(200)), Wake::kTimeout);
  ASSERT_TRUE(listener.listening());
  {
    pqxx::connection admin(testing::DatabaseUrl());
    pqxx::nontransaction tx(admin);
    ASSERT_EQ(tx.exec_params("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                             "query = $1",
                             "LISTEN \"" + channel + "\"")
                  .size(),
              1u);
  }
  // The loss wakes it at once (the caller then catches up), well before the timeout; the
  // server's last word is in the log line (JSON), not printed by libpq on stderr.
  static auto* logs = new std::ostringstream;  // the logger outlives the test
  logging::Init("passerelle", logging::Level::kInfo, logs);
  ::testing::internal::CaptureStderr();
  Wake wake = Wake::kNotified;
  EXPECT_LT(Millis([&] { wake = listener.Wait(milliseconds(5000)); }), 2000);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  logging::Init("passerelle", logging::Level::kInfo, &std::cerr);
  EXPECT_EQ(wake, Wake::kTimeout);
  EXPECT_FALSE(listener.listening());
  EXPECT_THAT(logs->str(), HasSubstr("terminating connection due to administrator command"));
  EXPECT_THAT(logs->str(), HasSubstr("\"level\":\"warn\""));
  // The next wait listens again, and hears what follows.
  EXPECT_EQ(listener.Wait(milliseconds(200)), Wake::kTimeout);
  EXPECT_TRUE(listener.listening());
  Notify(channel);
  EXPECT_EQ(listener.Wait(milliseconds(5000)), Wake::kNotified);
}

TEST_F(DbTest, ListenerKeepsItsTimeoutWhenTheServerCannotBeReachedAndStopsAtOnce) {
  // Refused at once, and an address that may never answer: each wait lasts its timeout, no more.
  for (const char* uri :
       {"postgresql://nobody@127.0.0.1:1/x", "postgresql://nobody@10.255.255.1/x"}) {
    Listener nowhere(uri, "c");
    Wake wake = Wake::kNotified;
    const int64_t took = Millis([&] { wake = nowhere.Wait(milliseconds(300)); });
    EXPECT_EQ(wake, Wake::kTimeout) << uri;
    EXPECT_GE(took, 250) << uri;
    EXPECT_LT(took, 1500) << uri;
    EXPECT_FALSE(nowhere.listening());
  }
  // Stop ends a wait in progress, listening or not, and every later one.
  for (const std::string& uri :
       {testing::DatabaseUrl(), std::string("postgresql://nobody@10.255.255.1/x")}) {
    Listener listener(uri, schema() + "-stop");
    Wake wake = Wake::kTimeout;
    std::thread waiter([&] { wake = listener.Wait(milliseconds(30000)); });
    std::this_thread::sleep_for(milliseconds(300));
    int64_t took = Millis([&] {
      listener.Stop();
      waiter.join();
    });
    EXPECT_EQ(wake, Wake::kStopped) << uri;
    EXPECT_LT(took, 1000) << uri;
    EXPECT_EQ(listener.Wait(milliseconds(30000)), Wake::kStopped);
  }
}

TEST_F(DbTest, PoolExhaustionTimesOut) {
  Pool small({.uri = testing::DatabaseUrl(),
              .schema = schema(),
              .size = 1,
              .acquire_timeout = std::chrono::milliseconds(100)});
  auto first = small.Acquire();
  ASSERT_TRUE(first.ok());
  auto second = small.Acquire();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  first = Lease();
  EXPECT_TRUE(small.Acquire().ok());
}

TEST_F(DbTest, UnreachableServerIsUnavailable) {
  Pool nowhere(
      {.uri = "postgresql://nobody@127.0.0.1:1/x?connect_timeout=1", .schema = "", .size = 1});
  EXPECT_EQ(nowhere.Acquire().status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(DbTest, TextArrayArrivesAsWritten) {
  const std::vector<std::string> values = {"a,b",  "{c}", "say \"hi\"", "back\\slash",
                                           "NULL", "",    " padded ",   "é€😀"};
  auto lease = pool().Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  pqxx::work tx(**lease);
  const pqxx::result r = tx.exec_params(
      "SELECT v, v IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS t(v, i) "
      "ORDER BY i",
      TextArray(values));
  ASSERT_EQ(r.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_FALSE(r[i][1].as<bool>()) << i;
    EXPECT_EQ(r[i][0].as<std::string>(), values[i]) << i;
  }
  EXPECT_EQ(
      tx.exec_params1("SELECT cardinality($1::text[])", TextArray(std::vector<std::string>{}))[0]
          .as<int>(),
      0);
}

TEST(HexTest, RoundTrips) {
  std::string bytes("\x00\x01\xfe\xff", 4), back;
  EXPECT_EQ(ToHex(bytes), "0001feff");
  ASSERT_TRUE(FromHex("\\x0001FEff", &back));
  EXPECT_EQ(back, bytes);
  EXPECT_FALSE(FromHex("abc", &back));
}

}  // namespace
}  // namespace passerelle::db
