// Matching events against subscriptions through an index.
#include "services/notifications/matcher.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "passerelle/sync/v1/events.pb.h"
#include "passerelle/venues/v1/events.pb.h"

namespace passerelle::notifications {
namespace {

void AddVenue(const venues::v1::Venue& v, Facts* f) {
  f->areas.insert(v.areas().begin(), v.areas().end());
  f->items.insert(v.referential_items().begin(), v.referential_items().end());
  if (!v.owner_organisation().empty()) f->owners.insert(v.owner_organisation());
}

absl::Status Poison(const events::v1::Event& e, std::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat("event ", e.id(), " of type ", e.type(),
                                                 " does not carry a ", std::string(expected)));
}

bool TypeMatches(const google::protobuf::RepeatedPtrField<std::string>& patterns,
                 const std::string& type) {
  if (patterns.empty()) return true;
  for (const auto& p : patterns) {
    if (p == type) return true;
    if (p.ends_with(".*") && type.starts_with(p.substr(0, p.size() - 1))) return true;
  }
  return false;
}

bool AnyIn(const google::protobuf::RepeatedPtrField<std::string>& wanted,
           const std::set<std::string>& have) {
  for (const auto& w : wanted) {
    if (have.contains(w)) return true;
  }
  return false;
}

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& wanted,
              const std::string& value) {
  return std::find(wanted.begin(), wanted.end(), value) != wanted.end();
}

constexpr char kSep[] = "\x1f";

}  // namespace

absl::StatusOr<Facts> FactsOf(const events::v1::Event& event) {
  Facts f;
  f.type = event.type();
  if (event.type() == "venue.created") {
    venues::v1::VenueCreated p;
    if (!event.payload().UnpackTo(&p)) return Poison(event, "VenueCreated");
    f.venue_event = true;
    f.venue = p.venue().name();
    AddVenue(p.venue(), &f);
  } else if (event.type() == "venue.updated") {
    venues::v1::VenueUpdated p;
    if (!event.payload().UnpackTo(&p)) return Poison(event, "VenueUpdated");
    f.venue_event = true;
    f.venue = p.venue().name();
    AddVenue(p.venue(), &f);
    f.areas.insert(p.previous_areas().begin(), p.previous_areas().end());
    f.items.insert(p.previous_referential_items().begin(), p.previous_referential_items().end());
    if (!p.previous_owner_organisation().empty()) f.owners.insert(p.previous_owner_organisation());
  } else if (event.type() == "venue.withdrawn") {
    venues::v1::VenueWithdrawn p;
    if (!event.payload().UnpackTo(&p)) return Poison(event, "VenueWithdrawn");
    f.venue_event = true;
    f.venue = p.name();
    f.areas.insert(p.areas().begin(), p.areas().end());
    f.items.insert(p.referential_items().begin(), p.referential_items().end());
    if (!p.owner_organisation().empty()) f.owners.insert(p.owner_organisation());
  } else if (event.type() == "sync.run.completed") {
    sync::v1::RunCompleted p;
    if (!event.payload().UnpackTo(&p)) return Poison(event, "RunCompleted");
    f.sync_event = true;
    // sources/{source}/runs/{run}
    const std::string& run = p.run().name();
    const size_t runs = run.find("/runs/");
    f.sync_source = runs == std::string::npos ? run : run.substr(0, runs);
  } else if (event.type().starts_with("sync.")) {
    f.sync_event = true;
    const std::string& subject = event.subject();
    const size_t runs = subject.find("/runs/");
    f.sync_source = runs == std::string::npos ? subject : subject.substr(0, runs);
  }
  return f;
}

bool Matches(const v1::Filter& filter, const Facts& f) {
  if (!TypeMatches(filter.event_types(), f.type)) return false;
  const bool venue_lists = !filter.areas().empty() || !filter.referential_items().empty() ||
                           !filter.owner_organisations().empty() || !filter.venues().empty();
  if (venue_lists) {
    if (!f.venue_event) return false;
    if (!filter.areas().empty() && !AnyIn(filter.areas(), f.areas)) return false;
    if (!filter.referential_items().empty() && !AnyIn(filter.referential_items(), f.items)) {
      return false;
    }
    if (!filter.owner_organisations().empty() && !AnyIn(filter.owner_organisations(), f.owners)) {
      return false;
    }
    if (!filter.venues().empty() && !Contains(filter.venues(), f.venue)) return false;
  }
  if (!filter.sync_sources().empty()) {
    if (!f.sync_event || !Contains(filter.sync_sources(), f.sync_source)) return false;
  }
  return true;
}

std::vector<SubscriptionIndex::Key> SubscriptionIndex::KeysOf(const v1::Filter& filter) {
  // The most selective list: a venue, then an item, an area, an owner, a source, a type.
  auto keys = [](char dimension, const auto& values) {
    std::vector<Key> out;
    for (const auto& v : values) out.push_back(absl::StrCat(std::string(1, dimension), kSep, v));
    return out;
  };
  if (!filter.venues().empty()) return keys('v', filter.venues());
  if (!filter.referential_items().empty()) return keys('i', filter.referential_items());
  if (!filter.areas().empty()) return keys('a', filter.areas());
  if (!filter.owner_organisations().empty()) return keys('o', filter.owner_organisations());
  if (!filter.sync_sources().empty()) return keys('s', filter.sync_sources());
  if (!filter.event_types().empty()) return keys('t', filter.event_types());
  return {"all"};
}

void SubscriptionIndex::Unfile(const Entry& e) {
  for (const auto& k : e.keys) {
    auto it = by_key_.find(k);
    if (it == by_key_.end()) continue;
    std::erase(it->second, &e);
    if (it->second.empty()) by_key_.erase(it);
  }
}

void SubscriptionIndex::Put(const std::string& id, const v1::Filter& filter) {
  auto e = std::make_unique<Entry>(Entry{id, filter, KeysOf(filter)});
  std::unique_lock lock(mu_);
  auto& slot = entries_[id];
  if (slot) Unfile(*slot);
  for (const auto& k : e->keys) by_key_[k].push_back(e.get());
  slot = std::move(e);
}

void SubscriptionIndex::Remove(const std::string& id) {
  std::unique_lock lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Unfile(*it->second);
  entries_.erase(it);
}

size_t SubscriptionIndex::size() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

std::vector<std::string> SubscriptionIndex::Match(const Facts& f) const {
  std::vector<Key> probes = {"all", absl::StrCat("t", kSep, f.type)};
  // Type prefixes: venue.updated is also venue.*.
  for (size_t dot = f.type.find('.'); dot != std::string::npos; dot = f.type.find('.', dot + 1)) {
    probes.push_back(absl::StrCat("t", kSep, f.type.substr(0, dot + 1), "*"));
  }
  auto probe = [&](char dimension, const std::string& value) {
    probes.push_back(absl::StrCat(std::string(1, dimension), kSep, value));
  };
  if (f.venue_event) {
    probe('v', f.venue);
    for (const auto& x : f.items) probe('i', x);
    for (const auto& x : f.areas) probe('a', x);
    for (const auto& x : f.owners) probe('o', x);
  }
  if (f.sync_event) probe('s', f.sync_source);
  // The probes are distinct keys, so only a subscription filed under several keys (two areas,
  // say) can come up twice.
  std::vector<const Entry*> hits;
  std::unordered_set<const Entry*> seen;
  {
    std::shared_lock lock(mu_);
    for (const auto& k : probes) {
      auto it = by_key_.find(k);
      if (it == by_key_.end()) continue;
      for (const Entry* e : it->second) {
        if (e->keys.size() > 1 && !seen.insert(e).second) continue;
        if (Matches(e->filter, f)) hits.push_back(e);
      }
    }
  }
  std::vector<std::string> out;
  out.reserve(hits.size());
  for (const Entry* e : hits) out.push_back(e->id);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace passerelle::notifications
