// Connection pool over libpqxx.
#include "libs/db/pool.hpp"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace passerelle::db {

Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)), discard_(other.discard_) {
  other.pool_ = nullptr;
}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = other.pool_;
    conn_ = std::move(other.conn_);
    discard_ = other.discard_;
    other.pool_ = nullptr;
  }
  return *this;
}

Lease::~Lease() { Release(); }

void Lease::Release() {
  if (pool_ != nullptr && conn_) pool_->Return(std::move(conn_), discard_);
  pool_ = nullptr;
}

Pool::Pool(PoolOptions options) : options_(std::move(options)) {}

Pool::~Pool() { Close(); }

absl::StatusOr<std::unique_ptr<pqxx::connection>> Pool::Open() {
  try {
    auto conn = std::make_unique<pqxx::connection>(options_.uri);
    pqxx::nontransaction tx(*conn);
    if (!options_.schema.empty()) {
      tx.exec0(absl::StrCat("SET search_path TO ", QuoteIdent(options_.schema), ", public"));
    }
    if (!options_.application_name.empty()) {
      tx.exec0(absl::StrCat("SET application_name TO ", tx.quote(options_.application_name)));
    }
    return conn;
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
  }
}

absl::StatusOr<Lease> Pool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  while (true) {
    if (closed_) return absl::UnavailableError("connection pool is closed");
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->is_open()) return Lease(this, std::move(conn));
      --open_;  // closed while idle (server restart): drop it, open a new one below
    }
    if (open_ < options_.size) {
      ++open_;
      lock.unlock();
      auto conn = Open();
      lock.lock();
      if (!conn.ok()) {
        --open_;
        cv_.notify_one();
        return conn.status();
      }
      return Lease(this, *std::move(conn));
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.size) {
      return absl::UnavailableError(absl::StrCat("no PostgreSQL connection free after ",
                                                 options_.acquire_timeout.count(), " ms"));
    }
  }
}

void Pool::Return(std::unique_ptr<pqxx::connection> conn, bool discard) {
  std::lock_guard<std::mutex> lock(mu_);
  if (discard || closed_ || !conn->is_open()) {
    --open_;
    conn.reset();
  } else {
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

void Pool::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  open_ -= static_cast<int>(idle_.size());
  idle_.clear();
  cv_.notify_all();
}

int Pool::open_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

std::string QuoteIdent(std::string_view ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

absl::Time FromEpoch(const pqxx::field& seconds) {
  return absl::FromUnixMicros(static_cast<int64_t>(seconds.as<double>() * 1e6));
}

bool FromHex(std::string_view hex, std::string* out) {
  if (hex.starts_with("\\x")) hex.remove_prefix(2);  // bytea's own text form
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out->clear();
  out->reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

}  // namespace passerelle::db
