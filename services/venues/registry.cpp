// Venue registry use cases.
#include "services/venues/registry.hpp"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "libs/api/filter.hpp"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/events/event.hpp"
#include "libs/logging/logging.hpp"
#include "libs/standard/exchange.hpp"
#include "libs/standard/opening_hours.hpp"
#include "libs/text/utf8.hpp"
#include "passerelle/venues/v1/events.pb.h"
#include "services/venues/organisations.hpp"

namespace passerelle::venues {
namespace {

const api::ResourcePattern kVenueName("venues/{venue}");
const api::ResourcePattern kAreaLayerName("areaLayers/{layer}");
const api::ResourcePattern kAreaName("areaLayers/{layer}/areas/{code}");
const api::ResourcePattern kSourceName("sources/{source}");

// `venues/{venue}` with the venue's id as the registry wrote it (a lowercase UUID), so each
// venue has one name: `venues/0F8F...` is refused, not an alias.
absl::Status ParseName(const std::string& name, std::string* id) {
  auto parts = kVenueName.Parse(name, "name");
  if (!parts.ok()) return parts.status();
  if (!api::IsCanonicalUuid((*parts)[0])) {
    return api::InvalidName("name", "[pattern] venues/{venue} avec un UUID en minuscules", name);
  }
  *id = (*parts)[0];
  return absl::OkStatus();
}

// Fields ListVenues can filter on, and whether they hold lists.
const std::map<std::string, bool>& Filterable() {
  static const auto* f = new std::map<std::string, bool>{{"commune", false},
                                                         {"code_postal", false},
                                                         {"code_insee", false},
                                                         {"source", false},
                                                         {"state", false},
                                                         {"owner_organisation", false},
                                                         {"services", true},
                                                         {"typologie", true},
                                                         {"dispositif_programmes_nationaux", true},
                                                         {"frais_a_charge", true},
                                                         {"referential_items", true}};
  return *f;
}

// Copies one field (by name) from `from` to `to`, replacing what `to` had.
void CopyField(const v1::Venue& from, v1::Venue* to, const std::string& name) {
  using google::protobuf::FieldDescriptor;
  const FieldDescriptor* f = from.GetDescriptor()->FindFieldByName(name);
  if (f == nullptr) return;
  const auto* r = from.GetReflection();
  r->ClearField(to, f);
  if (f->is_repeated()) {
    for (int i = 0; i < r->FieldSize(from, f); ++i) {
      if (f->type() == FieldDescriptor::TYPE_ENUM) {
        r->AddEnumValue(to, f, r->GetRepeatedEnumValue(from, f, i));
      } else {
        r->AddString(to, f, r->GetRepeatedString(from, f, i));
      }
    }
    return;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(to, f, r->GetString(from, f));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      r->SetBool(to, f, r->GetBool(from, f));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      if (r->HasField(from, f)) r->SetDouble(to, f, r->GetDouble(from, f));
      break;
    default:
      break;
  }
}

// The local fields' rules (the standard's are ValidateRow's): bounded, valid text, item names.
void CheckLocalFields(const v1::Venue& m, const std::string& prefix,
                      std::vector<api::FieldViolation>* bad) {
  if (m.referential_items_size() > 100) {
    bad->push_back({prefix + "referential_items", "at most 100 items"});
    return;
  }
  for (int i = 0; i < m.referential_items_size(); ++i) {
    const std::string& item = m.referential_items(i);
    bool ok = item.size() > 6 && item.size() <= 70 && item.starts_with("items/");
    for (size_t k = 6; ok && k < item.size(); ++k) {
      const char c = item[k];
      ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    }
    if (!ok) {
      bad->push_back({absl::StrCat(prefix, "referential_items[", i, "]"),
                      absl::StrCat("must be items/{item} (letters, digits, . - _), got \"",
                                   text::Quote(item), "\"")});
    }
  }
}

// The rule of `owner_organisation`: empty, or the id of an existing organisation
// (`unknown_owners`: the well-formed ids no organisation has). The rule's name and a French
// description; nullopt when it holds.
std::optional<std::pair<std::string, std::string>> OwnerViolation(
    const std::string& owner, const std::set<std::string>& unknown_owners) {
  if (owner.empty()) return std::nullopt;
  if (!IsOrganisationId(owner)) {
    return std::make_pair(
        std::string("pattern"),
        absl::StrCat("doit être l'identifiant d'une organisation (organisations/{id}, l'id de 2 à "
                     "63 lettres minuscules, chiffres et tirets), reçu « ",
                     text::Quote(owner), " »"));
  }
  if (unknown_owners.contains(owner)) {
    return std::make_pair(std::string("exists"),
                          absl::StrCat("aucune organisation n'a l'identifiant « ", owner,
                                       " » : créez organisations/", owner,
                                       " (CreateOrganisation) avant d'en faire le propriétaire "
                                       "d'un lieu"));
  }
  return std::nullopt;
}

// What a write acting for an organisation adds to its request's fingerprint: the same request
// id and content from another organisation is another request, never a retry answered with
// the first one's venue. Empty for other callers, whose fingerprints stay as they were.
std::string ActingSuffix(const std::optional<std::string>& acting) {
  return acting ? absl::StrCat(
                      "\x1e"
                      "acting:",
                      *acting)
                : "";
}

// NOT_OWNER unless the caller acts for no organisation or for the stored venue's owner.
absl::Status CheckOwner(const standard::Venue& stored, const std::optional<std::string>& acting) {
  if (!acting || stored.owner_organisation == *acting) return absl::OkStatus();
  return NotOwner(absl::StrCat(stored.Name(), " n'appartient pas à l'organisation « ", *acting,
                               " » : seule l'organisation propriétaire du lieu le modifie"));
}

// The violations of a row as field violations under `prefix`.
std::vector<api::FieldViolation> AsFieldViolations(
    const std::vector<standard::Violation>& violations, const std::string& prefix) {
  std::vector<api::FieldViolation> fv;
  for (const auto& x : violations) {
    fv.push_back(
        {prefix + x.field,
         absl::StrCat("[", x.rule, "] ", x.message,
                      x.value.empty() ? "" : absl::StrCat(" (valeur « ", x.value, " »)"))});
  }
  return fv;
}

// A producer's id, as `source` of batch writes and imports: the sync's source ids.
absl::Status CheckSource(const std::string& source) {
  std::vector<api::FieldViolation> bad;
  if (standard::CheckSourceId(&bad, "source", source)) return absl::OkStatus();
  return api::InvalidArgument("source invalide", bad);
}

absl::Status CheckRequestId(const std::string& request_id) {
  std::vector<api::FieldViolation> bad;
  if (!api::CheckText(&bad, "request_id", request_id, 100)) {
    return api::InvalidArgument("request_id invalide", bad);
  }
  return absl::OkStatus();
}

// Marks the standard fields an API write changed on a venue that has a source as edited
// locally, by `by` at `now`; a field set back to the source's value is the source's again.
void MarkLocalEdits(const standard::Record& before, absl::Time now, const std::string& by,
                    standard::Venue& v) {
  if (!v.source_record) return;  // created here: no source to differ from
  std::set<std::string> names;
  for (const auto& [k, _] : before) names.insert(k);
  for (const auto& [k, _] : v.standard) names.insert(k);
  for (const std::string& field : names) {
    if (standard::SameFieldValue(before, v.standard, field)) continue;
    // A position is marked, or given back to the source, as a whole.
    const std::vector<std::string> group = standard::FieldGroup(field);
    const bool as_sent = std::all_of(group.begin(), group.end(), [&](const std::string& f) {
      return standard::SameFieldValue(*v.source_record, v.standard, f);
    });
    for (const std::string& f : group) {
      if (as_sent) {
        v.local_fields.erase(f);
      } else {
        v.local_fields[f] = {now, by};
      }
    }
  }
}

// A box searched or listed (`within`): every edge a finite number of degrees, south not above
// north. West beyond east is a box across the antimeridian; latitudes cannot wrap.
void CheckBox(const Repository::Box& b, std::vector<api::FieldViolation>* bad) {
  const bool ok = api::CheckNumber(bad, "within.min_latitude", b.min_lat, -90, 90) &
                  api::CheckNumber(bad, "within.max_latitude", b.max_lat, -90, 90) &
                  api::CheckNumber(bad, "within.min_longitude", b.min_lon, -180, 180) &
                  api::CheckNumber(bad, "within.max_longitude", b.max_lon, -180, 180);
  if (ok && b.min_lat > b.max_lat) {
    bad->push_back(
        {"within.min_latitude", absl::StrCat("[range] le bord sud (", b.min_lat,
                                             ") est au nord du bord nord (", b.max_lat, ")")});
  }
}

// What a filter on an enumerated field takes, for its refusal to say what to write instead:
// "; values: "a", "b", …" in the schema's spelling (the first eight), then the API's names when
// the field has them; empty for a field of free text.
std::string ValuesTaken(const standard::FieldSpec& spec,
                        const google::protobuf::FieldDescriptor* api_field) {
  if (spec.values.empty()) return "";
  std::vector<std::string> some(spec.values.begin(),
                                spec.values.begin() + std::min<size_t>(spec.values.size(), 8));
  if (spec.values.size() > 8) some.push_back("…");
  std::string out = absl::StrCat(" ; les valeurs : « ", absl::StrJoin(some, " », « "), " »");
  const google::protobuf::EnumDescriptor* names =
      api_field != nullptr ? api_field->enum_type() : nullptr;
  if (names != nullptr && names->value_count() > 1) {
    absl::StrAppend(&out, ", ou leurs noms dans l'API (", names->value(1)->name(), "…)");
  }
  return out;
}

}  // namespace

std::string_view ConflictPolicyName(ConflictPolicy policy) {
  return policy == ConflictPolicy::kLocalWins ? "local_wins" : "source_wins";
}

std::optional<ConflictPolicy> ParseConflictPolicy(std::string_view name) {
  if (name == "source_wins") return ConflictPolicy::kSourceWins;
  if (name == "local_wins") return ConflictPolicy::kLocalWins;
  return std::nullopt;
}

absl::StatusOr<std::set<std::string>> Registry::UnknownItemsOf(
    const std::vector<const v1::Venue*>& rows) {
  std::set<std::string> items;
  for (const v1::Venue* r : rows)
    items.insert(r->referential_items().begin(), r->referential_items().end());
  if (items.empty()) return std::set<std::string>();
  auto unknown = repo_.UnknownItems({items.begin(), items.end()});
  if (!unknown.ok()) return unknown.status();
  return std::set<std::string>(unknown->begin(), unknown->end());
}

absl::StatusOr<std::set<std::string>> Registry::UnknownOwnersOf(
    const std::vector<const v1::Venue*>& rows) {
  std::set<std::string> owners;
  for (const v1::Venue* r : rows) {
    if (IsOrganisationId(r->owner_organisation())) owners.insert(r->owner_organisation());
  }
  if (owners.empty()) return std::set<std::string>();
  auto unknown = repo_.UnknownOrganisations({owners.begin(), owners.end()});
  if (!unknown.ok()) return unknown.status();
  return std::set<std::string>(unknown->begin(), unknown->end());
}

absl::StatusOr<Registry::Unknown> Registry::UnknownOf(const v1::Venue& m) {
  auto items = UnknownItemsOf({&m});
  if (!items.ok()) return items.status();
  auto owners = UnknownOwnersOf({&m});
  if (!owners.ok()) return owners.status();
  return Unknown{*std::move(items), *std::move(owners)};
}

absl::Status Registry::Fill(const v1::Venue& m, const std::string& prefix, const Unknown& unknown,
                            bool check_owner, standard::Venue* v) {
  standard::Validated checked =
      standard::ValidateRow(standard_, standard::RawFromProto(standard_, m));
  std::vector<api::FieldViolation> fv = AsFieldViolations(checked.violations, prefix);
  CheckLocalFields(m, prefix, &fv);
  if (auto owner = OwnerViolation(m.owner_organisation(), unknown.owners); check_owner && owner) {
    fv.push_back(
        {prefix + "owner_organisation", absl::StrCat("[", owner->first, "] ", owner->second)});
  }
  if (fv.empty()) {
    for (int i = 0; i < m.referential_items_size(); ++i) {
      if (unknown.items.contains(m.referential_items(i))) {
        fv.push_back({absl::StrCat(prefix, "referential_items[", i, "]"),
                      absl::StrCat("« ", m.referential_items(i),
                                   " » n'est pas un élément du référentiel publié (inconnu ou "
                                   "retiré)")});
      }
    }
  }
  if (!fv.empty()) {
    return api::InvalidArgument(
        absl::StrCat(fv.size(), fv.size() == 1 ? " champ enfreint" : " champs enfreignent",
                     " le standard national ou les règles de Passerelle"),
        fv);
  }
  v->standard = std::move(checked.record);
  v->owner_organisation = m.owner_organisation();
  v->referential_items.assign(m.referential_items().begin(), m.referential_items().end());
  v->accepts_aptic_pass = m.accepts_aptic_pass();
  return absl::OkStatus();
}

events::v1::Event Registry::MakeVenueEvent(VenueEvent kind, const standard::Venue& v,
                                           const std::vector<std::string>& changed) const {
  const std::string trace = logging::CurrentRequest().trace_id;
  switch (kind) {
    case VenueEvent::kWithdrawn: {
      v1::VenueWithdrawn p;
      p.set_name(v.Name());
      p.set_reason(v.withdrawal_reason);
      p.mutable_areas()->Assign(v.areas.begin(), v.areas.end());
      p.mutable_referential_items()->Assign(v.referential_items.begin(), v.referential_items.end());
      p.set_owner_organisation(v.owner_organisation);
      if (auto nom = v.standard.find("nom"); nom != v.standard.end() && !nom->second.empty()) {
        p.set_nom(nom->second.front());
      }
      return events::MakeEvent("venue.withdrawn", "venues", v.Name(), p, clock_.Now(), trace);
    }
    case VenueEvent::kCreated: {
      v1::VenueCreated p;
      ToProto(standard_, v, p.mutable_venue());
      return events::MakeEvent("venue.created", "venues", v.Name(), p, clock_.Now(), trace);
    }
    case VenueEvent::kUpdated: {
      v1::VenueUpdated p;
      ToProto(standard_, v, p.mutable_venue());
      for (const auto& c : changed) p.add_changed_fields(c);
      return events::MakeEvent("venue.updated", "venues", v.Name(), p, clock_.Now(), trace);
    }
  }
  std::abort();  // every kind is handled above; the compiler checks the switch
}

absl::StatusOr<standard::Venue> Registry::Get(const std::string& name) {
  std::string id;
  if (absl::Status s = ParseName(name, &id); !s.ok()) return s;
  return repo_.Get(id);
}

std::shared_ptr<const IndexedVenue> Registry::FindIndexed(const std::string& name) const {
  // The one spelling of a name: `venues/` and a canonical UUID (ParseName's rule, without
  // building the error a malformed name gets from Get).
  constexpr std::string_view kPrefix = "venues/";
  if (!name.starts_with(kPrefix)) return nullptr;
  const std::string id = name.substr(kPrefix.size());
  if (!api::IsCanonicalUuid(id)) return nullptr;
  return index_.Find(id);
}

absl::StatusOr<standard::Venue> Registry::Create(const v1::Venue& message,
                                                 const std::string& request_id,
                                                 const std::optional<std::string>& acting,
                                                 const std::string& caller) {
  if (acting) {
    if (absl::Status s = CheckActingOrganisation(*acting); !s.ok()) return s;
    if (!message.owner_organisation().empty() && message.owner_organisation() != *acting) {
      return NotOwner(absl::StrCat("l'organisation « ", *acting,
                                   " » ne crée que des lieux dont elle est propriétaire ; "
                                   "owner_organisation nomme « ",
                                   text::Quote(message.owner_organisation()), " »"));
    }
  }
  const RequestKey key{request_id, caller, "CreateVenue",
                       api::ContentDigest(message.SerializeAsString() + ActingSuffix(acting))};
  auto replay = Replay(key);
  if (!replay.ok()) return replay.status();
  if (*replay) return **replay;  // a retry: answer what the first call did
  v1::Venue m = message;
  if (acting) m.set_owner_organisation(*acting);
  auto unknown = UnknownOf(m);
  if (!unknown.ok()) return unknown.status();
  standard::Venue v;
  if (absl::Status s = Fill(m, "venue.", *unknown, /*check_owner=*/true, &v); !s.ok()) return s;
  v.source = "passerelle";
  v.source_id = v.standard.at("id").front();
  return Indexed(Settle(key, repo_.Insert(v, CreatedEvents(), key)));
}

absl::StatusOr<standard::Venue> Registry::Update(const v1::Venue& m,
                                                 const std::vector<std::string>& mask,
                                                 const std::string& request_id,
                                                 const std::optional<std::string>& acting,
                                                 const std::string& caller) {
  if (acting) {
    if (absl::Status s = CheckActingOrganisation(*acting); !s.ok()) return s;
  }
  std::string id;
  if (absl::Status s = ParseName(m.name(), &id); !s.ok()) return s;
  auto revision = api::RevisionFromETag(m.etag());
  if (!revision.ok()) return revision.status();
  std::set<std::string> writable;
  for (const auto& f : standard_.fields()) writable.insert(f.name);
  for (const auto& f : standard::LocalFields()) writable.insert(f);
  std::vector<api::FieldViolation> bad;
  api::CheckUpdateMask(
      mask,
      {.writable = [&](std::string_view path) { return writable.contains(std::string(path)); },
       .of = "d'un lieu",
       .immutable = {{"id", "est l'identifiant du lieu dans sa source, fixé à la création"}},
       .star = true},
      &bad);
  if (!bad.empty()) return api::InvalidArgument("masque de mise à jour invalide", bad);
  if (acting && std::find(mask.begin(), mask.end(), "owner_organisation") != mask.end()) {
    return NotOwner(
        "une clé d'organisation ne change pas le propriétaire d'un lieu : retirez "
        "owner_organisation du masque, ou demandez-le à l'administration du réseau");
  }
  const RequestKey key{
      request_id, caller, "UpdateVenue",
      api::ContentDigest(absl::StrCat(m.SerializeAsString(), "\x1e", absl::StrJoin(mask, ","),
                                      ActingSuffix(acting)))};
  auto replay = Replay(key);
  if (!replay.ok()) return replay.status();
  if (*replay) return **replay;
  // Read before the transaction: the items the update brings (those it keeps are known, the
  // referential consumer strips retired ones from stored venues), and its owner (organisations
  // are never deleted, so one that exists now still exists at commit).
  auto unknown = UnknownOf(m);
  if (!unknown.ok()) return unknown.status();
  return Indexed(Settle(
      key,
      repo_.Update(
          id, *revision,
          [&](standard::Venue& v) -> absl::Status {
            // Under the row's lock: the owner checked is the one the write replaces.
            if (absl::Status s = CheckOwner(v, acting); !s.ok()) return s;
            if (v.withdrawn) {
              return api::WithReason(
                  absl::FailedPreconditionError(absl::StrCat(v.Name(), " is withdrawn")),
                  "VENUE_WITHDRAWN");
            }
            // Start from the stored venue as a message, overlay the masked fields, validate
            // all.
            v1::Venue merged;
            ToProto(standard_, v, &merged);
            if (mask.empty() || (mask.size() == 1 && mask[0] == "*")) {
              // A full replacement keeps the venue's id in its source.
              if (!m.id().empty() && m.id() != merged.id()) {
                return api::InvalidArgument(
                    "invalid venue",
                    {{"venue.id", "the venue's id in its source is set at creation"}});
              }
              if (acting && !m.owner_organisation().empty() && m.owner_organisation() != *acting) {
                return NotOwner("une clé d'organisation ne change pas le propriétaire d'un lieu");
              }
              const std::string id = merged.id();
              merged = m;
              merged.set_id(id);
              if (acting) merged.set_owner_organisation(*acting);
            } else {
              for (const auto& path : mask) CopyField(m, &merged, path);
            }
            const bool new_owner = merged.owner_organisation() != v.owner_organisation;
            const standard::Record before = v.standard;
            if (absl::Status s = Fill(merged, "venue.", *unknown, new_owner, &v); !s.ok()) {
              return s;
            }
            MarkLocalEdits(before, clock_.Now(), acting ? "organisations/" + *acting : caller, v);
            return absl::OkStatus();
          },
          UpdatedEvents(), key)));
}

absl::StatusOr<standard::Venue> Registry::Withdraw(const std::string& name,
                                                   const std::string& reason,
                                                   const std::string& etag,
                                                   const std::string& request_id,
                                                   const std::optional<std::string>& acting,
                                                   const std::string& caller) {
  if (acting) {
    if (absl::Status s = CheckActingOrganisation(*acting); !s.ok()) return s;
  }
  std::string id;
  if (absl::Status s = ParseName(name, &id); !s.ok()) return s;
  std::vector<api::FieldViolation> bad;
  if (reason.empty()) {
    bad.push_back({"reason", "[required] dites pourquoi le lieu est retiré"});
  } else {
    api::CheckText(&bad, "reason", reason, 500);
  }
  if (!bad.empty()) return api::InvalidArgument("motif invalide", bad);
  auto revision = api::RevisionFromETag(etag);
  if (!revision.ok()) return revision.status();
  // A retry is answered before the etag is checked: the first call changed the revision.
  const RequestKey key{
      request_id, caller, "WithdrawVenue",
      api::ContentDigest(absl::StrCat(name, "\x1e", reason, "\x1e", etag, ActingSuffix(acting)))};
  auto replay = Replay(key);
  if (!replay.ok()) return replay.status();
  if (*replay) return **replay;
  auto out = Indexed(Settle(
      key, repo_.Update(
               id, *revision,
               [&](standard::Venue& v) -> absl::Status {
                 if (absl::Status s = CheckOwner(v, acting); !s.ok()) return s;
                 if (v.withdrawn) return absl::OkStatus();  // idempotent
                 v.withdrawn = true;
                 v.withdrawal_reason = reason;
                 return absl::OkStatus();
               },
               // venue.withdrawn for the venue; venue.updated for the venues hidden as
               // its duplicates, which come back (changed field `duplicate_of`).
               [this](const standard::Venue& after, const std::vector<std::string>& changed) {
                 const bool withdrawn =
                     std::find(changed.begin(), changed.end(), "state") != changed.end();
                 return MakeVenueEvent(withdrawn ? VenueEvent::kWithdrawn : VenueEvent::kUpdated,
                                       after, changed);
               },
               key)));
  // This replica's index shows the venues that came back before the answer; others follow
  // their feed.
  if (out.ok()) {
    if (absl::Status s = RefreshIndex(); !s.ok()) {
      logging::Warn("search index refresh failed", {{"error", std::string(s.message())}});
    }
  }
  return out;
}

absl::StatusOr<ListQuery> Registry::ParseListQuery(const std::string& filter,
                                                   const std::string& order_by, int page_size,
                                                   const std::string& page_token,
                                                   bool show_withdrawn) const {
  ListQuery q;
  std::vector<api::FieldViolation> bad;
  q.page_size = api::PageSize(&bad, page_size, 50, 1000);
  q.show_withdrawn = show_withdrawn;
  auto comparisons = api::ParseFilter(filter);
  if (!comparisons.ok()) return comparisons.status();
  for (const api::Comparison& c : *comparisons) {
    auto it = Filterable().find(c.field);
    if (it == Filterable().end()) {
      std::vector<std::string> known;
      for (const auto& [name, list] : Filterable()) known.push_back(name);
      bad.push_back(
          api::FilterViolation(c, absl::StrCat("[field] pas de filtre sur « ", text::Quote(c.field),
                                               " » ; les champs : ", absl::StrJoin(known, ", "))));
      continue;
    }
    if (c.op == api::Comparison::Op::kNotEquals) {
      bad.push_back(api::FilterViolation(
          c, absl::StrCat("[filter] != n'est pas pris en charge sur ", c.field)));
      continue;
    }
    std::string value = c.value;
    if (std::vector<api::FieldViolation> text_bad;
        !api::CheckText(&text_bad, "filter", value, 500)) {
      for (const auto& v : text_bad) bad.push_back(api::FilterViolation(c, v.description));
      continue;
    }
    if (c.field == "referential_items" && (!value.starts_with("items/") || value.size() < 7)) {
      bad.push_back(api::FilterViolation(c, "[pattern] referential_items vaut items/{item}"));
      continue;
    }
    // An id no organisation can have matches nothing: a mistake to name (tester 27, L2). Empty
    // stays: the venues without an owner.
    if (c.field == "owner_organisation" && !value.empty() && !IsOrganisationId(value)) {
      bad.push_back(api::FilterViolation(
          c, absl::StrCat("[pattern] « ", text::Quote(value),
                          " » n'est pas un identifiant d'organisation (2 à 63 lettres minuscules, "
                          "chiffres et tirets)")));
      continue;
    }
    if (c.field == "state") {
      value = absl::AsciiStrToLower(value);
      if (value != "active" && value != "withdrawn") {
        bad.push_back(
            api::FilterViolation(c, absl::StrCat("[enum] state vaut active ou withdrawn, reçu « ",
                                                 text::Quote(c.value), " »")));
        continue;
      }
      // Withdrawn venues are listed only to those who may ask for them (show_withdrawn: a
      // partner scope at the gateway); the filter cannot widen what the request may see.
      if (value == "withdrawn" && !show_withdrawn) {
        bad.push_back(
            api::FilterViolation(c, "[permission] state = withdrawn demande show_withdrawn"));
        continue;
      }
    }
    if (c.field == "source") {
      std::vector<api::FieldViolation> source_bad;
      if (value != "passerelle" && !standard::CheckSourceId(&source_bad, "filter", value)) {
        bad.push_back(
            api::FilterViolation(c, absl::StrCat("[pattern] « ", text::Quote(value),
                                                 " » n'est pas un identifiant de source")));
        continue;
      }
    } else if (const standard::FieldSpec* spec = standard_.Find(c.field); spec != nullptr) {
      // An enumeration named as the API writes it (SERVICE_AIDE_AUX_…, in JSON, search and every
      // venue answered) is its value in the schema's spelling, as a write reads it.
      const google::protobuf::FieldDescriptor* api_field =
          v1::Venue::descriptor()->FindFieldByName(c.field);
      if (api_field != nullptr && api_field->enum_type() != nullptr) {
        const google::protobuf::EnumValueDescriptor* named =
            api_field->enum_type()->FindValueByName(value);
        if (named != nullptr && named->number() >= 1 &&
            named->number() <= static_cast<int>(spec->values.size())) {
          value = spec->values[named->number() - 1];
        }
      }
      // The value as a write would store it ("tiers_lieux" -> TIERS_LIEUX, "9100" -> 09100,
      // enumerations in the schema's spelling): a filter never misses what it names.
      standard::Validated checked = standard::ValidateRow(standard_, {{c.field, value}});
      auto stored = checked.record.find(c.field);
      bool field_ok = stored != checked.record.end() && stored->second.size() == 1;
      for (const standard::Violation& v : checked.violations)
        field_ok = field_ok && v.field != c.field;
      if (!field_ok) {
        bad.push_back(api::FilterViolation(
            c,
            absl::StrCat(spec->values.empty() ? "[format] « " : "[enum] « ", text::Quote(value),
                         " » n'est pas une valeur de ", c.field, ValuesTaken(*spec, api_field))));
        continue;
      }
      value = stored->second.front();
    }
    // `:` and `=` both compare a whole value; on a list field, with one of its values.
    (it->second ? q.contains : q.equals).emplace_back(c.field, value);
  }
  if (!order_by.empty()) {
    std::vector<std::string> parts = absl::StrSplit(order_by, ' ', absl::SkipEmpty());
    const std::set<std::string> allowed = {"name", "nom", "create_time", "update_time"};
    if (parts.empty() || parts.size() > 2 || !allowed.count(parts[0]) ||
        (parts.size() == 2 && parts[1] != "asc" && parts[1] != "desc")) {
      bad.push_back({"order_by",
                     "[enum] name, nom, create_time ou update_time, suivi ou non de asc ou desc"});
    } else {
      q.order_field = parts[0];
      q.descending = parts.size() == 2 && parts[1] == "desc";
    }
  }
  q.binding = api::BindParameters({filter, order_by, show_withdrawn ? "1" : "0"});
  if (!page_token.empty()) {
    auto cursor = tokens_.Open("venues.ListVenues", q.binding, page_token);
    if (!cursor.ok()) return cursor.status();
    q.after = *std::move(cursor);
  }
  if (!bad.empty()) return api::InvalidArgument("demande invalide", bad);
  return q;
}

absl::StatusOr<ListPage> Registry::List(const ListQuery& query) {
  auto page = repo_.List(query);
  if (!page.ok()) return page.status();
  if (!page->next_cursor.empty()) {
    page->next_page_token = tokens_.Seal("venues.ListVenues", query.binding, page->next_cursor);
  }
  return page;
}

absl::Status Registry::CheckBatchWriter(const std::optional<std::string>& acting) {
  if (!acting) return absl::OkStatus();
  return api::WithReason(
      absl::PermissionDeniedError(
          "les écritures par lots (BatchUpsertVenues, ImportVenues) sont réservées aux clés "
          "partenaires et d'administration liées à une source ; une clé d'organisation écrit ses "
          "lieux un par un"),
      "BATCH_WRITE_NOT_ALLOWED");
}

absl::StatusOr<std::vector<RowResult>> Registry::BatchUpsert(
    const std::string& source, const std::vector<v1::Venue>& rows, bool reinstate_withdrawn,
    absl::Time deadline, const std::optional<std::string>& acting, bool may_name_owner) {
  if (absl::Status s = CheckBatchWriter(acting); !s.ok()) return s;
  if (absl::Status s = CheckWritableSource(source); !s.ok()) return s;
  if (rows.size() > kMaxBatch) {
    return api::InvalidArgument(
        "batch too large",
        {{"venues", absl::StrCat("at most ", kMaxBatch, " venues per call, got ", rows.size())}});
  }
  std::vector<RowResult> results(rows.size());
  std::vector<standard::Venue> valid;
  std::vector<size_t> positions;
  std::set<std::string> seen;
  std::vector<const v1::Venue*> all;
  for (const auto& r : rows) all.push_back(&r);
  auto unknown_items = UnknownItemsOf(all);
  if (!unknown_items.ok()) return unknown_items.status();
  auto unknown_owners = UnknownOwnersOf(all);
  if (!unknown_owners.ok()) return unknown_owners.status();
  for (size_t i = 0; i < rows.size(); ++i) {
    RowResult& r = results[i];
    // A rejected row's id is echoed quoted (its bytes may not even be UTF-8); a valid row's id
    // passed ValidateRow, so it is stored and answered exactly as sent.
    r.source_id = rows[i].id();
    standard::Validated checked =
        standard::ValidateRow(standard_, standard::RawFromProto(standard_, rows[i]));
    std::vector<api::FieldViolation> local;
    CheckLocalFields(rows[i], "", &local);
    for (const auto& l : local) {
      checked.violations.push_back({l.field, "", "local", l.description});
    }
    if (!may_name_owner && !rows[i].owner_organisation().empty()) {
      checked.violations.push_back(
          {"owner_organisation", text::Quote(rows[i].owner_organisation(), 200), "permission",
           "une clé partenaire ne nomme pas le propriétaire d'un lieu : laissez "
           "owner_organisation vide (le lieu garde son propriétaire) ; le propriétaire est fixé "
           "par l'administration du réseau ou par l'organisation elle-même"});
    } else if (auto owner = OwnerViolation(rows[i].owner_organisation(), *unknown_owners)) {
      checked.violations.push_back({"owner_organisation",
                                    text::Quote(rows[i].owner_organisation(), 200), owner->first,
                                    owner->second});
    }
    for (int k = 0; local.empty() && k < rows[i].referential_items_size(); ++k) {
      const std::string& item = rows[i].referential_items(k);
      if (unknown_items->contains(item)) {
        checked.violations.push_back(
            {absl::StrCat("referential_items[", k, "]"), item, "referential",
             "n'est pas un élément du référentiel publié (inconnu ou retiré)"});
      }
    }
    if (!checked.violations.empty()) {
      r.outcome = RowResult::Outcome::kRejected;
      r.source_id = text::Quote(rows[i].id(), 200);
      standard::CapViolations(&checked.violations);
      r.violations = std::move(checked.violations);
      continue;
    }
    // The id as validated (trimmed), so "lieu-1 " is lieu-1 and not a second venue; and as
    // this source's own, so an export sent back as a batch names the venues it came from.
    std::string& own_id = checked.record.at("id").front();
    standard::ReadOwnId(source, &own_id);
    r.source_id = own_id;
    if (!seen.insert(r.source_id).second) {
      r.outcome = RowResult::Outcome::kRejected;
      r.violations.push_back(
          {"id", r.source_id, "unique", "identifiant déjà présent plus haut dans le même lot"});
      continue;
    }
    standard::Venue v;
    v.standard = std::move(checked.record);
    v.source = source;
    v.source_id = r.source_id;
    v.owner_organisation = rows[i].owner_organisation();
    v.referential_items.assign(rows[i].referential_items().begin(),
                               rows[i].referential_items().end());
    v.accepts_aptic_pass = rows[i].accepts_aptic_pass();
    valid.push_back(std::move(v));
    positions.push_back(i);
  }
  auto stored =
      repo_.Upsert(source, valid, CreatedEvents(), UpdatedEvents(), reinstate_withdrawn, deadline);
  if (!stored.ok()) return stored.status();
  for (size_t k = 0; k < positions.size(); ++k) {
    RowResult& r = results[positions[k]];
    r = std::move((*stored)[k]);
    const std::string& horaires = rows[positions[k]].horaires();
    if (auto warning = standard::HoursNotUnderstood(horaires);
        warning && r.outcome != RowResult::Outcome::kRejected) {
      r.warnings.push_back({"horaires", text::Quote(horaires, 200), "horaires", *warning});
    }
  }
  IndexRows(results);
  return results;
}

absl::StatusOr<std::optional<standard::Venue>> Registry::Replay(const RequestKey& request) {
  if (request.id.empty()) return std::optional<standard::Venue>();
  if (absl::Status s = CheckRequestId(request.id); !s.ok()) return s;
  auto seen = repo_.FindRequest(request.caller, request.id);
  if (!seen.ok()) return seen.status();
  if (!*seen) return std::optional<standard::Venue>();
  if ((*seen)->key.method != request.method || (*seen)->key.fingerprint != request.fingerprint) {
    return api::WithReason(
        api::InvalidArgument(
            "request_id reused",
            {{"request_id",
              absl::StrCat("already used by an earlier ", (*seen)->key.method,
                           " with other content; a retry must resend the same request, a new "
                           "request needs a new id")}}),
        "REQUEST_ID_REUSED");
  }
  auto v = repo_.Get((*seen)->venue_id);
  if (!v.ok()) return v.status();
  return std::optional<standard::Venue>(*std::move(v));
}

absl::StatusOr<standard::Venue> Registry::Settle(const RequestKey& key,
                                                 absl::StatusOr<standard::Venue> result) {
  // Two copies of one request racing: both found no earlier result, one wrote, the other failed
  // on what the first wrote (ALREADY_EXISTS, a stale etag). The loser answers the winner's result.
  if (result.ok() || key.id.empty()) return result;
  auto replay = Replay(key);
  if (replay.ok() && *replay) return **replay;
  return result;
}

void Registry::IndexRows(const std::vector<RowResult>& rows) {
  for (const auto& r : rows) {
    if (r.stored) index_.Put(*r.stored);
  }
  last_write_ns_ = absl::ToUnixNanos(clock_.Now());
}

absl::StatusOr<Registry::ImportReport> Registry::Import(const std::string& source,
                                                        std::string_view csv_text,
                                                        absl::Time deadline,
                                                        const std::optional<std::string>& acting) {
  if (absl::Status s = CheckBatchWriter(acting); !s.ok()) return s;
  if (absl::Status s = CheckWritableSource(source); !s.ok()) return s;
  auto parsed = standard::ParseNationalCsv(standard_, csv_text, source);
  if (!parsed.ok()) {
    return api::InvalidArgument(absl::StrCat("fichier refusé : ", parsed.status().message()),
                                {{"data", std::string(parsed.status().message())}});
  }
  if (parsed->rows == 0) {
    // A header alone is a file cut short or exported empty, not "nothing to do" (the sync
    // refuses the same file).
    return api::InvalidArgument("aucune ligne",
                                {{"data",
                                  "[required] le fichier ne contient aucune ligne de lieu après "
                                  "l'en-tête"}});
  }
  ImportReport report;
  report.rows = parsed->rows;
  report.rejected = std::move(parsed->rejected);
  report.ignored_columns = std::move(parsed->ignored_columns);
  report.normalisations = std::move(parsed->normalisations);
  report.warnings = std::move(parsed->warnings);
  constexpr size_t kBatch = 500;
  for (size_t start = 0; start < parsed->valid.size(); start += kBatch) {
    std::vector<standard::Venue> batch;
    for (size_t i = start; i < std::min(parsed->valid.size(), start + kBatch); ++i) {
      batch.push_back(parsed->valid[i].venue);
    }
    auto stored = repo_.Upsert(source, batch, CreatedEvents(), UpdatedEvents(),
                               /*reinstate=*/false, deadline);
    if (!stored.ok()) return stored.status();
    IndexRows(*stored);
    for (const auto& r : *stored) {
      if (r.outcome == RowResult::Outcome::kCreated) ++report.created;
      if (r.outcome == RowResult::Outcome::kUpdated) ++report.updated;
      if (r.outcome == RowResult::Outcome::kUnchanged) ++report.unchanged;
    }
  }
  return report;
}

absl::StatusOr<int> Registry::ImportAreaLayer(const std::string& layer, const std::string& title,
                                              std::string_view geojson, std::string code_property,
                                              std::string name_property, absl::Time deadline) {
  if (!api::IsLayerId(layer)) {
    return api::InvalidArgument(
        "couche invalide",
        {{"layer", absl::StrCat("[pattern] ", api::kLayerIdRule, ", par exemple qpv, reçu « ",
                                text::Quote(layer), " »")}});
  }
  // Read by QGIS in every /collections page and by the map: checked and bounded as every text
  // (a NUL cut the title short and 3 MB were taken: tester 25, M1).
  std::vector<api::FieldViolation> bad;
  api::CheckText(&bad, "title", title, kMaxLayerTitle);
  api::CheckText(&bad, "code_property", code_property, kMaxPropertyName);
  api::CheckText(&bad, "name_property", name_property, kMaxPropertyName);
  if (!bad.empty()) return api::InvalidArgument("demande invalide", bad);
  if (code_property.empty()) code_property = "code";
  if (name_property.empty()) name_property = "name";
  auto areas = ParseAreaLayer(geojson, code_property, name_property);
  if (!areas.ok()) return areas.status();
  auto changed = repo_.ReplaceAreaLayer(layer, title.empty() ? layer : title, *areas,
                                        UpdatedEvents(), deadline);
  if (!changed.ok()) return changed.status();
  {
    std::lock_guard lock(known_areas_mu_);
    known_areas_.clear();
  }
  if (absl::Status s = RefreshIndex(); !s.ok()) return s;
  return changed;
}

absl::StatusOr<Registry::AreaResult> Registry::ListAreas(const std::string& parent,
                                                         AreaListing listing) {
  auto layer = api::ParseLayerName(kAreaLayerName, parent, "parent");
  if (!layer.ok()) return layer.status();
  std::vector<api::FieldViolation> bad;
  const int cap = listing.full ? 100 : 1000;
  const int limit = api::PageSize(&bad, listing.page_size, cap, cap);
  if (listing.within) {
    CheckBox(*listing.within, &bad);
  }
  if (!bad.empty()) return api::InvalidArgument("demande invalide", bad);
  Repository::AreaQuery q{
      .layer = *layer, .geometry = listing.full, .within = listing.within, .limit = limit};
  constexpr char kList[] = "venues.ListAreas";
  if (!listing.page_token.empty()) {
    auto cursor = tokens_.Open(kList, listing.binding, listing.page_token);
    if (!cursor.ok()) return cursor.status();
    if (cursor->size() < 2 || ((*cursor)[0] != 'a' && (*cursor)[0] != 'b')) {
      return absl::InternalError("a sealed area cursor does not parse");
    }
    ((*cursor)[0] == 'a' ? q.after : q.before) = cursor->substr(1);
  }
  auto page = repo_.ListAreas(q);
  if (!page.ok()) return page.status();
  AreaResult out;
  out.page = *std::move(page);
  const auto& areas = out.page.areas;
  if (!areas.empty()) {
    if (out.page.preceding > 0) {
      out.previous_page_token = tokens_.Seal(kList, listing.binding, "b" + areas.front().code);
    }
    if (out.page.preceding + static_cast<int>(areas.size()) < out.page.total) {
      out.next_page_token = tokens_.Seal(kList, listing.binding, "a" + areas.back().code);
    }
  }
  return out;
}

absl::StatusOr<Repository::AreaCount> Registry::GetArea(const std::string& name) {
  auto parts = kAreaName.Parse(name, "name");
  if (!parts.ok()) return parts.status();
  if (!api::IsLayerId((*parts)[0])) {
    return api::InvalidName(
        "name",
        absl::StrCat("[pattern] ", kAreaName.pattern(), ", la couche en ", api::kLayerIdRule),
        name);
  }
  auto page =
      repo_.ListAreas({.layer = (*parts)[0], .geometry = true, .code = (*parts)[1], .limit = 1});
  if (!page.ok()) return page.status();
  if (page->areas.empty()) {
    return api::NotFound(name, "AREA_NOT_FOUND");
  }
  return page->areas.front();
}

absl::StatusOr<Repository::AreaLayerRecord> Registry::GetAreaLayer(const std::string& name,
                                                                   const std::string& field) {
  auto layer = api::ParseLayerName(kAreaLayerName, name, field);
  if (!layer.ok()) return layer.status();
  return repo_.GetAreaLayer(*layer);
}

absl::StatusOr<Registry::AreaLayerPage> Registry::ListAreaLayers(int page_size,
                                                                 const std::string& page_token) {
  auto checked_size = api::PageSize(page_size, 100, 1000);
  if (!checked_size.ok()) return checked_size.status();
  const int size = *checked_size;
  constexpr char kList[] = "venues.ListAreaLayers";
  const std::string parameters = api::BindParameters({});
  std::string after;
  if (!page_token.empty()) {
    auto cursor = tokens_.Open(kList, parameters, page_token);
    if (!cursor.ok()) return cursor.status();
    after = *std::move(cursor);
  }
  auto layers = repo_.ListAreaLayers(after, size + 1);
  if (!layers.ok()) return layers.status();
  AreaLayerPage page;
  page.layers = *std::move(layers);
  if (static_cast<int>(page.layers.size()) > size) {
    page.layers.resize(size);
    page.next_page_token = tokens_.Seal(kList, parameters, page.layers.back().layer);
  }
  return page;
}

absl::Status Registry::CheckWritableSource(const std::string& source) {
  if (absl::Status s = CheckSource(source); !s.ok()) return s;
  auto found = repo_.GetSource(source);
  if (found.ok()) return absl::OkStatus();
  if (found.status().code() != absl::StatusCode::kNotFound) return found.status();
  return api::FailedPrecondition(
      absl::StrCat("sources/", source,
                   " n'existe pas : créez la source (CreateSource) avant d'y écrire"),
      "SOURCE", "sources/" + source, "SOURCE_NOT_FOUND");
}

absl::StatusOr<SourceRecord> Registry::CreateSource(const std::string& source_id,
                                                    const std::string& display_name,
                                                    int conflict_policy) {
  std::vector<api::FieldViolation> bad;
  standard::CheckSourceId(&bad, "source_id", source_id);
  api::CheckText(&bad, "source.display_name", display_name, 200);
  // The API's ConflictPolicy: 0 unspecified (source wins), 1 SOURCE_WINS, 2 LOCAL_WINS.
  if (conflict_policy < 0 || conflict_policy > 2) {
    bad.push_back(
        {"source.conflict_policy", absl::StrCat("[enum] valeur inconnue ", conflict_policy,
                                                " : SOURCE_WINS (1) ou LOCAL_WINS (2)")});
  }
  if (!bad.empty()) return api::InvalidArgument("source invalide", bad);
  return repo_.CreateSource(
      {.id = source_id,
       .display_name =
           display_name.empty() || text::IsBlank(display_name) ? source_id : display_name,
       .create_time = clock_.Now(),
       .conflict_policy =
           conflict_policy == 2 ? ConflictPolicy::kLocalWins : ConflictPolicy::kSourceWins});
}

absl::StatusOr<standard::Venue> Registry::RestoreSourceFields(
    const std::string& name, const std::vector<std::string>& fields, const std::string& etag,
    const std::string& request_id, const std::optional<std::string>& acting,
    const std::string& caller) {
  if (acting) {
    if (absl::Status s = CheckActingOrganisation(*acting); !s.ok()) return s;
  }
  std::string id;
  if (absl::Status s = ParseName(name, &id); !s.ok()) return s;
  std::vector<api::FieldViolation> bad;
  constexpr size_t kMaxFields = 40;
  if (fields.empty()) {
    bad.push_back({"fields", "[required] nommez au moins un champ modifié localement"});
  } else if (fields.size() > kMaxFields) {
    bad.push_back(
        {"fields", absl::StrCat("[size] au plus ", kMaxFields, " champs, reçu ", fields.size())});
  } else {
    std::set<std::string> seen;
    for (size_t i = 0; i < fields.size(); ++i) {
      const std::string path = absl::StrCat("fields[", i, "]");
      if (standard_.Find(fields[i]) == nullptr) {
        bad.push_back({path, absl::StrCat("[field] « ", text::Quote(fields[i], 60),
                                          " » n'est pas un champ du standard")});
      } else if (!seen.insert(fields[i]).second) {
        bad.push_back({path, absl::StrCat("[unique] « ", fields[i], " » est déjà nommé")});
      }
    }
  }
  if (!bad.empty()) return api::InvalidArgument("fields invalide", bad);
  auto revision = api::RevisionFromETag(etag);
  if (!revision.ok()) return revision.status();
  const RequestKey key{request_id, caller, "RestoreSourceFields",
                       api::ContentDigest(absl::StrCat(name, "\x1e", absl::StrJoin(fields, ","),
                                                       "\x1e", etag, ActingSuffix(acting)))};
  auto replay = Replay(key);
  if (!replay.ok()) return replay.status();
  if (*replay) return **replay;
  return Indexed(Settle(
      key, repo_.Update(
               id, *revision,
               [&](standard::Venue& v) -> absl::Status {
                 if (absl::Status s = CheckOwner(v, acting); !s.ok()) return s;
                 if (v.withdrawn) {
                   return api::WithReason(
                       absl::FailedPreconditionError(absl::StrCat(
                           v.Name(), " est retiré : ses champs ne peuvent plus être rendus")),
                       "VENUE_WITHDRAWN");
                 }
                 if (!v.source_record) {
                   return api::FailedPrecondition(
                       absl::StrCat(v.Name(), " a été saisi ici (source « ", v.source,
                                    " ») : aucune source ne fournit ses champs"),
                       "VENUE", v.Name(), "NO_SOURCE");
                 }
                 std::set<std::string> restored;
                 for (const std::string& named : fields) {
                   // Latitude or longitude gives the source's whole position back.
                   for (const std::string& f : standard::FieldGroup(named)) restored.insert(f);
                 }
                 for (const std::string& field : fields) {
                   if (!v.local_fields.contains(field)) {
                     return api::FailedPrecondition(
                         absl::StrCat("le champ « ", field, " » de ", v.Name(),
                                      " n'est pas modifié localement : il vient déjà de la "
                                      "source"),
                         "VENUE", v.Name(), "FIELD_NOT_LOCAL");
                   }
                 }
                 for (const std::string& field : restored) {
                   auto sent = v.source_record->find(field);
                   if (sent == v.source_record->end()) {
                     v.standard.erase(field);
                   } else {
                     v.standard[field] = sent->second;
                   }
                   v.local_fields.erase(field);
                 }
                 return absl::OkStatus();
               },
               UpdatedEvents(), key)));
}

absl::StatusOr<Registry::ConflictPage> Registry::ListConflicts(const std::string& parent,
                                                               int page_size,
                                                               const std::string& page_token,
                                                               const std::string& filter) {
  std::vector<api::FieldViolation> bad;
  Repository::ConflictQuery query;
  if (parent != "venues/-") {
    if (absl::Status s = ParseName(parent, &query.venue_id); !s.ok()) {
      return api::InvalidName(
          "parent", "[pattern] venues/{venue} (un UUID en minuscules) ou venues/-", parent);
    }
  }
  query.limit = api::PageSize(&bad, page_size, 50, 1000);
  if (!filter.empty()) {
    auto comparisons = api::ParseFilter(filter);
    if (!comparisons.ok()) return comparisons.status();
    for (const auto& c : *comparisons) {
      if (c.field != "source" || c.op != api::Comparison::Op::kEquals) {
        bad.push_back(api::FilterViolation(
            c, absl::StrCat("[filter] seul `source = \"<id>\"` est compris, reçu « ",
                            text::Quote(c.field, 60), " »")));
      } else if (std::vector<api::FieldViolation> id_bad;
                 !standard::CheckSourceId(&id_bad, "filter", c.value)) {
        for (const auto& v : id_bad) bad.push_back(api::FilterViolation(c, v.description));
      } else if (!query.source.empty()) {
        // The filter's comparisons are joined by AND: a second source would select nothing.
        bad.push_back(
            api::FilterViolation(c, absl::StrCat("[unique] `source` se nomme une fois : « ",
                                                 query.source, " » puis « ", c.value, " »")));
      } else {
        query.source = c.value;
      }
    }
  }
  if (!bad.empty()) return api::InvalidArgument("demande invalide", bad);
  constexpr char kList[] = "venues.ListVenueConflicts";
  const std::string parameters = api::BindParameters({parent, filter});
  if (!page_token.empty()) {
    auto cursor = tokens_.Open(kList, parameters, page_token);
    if (!cursor.ok()) return cursor.status();
    if (!absl::SimpleAtoi(*cursor, &query.before) || query.before <= 0) {
      return api::InvalidArgument(
          "jeton de page invalide",
          {{"page_token",
            "[token] ce n'est pas un jeton de cette liste ; recommencez la liste "
            "sans jeton"}});
    }
  }
  // An unknown venue or source is NOT_FOUND, as GetVenue and GetSource answer, not an empty list.
  if (!query.venue_id.empty()) {
    if (auto venue = repo_.Get(query.venue_id); !venue.ok()) return venue.status();
  }
  if (!query.source.empty()) {
    if (auto source = repo_.GetSource(query.source); !source.ok()) return source.status();
  }
  const int size = query.limit;
  query.limit = size + 1;
  auto conflicts = repo_.ListConflicts(query);
  if (!conflicts.ok()) return conflicts.status();
  ConflictPage page;
  page.conflicts = *std::move(conflicts);
  if (static_cast<int>(page.conflicts.size()) > size) {
    page.conflicts.resize(size);
    page.next_page_token = tokens_.Seal(kList, parameters, absl::StrCat(page.conflicts.back().id));
  }
  return page;
}

absl::StatusOr<SourceRecord> Registry::GetSource(const std::string& name) {
  auto parts = kSourceName.Parse(name, "name");
  if (!parts.ok()) return parts.status();
  // `passerelle` is a registered source though no client may create it.
  if (std::vector<api::FieldViolation> bad;
      (*parts)[0] != "passerelle" && !standard::CheckSourceId(&bad, "name", (*parts)[0])) {
    return api::InvalidArgument("name invalide", bad);
  }
  return repo_.GetSource((*parts)[0]);
}

absl::StatusOr<Registry::SourcePage> Registry::ListSources(int page_size,
                                                           const std::string& page_token) {
  auto checked_size = api::PageSize(page_size, 100, 1000);
  if (!checked_size.ok()) return checked_size.status();
  const int size = *checked_size;
  constexpr char kList[] = "venues.ListSources";
  const std::string parameters = api::BindParameters({});
  std::string after;
  if (!page_token.empty()) {
    auto cursor = tokens_.Open(kList, parameters, page_token);
    if (!cursor.ok()) return cursor.status();
    after = *std::move(cursor);
  }
  auto sources = repo_.ListSources(after, size + 1);
  if (!sources.ok()) return sources.status();
  SourcePage page;
  page.sources = *std::move(sources);
  if (static_cast<int>(page.sources.size()) > size) {
    page.sources.resize(size);
    page.next_page_token = tokens_.Seal(kList, parameters, page.sources.back().id);
  }
  return page;
}

absl::StatusOr<standard::Venue> Registry::Indexed(absl::StatusOr<standard::Venue> v) {
  if (v.ok()) {
    index_.Put(*v);
    last_write_ns_ = absl::ToUnixNanos(clock_.Now());
  }
  return v;
}

absl::Status Registry::LoadIndex() {
  {
    std::lock_guard lock(refresh_mu_);
    refresh_cursor_ = {};
  }
  return RefreshIndex();
}

absl::Status Registry::RefreshIndex() {
  std::lock_guard lock(refresh_mu_);
  auto changes = repo_.ChangedSince(refresh_cursor_, [this](const std::string& id, int revision) {
    return index_.Knows(id, revision);
  });
  if (!changes.ok()) return changes.status();
  for (const auto& v : changes->venues) index_.Put(v);
  refresh_cursor_ = changes->cursor;
  return absl::OkStatus();
}

namespace {

// Empty, or a calendar date YYYY-MM-DD (the standard's `date_maj` form) that exists.
bool CheckDay(std::vector<api::FieldViolation>* bad, const std::string& field,
              const std::string& day) {
  if (day.empty()) return true;
  int y = 0, m = 0, d = 0;
  bool shape = day.size() == 10;
  for (size_t i = 0; shape && i < day.size(); ++i) {
    shape =
        i == 4 || i == 7 ? day[i] == '-' : absl::ascii_isdigit(static_cast<unsigned char>(day[i]));
  }
  shape = shape && absl::SimpleAtoi(day.substr(0, 4), &y) &&
          absl::SimpleAtoi(day.substr(5, 2), &m) && absl::SimpleAtoi(day.substr(8, 2), &d);
  const absl::CivilDay civil(y, m, d);
  if (!shape || civil.year() != y || civil.month() != m || civil.day() != d) {
    bad->push_back(
        {field, absl::StrCat("[date] une date AAAA-MM-JJ, reçu « ", text::Quote(day, 40), " »")});
    return false;
  }
  return true;
}

}  // namespace

void Registry::CheckAreas(const std::vector<std::string>& keys,
                          std::vector<api::FieldViolation>* bad) const {
  if (keys.empty()) return;
  const absl::Time now = clock_.Now();
  std::vector<std::string> ask;
  {
    std::lock_guard lock(known_areas_mu_);
    for (const std::string& key : keys) {
      auto it = known_areas_.find(key);
      if (it == known_areas_.end() || now - it->second > kKnownAreaTtl) ask.push_back(key);
    }
  }
  if (ask.empty()) return;
  auto unknown = repo_.UnknownAreas(ask);
  if (!unknown.ok()) {
    // The search itself needs no store: without it, the filter is applied unchecked.
    logging::Warn("search areas not checked", {{"error", std::string(unknown.status().message())}});
    return;
  }
  const std::set<std::string> missing(unknown->begin(), unknown->end());
  {
    std::lock_guard lock(known_areas_mu_);
    for (const std::string& key : ask) {
      if (!missing.contains(key)) known_areas_[key] = now;
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!missing.contains(keys[i])) continue;
    const std::string layer = keys[i].substr(0, keys[i].find(':'));
    // The layer passed the handler's pattern: the address below is well formed.
    bad->push_back({absl::StrCat("areas[", i, "]"),
                    absl::StrCat("[exists] aucune zone « ", text::Quote(keys[i], 80),
                                 " » : les couches sont dans /v1/areaLayers, les codes de celle-ci "
                                 "dans /v1/areaLayers/",
                                 layer, "/areas")});
  }
}

absl::StatusOr<Registry::SearchResult> Registry::Search(SearchQuery q,
                                                        const std::string& fingerprint,
                                                        const std::string& page_token) const {
  std::vector<api::FieldViolation> bad;
  if (q.has_circle) {
    api::CheckNumber(&bad, "near.latitude", q.lat, -90, 90);
    api::CheckNumber(&bad, "near.longitude", q.lon, -180, 180);
    if (api::CheckNumber(&bad, "near.radius_meters", q.radius_m, 0, 100000) && q.radius_m == 0) {
      bad.push_back({"near.radius_meters", "[range] un rayon de plus de 0 mètre, reçu 0"});
    }
  }
  if (q.has_box) {
    CheckBox(
        {.min_lon = q.min_lon, .min_lat = q.min_lat, .max_lon = q.max_lon, .max_lat = q.max_lat},
        &bad);
  }
  api::CheckText(&bad, "query", q.text, 200);
  const bool min_ok = CheckDay(&bad, "min_date_maj", q.min_date_maj);
  if (CheckDay(&bad, "max_date_maj", q.max_date_maj) && min_ok && !q.min_date_maj.empty() &&
      !q.max_date_maj.empty() && q.min_date_maj > q.max_date_maj) {
    bad.push_back({"max_date_maj", "[range] la date de fin précède celle de début (min_date_maj)"});
  }
  if (bad.empty()) CheckAreas(q.any_of[static_cast<size_t>(SearchField::kAreas)], &bad);
  if (!page_token.empty()) {
    // A cursor is (direction, distance, sort key, resource name): `a` for the results after
    // that one (next pages), `b` for those before it (previous pages). Three parts: a token
    // sealed before previous pages existed, which only went forward.
    auto cursor = tokens_.Open("venues.SearchVenues", fingerprint, page_token);
    if (!cursor.ok()) return cursor.status();
    std::vector<std::string> parts = absl::StrSplit(*cursor, '\x1f');
    if (parts.size() == 4 && (parts[0] == "a" || parts[0] == "b")) {
      q.before = parts[0] == "b";
      parts.erase(parts.begin());
    }
    if (parts.size() != 3 || !absl::SimpleAtod(parts[0], &q.after_distance)) {
      return absl::InternalError("a sealed search cursor does not parse");
    }
    q.after_key = parts[1];
    q.after_id = parts[2];
  }
  if (!bad.empty()) return api::InvalidArgument("recherche invalide", bad);
  SearchResult out;
  size_t preceding = 0;
  out.hits = index_.Search(q, &out.total, &preceding, &out.unknown_hours);
  auto seal = [&](const char* direction, const SearchHit& hit) {
    return tokens_.Seal("venues.SearchVenues", fingerprint,
                        absl::StrCat(direction, "\x1f", absl::StrFormat("%.17g", hit.distance_m),
                                     "\x1f", hit.key, "\x1f", hit.venue->name));
  };
  if (!out.hits.empty()) {
    if (preceding + out.hits.size() < out.total) out.next_page_token = seal("a", out.hits.back());
    if (preceding > 0) out.previous_page_token = seal("b", out.hits.front());
  }
  return out;
}

}  // namespace passerelle::venues
