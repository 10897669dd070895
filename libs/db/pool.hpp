// A bounded pool of libpqxx connections, each pinned to one service schema.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace passerelle::db {

struct PoolOptions {
  /// libpq connection URI, e.g. postgresql://user@127.0.0.1:5433/passerelle.
  std::string uri;
  /// The service's schema; connections get `search_path = <schema>, public` (public holds PostGIS).
  std::string schema;
  /// Most connections open at once.
  int size = 8;
  /// How long Acquire waits for a free connection.
  std::chrono::milliseconds acquire_timeout{5000};
  /// Shown in pg_stat_activity, so operators (and tests) tell whose connections they see.
  std::string application_name;
};

class Pool;

/// A borrowed connection, returned to the pool on destruction (dropped if it broke).
class Lease {
 public:
  Lease() = default;
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  ~Lease();

  pqxx::connection& operator*() const { return *conn_; }
  pqxx::connection* operator->() const { return conn_.get(); }
  /// Whether it holds a connection (not moved from or released).
  explicit operator bool() const { return conn_ != nullptr; }
  /// Marks the connection as unusable so it is closed instead of reused.
  void Discard() { discard_ = true; }

 private:
  friend class Pool;
  Lease(Pool* pool, std::unique_ptr<pqxx::connection> conn) : pool_(pool), conn_(std::move(conn)) {}
  void Release();

  Pool* pool_ = nullptr;
  std::unique_ptr<pqxx::connection> conn_;
  bool discard_ = false;
};

/// Thread-safe pool. Connections open lazily; a broken one is replaced on the next Acquire.
class Pool {
 public:
  explicit Pool(PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// A connection, or UNAVAILABLE when the server cannot be reached or the pool stays exhausted
  /// for acquire_timeout.
  absl::StatusOr<Lease> Acquire();
  /// Closes idle connections and refuses new leases (leases out are closed when returned).
  void Close();

  const PoolOptions& options() const { return options_; }
  /// Connections currently open (idle + leased).
  int open_connections() const;

 private:
  friend class Lease;
  void Return(std::unique_ptr<pqxx::connection> conn, bool discard);
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Open();

  PoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int open_ = 0;
  bool closed_ = false;
};

/// Quotes an identifier for SQL (schema and table names built at run time).
std::string QuoteIdent(std::string_view ident);

/// Lower-case hexadecimal of bytes, and back (bytea travels as hex through libpqxx 6.4).
std::string ToHex(std::string_view bytes);
bool FromHex(std::string_view hex, std::string* out);

/// A timestamp selected as `extract(epoch FROM column)` (seconds, to the microsecond).
absl::Time FromEpoch(const pqxx::field& seconds);

}  // namespace passerelle::db
