// Describe and DescribeDigest (message.hpp). Each event becomes a Part: a title (the subject of
// a single e-mail), a lead sentence and items (one per changed field). The parts are made of
// cleaned plain text only; the text part wraps them, the HTML part escapes them whole, so no value
// reaches the HTML unescaped.
#include "services/notifications/message.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/descriptor.h"
#include "libs/standard/opening_hours.hpp"
#include "libs/standard/standard.hpp"
#include "libs/text/html.hpp"
#include "libs/text/utf8.hpp"
#include "passerelle/indicators/v1/events.pb.h"
#include "passerelle/notifications/v1/notifications.pb.h"
#include "passerelle/referential/v1/events.pb.h"
#include "passerelle/sync/v1/events.pb.h"
#include "passerelle/venues/v1/events.pb.h"

namespace passerelle::notifications {
namespace {

using google::protobuf::FieldDescriptor;

constexpr size_t kMaxItemsPerEvent = 40;    // changed fields said of one event
constexpr size_t kMaxListValues = 20;       // values of a repeated field
constexpr size_t kMaxTitleCodePoints = 60;  // the subscription's name in a digest's subject
constexpr size_t kMaxItemCodePoints = 120;  // one value of a list (the list: kMaxValueCodePoints)
constexpr size_t kMaxCompared = 1000;       // values of a list compared between two versions

// ---------------------------------------------------------------------------------------------
// Cleaning and layout.

// Untrusted text as one clean line: valid UTF-8 (U+FFFD for what is not), no NUL, every control
// character, line or paragraph separator a space, no bidirectional override, runs of spaces
// collapsed, at most `max` code points with « … », cut between grapheme clusters (never half a
// flag or a letter without its accent). Bounded work whatever the input's size.
std::string Clean(std::string_view in, size_t max = kMaxValueCodePoints) {
  const std::string valid = text::ToValidUtf8(in.substr(0, 4 * max + 8));
  std::string out;
  out.reserve(valid.size());
  auto space = [&] {
    if (!out.empty() && out.back() != ' ') out += ' ';
  };
  for (size_t i = 0; i < valid.size();) {
    const auto c = static_cast<unsigned char>(valid[i]);
    const size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    uint32_t cp = c;
    if (len > 1) {
      cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
      for (size_t k = 1; k < len && i + k < valid.size(); ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(valid[i + k]) & 0x3f);
    }
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 || cp == 0x2029 ||
        cp == ' ') {
      space();
    } else if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
      // Bidirectional overrides and isolates: dropped.
    } else {
      out.append(valid, i, len);
    }
    i += len;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  const size_t lead = out.find_first_not_of(' ');
  if (lead == std::string::npos) return "";
  return text::EllipsizeGraphemes(std::string_view(out).substr(lead), max);
}

std::string Capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::string Plural(int64_t n, std::string_view one, std::string_view many) {
  return absl::StrCat(n, " ", std::string((n == 1 || n == 0 || n == -1) ? one : many));
}

// Punctuation French writes after a space that must not start a line: « ; », « : », « ! »,
// « ? » and the closing guillemet.
bool GluesToPrevious(std::string_view word) {
  for (std::string_view p : {";", ":", "!", "?", "»"}) {
    if (word.substr(0, p.size()) == p) return true;
  }
  return false;
}

// The words of `s` (split on spaces) with the breaks French forbids undone: a « ; », « : »,
// « ! », « ? » or « » » stays with the word before it, an opening « « » with the word after.
std::vector<std::string_view> Units(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> spans;  // [begin, end) in s
  bool glue_next = false;
  for (size_t i = 0; i < s.size();) {
    const size_t end = std::min(s.find(' ', i), s.size());
    const std::string_view word = s.substr(i, end - i);
    if (!word.empty()) {
      if (!spans.empty() && (glue_next || GluesToPrevious(word))) {
        spans.back().second = end;
      } else {
        spans.push_back({i, end});
      }
      glue_next = word == "«";
    }
    i = end + 1;
  }
  std::vector<std::string_view> units;
  units.reserve(spans.size());
  for (const auto& [b, e] : spans) units.push_back(s.substr(b, e - b));
  return units;
}

// Greedy wrap on spaces at kTextWidth code points, never before a « ; » or « : » (Units); a
// word longer than the width stays whole.
std::string Wrap(std::string_view s, std::string_view first, std::string_view next) {
  std::string out(first);
  size_t col = text::CodePoints(first);
  bool line_has_word = false;
  for (const std::string_view word : Units(s)) {
    const size_t w = text::CodePoints(word);
    if (line_has_word && col + 1 + w > kTextWidth) {
      absl::StrAppend(&out, "\n", std::string(next));
      col = text::CodePoints(next);
      line_has_word = false;
    }
    if (line_has_word) {
      out += ' ';
      ++col;
    }
    out.append(word);
    col += w;
    line_has_word = true;
  }
  return out;
}

std::string Html(std::string_view s) { return text::EscapeHtml(s); }

// What one event says; every string already clean.
struct Part {
  std::string title;
  std::string lead;
  std::vector<std::string> items;
};

void AppendText(const Part& p, std::string* text) {
  if (!p.lead.empty()) absl::StrAppend(text, Wrap(p.lead, "", ""), "\n");
  for (const auto& item : p.items) absl::StrAppend(text, Wrap(item, "- ", "  "), "\n");
}

void AppendHtml(const Part& p, std::string* html) {
  if (!p.lead.empty()) absl::StrAppend(html, "<p>", Html(p.lead), "</p>\n");
  if (p.items.empty()) return;
  *html += "<ul>\n";
  for (const auto& item : p.items) absl::StrAppend(html, "<li>", Html(item), "</li>\n");
  *html += "</ul>\n";
}

// ---------------------------------------------------------------------------------------------
// Venue fields.

struct Label {
  const char* field;
  const char* words;  // with its article; plural when it starts with "les "
};

constexpr Label kLabels[] = {
    {"id", "l'identifiant"},
    {"pivot", "le numéro SIRET ou RNA"},
    {"nom", "le nom"},
    {"commune", "la commune"},
    {"code_postal", "le code postal"},
    {"code_insee", "le code INSEE"},
    {"adresse", "l'adresse"},
    {"complement_adresse", "le complément d'adresse"},
    {"latitude", "la latitude"},
    {"longitude", "la longitude"},
    {"typologie", "la typologie"},
    {"telephone", "le téléphone"},
    {"courriels", "les courriels"},
    {"site_web", "le site web"},
    {"horaires", "les horaires"},
    {"presentation_resume", "la présentation"},
    {"presentation_detail", "la présentation détaillée"},
    {"source", "la source"},
    {"itinerance", "l'itinérance"},
    {"structure_parente", "la structure parente"},
    {"date_maj", "la date de mise à jour"},
    {"services", "les services"},
    {"publics_specifiquement_adresses", "les publics accueillis"},
    {"prise_en_charge_specifique", "les prises en charge spécifiques"},
    {"frais_a_charge", "les frais"},
    {"dispositif_programmes_nationaux", "les dispositifs nationaux"},
    {"formations_labels", "les formations et labels"},
    {"autres_formations_labels", "les autres formations et labels"},
    {"modalites_acces", "les modalités d'accès"},
    {"modalites_accompagnement", "les modalités d'accompagnement"},
    {"fiche_acces_libre", "la fiche Acceslibre"},
    {"prise_rdv", "la prise de rendez-vous en ligne"},
    {"owner_organisation", "l'organisation gestionnaire"},
    {"referential_items", "les offres du référentiel"},
    {"accepts_aptic_pass", "l'acceptation du pass numérique APTIC"},
    {"areas", "les quartiers et zones"},
    {"duplicate_of", "le rattachement à un lieu identique (doublon)"},
    {"state", "l'état"},
    {"withdrawal_reason", "le motif de retrait"},
};

std::string LabelOf(std::string_view field) {
  for (const Label& l : kLabels) {
    if (field == l.field) return l.words;
  }
  return absl::StrCat("le champ « ", Clean(field, 40), " »");
}

bool IsPlural(std::string_view label) { return label.substr(0, 4) == "les "; }

// `horaires` in French (whole, before any cut) when the registry can say it exactly.
std::optional<std::string> HoursFrench(std::string_view osm) {
  if (osm.size() > standard::OpeningHours::kMaxBytes) return std::nullopt;
  const auto oh = standard::OpeningHours::Parse(osm);
  if (!oh) return std::nullopt;
  return oh->InFrench();
}

// `horaires` in French when the registry can say it exactly, else as written.
std::string HoursValue(std::string_view osm) {
  if (auto french = HoursFrench(osm)) return Clean(*french);
  return Clean(osm);
}

// The empty marker « (vide) » (and « (valeur vide) » for an empty item of a list) must not be
// taken for a value, nor a value for it: a value starting with « ( » or « « » is shown between
// guillemets, so unquoted text in brackets is always a marker (« (vide) » is empty,
// « « (vide) » » is a name written « (vide) »).
std::string Marked(std::string v, std::string_view empty = "(vide)") {
  if (v.empty()) return std::string(empty);
  if (v[0] == '(' || v.substr(0, 2) == "«") return absl::StrCat("« ", v, " »");
  return v;
}

std::string Others(size_t n) {
  return absl::StrCat(" et ", Plural(static_cast<int64_t>(n), "autre", "autres"));
}

// `items` (the first of `total` values, each already marked) joined with « , », cut on whole
// items to kMaxValueCodePoints with the count of the others (« et 5 autres »): never an item
// cut in the middle, never the count lost.
std::string JoinWhole(const std::vector<std::string>& items, size_t total) {
  std::string out;
  size_t width = 0, shown = 0;
  for (const auto& item : items) {
    const size_t w = text::CodePoints(item) + (shown == 0 ? 0 : 2);
    const size_t rest = total - shown - 1;
    const size_t suffix = rest == 0 ? 0 : text::CodePoints(Others(rest));
    if (shown > 0 && width + w + suffix > kMaxValueCodePoints) break;
    if (shown > 0) out += ", ";
    out += item;
    width += w;
    ++shown;
  }
  if (shown < total) out += Others(total - shown);
  return out;
}

std::string EnumValue(const FieldDescriptor* f, int number) {
  if (const auto* spec = standard::Standard::V102().Find(f->name());
      spec != nullptr && !spec->values.empty()) {
    if (number >= 1 && number <= static_cast<int>(spec->values.size())) {
      return spec->values[number - 1];
    }
  } else if (f->enum_type()->full_name() == "passerelle.venues.v1.VenueState") {
    if (number == venues::v1::ACTIVE) return "actif";
    if (number == venues::v1::WITHDRAWN) return "retiré";
  }
  return absl::StrCat("valeur inconnue ", number);
}

std::string Number(double d) {
  std::string s = absl::StrFormat("%.6f", d);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// A field's value in words; nullopt for a field the message does not carry as a value.
std::optional<std::string> FieldValue(const venues::v1::Venue& v, std::string_view name) {
  const auto* f = v.GetDescriptor()->FindFieldByName(std::string(name));
  if (f == nullptr) return std::nullopt;
  const auto* refl = v.GetReflection();
  std::string out;
  if (f->is_repeated()) {
    if (f->type() != FieldDescriptor::TYPE_STRING && f->type() != FieldDescriptor::TYPE_ENUM) {
      return std::nullopt;
    }
    const int n = refl->FieldSize(v, f);
    if (n == 0) return std::string("(vide)");
    std::vector<std::string> values;
    for (int i = 0; i < n && i < static_cast<int>(kMaxListValues); ++i) {
      values.push_back(Marked(f->type() == FieldDescriptor::TYPE_ENUM
                                  ? EnumValue(f, refl->GetRepeatedEnumValue(v, f, i))
                                  : Clean(refl->GetRepeatedString(v, f, i), kMaxItemCodePoints),
                              "(valeur vide)"));
    }
    return JoinWhole(values, static_cast<size_t>(n));
  } else if (f->name() == "horaires") {
    out = HoursValue(v.horaires());
  } else {
    switch (f->type()) {
      case FieldDescriptor::TYPE_STRING:
        out = Clean(refl->GetString(v, f));
        break;
      case FieldDescriptor::TYPE_DOUBLE:
        if (refl->HasField(v, f)) out = Number(refl->GetDouble(v, f));
        break;
      case FieldDescriptor::TYPE_BOOL:
        out = refl->GetBool(v, f) ? "oui" : "non";
        break;
      case FieldDescriptor::TYPE_ENUM:
        out = EnumValue(f, refl->GetEnumValue(v, f));
        break;
      default:
        return std::nullopt;
    }
  }
  return Marked(Clean(out));
}

// A repeated field's values as written (enums in words), to compare two versions.
std::vector<std::string> RawList(const venues::v1::Venue& v, const FieldDescriptor* f) {
  const auto* refl = v.GetReflection();
  std::vector<std::string> out;
  const int n = std::min(refl->FieldSize(v, f), static_cast<int>(kMaxCompared));
  for (int i = 0; i < n; ++i) {
    out.push_back(f->type() == FieldDescriptor::TYPE_ENUM
                      ? EnumValue(f, refl->GetRepeatedEnumValue(v, f, i))
                      : refl->GetRepeatedString(v, f, i));
  }
  return out;
}

// The values of `a` not in `b` (as many times as `a` has them more), in `a`'s order.
std::vector<std::string> Missing(const std::vector<std::string>& a,
                                 const std::vector<std::string>& b) {
  std::map<std::string_view, size_t> in_b;
  for (const auto& x : b) ++in_b[x];
  std::vector<std::string> diff;
  for (const auto& x : a) {
    auto it = in_b.find(x);
    if (it != in_b.end() && it->second > 0) {
      --it->second;
    } else {
      diff.push_back(x);
    }
  }
  return diff;
}

std::string ShownList(const std::vector<std::string>& raw) {
  std::vector<std::string> items;
  for (size_t i = 0; i < raw.size() && i < kMaxListValues; ++i) {
    items.push_back(Marked(Clean(raw[i], kMaxItemCodePoints), "(valeur vide)"));
  }
  return JoinWhole(items, raw.size());
}

// What a changed field says when its two values read the same in the message (« X devient X »
// would be false): hours rewritten with the same days and hours, a list's values added and
// removed, or that the difference does not fit. `label` is capitalised.
std::string SameReading(const venues::v1::Venue& before, const venues::v1::Venue& after,
                        std::string_view field, const std::string& label,
                        const std::string& shown) {
  const auto* f = after.GetDescriptor()->FindFieldByName(std::string(field));
  if (field == "horaires") {
    const auto b = HoursFrench(before.horaires()), a = HoursFrench(after.horaires());
    if (b && a && *b == *a) {
      if (before.horaires() == after.horaires()) {
        return absl::StrCat(label, " : inchangés (", shown, ")");
      }
      return absl::StrCat(label,
                          " ont été réécrits sans changer les jours ni les heures : ", shown);
    }
  } else if (f != nullptr && f->is_repeated()) {
    const auto b = RawList(before, f), a = RawList(after, f);
    const auto removed = Missing(b, a), added = Missing(a, b);
    if (removed.empty() && added.empty()) {
      return absl::StrCat(
          label, b == a ? " : valeurs inchangées" : " : mêmes valeurs dans un autre ordre");
    }
    std::vector<std::string> parts;
    if (!removed.empty()) parts.push_back("en moins " + ShownList(removed));
    if (!added.empty()) parts.push_back("en plus " + ShownList(added));
    return absl::StrCat(label, " : ", absl::StrJoin(parts, " ; "));
  } else if (f != nullptr) {
    const auto* rb = before.GetReflection();
    bool same = false;
    switch (f->type()) {
      case FieldDescriptor::TYPE_STRING:
        same = rb->GetString(before, f) == rb->GetString(after, f);
        break;
      case FieldDescriptor::TYPE_DOUBLE:
        same = rb->HasField(before, f) == rb->HasField(after, f) &&
               rb->GetDouble(before, f) == rb->GetDouble(after, f);
        break;
      case FieldDescriptor::TYPE_BOOL:
        same = rb->GetBool(before, f) == rb->GetBool(after, f);
        break;
      case FieldDescriptor::TYPE_ENUM:
        same = rb->GetEnumValue(before, f) == rb->GetEnumValue(after, f);
        break;
      default:
        break;
    }
    if (same) return absl::StrCat(label, " : valeur inchangée (", shown, ")");
  }
  return absl::StrCat(label,
                      " : modification non montrée (la différence ne tient pas dans ce message)");
}

std::string VenueName(const venues::v1::Venue& v, std::string_view subject) {
  std::string nom = Clean(v.nom(), 120);
  if (nom.empty()) nom = Clean(v.name().empty() ? subject : v.name(), 120);
  return nom.empty() ? std::string("un lieu") : nom;
}

// ---------------------------------------------------------------------------------------------
// One event.

Part Generic(const events::v1::Event& e) {
  const std::string type = Clean(e.type(), 60);
  Part p;
  p.title = absl::StrCat("Notification Passerelle : ", type.empty() ? "(sans type)" : type);
  p.lead = absl::StrCat("Un événement de type « ", type, " » est arrivé",
                        e.subject().empty() ? "" : absl::StrCat(" (", Clean(e.subject(), 80), ")"),
                        " ; son contenu ne peut pas être résumé ici.");
  return p;
}

Part VenueCreatedPart(const events::v1::Event& e, const venues::v1::VenueCreated& c) {
  const auto& v = c.venue();
  const std::string nom = VenueName(v, e.subject());
  std::vector<std::string> where;
  const std::string town = Clean(absl::StrCat(Clean(v.code_postal(), 10), " ", Clean(v.commune())));
  for (const std::string& s : {Clean(v.adresse()), town}) {
    if (!s.empty()) where.push_back(s);
  }
  Part p;
  p.title = absl::StrCat("Nouveau lieu : ", nom);
  p.lead =
      absl::StrCat("Nouveau lieu : ", nom, where.empty() ? "" : ", ", absl::StrJoin(where, ", "));
  if (!v.horaires().empty()) p.items.push_back("Horaires : " + HoursValue(v.horaires()));
  return p;
}

Part VenueUpdatedPart(const events::v1::Event& e, const venues::v1::VenueUpdated& u) {
  const std::string nom = VenueName(u.venue(), e.subject());
  const bool before_known = u.has_previous_venue();
  Part p;
  const int n = u.changed_fields_size();
  for (int i = 0; i < n && i < static_cast<int>(kMaxItemsPerEvent); ++i) {
    const std::string& field = u.changed_fields(i);
    std::string item = Capitalized(LabelOf(field));
    if (before_known) {
      const auto before = FieldValue(u.previous_venue(), field);
      const auto after = FieldValue(u.venue(), field);
      if (before && after && *before != *after) {
        absl::StrAppend(&item, " : ", *before, " devient ", *after);
      } else if (before && after) {
        item = SameReading(u.previous_venue(), u.venue(), field, item, *after);
      }
    }
    p.items.push_back(std::move(item));
  }
  if (n > static_cast<int>(kMaxItemsPerEvent)) {
    p.items.push_back(absl::StrCat("et ", Plural(n - static_cast<int>(kMaxItemsPerEvent),
                                                 "autre information", "autres informations")));
  }
  if (n == 1) {
    const std::string label = LabelOf(u.changed_fields(0));
    p.title = absl::StrCat(Capitalized(label), " de ", nom,
                           IsPlural(label) ? " ont changé" : " a changé");
  } else {
    p.title = absl::StrCat(
        nom, " a changé",
        n == 0 ? "" : absl::StrCat(" (", Plural(n, "information", "informations"), ")"));
  }
  p.lead = p.title + (p.items.empty() ? "." : " :");
  if (!before_known && n > 0) {
    p.lead = absl::StrCat(p.title, " (les valeurs précédentes ne sont pas connues) :");
  }
  return p;
}

Part VenueWithdrawnPart(const events::v1::Event& e, const venues::v1::VenueWithdrawn& w) {
  // « Médiathèque (venues/…) »; the resource name alone for events written before `nom`.
  const std::string nom = Clean(w.nom(), 120);
  const std::string resource = Clean(w.name().empty() ? e.subject() : w.name(), 80);
  std::string name =
      nom.empty() || resource.empty() ? nom + resource : absl::StrCat(nom, " (", resource, ")");
  if (name.empty()) name = "Un lieu";
  const std::string reason = Clean(w.reason());
  Part p;
  p.title = absl::StrCat(name, " a été retiré du registre");
  p.lead = absl::StrCat(p.title, reason.empty() ? "." : absl::StrCat(" : ", reason));
  return p;
}

Part VersionPublishedPart(const referential::v1::VersionPublished& v) {
  const std::string version = Clean(v.version(), 120);
  Part p;
  p.title = absl::StrCat("Nouvelle version du référentiel : ", version);
  p.lead =
      absl::StrCat("La version ", version, " du référentiel est en vigueur",
                   v.previous_version().empty()
                       ? ""
                       : absl::StrCat(" (elle remplace ", Clean(v.previous_version(), 120), ")"),
                   " : ", Plural(v.items_added_size(), "élément ajouté", "éléments ajoutés"), ", ",
                   Plural(v.items_retired_size(), "retiré", "retirés"), ", ",
                   Plural(v.items_renamed_size(), "renommé", "renommés"), ", ",
                   Plural(v.items_moved_size(), "déplacé", "déplacés"), ".");
  return p;
}

Part RunCompletedPart(const events::v1::Event& e, const sync::v1::RunCompleted& c) {
  const auto& r = c.run();
  std::string run = Clean(r.name().empty() ? e.subject() : r.name(), 120);
  Part p;
  if (r.state() == sync::v1::Run::FAILED) {
    p.title = absl::StrCat("La synchronisation ", run, " a échoué");
    const std::string error = Clean(r.error());
    p.lead = absl::StrCat(p.title, error.empty() ? "." : absl::StrCat(" : ", error));
  } else if (r.state() == sync::v1::Run::SUCCEEDED) {
    p.title = absl::StrCat("La synchronisation ", run, " est terminée");
    p.lead = absl::StrCat(p.title, " : ", Plural(r.created(), "lieu créé", "lieux créés"), ", ",
                          Plural(r.updated(), "mis à jour", "mis à jour"), ", ",
                          Plural(r.unchanged(), "inchangé", "inchangés"), ", ",
                          Plural(r.rejected(), "ligne refusée", "lignes refusées"), ", ",
                          Plural(r.withdrawn(), "lieu retiré", "lieux retirés"), ".");
  } else {
    p.title = absl::StrCat("La synchronisation ", run, " s'est arrêtée");
    p.lead = p.title + " (état non précisé).";
  }
  return p;
}

Part ReportSubmittedPart(const indicators::v1::ReportSubmitted& r) {
  const std::string verb = r.withdrawn() ? "retiré" : r.revision() > 1 ? "corrigé" : "déposé";
  Part p;
  p.title = absl::StrCat("Rapport d'activité ", verb, " : ", Clean(r.organisation(), 80));
  p.lead =
      absl::StrCat("Le rapport d'activité ", Clean(r.name(), 120), " de l'organisation ",
                   Clean(r.organisation(), 80), " pour la période du ", Clean(r.period_start(), 20),
                   " au ", Clean(r.period_end(), 20), " a été ", verb, " (révision ", r.revision(),
                   ", ", Plural(r.venues_size(), "lieu concerné", "lieux concernés"), ").");
  return p;
}

Part TestPart() {
  Part p;
  p.title = "Essai de notification Passerelle";
  p.lead =
      "Ceci est un essai : les notifications Passerelle de cet abonnement arriveront à cette "
      "adresse. Il n'y a rien à faire.";
  return p;
}

// A webhook's address without what may be a secret (a token in its path or query, as many
// services' hook URLs carry): scheme and host, then « … ».
std::string WithoutPath(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "…";
  const size_t end = url.find_first_of("/?#", scheme + 3);
  if (end == std::string::npos) return url;
  return url.substr(0, end) + "/…";
}

// To the organisation's contact: what failed, and that nothing is lost meanwhile.
Part DisabledPart(const v1::Subscription& s) {
  const std::string name =
      Clean(s.display_name().empty() ? s.name() : s.display_name(), kMaxTitleCodePoints);
  const std::string target =
      s.has_webhook() ? absl::StrCat("l'adresse ", Clean(WithoutPath(s.webhook().url())))
                      : absl::StrCat("l'adresse électronique ", Clean(s.email().address()));
  Part p;
  p.title = absl::StrCat("Abonnement « ", name, " » désactivé : ses envois échouent");
  p.lead = absl::StrCat("Passerelle a désactivé l'abonnement « ", name, " » de ",
                        Clean(s.organisation(), 80), " : les envois vers ", target,
                        " ont échoué trop de fois de suite.");
  p.items = {
      absl::StrCat("Motif : ", Clean(s.disabled_reason()), "."),
      "Rien n'est perdu : les changements qui le concernent continuent d'être enregistrés et "
      "partiront dans l'ordre dès que l'abonnement sera réactivé.",
      "Pour le réactiver, une fois l'adresse réparée : UpdateSubscription avec state ACTIVE "
      "(PATCH /v1/" +
          Clean(s.name(), 80) + "?updateMask=state, corps {\"state\": \"ACTIVE\"}).",
  };
  return p;
}

template <typename T>
std::optional<T> Payload(const events::v1::Event& e) {
  T t;
  if (!e.payload().Is<T>() || !e.payload().UnpackTo(&t)) return std::nullopt;
  return t;
}

Part Describe1(const events::v1::Event& e) {
  const std::string& type = e.type();
  if (type == "venue.created") {
    if (auto c = Payload<venues::v1::VenueCreated>(e)) return VenueCreatedPart(e, *c);
  } else if (type == "venue.updated") {
    if (auto u = Payload<venues::v1::VenueUpdated>(e)) return VenueUpdatedPart(e, *u);
  } else if (type == "venue.withdrawn") {
    if (auto w = Payload<venues::v1::VenueWithdrawn>(e)) return VenueWithdrawnPart(e, *w);
  } else if (type == "referential.version.published") {
    if (auto v = Payload<referential::v1::VersionPublished>(e)) return VersionPublishedPart(*v);
  } else if (type == "sync.run.completed") {
    if (auto r = Payload<sync::v1::RunCompleted>(e)) return RunCompletedPart(e, *r);
  } else if (type == "indicators.report.submitted") {
    if (auto r = Payload<indicators::v1::ReportSubmitted>(e)) return ReportSubmittedPart(*r);
  } else if (type == "notification.test") {
    return TestPart();
  } else if (type == "notification.disabled") {
    if (auto s = Payload<v1::Subscription>(e)) return DisabledPart(*s);
  }
  return Generic(e);
}

std::string Subject(std::string_view s) { return Clean(s, kMaxSubjectCodePoints); }

// ---------------------------------------------------------------------------------------------
// Dates.

absl::TimeZone Paris() {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone("Europe/Paris", &tz)) tz = absl::FixedTimeZone(3600);
  return tz;
}

std::string FrenchDate(absl::CivilDay d) {
  static constexpr const char* kDays[] = {"lundi",    "mardi",  "mercredi", "jeudi",
                                          "vendredi", "samedi", "dimanche"};
  static constexpr const char* kMonths[] = {"janvier",   "février", "mars",     "avril",
                                            "mai",       "juin",    "juillet",  "août",
                                            "septembre", "octobre", "novembre", "décembre"};
  const int wd = (static_cast<int>(absl::GetWeekday(d)) + 7) % 7;  // absl: Monday = 0
  return absl::StrCat(kDays[wd], " ", d.day() == 1 ? "1er" : absl::StrCat(d.day()), " ",
                      kMonths[d.month() - 1], " ", d.year());
}

std::string Period(absl::Time from, absl::Time to) {
  const absl::TimeZone tz = Paris();
  const absl::CivilDay first = absl::ToCivilDay(from, tz);
  absl::CivilDay last = absl::ToCivilDay(to, tz);
  // A period ending at local midnight ends with the day before.
  if (to > from && absl::ToCivilSecond(to, tz) == absl::CivilSecond(last)) last = last - 1;
  if (last <= first) return "le " + FrenchDate(first);
  return absl::StrCat("du ", FrenchDate(first), " au ", FrenchDate(last));
}

}  // namespace

Message Describe(const events::v1::Event& event) {
  const Part p = Describe1(event);
  Message m;
  m.subject = Subject(p.title);
  AppendText(p, &m.text);
  AppendHtml(p, &m.html);
  return m;
}

Message DescribeDigest(const std::vector<events::v1::Event>& events, const std::string& title,
                       absl::Time from, absl::Time to) {
  // Venue events per subject, in the order each venue first appears; the others after.
  std::vector<std::pair<std::string, std::vector<size_t>>> venues;
  std::map<std::string, size_t> venue_index;
  std::vector<size_t> others;
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.type().substr(0, 6) == "venue.") {
      const std::string key = e.subject().substr(0, 200);
      auto [it, inserted] = venue_index.emplace(key, venues.size());
      if (inserted) venues.push_back({key, {}});
      venues[it->second].second.push_back(i);
    } else {
      others.push_back(i);
    }
  }

  const std::string name = Clean(title, kMaxTitleCodePoints);
  const std::string period = Period(from, to);
  const std::string count =
      Plural(static_cast<int64_t>(events.size()), "changement", "changements");
  Message m;
  m.subject = Subject(absl::StrCat(name.empty() ? "Passerelle" : name, " : ",
                                   events.empty() ? "aucun changement" : count, " ", period));
  const std::string lead = absl::StrCat(
      events.empty() ? "Aucun changement" : Capitalized(count),
      venues.empty()
          ? ""
          : absl::StrCat(" sur ", Plural(static_cast<int64_t>(venues.size()), "lieu", "lieux")),
      " ", period, ".");
  if (!name.empty()) {
    absl::StrAppend(&m.text, Wrap(name, "", ""), "\n\n");
    absl::StrAppend(&m.html, "<h2>", Html(name), "</h2>\n");
  }
  absl::StrAppend(&m.text, Wrap(lead, "", ""), "\n");
  absl::StrAppend(&m.html, "<p>", Html(lead), "</p>\n");

  size_t shown = 0;
  auto section = [&](const std::string& heading, const std::vector<size_t>& indexes,
                     size_t per_section) {
    Part all;
    size_t here = 0;
    for (const size_t i : indexes) {
      if (here >= per_section || shown >= kDigestMaxChanges) break;
      Part p = Describe1(events[i]);
      all.items.push_back(p.lead.empty() ? p.title : p.lead);
      for (auto& item : p.items) all.items.push_back("  " + item);
      ++here;
      ++shown;
    }
    if (here == 0) return;
    if (here < indexes.size()) {
      all.items.push_back(absl::StrCat("et ", Plural(static_cast<int64_t>(indexes.size() - here),
                                                     "autre changement", "autres changements")));
    }
    absl::StrAppend(&m.text, "\n", Wrap(heading, "", ""), "\n");
    absl::StrAppend(&m.html, "<h3>", Html(heading), "</h3>\n<ul>\n");
    for (const auto& item : all.items) {
      const bool sub = item.substr(0, 2) == "  ";
      absl::StrAppend(
          &m.text, sub ? Wrap(item.substr(2), "    - ", "      ") : Wrap(item, "- ", "  "), "\n");
      absl::StrAppend(&m.html, sub ? "<li class=\"detail\">" : "<li>",
                      Html(sub ? item.substr(2) : item), "</li>\n");
    }
    m.html += "</ul>\n";
  };

  size_t sections = 0;
  for (const auto& [subject, indexes] : venues) {
    if (sections >= kDigestMaxVenues || shown >= kDigestMaxChanges) break;
    // The venue's latest name in the period, else its resource name.
    std::string heading;
    for (auto it = indexes.rbegin(); it != indexes.rend() && heading.empty(); ++it) {
      const auto& e = events[*it];
      if (auto c = Payload<venues::v1::VenueCreated>(e)) heading = Clean(c->venue().nom(), 120);
      if (auto u = Payload<venues::v1::VenueUpdated>(e)) heading = Clean(u->venue().nom(), 120);
    }
    const std::string resource = Clean(subject, 80);
    if (heading.empty())
      heading = resource.empty() ? "Lieu sans nom" : resource;
    else if (!resource.empty())
      heading = absl::StrCat(heading, " (", resource, ")");
    section(heading, indexes, kDigestMaxPerVenue);
    ++sections;
  }
  if (!others.empty() && shown < kDigestMaxChanges) {
    section("Autres nouvelles", others, kDigestMaxChanges);
  }
  if (shown < events.size()) {
    // What no section showed: the sections' own "et N autres" lines counted theirs; this says
    // the total left out, so the reader knows the digest is cut.
    const std::string rest =
        absl::StrCat("En tout, ",
                     Plural(static_cast<int64_t>(events.size() - shown),
                            "changement n'est pas détaillé", "changements ne sont pas détaillés"),
                     " ici.");
    absl::StrAppend(&m.text, "\n", Wrap(rest, "", ""), "\n");
    absl::StrAppend(&m.html, "<p>", Html(rest), "</p>\n");
  }
  return m;
}

Message WithFooter(Message m, const std::string& why, const std::string& unsubscribe_page) {
  absl::StrAppend(&m.text, "\n\n-- \n", why);
  if (!unsubscribe_page.empty()) {
    absl::StrAppend(&m.text, "\nPour ne plus le recevoir : ", unsubscribe_page);
  }
  m.text += "\n";
  std::string link;
  if (!unsubscribe_page.empty()) {
    link = absl::StrCat(" <a href=\"", text::EscapeHtml(unsubscribe_page),
                        "\">Ne plus recevoir ces messages</a>");
  }
  m.html = absl::StrCat("<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>",
                        text::EscapeHtml(m.subject), "</title></head>\n<body>\n", m.html,
                        "\n<hr>\n<p style=\"font-size:small;color:#555\">", text::EscapeHtml(why),
                        link, "</p>\n</body></html>\n");
  return m;
}

}  // namespace passerelle::notifications
