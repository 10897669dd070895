// Venue mapping between the domain record and the API message, by reflection on field names.
#include "libs/standard/venue.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/standard/opening_hours.hpp"

namespace passerelle::standard {

namespace v1 = ::passerelle::venues::v1;
namespace {

using google::protobuf::FieldDescriptor;

std::string Number(double d) {
  // Plain decimals only (the standard's number syntax), shortest that reads back exactly;
  // NaN and infinities become text that validation refuses by name.
  if (!std::isfinite(d)) return std::isnan(d) ? "NaN" : d > 0 ? "inf" : "-inf";
  if (d == 0) return "0";  // -0 too: one zero
  char buf[512];
  auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

}  // namespace

const std::vector<std::string>& LocalFields() {
  static const auto* fields =
      new std::vector<std::string>{"owner_organisation", "referential_items", "accepts_aptic_pass"};
  return *fields;
}

std::map<std::string, std::string> RawFromProto(const Standard& standard, const v1::Venue& m) {
  std::map<std::string, std::string> raw;
  const auto* desc = m.GetDescriptor();
  const auto* refl = m.GetReflection();
  for (const FieldSpec& spec : standard.fields()) {
    const FieldDescriptor* f = desc->FindFieldByName(spec.name);
    if (f == nullptr) continue;
    std::vector<std::string> values;
    if (f->is_repeated()) {
      const int n = refl->FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        if (f->type() == FieldDescriptor::TYPE_ENUM) {
          const int number = refl->GetRepeatedEnumValue(m, f, i);
          // Unknown numbers become a value that fails validation with the number in it.
          values.push_back(number >= 1 && number <= static_cast<int>(spec.values.size())
                               ? spec.values[number - 1]
                               : absl::StrCat("(valeur d'énumération inconnue ", number, ")"));
        } else {
          values.push_back(refl->GetRepeatedString(m, f, i));
        }
      }
    } else if (f->type() == FieldDescriptor::TYPE_DOUBLE) {
      if (refl->HasField(m, f)) values.push_back(Number(refl->GetDouble(m, f)));
    } else {
      values.push_back(refl->GetString(m, f));
    }
    raw[spec.name] = absl::StrJoin(values, "|");
  }
  return raw;
}

void ToProto(const Standard& standard, const Venue& v, v1::Venue* out) {
  const auto* desc = out->GetDescriptor();
  const auto* refl = out->GetReflection();
  out->set_name(v.Name());
  for (const FieldSpec& spec : standard.fields()) {
    const FieldDescriptor* f = desc->FindFieldByName(spec.name);
    auto it = v.standard.find(spec.name);
    if (f == nullptr || it == v.standard.end()) continue;
    for (const std::string& value : it->second) {
      if (f->is_repeated() && f->type() == FieldDescriptor::TYPE_ENUM) {
        auto pos = std::find(spec.values.begin(), spec.values.end(), value);
        if (pos != spec.values.end()) {
          refl->AddEnumValue(out, f, static_cast<int>(pos - spec.values.begin()) + 1);
        }
      } else if (f->is_repeated()) {
        refl->AddString(out, f, value);
      } else if (f->type() == FieldDescriptor::TYPE_DOUBLE) {
        double d = 0;
        if (absl::SimpleAtod(value, &d)) refl->SetDouble(out, f, d);
      } else {
        refl->SetString(out, f, value);
      }
    }
  }
  auto* p = out->mutable_provenance();
  p->set_source(v.source);
  p->set_source_id(v.source_id);
  api::ToTimestamp(v.first_seen_time, p->mutable_first_seen_time());
  api::ToTimestamp(v.last_seen_time, p->mutable_last_seen_time());
  for (const auto& [field, edit] : v.local_fields) {
    auto* e = p->add_local_edits();
    e->set_field(field);
    api::ToTimestamp(edit.time, e->mutable_edit_time());
    e->set_editor(edit.by);
  }
  out->set_owner_organisation(v.owner_organisation);
  for (const auto& i : v.referential_items) out->add_referential_items(i);
  out->set_accepts_aptic_pass(v.accepts_aptic_pass);
  for (const auto& a : v.areas) out->add_areas(a);
  out->set_state(v.withdrawn ? v1::WITHDRAWN : v1::ACTIVE);
  out->set_withdrawal_reason(v.withdrawal_reason);
  if (!v.duplicate_of.empty()) out->set_duplicate_of("venues/" + v.duplicate_of);
  api::ToTimestamp(v.create_time, out->mutable_create_time());
  api::ToTimestamp(v.update_time, out->mutable_update_time());
  out->set_etag(ETag(v));
  auto horaires = v.standard.find("horaires");
  out->set_hours_understood(horaires != v.standard.end() && !horaires->second.empty() &&
                            OpeningHours::Parse(horaires->second.front()).has_value());
}

std::vector<std::string> ChangedFields(const Venue& a, const Venue& b) {
  std::vector<std::string> out;
  std::set<std::string> names;
  for (const auto& [k, _] : a.standard) names.insert(k);
  for (const auto& [k, _] : b.standard) names.insert(k);
  for (const auto& n : names) {
    auto x = a.standard.find(n), y = b.standard.find(n);
    const bool same = (x == a.standard.end() && y == b.standard.end()) ||
                      (x != a.standard.end() && y != b.standard.end() && x->second == y->second);
    if (!same) out.push_back(n);
  }
  if (a.owner_organisation != b.owner_organisation) out.push_back("owner_organisation");
  if (a.referential_items != b.referential_items) out.push_back("referential_items");
  if (a.accepts_aptic_pass != b.accepts_aptic_pass) out.push_back("accepts_aptic_pass");
  return out;
}

std::string ETag(const Venue& v) { return api::WeakETag(v.revision); }

bool SameFieldValue(const Record& a, const Record& b, const std::string& field) {
  auto x = a.find(field);
  auto y = b.find(field);
  if ((x == a.end()) != (y == b.end())) return false;
  if (x == a.end()) return true;
  if (x->second.size() != y->second.size()) return false;
  if (x->second == y->second) return true;
  std::vector<std::string> xs = x->second, ys = y->second;
  std::sort(xs.begin(), xs.end());
  std::sort(ys.begin(), ys.end());
  return xs == ys;
}

std::vector<std::string> FieldGroup(const std::string& field) {
  if (field == "latitude" || field == "longitude") return {"latitude", "longitude"};
  return {field};
}

}  // namespace passerelle::standard
