// API keys in the gateway's own PostgreSQL schema.
#pragma once

#include "libs/db/pool.hpp"
#include "services/gateway/keys.hpp"

namespace passerelle::gateway {

class PgKeyStore : public KeyStore {
 public:
  explicit PgKeyStore(db::Pool& pool) : pool_(pool) {}
  absl::Status Create(const KeyRecord& key) override;
  absl::StatusOr<std::vector<KeyRecord>> All() override;
  absl::StatusOr<KeyRecord> Revoke(const std::string& id, absl::Time when) override;
  absl::Status TouchLastUse(const std::vector<std::string>& ids, absl::Time when) override;

 private:
  db::Pool& pool_;
};

}  // namespace passerelle::gateway
