// National CSV and GeoJSON exchange.
#include "services/venues/exchange.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/csv/csv.hpp"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"
#include "services/venues/opening_hours.hpp"

namespace passerelle::venues {

namespace {

// One bad value never fails an export for everyone: stored text is valid UTF-8 (validation
// sees to it), and anything older is written with U+FFFD rather than throwing.
// Schema v0.1 (2022) -> v1.0.2. v0.1 separated list values with `;` (site_web with `,`), named
// some fields differently, and used other vocabularies; each translated value is reported.
struct V01Row {
  std::map<std::string, std::string> raw;  // v1.0.2 names and values, lists joined with '|'
  bool accepts_aptic_pass = false;
  std::vector<std::string> notes;
};

bool IsV01Header(const std::vector<std::string>& header) {
  for (const auto& h : header) {
    if (h == "courriel" || h == "publics_accueillis" || h == "conditions_acces" ||
        h == "labels_nationaux" || h == "accessibilite") {
      return true;
    }
  }
  return false;
}

// The words before " : " (v0.1 values carry an explanation after a colon).
std::string Head(const std::string& v) {
  auto colon = v.find(" :");
  std::string head = colon == std::string::npos ? v : v.substr(0, colon);
  while (!head.empty() && head.back() == ' ') head.pop_back();
  return head;
}

V01Row FromV01(const std::map<std::string, std::string>& in) {
  static const std::map<std::string, std::string> kServices = {
      {"Devenir autonome dans les démarches administratives", "Aide aux démarches administratives"},
      {"Réaliser des démarches administratives avec un accompagnement",
       "Aide aux démarches administratives"},
      {"Accompagner les démarches de santé", "Aide aux démarches administratives"},
      {"Prendre en main un smartphone ou une tablette",
       "Maîtrise des outils numériques du quotidien"},
      {"Prendre en main un ordinateur", "Maîtrise des outils numériques du quotidien"},
      {"Utiliser le numérique au quotidien", "Maîtrise des outils numériques du quotidien"},
      {"Approfondir ma culture numérique", "Compréhension du monde numérique"},
      {"Promouvoir la citoyenneté numérique", "Compréhension du monde numérique"},
      {"Favoriser mon insertion professionnelle", "Insertion professionnelle via le numérique"},
      {"Créer et développer mon entreprise", "Insertion professionnelle via le numérique"},
      {"Accéder à une connexion internet", "Accès internet et matériel informatique"},
      {"Accéder à du matériel", "Accès internet et matériel informatique"},
      {"S’équiper en matériel informatique",
       "Acquisition de matériel informatique à prix solidaire"},
      {"S'équiper en matériel informatique",
       "Acquisition de matériel informatique à prix solidaire"},
      {"Créer avec le numérique", "Loisirs et créations numériques"},
      {"Soutenir la parentalité et l'éducation avec le numérique",
       "Parentalité et éducation avec le numérique"}};
  // publics_accueillis -> (field, value); "Adultes" has no counterpart.
  static const std::map<std::string, std::pair<std::string, std::string>> kPublics = {
      {"Seniors (+ 65 ans)", {"publics_specifiquement_adresses", "Seniors"}},
      {"Familles/enfants", {"publics_specifiquement_adresses", "Familles et/ou enfants"}},
      {"Jeunes (16-26 ans)", {"publics_specifiquement_adresses", "Jeunes"}},
      {"Uniquement femmes", {"publics_specifiquement_adresses", "Femmes"}},
      {"Public langues étrangères", {"prise_en_charge_specifique", "Langues étrangères (autres)"}},
      {"Déficience visuelle", {"prise_en_charge_specifique", "Déficience visuelle"}},
      {"Surdité", {"prise_en_charge_specifique", "Surdité"}},
      {"Handicaps psychiques", {"prise_en_charge_specifique", "Handicaps mentaux"}},
      {"Handicaps mentaux", {"prise_en_charge_specifique", "Handicaps mentaux"}},
      {"Personnes en situation d'illettrisme", {"prise_en_charge_specifique", "Illettrisme"}}};
  static const std::map<std::string, std::string> kFrais = {
      {"Gratuit", "Gratuit"},
      {"Gratuit sous condition", "Gratuit sous condition"},
      {"Payant", "Payant"},
      {"Adhésion", "Payant"}};
  static const std::map<std::string, std::pair<std::string, std::string>> kLabels = {
      {"France Services", {"dispositif_programmes_nationaux", "France Services"}},
      {"CNFS", {"dispositif_programmes_nationaux", "Conseillers numériques"}},
      {"Aidants Connect", {"dispositif_programmes_nationaux", "Aidants Connect"}},
      {"Grandes écoles du numérique",
       {"dispositif_programmes_nationaux", "Grande école du numérique"}},
      {"Point numérique CAF", {"dispositif_programmes_nationaux", "Point d'accès numérique CAF"}},
      {"Fabriques de Territoire", {"formations_labels", "Fabriques de Territoire"}}};
  static const std::map<std::string, std::string> kModalites = {
      {"Seul", "En autonomie"},
      {"Avec de l'aide", "Accompagnement individuel"},
      {"Dans un atelier", "Dans un atelier collectif"},
      {"A ma place", "Accompagnement individuel"}};

  V01Row out;
  std::map<std::string, std::vector<std::string>> lists;
  auto note = [&](const std::string& field, const std::string& from, const std::string& to) {
    // Notes quote file values: valid UTF-8 and short, whatever the file holds.
    out.notes.push_back(
        absl::StrCat("v0.1 ", field, ": « ", text::Quote(from, 80), " » -> ", text::Quote(to, 80)));
  };
  auto items = [](const std::string& v, char sep) {
    std::vector<std::string> parts;
    for (auto p : absl::StrSplit(v, sep, absl::SkipWhitespace())) {
      std::string t(p);
      while (!t.empty() && t.front() == ' ') t.erase(t.begin());
      while (!t.empty() && t.back() == ' ') t.pop_back();
      parts.push_back(t);
    }
    return parts;
  };
  std::vector<std::string> other_labels;
  for (const auto& [name, value] : in) {
    if (value.empty()) continue;
    if (name == "courriel") {
      out.raw["courriels"] = value;
    } else if (name == "accessibilite") {
      out.raw["fiche_acces_libre"] = value;
    } else if (name == "site_web") {
      out.raw["site_web"] = absl::StrJoin(items(value, ','), "|");
    } else if (name == "typologie") {
      out.raw["typologie"] = absl::StrJoin(items(value, ';'), "|");
    } else if (name == "services") {
      for (const auto& v : items(value, ';')) {
        auto it = kServices.find(v);
        if (it == kServices.end()) {
          lists["services"].push_back(v);  // left to the v1.0.2 validation to reject
        } else {
          lists["services"].push_back(it->second);
          note("services", v, "« " + it->second + " »");
        }
      }
    } else if (name == "publics_accueillis") {
      for (const auto& v : items(value, ';')) {
        auto it = kPublics.find(Head(v));
        if (it == kPublics.end()) {
          note("publics_accueillis", v, "sans équivalent en v1.0.2, ignoré");
        } else {
          lists[it->second.first].push_back(it->second.second);
          note("publics_accueillis", v, it->second.first + " « " + it->second.second + " »");
        }
      }
    } else if (name == "conditions_acces") {
      for (const auto& v : items(value, ';')) {
        const std::string head = Head(v);
        if (head == "Accepte le Pass numérique") {
          out.accepts_aptic_pass = true;
          note("conditions_acces", head, "accepts_aptic_pass");
        } else if (auto it = kFrais.find(head); it != kFrais.end()) {
          lists["frais_a_charge"].push_back(it->second);
          note("conditions_acces", head, "frais_a_charge « " + it->second + " »");
        } else {
          lists["frais_a_charge"].push_back(v);
        }
      }
    } else if (name == "labels_nationaux") {
      for (const auto& v : items(value, ';')) {
        if (v == "APTIC") {
          out.accepts_aptic_pass = true;
          note("labels_nationaux", v, "accepts_aptic_pass");
        } else if (auto it = kLabels.find(v); it != kLabels.end()) {
          lists[it->second.first].push_back(it->second.second);
          note("labels_nationaux", v, it->second.first + " « " + it->second.second + " »");
        } else {
          other_labels.push_back(v);
          note("labels_nationaux", v, "autres_formations_labels");
        }
      }
    } else if (name == "labels_autres") {
      for (const auto& v : items(value, ';')) other_labels.push_back(v);
    } else if (name == "modalites_accompagnement") {
      for (const auto& v : items(value, ';')) {
        auto it = kModalites.find(Head(v));
        lists["modalites_accompagnement"].push_back(it == kModalites.end() ? v : it->second);
        if (it != kModalites.end())
          note("modalites_accompagnement", Head(v), "« " + it->second + " »");
      }
    } else if (name == "cle_ban") {
      note("cle_ban", value, "sans équivalent en v1.0.2, ignoré");
    } else {
      out.raw[name] = value;  // same name, same meaning
    }
  }
  for (auto& [field, values] : lists) {
    std::vector<std::string> unique;
    for (auto& v : values) {
      if (std::find(unique.begin(), unique.end(), v) == unique.end()) unique.push_back(v);
    }
    out.raw[field] = absl::StrJoin(unique, "|");
  }
  if (!other_labels.empty())
    out.raw["autres_formations_labels"] = absl::StrJoin(other_labels, ", ");
  return out;
}

}  // namespace

absl::StatusOr<ParsedFile> ParseNationalCsv(const Standard& standard, std::string_view text,
                                            const std::string& source) {
  const char delimiter = csv::SniffDelimiter(text);
  auto table = csv::Parse(text, delimiter);
  if (!table.ok()) return table.status();
  ParsedFile out;
  // The header decides whether the file is one of the standard's at all: a header that is not
  // text, or that lacks a required column, fails the whole file before any row (otherwise
  // every row would be "required" errors, or a web page would read as a file without venues).
  for (size_t c = 0; c < table->header.size(); ++c) {
    const std::string& h = table->header[c];
    if (auto bad = text::FirstInvalidUtf8(h)) {
      return absl::InvalidArgumentError(absl::StrCat("en-tête illisible : la colonne ", c + 1,
                                                     " n'est pas en UTF-8 (octet ", *bad + 1,
                                                     ") ; enregistrez le fichier en UTF-8"));
    }
    if (text::FirstControl(h) || h.size() > 200) {
      return absl::InvalidArgumentError(
          absl::StrCat("en-tête illisible : colonne ", c + 1, " « ", text::Quote(h, 40), " »"));
    }
  }
  const bool v01 = IsV01Header(table->header);
  std::vector<int> column_of;  // file column -> kept (0) or not a known field (-1)
  static const std::set<std::string> kV01Only = {
      "courriel",         "cle_ban",       "publics_accueillis", "conditions_acces",
      "labels_nationaux", "labels_autres", "accessibilite"};
  for (const auto& h : table->header) {
    const bool known = standard.Find(h) != nullptr || (v01 && kV01Only.count(h));
    if (!known) out.ignored_columns.push_back(text::Quote(h, 80));
    column_of.push_back(known ? 0 : -1);
  }
  std::vector<std::string> missing;
  for (const auto& f : standard.fields()) {
    if (f.required &&
        std::find(table->header.begin(), table->header.end(), f.name) == table->header.end()) {
      missing.push_back(f.name);
    }
  }
  if (!missing.empty()) {
    std::vector<std::string> unknown;
    for (size_t i = 0; i < out.ignored_columns.size() && i < 10; ++i) {
      unknown.push_back(text::Quote(out.ignored_columns[i], 40));
    }
    if (out.ignored_columns.size() > 10) unknown.push_back("…");
    return absl::InvalidArgumentError(absl::StrCat(
        "ce n'est pas un fichier du standard national des lieux de médiation numérique : "
        "colonnes obligatoires absentes : ",
        absl::StrJoin(missing, ", "),
        " ; colonnes non reconnues : ", unknown.empty() ? "aucune" : absl::StrJoin(unknown, ", "),
        " (séparateur « ", std::string(1, delimiter), " »)"));
  }
  // v1.0.2 lists use '|'; v0.1 files (and ';'-separated ones) are translated to '|' first.
  const char list_separator = !v01 && delimiter == ';' ? ';' : '|';
  std::set<std::string> seen;
  for (const auto& row : table->rows) {
    ++out.rows;
    std::map<std::string, std::string> raw;
    for (size_t c = 0; c < table->header.size() && c < row.cells.size(); ++c) {
      // Our own exports guard formula-looking cells with an apostrophe: it is not data.
      if (column_of[c] >= 0) raw[table->header[c]] = csv::UnneutraliseFormula(row.cells[c]);
    }
    std::vector<Violation> extra;
    if (row.cells.size() != table->header.size()) {
      extra.push_back({"", "", "columns",
                       absl::StrCat(row.cells.size(), " colonnes au lieu de ", table->header.size(),
                                    " (ligne tronquée ou séparateur en trop)")});
    }
    bool accepts_pass = false;
    std::vector<std::string> translations;
    if (v01) {
      V01Row converted = FromV01(raw);
      raw = std::move(converted.raw);
      accepts_pass = converted.accepts_aptic_pass;
      translations = std::move(converted.notes);
    }
    Validated v = ValidateRow(standard, raw, list_separator);
    // The id as validated (trimmed): "lieu-1" and "lieu-1 " are one venue, and the second is a
    // duplicate, not a second venue.
    const auto stored_id = v.record.find("id");
    const std::string id = stored_id != v.record.end() && !stored_id->second.empty()
                               ? stored_id->second.front()
                               : (raw.count("id") ? raw["id"] : "");
    if (!id.empty() && !seen.insert(id).second) {
      extra.push_back({"id", text::Quote(id, 200), "unique",
                       "identifiant déjà présent plus haut dans le fichier"});
    }
    v.violations.insert(v.violations.end(), extra.begin(), extra.end());
    if (!v.violations.empty()) {
      out.rejected.push_back({row.line, text::Quote(id, 200), std::move(v.violations)});
      continue;
    }
    for (const auto& n : translations)
      out.normalisations.push_back(absl::StrCat("ligne ", row.line, ", ", n));
    for (const auto& n : v.normalisations) {
      out.normalisations.push_back(absl::StrCat("ligne ", row.line, ", ", n));
    }
    Venue venue;
    venue.accepts_aptic_pass = accepts_pass;
    venue.standard = std::move(v.record);
    venue.source = source;
    venue.source_id = id;
    if (auto h = venue.standard.find("horaires"); h != venue.standard.end() && !h->second.empty()) {
      if (auto warning = HoursNotUnderstood(h->second.front())) {
        out.warnings.push_back(
            {row.line,
             id,
             {"horaires", text::Quote(h->second.front(), 200), "horaires", *warning}});
      }
    }
    out.valid.push_back({row.line, std::move(venue)});
  }
  return out;
}

namespace {

std::string CsvHeader(const Standard& standard) {
  std::vector<std::string> header;
  for (const auto& f : standard.fields()) header.push_back(f.name);
  return csv::Line(header, ',', true);
}

std::string CsvRow(const Standard& standard, const v1::Venue& v) {
  auto raw = RawFromProto(standard, v);
  std::vector<std::string> cells;
  // Opened in a spreadsheet, a cell such as =HYPERLINK(…) must stay text (docs/venues.md).
  for (const auto& f : standard.fields()) cells.push_back(csv::NeutraliseFormula(raw[f.name]));
  return csv::Line(cells, ',', true);
}

// A located venue as a GeoJSON Feature; nullopt for a venue without coordinates.
std::optional<nlohmann::json> Feature(const Standard& standard, const v1::Venue& v) {
  if (!v.has_latitude() || !v.has_longitude()) return std::nullopt;
  auto raw = RawFromProto(standard, v);
  nlohmann::json props{{"name", v.name()}};
  for (const auto& f : standard.fields()) {
    if (f.kind != FieldKind::kNumber) props[f.name] = raw[f.name];  // numbers: the geometry
  }
  props["accepts_aptic_pass"] = v.accepts_aptic_pass();
  props["owner_organisation"] = v.owner_organisation();
  props["referential_items"] = absl::StrJoin(v.referential_items(), "|");
  return nlohmann::json{
      {"type", "Feature"},
      {"id", v.name()},
      {"geometry", {{"type", "Point"}, {"coordinates", {v.longitude(), v.latitude()}}}},
      {"properties", props}};
}

}  // namespace

std::string WriteNationalCsv(const Standard& standard,
                             const std::vector<const v1::Venue*>& venues) {
  return WriteAll(*NewExporter(standard, v1::NATIONAL_CSV), venues);
}

std::string WriteGeoJson(const Standard& standard, const std::vector<const v1::Venue*>& venues) {
  return WriteAll(*NewExporter(standard, v1::GEOJSON), venues);
}

namespace {

using Vocabulary = std::map<std::string, std::vector<std::string>>;

// The standard's `services` -> data·inclusion thematiques (the mapping the national
// cartography uses), always with the parent thematique `numerique`.
const Vocabulary& Thematiques() {
  static const auto* m = new Vocabulary{
      {"Aide aux démarches administratives",
       {"numerique--realiser-des-demarches-administratives-avec-un-accompagnement",
        "numerique--devenir-autonome-dans-les-demarches-administratives",
        "numerique--accompagner-les-demarches-de-sante"}},
      {"Maîtrise des outils numériques du quotidien",
       {"numerique--prendre-en-main-un-smartphone-ou-une-tablette",
        "numerique--prendre-en-main-un-ordinateur",
        "numerique--utiliser-le-numerique-au-quotidien"}},
      {"Insertion professionnelle via le numérique",
       {"numerique--favoriser-mon-insertion-professionnelle",
        "numerique--creer-et-developper-mon-entreprise"}},
      {"Utilisation sécurisée du numérique", {"numerique--approfondir-ma-culture-numerique"}},
      {"Parentalité et éducation avec le numérique",
       {"numerique--soutenir-la-parentalite-et-l-education-avec-le-numerique"}},
      {"Loisirs et créations numériques", {"numerique--creer-avec-le-numerique"}},
      {"Compréhension du monde numérique", {"numerique--approfondir-ma-culture-numerique"}},
      {"Accès internet et matériel informatique",
       {"numerique--acceder-a-une-connexion-internet", "numerique--acceder-a-du-materiel"}},
      {"Acquisition de matériel informatique à prix solidaire",
       {"numerique--s-equiper-en-materiel-informatique"}}};
  return *m;
}

const std::map<std::string, std::string>& LabelsNationaux() {
  static const auto* m = new std::map<std::string, std::string>{
      {"Aidants Connect", "aidants-connect"},
      {"Conseillers numériques", "conseiller-numerique"},
      {"France Services", "france-service"},
      {"Grande école du numérique", "grandes-ecoles-du-numerique"},
      {"Point d'accès numérique CAF", "point-numerique-caf"},
      {"Emmaüs Connect", "emmaus"},
      {"La Croix Rouge", "croix-rouge"}};
  return *m;
}

const std::map<std::string, std::string>& Profils() {
  static const auto* m = new std::map<std::string, std::string>{
      {"Jeunes", "jeunes-16-26"},
      {"Étudiants", "etudiants"},
      {"Familles et/ou enfants", "familles-enfants"},
      {"Seniors", "seniors-65"},
      {"Femmes", "femmes"},
      {"Surdité", "surdite"},
      {"Handicaps moteurs", "personnes-en-situation-de-handicap"},
      {"Handicaps mentaux", "handicaps-mentaux"},
      {"Illettrisme", "personnes-en-situation-illettrisme"},
      {"Langues étrangères (anglais)", "public-langues-etrangeres"},
      {"Langues étrangères (autres)", "public-langues-etrangeres"},
      {"Déficience visuelle", "deficience-visuelle"}};
  return *m;
}

std::vector<std::string> Split(const std::string& joined) {
  std::vector<std::string> out;
  if (joined.empty()) return out;
  for (auto p : absl::StrSplit(joined, '|')) out.emplace_back(p);
  return out;
}

void Unique(std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (auto& x : v) {
    if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(std::move(x));
  }
  v = std::move(out);
}

std::vector<std::string> ThematiquesOf(const std::map<std::string, std::string>& raw) {
  std::vector<std::string> out = {"numerique"};
  for (const auto& s : Split(raw.at("services"))) {
    auto it = Thematiques().find(s);
    if (it != Thematiques().end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  Unique(out);
  return out;
}

void Put(nlohmann::json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

}  // namespace

namespace {

nlohmann::json Structure(const Standard& standard, const v1::Venue* v) {
  {
    auto raw = RawFromProto(standard, *v);
    nlohmann::json s{{"id", raw["id"]},
                     {"nom", raw["nom"]},
                     {"siret", raw["pivot"]},
                     {"commune", raw["commune"]},
                     {"code_postal", raw["code_postal"]},
                     {"adresse", raw["adresse"]},
                     {"date_maj", raw["date_maj"]},
                     {"thematiques", ThematiquesOf(raw)}};
    Put(s, "code_insee", raw["code_insee"]);
    Put(s, "complement_adresse", raw["complement_adresse"]);
    if (v->has_latitude()) s["latitude"] = v->latitude();
    if (v->has_longitude()) s["longitude"] = v->longitude();
    if (v->typologie_size() > 0) s["typologie"] = v->typologie(0);
    Put(s, "telephone", raw["telephone"]);
    if (v->courriels_size() > 0) s["courriel"] = v->courriels(0);
    if (v->site_web_size() > 0) s["site_web"] = v->site_web(0);
    // data·inclusion's limit is 280 characters: cut on code points, never inside one.
    Put(s, "presentation_resume", text::Ellipsize(raw["presentation_resume"], 280));
    Put(s, "presentation_detail", raw["presentation_detail"]);
    Put(s, "source", raw["source"]);
    Put(s, "structure_parente", raw["structure_parente"]);
    Put(s, "horaires_ouverture", raw["horaires"]);
    Put(s, "accessibilite", raw["fiche_acces_libre"]);
    std::vector<std::string> nationaux, autres;
    for (const auto& d : Split(raw["dispositif_programmes_nationaux"])) {
      auto it = LabelsNationaux().find(d);
      (it != LabelsNationaux().end() ? nationaux : autres)
          .push_back(it != LabelsNationaux().end() ? it->second : d);
    }
    if (v->accepts_aptic_pass()) nationaux.push_back("aptic");
    for (const auto& f : Split(raw["formations_labels"])) autres.push_back(f);
    if (!raw["autres_formations_labels"].empty()) autres.push_back(raw["autres_formations_labels"]);
    Unique(nationaux);
    if (!nationaux.empty()) s["labels_nationaux"] = nationaux;
    if (!autres.empty()) s["labels_autres"] = autres;
    return s;
  }
}

nlohmann::json Service(const Standard& standard, const v1::Venue* v) {
  static const std::map<std::string, std::string> kFrais = {
      {"Gratuit", "gratuit"},
      {"Gratuit sous condition", "gratuit-sous-conditions"},
      {"Payant", "payant"}};
  static const std::map<std::string, std::string> kTypes = {
      {"En autonomie", "autonomie"},
      {"Accompagnement individuel", "accompagnement"},
      {"Dans un atelier collectif", "atelier"},
      {"À distance", "accompagnement"}};
  {
    auto raw = RawFromProto(standard, *v);
    nlohmann::json s{{"id", raw["id"] + "-mediation-numerique"},
                     {"structure_id", raw["id"]},
                     {"nom", "Médiation numérique"},
                     {"source", raw["source"]},
                     {"thematiques", ThematiquesOf(raw)}};
    Put(s, "prise_rdv", raw["prise_rdv"]);
    Put(s, "presentation_resume", text::Ellipsize(raw["presentation_resume"], 280));
    std::vector<std::string> frais, types, profils;
    // A value without a data·inclusion counterpart is left out: one venue never fails an export.
    auto mapped = [](const std::map<std::string, std::string>& m, const std::string& v,
                     std::vector<std::string>* out) {
      if (auto it = m.find(v); it != m.end()) out->push_back(it->second);
    };
    for (const auto& f : Split(raw["frais_a_charge"])) mapped(kFrais, f, &frais);
    if (v->accepts_aptic_pass()) frais.push_back("pass-numerique");
    for (const auto& t : Split(raw["modalites_accompagnement"])) mapped(kTypes, t, &types);
    for (const char* field : {"publics_specifiquement_adresses", "prise_en_charge_specifique"}) {
      for (const auto& p : Split(raw[field])) mapped(Profils(), p, &profils);
    }
    Unique(frais);
    Unique(types);
    Unique(profils);
    if (!frais.empty()) s["frais"] = frais;
    if (!types.empty()) s["types"] = types;
    if (!profils.empty()) s["profils"] = profils;
    return s;
  }
}

// The document's opening, its venues' pieces separated as the format wants, and its closing.
class PieceExporter final : public Exporter {
 public:
  PieceExporter(std::string content_type, std::string begin, std::string separator, std::string end,
                std::function<std::optional<std::string>(const v1::Venue&)> piece)
      : content_type_(std::move(content_type)),
        begin_(std::move(begin)),
        separator_(std::move(separator)),
        end_(std::move(end)),
        piece_(std::move(piece)) {}
  std::string content_type() const override { return content_type_; }
  std::string Begin() override { return begin_; }
  std::string Add(const v1::Venue& v) override {
    std::optional<std::string> p = piece_(v);
    if (!p) return {};
    if (!first_) p->insert(0, separator_);
    first_ = false;
    return *std::move(p);
  }
  std::string End() override { return end_; }

 private:
  std::string content_type_, begin_, separator_, end_;
  std::function<std::optional<std::string>(const v1::Venue&)> piece_;
  bool first_ = true;
};

// Invalid bytes (none pass validation) are replaced rather than thrown on.
std::string Compact(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::unique_ptr<Exporter> NewExporter(const Standard& standard, v1::VenueExportFormat format) {
  const Standard* s = &standard;
  switch (format) {
    case v1::VENUE_EXPORT_FORMAT_UNSPECIFIED:
    case v1::NATIONAL_CSV:
      return std::make_unique<PieceExporter>(
          "text/csv; charset=utf-8", CsvHeader(standard), "", "",
          [s](const v1::Venue& v) { return std::optional<std::string>(CsvRow(*s, v)); });
    case v1::GEOJSON:
      return std::make_unique<PieceExporter>(
          "application/geo+json", "{\"type\":\"FeatureCollection\",\"features\":[", ",", "]}\n",
          [s](const v1::Venue& v) -> std::optional<std::string> {
            auto f = Feature(*s, v);
            if (!f) return std::nullopt;
            return Compact(*f);
          });
    case v1::DATA_INCLUSION_STRUCTURES:
      return std::make_unique<PieceExporter>(
          "application/json", "[\n", ",\n", "\n]\n", [s](const v1::Venue& v) {
            return std::optional<std::string>(Compact(Structure(*s, &v), 1));
          });
    case v1::DATA_INCLUSION_SERVICES:
      return std::make_unique<PieceExporter>(
          "application/json", "[\n", ",\n", "\n]\n", [s](const v1::Venue& v) {
            return std::optional<std::string>(Compact(Service(*s, &v), 1));
          });
    default:
      return nullptr;
  }
}

std::string WriteAll(Exporter& exporter, const std::vector<const v1::Venue*>& venues) {
  std::string out = exporter.Begin();
  for (const v1::Venue* v : venues) out += exporter.Add(*v);
  out += exporter.End();
  return out;
}

std::string WriteDataInclusionStructures(const Standard& standard,
                                         const std::vector<const v1::Venue*>& venues) {
  return WriteAll(*NewExporter(standard, v1::DATA_INCLUSION_STRUCTURES), venues);
}

std::string WriteDataInclusionServices(const Standard& standard,
                                       const std::vector<const v1::Venue*>& venues) {
  return WriteAll(*NewExporter(standard, v1::DATA_INCLUSION_SERVICES), venues);
}

}  // namespace passerelle::venues
