// API keys: `psk_<id>_<secret>`, the id public (it names the key), the 256-bit secret stored
// only as HMAC-SHA256 under the deployment's pepper and compared in constant time. The gateway
// keeps every key in memory (a snapshot refreshed every few seconds and after each change made
// here), so checking a key never waits on the database.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/api/v1/access.pb.h"
#include "services/gateway/routes.hpp"

namespace passerelle::gateway {

struct KeyRecord {
  std::string id;           ///< 12 characters of [a-z2-7]
  std::string secret_hash;  ///< HMAC-SHA256(pepper, secret), 32 bytes
  std::string display_name;
  std::string organisation;
  std::vector<api::v1::Scope> scopes;
  std::vector<std::string> sources;
  absl::Time create_time;
  std::optional<absl::Time> expire_time;
  std::optional<absl::Time> revoke_time;
  std::optional<absl::Time> last_use_time;
};

/// Where keys live (PostgreSQL in production, memory in unit tests).
class KeyStore {
 public:
  virtual ~KeyStore() = default;
  /// ALREADY_EXISTS when the id is taken.
  virtual absl::Status Create(const KeyRecord& key) = 0;
  virtual absl::StatusOr<std::vector<KeyRecord>> All() = 0;
  /// NOT_FOUND when there is no such key; the stored record after the change.
  virtual absl::StatusOr<KeyRecord> Revoke(const std::string& id, absl::Time when) = 0;
  virtual absl::Status TouchLastUse(const std::vector<std::string>& ids, absl::Time when) = 0;
};

/// Who is calling: anonymous, or a key's identity.
struct Caller {
  bool anonymous = true;
  std::string key_id;
  std::string display_name;  ///< the key's, as its administrator named it
  std::string organisation;
  std::set<api::v1::Scope> scopes;
  std::vector<std::string> sources;
  bool Has(api::v1::Scope scope) const { return scopes.count(scope) > 0; }
};

class KeyRing {
 public:
  KeyRing(KeyStore& store, std::string pepper, const clocks::Clock& clock);

  /// Reloads every key from the store.
  absl::Status Refresh();
  /// The caller a presented key stands for. UNAUTHENTICATED, with one message whatever the
  /// cause (malformed, unknown, wrong secret, expired, revoked), so the answer tells a prober
  /// nothing.
  absl::StatusOr<Caller> Authenticate(std::string_view presented);
  /// Writes the last-use times gathered since the previous flush (called every minute).
  absl::Status FlushLastUse();

  /// A new key for `record` (id, hash and create time filled in); returns the whole key.
  absl::StatusOr<std::string> Issue(KeyRecord* record);
  /// A key whose whole text is given (bootstrap of the first admin key by `up`); OK when it is
  /// already there.
  absl::Status Ensure(std::string_view whole_key, KeyRecord record);
  absl::StatusOr<KeyRecord> Revoke(const std::string& id);
  std::vector<KeyRecord> Snapshot() const;

  /// The id and secret of a presented key, or nullopt when it is not one of ours.
  static std::optional<std::pair<std::string, std::string>> Parse(std::string_view presented);

 private:
  std::string Hash(std::string_view secret) const;
  KeyStore& store_;
  std::string pepper_;
  const clocks::Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, KeyRecord> keys_;
  std::set<std::string> used_;
};

/// Checks a caller against a route's method scope only (what the request holds aside):
/// UNAUTHENTICATED for an anonymous caller where a key is needed, PERMISSION_DENIED otherwise.
absl::Status AuthorizeScope(const Route& route, const Caller& caller);

/// The fields of `route.field_scopes` the caller's scopes do not allow it to set (none for a key
/// that holds them all): where none of them is set, the method's scope is the whole check.
std::vector<const google::protobuf::FieldDescriptor*> FieldsBeyondScope(const Route& route,
                                                                        const Caller& caller);

/// Checks a caller against a route: the method's scope, raised field scopes, the source a
/// bound key may write and the owner an organisation key acts for (filled in when empty).
/// UNAUTHENTICATED when a key is needed and none was given; PERMISSION_DENIED otherwise.
absl::Status Authorize(const Route& route, const Caller& caller, nlohmann::json* request);

/// The `x-passerelle-*` metadata the backends receive for a caller (read by
/// libs/server/caller.hpp): the key's id (what backends scope request ids by), scopes, display
/// name and organisation, and for an organisation key without `admin` the organisation its
/// writes act for (`x-passerelle-organisation`). Nothing for an anonymous caller.
std::vector<std::pair<std::string, std::string>> CallerMetadata(const Caller& caller);

}  // namespace passerelle::gateway
