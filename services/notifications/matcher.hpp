// Which subscriptions an event concerns: the facts an event carries, a subscription's filter,
// and an index from facts to subscriptions so an event is matched without scanning them all.
#pragma once

#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "passerelle/events/v1/event.pb.h"
#include "passerelle/notifications/v1/notifications.pb.h"

namespace passerelle::notifications {

/// What matching needs from an event.
struct Facts {
  std::string type;
  bool venue_event = false;  // venue.*: the sets below describe the venue before and after
  std::string venue;         // venues/{venue}
  std::set<std::string> areas, items, owners;
  bool sync_event = false;  // sync.*
  std::string sync_source;  // sources/{source}
};

/// The facts of an event. INVALID_ARGUMENT when a venue or sync event's payload is not the
/// message its type announces (a poison event: the consumer dead-letters it).
absl::StatusOr<Facts> FactsOf(const events::v1::Event& event);

/// Whether the filter lets the event through (AND between lists, OR inside one).
bool Matches(const v1::Filter& filter, const Facts& facts);

/// Subscriptions by the most selective list of their filter. An event looks up only the keys
/// its facts name, then checks those few candidates' whole filters. Thread-safe.
class SubscriptionIndex {
 public:
  /// Adds or replaces a subscription's filter.
  void Put(const std::string& id, const v1::Filter& filter);
  void Remove(const std::string& id);
  /// Ids whose filter matches, sorted.
  std::vector<std::string> Match(const Facts& facts) const;
  size_t size() const;

 private:
  // "<dimension>\x1f<value>" -> subscriptions; "all" for filters with no list.
  using Key = std::string;
  struct Entry {
    std::string id;
    v1::Filter filter;
    std::vector<Key> keys;
  };
  static std::vector<Key> KeysOf(const v1::Filter& filter);
  void Unfile(const Entry& e);
  mutable std::shared_mutex mu_;
  // Entries do not move once made: the lists below point to them.
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;
  std::unordered_map<Key, std::vector<const Entry*>> by_key_;
};

}  // namespace passerelle::notifications
