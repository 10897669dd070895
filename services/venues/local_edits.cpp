// The rule for a venue's locally edited fields when its source writes it again (registry.hpp).
#include <algorithm>
#include <set>

#include "services/venues/registry.hpp"

namespace passerelle::venues {
namespace {

using FieldValue = std::optional<std::vector<std::string>>;  // nullopt: the field is absent

FieldValue ValueOf(const standard::Record& record, const std::string& field) {
  auto it = record.find(field);
  if (it == record.end()) return std::nullopt;
  return it->second;
}

void SetValue(standard::Record& record, const std::string& field, const FieldValue& value) {
  if (value) {
    record[field] = *value;
  } else {
    record.erase(field);
  }
}

}  // namespace

void MergeLocalEdits(const standard::Venue& current, ConflictPolicy policy, standard::Venue& next,
                     std::vector<ConflictRecord>& conflicts) {
  const standard::Record& previous = current.source_record.value_or(current.standard);
  // Values compare as sets (a list sent again in another order is no change), and a position
  // (latitude and longitude) is settled as a whole.
  std::set<std::string> settled;
  for (const auto& [edited, edit] : current.local_fields) {
    if (settled.contains(edited)) continue;
    const std::vector<std::string> group = standard::FieldGroup(edited);
    settled.insert(group.begin(), group.end());
    auto all = [&](const standard::Record& a, const standard::Record& b) {
      return std::all_of(group.begin(), group.end(),
                         [&](const std::string& f) { return standard::SameFieldValue(a, b, f); });
    };
    if (all(next.standard, current.standard)) {
      // The source caught up with the local edit.
      for (const std::string& f : group) next.local_fields.erase(f);
      continue;
    }
    const bool untouched = all(next.standard, previous);
    for (const std::string& f : group) {
      const FieldValue local = ValueOf(current.standard, f);
      if (untouched) {
        SetValue(next.standard, f, local);  // the source did not touch it: the edit stands
        continue;
      }
      if (!standard::SameFieldValue(next.standard, previous, f) ||
          !standard::SameFieldValue(next.standard, current.standard, f)) {
        conflicts.push_back({.venue_id = current.id,
                             .source = current.source,
                             .field = f,
                             .local_value = local,
                             .previous_source_value = ValueOf(previous, f),
                             .new_source_value = ValueOf(next.standard, f),
                             .policy = policy});
      }
      if (policy == ConflictPolicy::kLocalWins) {
        SetValue(next.standard, f, local);
        if (!next.local_fields.contains(f)) next.local_fields[f] = edit;
      } else {
        next.local_fields.erase(f);
      }
    }
  }
}

}  // namespace passerelle::venues
