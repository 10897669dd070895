// Keys in memory, for the gateway's unit tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "services/gateway/keys.hpp"

namespace passerelle::gateway {

class FakeKeyStore : public KeyStore {
 public:
  absl::Status Create(const KeyRecord& key) override {
    if (!keys.emplace(key.id, key).second) return absl::AlreadyExistsError(key.id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<KeyRecord>> All() override {
    std::vector<KeyRecord> out;
    for (const auto& [id, k] : keys) out.push_back(k);
    return out;
  }
  absl::StatusOr<KeyRecord> Revoke(const std::string& id, absl::Time when) override {
    auto it = keys.find(id);
    if (it == keys.end()) return absl::NotFoundError(id);
    it->second.revoke_time = when;
    return it->second;
  }
  absl::Status TouchLastUse(const std::vector<std::string>& ids, absl::Time when) override {
    for (const std::string& id : ids) keys[id].last_use_time = when;
    return absl::OkStatus();
  }
  std::map<std::string, KeyRecord> keys;
};

}  // namespace passerelle::gateway
