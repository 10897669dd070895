// Duplicates across sources: the scorer and the links' use cases.
#include "services/venues/duplicates.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/api/page_token.hpp"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/standard/standard.hpp"
#include "libs/text/text.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::venues {
namespace {

// ---------------------------------------------------------------------------------------------
// Names.

// Abbreviations producers write, by folded word: what they stand for.
const std::map<std::string, std::vector<std::string>>& Abbreviations() {
  static const auto* a = new std::map<std::string, std::vector<std::string>>{
      {"ctre", {"centre"}},
      {"cent", {"centre"}},
      {"soc", {"social"}},
      {"sociale", {"social"}},
      {"sociaux", {"social"}},
      {"csc", {"centre", "social"}},
      {"cs", {"centre", "social"}},
      {"ccas", {"centre", "communal", "action", "social"}},
      {"mediatheq", {"mediatheque"}},
      {"media", {"mediatheque"}},
      {"bib", {"bibliotheque"}},
      {"bibli", {"bibliotheque"}},
      {"biblio", {"bibliotheque"}},
      {"bm", {"bibliotheque"}},
      {"mfs", {"france", "services"}},
      {"msap", {"france", "services"}},
      {"service", {"services"}},
      {"fs", {"france", "services"}},
      {"epn", {"espace", "public", "numerique"}},
      {"pij", {"point", "information", "jeunesse"}},
      {"mjc", {"maison", "jeunes", "culture"}},
      {"mdq", {"maison", "quartier"}},
      {"asso", {"association"}},
      {"assoc", {"association"}},
      {"st", {"saint"}},
      {"ste", {"sainte"}},
      {"hdv", {"hotel", "ville"}},
      {"caf", {"caisse", "allocations", "familiales"}},
      {"cpam", {"caisse", "primaire", "assurance", "maladie"}},
      {"ml", {"mission", "locale"}},
      {"num", {"numerique"}},
  };
  return *a;
}

// Kinds of places, each by the generic words that name it (folded, abbreviations expanded).
// Two venues whose names name different kinds are different places, whatever else they share
// (a library and a social centre in one building).
struct Kind {
  const char* id;
  std::vector<std::vector<std::string>> spellings;  // each: words that must all appear
};

const std::vector<Kind>& Kinds() {
  static const auto* k = new std::vector<Kind>{
      {"bibliotheque", {{"mediatheque"}, {"bibliotheque"}}},
      {"ludotheque", {{"ludotheque"}}},
      {"centre_social", {{"centre", "social"}, {"maison", "quartier"}}},
      {"france_services", {{"france", "services"}, {"maison", "services", "public"}}},
      {"ccas", {{"centre", "communal", "action"}}},
      {"mairie", {{"mairie"}, {"hotel", "ville"}}},
      {"epn", {{"espace", "public", "numerique"}, {"cyberbase"}, {"cyber", "base"}}},
      {"mission_locale", {{"mission", "locale"}}},
      {"emploi", {{"pole", "emploi"}, {"france", "travail"}}},
      {"caf", {{"caisse", "allocations", "familiales"}}},
      {"cpam", {{"assurance", "maladie"}}},
      {"pij", {{"point", "information", "jeunesse"}}},
      {"mjc", {{"maison", "jeunes", "culture"}}},
  };
  return *k;
}

// Words that say what a place is rather than which one it is.
const std::set<std::string>& GenericWords() {
  static const auto* g = new std::set<std::string>{
      "centre",     "social",         "communal",  "action",      "mediatheque", "bibliotheque",
      "ludotheque", "france",         "services",  "maison",      "public",      "espace",
      "numerique",  "mairie",         "hotel",     "ville",       "mission",     "locale",
      "pole",       "emploi",         "travail",   "caisse",      "allocations", "familiales",
      "primaire",   "assurance",      "maladie",   "point",       "information", "jeunesse",
      "jeunes",     "culture",        "quartier",  "association", "antenne",     "annexe",
      "agence",     "accueil",        "cyberbase", "cyber",       "base",        "municipale",
      "municipal",  "intercommunale", "lieu",      "permanence",  "site",        "structure",
      "inclusion",  "local"};
  return *g;
}

std::vector<std::string> Expand(const std::vector<std::string>& words) {
  std::vector<std::string> out;
  for (const std::string& w : words) {
    auto it = Abbreviations().find(w);
    if (it == Abbreviations().end()) {
      out.push_back(w);
    } else {
      out.insert(out.end(), it->second.begin(), it->second.end());
    }
  }
  return out;
}

struct NameParts {
  std::set<std::string> kinds;
  std::vector<std::string> distinctive;  // in order, without duplicates
  std::set<std::string> generic;
};

NameParts Parse(std::string_view nom, std::string_view commune) {
  NameParts p;
  const std::vector<std::string> words = Expand(text::Words(nom));
  const std::set<std::string> all(words.begin(), words.end());
  for (const Kind& kind : Kinds()) {
    for (const auto& spelling : kind.spellings) {
      if (std::all_of(spelling.begin(), spelling.end(),
                      [&](const std::string& w) { return all.count(w) > 0; })) {
        p.kinds.insert(kind.id);
      }
    }
  }
  // "CCAS" spells "centre communal d'action sociale", which is not a social centre.
  if (p.kinds.count("ccas")) p.kinds.erase("centre_social");
  const std::vector<std::string> town = text::Words(commune);
  const std::set<std::string> town_words(town.begin(), town.end());
  for (const std::string& w : words) {
    if (GenericWords().count(w)) {
      p.generic.insert(w);
    } else if (town_words.count(w) == 0 &&
               std::find(p.distinctive.begin(), p.distinctive.end(), w) == p.distinctive.end()) {
      p.distinctive.push_back(w);
    }
  }
  return p;
}

// Two words match: equal, one an abbreviation of the other (`j` and `jean`, `ch` and `charles`:
// a prefix ending with the shorter word), or one typo apart in words of five letters or more.
bool WordsMatch(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const std::string& s = a.size() < b.size() ? a : b;
  const std::string& l = a.size() < b.size() ? b : a;
  if (!s.empty() && s.size() <= 3 && l.compare(0, s.size(), s) == 0 &&
      !std::isdigit(static_cast<unsigned char>(s[0]))) {
    return true;
  }
  return s.size() >= 5 && text::EditDistance(a, b, 1) <= 1;
}

// Dice coefficient of two word lists, words matched one to one; `conflict`, when not null, is
// set when each list has a word the other lacks ("Secours catholique", "Secours populaire").
double Dice(const std::vector<std::string>& a, const std::vector<std::string>& b,
            bool* conflict = nullptr) {
  if (a.empty() || b.empty()) return 0;
  std::vector<bool> used(b.size(), false);
  int matched = 0;
  for (const std::string& w : a) {
    for (size_t j = 0; j < b.size(); ++j) {
      if (!used[j] && WordsMatch(w, b[j])) {
        used[j] = true;
        ++matched;
        break;
      }
    }
  }
  const int n = static_cast<int>(std::min(a.size(), b.size()));
  if (conflict != nullptr) *conflict = matched < n;
  return 2.0 * matched / static_cast<double>(a.size() + b.size());
}

bool Disjoint(const std::set<std::string>& a, const std::set<std::string>& b) {
  for (const std::string& x : a) {
    if (b.count(x)) return false;
  }
  return true;
}

// Name similarity in [0, 1], or -1 when the names name different places for sure (different
// kinds, or distinctive words that share nothing).
double NameSimilarity(const NameParts& a, const NameParts& b) {
  if (!a.kinds.empty() && !b.kinds.empty() && Disjoint(a.kinds, b.kinds)) return -1;
  if (!a.distinctive.empty() && !b.distinctive.empty()) {
    // Each name says something the other contradicts ("Jean Lévy", "Jean Moulin"): two places.
    bool conflict = false;
    const double d = Dice(a.distinctive, b.distinctive, &conflict);
    return d == 0 || conflict ? -1 : d;
  }
  if (a.distinctive.empty() && b.distinctive.empty()) {
    // "CCAS" and "Centre communal d'action sociale de Roubaix": the same kind, nothing else.
    if (!a.kinds.empty() && a.kinds == b.kinds) return 1;
    const std::vector<std::string> ga(a.generic.begin(), a.generic.end());
    const std::vector<std::string> gb(b.generic.begin(), b.generic.end());
    return Dice(ga, gb);
  }
  // One says only what it is ("Médiathèque"), the other which one ("Médiathèque Jean Lévy").
  return a.kinds == b.kinds && !a.kinds.empty() ? 0.6 : 0.4;
}

// ---------------------------------------------------------------------------------------------
// Addresses.

const std::map<std::string, std::string>& StreetAbbreviations() {
  static const auto* a = new std::map<std::string, std::string>{
      {"r", "rue"},
      {"av", "avenue"},
      {"ave", "avenue"},
      {"bd", "boulevard"},
      {"bld", "boulevard"},
      {"blvd", "boulevard"},
      {"boul", "boulevard"},
      {"pl", "place"},
      {"pce", "place"},
      {"all", "allee"},
      {"imp", "impasse"},
      {"ch", "chemin"},
      {"chem", "chemin"},
      {"rte", "route"},
      {"sq", "square"},
      {"crs", "cours"},
      {"qu", "quai"},
      {"fg", "faubourg"},
      {"fbg", "faubourg"},
      {"res", "residence"},
      {"st", "saint"},
      {"ste", "sainte"},
      {"gal", "general"},
      {"gen", "general"},
      {"mal", "marechal"},
      {"pdt", "president"},
      {"prof", "professeur"},
      {"dr", "docteur"},
      {"bis", ""},
      {"ter", ""},
      {"b", ""},
      {"t", ""},
  };
  return *a;
}

const std::set<std::string>& StreetTypes() {
  static const auto* t = new std::set<std::string>{
      "rue",       "avenue",  "boulevard", "place", "allee",    "impasse",   "chemin",
      "route",     "square",  "cours",     "quai",  "faubourg", "residence", "parvis",
      "esplanade", "passage", "sentier",   "cite",  "mail"};
  return *t;
}

struct AddressParts {
  std::set<std::string> numbers;    // house numbers before the street ("2-4": 2 and 4)
  std::vector<std::string> street;  // street name words, without the type
};

AddressParts ParseAddress(std::string_view adresse) {
  AddressParts p;
  for (const std::string& raw : text::Words(adresse)) {
    std::string w = raw;
    // "12bis" is number 12.
    size_t digits = 0;
    while (digits < w.size() && std::isdigit(static_cast<unsigned char>(w[digits]))) ++digits;
    if (digits > 0) {
      if (p.street.empty()) p.numbers.insert(w.substr(0, digits));
      continue;
    }
    auto it = StreetAbbreviations().find(w);
    if (it != StreetAbbreviations().end()) w = it->second;
    if (w.empty() || StreetTypes().count(w)) continue;
    p.street.push_back(w);
  }
  return p;
}

// Address similarity in [0, 1]; -1 when both name a house number in the same street and the
// numbers differ (two buildings).
double AddressSimilarity(const AddressParts& a, const AddressParts& b) {
  if (a.street.empty() || b.street.empty()) return 0.5;  // nothing to compare: no evidence
  const double street = Dice(a.street, b.street);
  if (!a.numbers.empty() && !b.numbers.empty()) {
    if (Disjoint(a.numbers, b.numbers)) return street >= 0.5 ? -1 : 0;
    return street;
  }
  return 0.8 * street;
}

// ---------------------------------------------------------------------------------------------
// Places.

double Meters(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarth = 6371008.8, kRad = M_PI / 180;
  const double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
  const double h =
      std::sin(dlat / 2) * std::sin(dlat / 2) +
      std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarth * std::asin(std::min(1.0, std::sqrt(h)));
}

std::string First(const standard::Record& r, const char* field) {
  auto it = r.find(field);
  return it == r.end() || it->second.empty() ? "" : it->second.front();
}

std::optional<double> Number(const standard::Record& r, const char* field) {
  const std::string s = First(r, field);
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

DuplicateSide SideOf(const standard::Venue& v) {
  return {.nom = First(v.standard, "nom"),
          .adresse = First(v.standard, "adresse"),
          .code_postal = First(v.standard, "code_postal"),
          .code_insee = First(v.standard, "code_insee"),
          .commune = First(v.standard, "commune"),
          .latitude = Number(v.standard, "latitude"),
          .longitude = Number(v.standard, "longitude")};
}

DuplicateScore ScoreDuplicate(const DuplicateSide& a, const DuplicateSide& b) {
  DuplicateScore out;
  const bool same_insee = !a.code_insee.empty() && a.code_insee == b.code_insee;
  const bool same_postcode = !a.code_postal.empty() && a.code_postal == b.code_postal;
  const bool insee_known = !a.code_insee.empty() && !b.code_insee.empty();
  if (!(same_insee || (!insee_known && same_postcode))) return out;
  if (!a.latitude || !a.longitude || !b.latitude || !b.longitude) return out;
  out.distance_m = Meters(*a.latitude, *a.longitude, *b.latitude, *b.longitude);
  if (out.distance_m > kDuplicateMaxMeters) return out;

  const double name = NameSimilarity(Parse(a.nom, a.commune), Parse(b.nom, b.commune));
  const double address = AddressSimilarity(ParseAddress(a.adresse), ParseAddress(b.adresse));
  const double nearness = out.distance_m <= 25
                              ? 1
                              : (kDuplicateMaxMeters - out.distance_m) / (kDuplicateMaxMeters - 25);
  double score = 0.5 * std::max(name, 0.0) + 0.3 * std::max(address, 0.0) + 0.2 * nearness;
  // Different kinds or names, or another house number: different places, however close.
  if (name < 0) score = std::min(score, 0.3);
  if (address < 0) score = std::min(score, 0.5);
  out.score = std::round(score * 1000) / 1000;

  if (name >= 0.8) out.matched_fields.push_back("nom");
  if (address >= 0.8) out.matched_fields.push_back("adresse");
  if (same_insee) out.matched_fields.push_back("code_insee");
  if (same_postcode) out.matched_fields.push_back("code_postal");
  if (out.distance_m <= kDuplicateNearMeters) out.matched_fields.push_back("position");
  return out;
}

std::string_view LinkStateName(LinkState state) {
  switch (state) {
    case LinkState::kProposed:
      return "proposed";
    case LinkState::kSame:
      return "same";
    case LinkState::kDifferent:
      return "different";
  }
  return "proposed";
}

// ---------------------------------------------------------------------------------------------
// Links.

namespace {

const api::ResourcePattern kLinkName("duplicateLinks/{link}");
const api::ResourcePattern kVenueRef("venues/{venue}");
const api::ResourcePattern kSourceRef("sources/{source}");

// The id of `duplicateLinks/{id}` (a lowercase UUID), or INVALID_ARGUMENT on `field`.
absl::StatusOr<std::string> LinkId(const std::string& name, std::string_view field) {
  auto parts = kLinkName.Parse(name, field);
  if (!parts.ok()) return parts.status();
  if (!api::IsCanonicalUuid((*parts)[0])) {
    return api::InvalidName(field, "[pattern] duplicateLinks/{link} avec un UUID en minuscules",
                            name);
  }
  return (*parts)[0];
}

// The id of `venues/{id}` (a lowercase UUID), or INVALID_ARGUMENT on `field`.
absl::StatusOr<std::string> VenueId(const std::string& name, std::string_view field) {
  auto parts = kVenueRef.Parse(name, field);
  if (!parts.ok()) return parts.status();
  if (!api::IsCanonicalUuid((*parts)[0])) {
    return api::InvalidName(field, "[pattern] venues/{venue} avec un UUID en minuscules", name);
  }
  return (*parts)[0];
}

std::optional<LinkState> FromProto(v1::DuplicateLinkState s) {
  switch (s) {
    case v1::DUPLICATE_PROPOSED:
      return LinkState::kProposed;
    case v1::DUPLICATE_SAME:
      return LinkState::kSame;
    case v1::DUPLICATE_DIFFERENT:
      return LinkState::kDifferent;
    default:
      return std::nullopt;
  }
}

}  // namespace

absl::StatusOr<int> Duplicates::DetectChanges(const std::function<bool()>& stopping) {
  auto turn = repo_.TakePassTurn();
  if (!turn.ok()) return turn.status();
  if (*turn == nullptr) return 0;  // another replica's pass runs
  auto pass = repo_.ChangedSinceDetection();
  if (!pass.ok()) return pass.status();
  // Chunks bound one candidate query and one transaction (a registry's first pass is all of it).
  constexpr size_t kChunk = 1000;
  const std::vector<std::string>& ids = pass->venue_ids;
  for (size_t start = 0; start < ids.size(); start += kChunk) {
    const std::vector<std::string> chunk(ids.begin() + start,
                                         ids.begin() + std::min(ids.size(), start + kChunk));
    if (auto found = Detect(chunk, stopping); !found.ok()) return found.status();
  }
  if (absl::Status s = repo_.SaveDetectionCursor(pass->next); !s.ok()) return s;
  return static_cast<int>(ids.size());
}

absl::StatusOr<int> Duplicates::Detect(const std::vector<std::string>& venue_ids,
                                       const std::function<bool()>& stopping) {
  if (venue_ids.empty()) return 0;
  const auto stopped = [&] {
    return stopping && stopping() ? absl::CancelledError("the service is stopping")
                                  : absl::OkStatus();
  };
  if (absl::Status s = stopped(); !s.ok()) return s;
  auto candidates = repo_.Candidates(venue_ids);
  if (!candidates.ok()) return candidates.status();
  std::vector<DuplicateLink> scored;
  scored.reserve(candidates->size());
  for (const DuplicateCandidate& c : *candidates) {
    // A chunk of a first pass may hold many candidate pairs: a stop is not kept waiting.
    if (scored.size() % 256 == 255) {
      if (absl::Status s = stopped(); !s.ok()) return s;
    }
    const DuplicateScore s = ScoreDuplicate(SideOf(c.a), SideOf(c.b));
    scored.push_back({.venue_a = c.a.id,
                      .venue_b = c.b.id,
                      .source_a = c.a.source,
                      .source_b = c.b.source,
                      .score = s.score,
                      .matched_fields = s.matched_fields,
                      .distance_m = s.distance_m});
  }
  return repo_.SaveScores(venue_ids, scored, clock_.Now());
}

absl::StatusOr<Duplicates::Page> Duplicates::List(v1::DuplicateLinkState state,
                                                  const std::string& source,
                                                  const std::string& venue, int page_size,
                                                  const std::string& page_token) {
  std::vector<api::FieldViolation> bad;
  DuplicateRepository::Filter filter;
  if (state != v1::DUPLICATE_LINK_STATE_UNSPECIFIED) {
    filter.state = FromProto(state);
    if (!filter.state) {
      bad.push_back({"state", absl::StrCat("[enum] état de lien inconnu ", static_cast<int>(state),
                                           " ; valeurs : DUPLICATE_PROPOSED, DUPLICATE_SAME, "
                                           "DUPLICATE_DIFFERENT")});
    }
  }
  if (!source.empty()) {
    auto parts = kSourceRef.Parse(source, "source");
    if (!parts.ok()) return parts.status();
    if ((*parts)[0] != "passerelle" && !standard::CheckSourceId(&bad, "source", (*parts)[0])) {
      return api::InvalidArgument("source invalide", bad);
    }
    filter.source = (*parts)[0];
  }
  if (!venue.empty()) {
    auto id = VenueId(venue, "venue");
    if (!id.ok()) return id.status();
    filter.venue = *id;
  }
  const int size = api::PageSize(&bad, page_size, 100, 1000);
  if (!bad.empty()) return api::InvalidArgument("demande invalide", bad);
  constexpr char kList[] = "venues.ListDuplicateLinks";
  const std::string parameters =
      api::BindParameters({std::to_string(static_cast<int>(state)), source, venue});
  std::string after;
  if (!page_token.empty()) {
    auto cursor = tokens_.Open(kList, parameters, page_token);
    if (!cursor.ok()) return cursor.status();
    after = *std::move(cursor);
  }
  auto found = repo_.ListLinks(filter, after, size + 1);
  if (!found.ok()) return found.status();
  Page page;
  page.links = *std::move(found);
  if (static_cast<int>(page.links.size()) > size) {
    page.links.resize(size);
    page.next_page_token = tokens_.Seal(kList, parameters, page.links.back().id);
  }
  return page;
}

absl::StatusOr<DuplicateLink> Duplicates::Get(const std::string& name) {
  auto id = LinkId(name, "name");
  if (!id.ok()) return id.status();
  return repo_.GetLink(*id);
}

absl::StatusOr<DuplicateLink> Duplicates::Resolve(const std::string& name,
                                                  v1::DuplicateLinkState resolution,
                                                  const std::string& canonical) {
  auto id = LinkId(name, "name");
  if (!id.ok()) return id.status();
  std::vector<api::FieldViolation> bad;
  const std::optional<LinkState> state = FromProto(resolution);
  if (!state || *state == LinkState::kProposed) {
    bad.push_back(
        {"resolution", absl::StrCat("[enum] DUPLICATE_SAME ou DUPLICATE_DIFFERENT ; reçu ",
                                    v1::DuplicateLinkState_IsValid(resolution)
                                        ? v1::DuplicateLinkState_Name(resolution)
                                        : std::to_string(static_cast<int>(resolution)))});
  }
  std::string canonical_id;
  if (state == LinkState::kSame) {
    if (canonical.empty()) {
      bad.push_back({"canonical_venue",
                     "[required] avec DUPLICATE_SAME, le lieu à garder : venues/{venue}, l'un des "
                     "deux du lien"});
    } else {
      auto v = VenueId(canonical, "canonical_venue");
      if (!v.ok()) return v.status();
      canonical_id = *v;
    }
  } else if (!canonical.empty()) {
    bad.push_back({"canonical_venue", "[absent] seulement avec DUPLICATE_SAME"});
  }
  if (!bad.empty()) return api::InvalidArgument("résolution invalide", bad);
  if (state == LinkState::kSame) {
    auto link = repo_.GetLink(*id);
    if (!link.ok()) return link.status();
    if (canonical_id != link->venue_a && canonical_id != link->venue_b) {
      return api::InvalidArgument(
          "canonical_venue invalide",
          {{"canonical_venue", absl::StrCat("[member] « ", text::Quote(canonical, 60),
                                            " » n'est pas l'un des lieux du lien : venues/",
                                            link->venue_a, " ou venues/", link->venue_b)}});
    }
  }
  auto resolved = repo_.Resolve(*id, *state, canonical_id, clock_.Now(), updated_);
  if (!resolved.ok()) return resolved.status();
  // This replica's index hides the duplicate (or shows it again) before the answer; others
  // follow their feed.
  if (refresh_) {
    if (absl::Status s = refresh_(); !s.ok()) return s;
  }
  return resolved;
}

void ToProto(const DuplicateLink& link, v1::DuplicateLink* out) {
  out->set_name(link.Name());
  out->set_venue("venues/" + link.venue_a);
  out->set_other_venue("venues/" + link.venue_b);
  out->set_venue_source("sources/" + link.source_a);
  out->set_other_venue_source("sources/" + link.source_b);
  out->set_score(link.score);
  for (const std::string& f : link.matched_fields) out->add_matched_fields(f);
  out->set_distance_meters(link.distance_m);
  switch (link.state) {
    case LinkState::kProposed:
      out->set_state(v1::DUPLICATE_PROPOSED);
      break;
    case LinkState::kSame:
      out->set_state(v1::DUPLICATE_SAME);
      out->set_canonical_venue("venues/" + link.canonical);
      break;
    case LinkState::kDifferent:
      out->set_state(v1::DUPLICATE_DIFFERENT);
      break;
  }
  api::ToTimestamp(link.create_time, out->mutable_create_time());
  api::ToTimestamp(link.update_time, out->mutable_update_time());
}

}  // namespace passerelle::venues
