// National CSV and GeoJSON exchange.
#include "libs/standard/exchange.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "libs/csv/csv.hpp"
#include "libs/standard/opening_hours.hpp"
#include "libs/text/encoding.hpp"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::standard {

namespace v1 = ::passerelle::venues::v1;

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

// ---------------------------------------------------------------------------------------------
// What ANCT's library refuses. The national cartography reads files with
// `@gouvfr-anct/lieux-de-mediation-numerique` (`fromSchemaLieuDeMediationNumerique`), whose
// rules are stricter than the schema in a few places. A row that breaks one still lands here (it
// is valid under the standard) and is reported as a warning, so its producer can fix it before
// the cartography drops it. The rules below restate the library's (version 2.3.0, read in its
// published source); tests/interop/anct/verdicts.json records the library's own verdicts on our
// exported demo rows and on crafted cases, and standard_exchange_test checks that we agree.
namespace {

// Decodes valid UTF-8 (stored values are); an invalid byte reads as U+FFFD.
std::vector<char32_t> Decode(std::string_view s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

// JavaScript's `\s`.
bool IsJsSpace(char32_t c) {
  return c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D || c == 0x20 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

// The letters both address rules take: ASCII letters and digits, `À-Ö`, `Ø-ö`, `ø-ÿ`, `œ-Ÿ`, `Œ`.
bool IsAddressLetter(char32_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0xFF) ||
         (c >= 0x153 && c <= 0x178) || c == 0x152;
}

// The first code point of `value` outside the allowed set, as text; nullopt when all are in.
std::optional<std::string> FirstOutside(std::string_view value, std::u32string_view extra) {
  for (char32_t c : Decode(value)) {
    if (IsAddressLetter(c) || IsJsSpace(c) || extra.find(c) != std::u32string_view::npos) continue;
    std::string out;
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
    return out;
  }
  return std::nullopt;
}

// The library's ASCII patterns with bounded repetitions: std::regex answers them in
// microseconds on any value the standard lets through (at most 500 characters).
const std::regex& CodePostalRule() {
  static const auto* r = new std::regex(R"(^\d{5}$)");
  return *r;
}
const std::regex& CodeInseeRule() {
  static const auto* r = new std::regex(R"(^(?:[013-9]\d|2[AB1-9])(?:0?\d{3}|-\d-\d{2}-\d{3})$)");
  return *r;
}
const std::regex& TelephoneRule() {
  static const auto* r = new std::regex(
      R"(^(?:(?:\+|00)(?:33|262|269|508|590|594|596|681|687|689)[\s.-]{0,3}(?:\(0\)[\s.-]{0,3})?|0))"
      R"((?:(?:[1-9](?:[\s.-]?\d{2}){4}|\d{2}(?:[\s.-]\d{3}){2})|\d{6}|\s\d{3}(?:\s\d{2}){3})$)");
  return *r;
}
// The library's URL pattern,
//   ^[A-Za-z]{3,9}:(?://)?(?:[;:&=+$,\w-]+@)?[A-Za-z0-9.-]+
//    (?:(?:/[+~,%@/.\w_-]*)?\??[-+=&;%@.\w_]*#?[.!/\\\w]*)?$
// run as a set of states rather than by backtracking: std::regex took seconds on a hostile
// 500-character value; this is linear whatever the input (equivalence checked on 300,000 random
// strings against std::regex when it was written).
bool IsAnctUrl(std::string_view s) {
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  auto word = [&](char c) { return alpha(c) || (c >= '0' && c <= '9') || c == '_'; };
  auto in = [](char c, std::string_view set) { return set.find(c) != std::string_view::npos; };
  size_t i = 0;
  while (i < s.size() && alpha(s[i])) ++i;
  if (i < 3 || i > 9 || i >= s.size() || s[i] != ':') return false;
  ++i;
  enum : unsigned {
    kStart = 1,
    kSlash = 2,
    kPre = 4,
    kUser = 8,
    kHostStart = 16,
    kHost = 32,
    kT0 = 64,
    kPath = 128,
    kT1 = 256,
    kQuery = 512,
    kT2 = 1024,
    kFrag = 2048
  };
  auto closure = [](unsigned st) {
    if (st & kStart) st |= kPre;
    if (st & kHost) st |= kT0;
    if (st & (kT0 | kPath)) st |= kT1;
    if (st & kT1) st |= kQuery;
    if (st & kQuery) st |= kT2;
    if (st & kT2) st |= kFrag;
    return st;
  };
  unsigned st = closure(kStart);
  for (; i < s.size() && st != 0; ++i) {
    const char c = s[i];
    const bool user = word(c) || in(c, ";:&=+$,-");
    const bool host = alpha(c) || (c >= '0' && c <= '9') || in(c, ".-");
    unsigned next = 0;
    if ((st & kStart) && c == '/') next |= kSlash;
    if ((st & kSlash) && c == '/') next |= kPre;
    if ((st & kPre) && user) next |= kUser;
    if ((st & kPre) && host) next |= kHost;
    if ((st & kUser) && user) next |= kUser;
    if ((st & kUser) && c == '@') next |= kHostStart;
    if ((st & (kHostStart | kHost)) && host) next |= kHost;
    if ((st & kT0) && c == '/') next |= kPath;
    if ((st & kPath) && (word(c) || in(c, "+~,%@/.-"))) next |= kPath;
    if ((st & kT1) && c == '?') next |= kQuery;
    if ((st & kQuery) && (word(c) || in(c, "-+=&;%@."))) next |= kQuery;
    if ((st & kT2) && c == '#') next |= kFrag;
    if ((st & kFrag) && (word(c) || in(c, ".!/\\"))) next |= kFrag;
    st = closure(next);
  }
  return (st & (kHost | kT0 | kPath | kT1 | kQuery | kT2 | kFrag)) != 0;
}

const std::regex& RnaRule() {
  static const auto* r = new std::regex(R"(^W[a-zA-Z0-9]{9}$)");
  return *r;
}

// `typologie` values the library knows (data·inclusion's structure typologies of 2024).
const std::set<std::string>& AnctTypologies() {
  static const auto* s = new std::set<std::string>{
      "ACI",          "ACIPHC",       "AFPA",       "AI",         "ASE",
      "ASSO",         "ASSO_CHOMEUR", "Autre",      "AVIP",       "BIB",
      "CAARUD",       "CADA",         "CAF",        "CAP_EMPLOI", "CAVA",
      "CC",           "CCAS",         "CCONS",      "CD",         "CDAS",
      "CFP",          "CHRS",         "CHU",        "CIAS",       "CIDFF",
      "CITMET",       "CMP",          "CMS",        "CPAM",       "CPH",
      "CS",           "CSAPA",        "CSC",        "DEETS",      "DEPT",
      "DIPLP",        "E2C",          "EA",         "EATT",       "EI",
      "EITI",         "ENM",          "EPCI",       "EPI",        "EPIDE",
      "EPN",          "ES",           "ESAT",       "ESS",        "ETTI",
      "EVS",          "FABLAB",       "FABRIQUE",   "FAIS",       "FT",
      "GEIQ",         "HUDA",         "LA_POSTE",   "MDE",        "MDH",
      "MDEF",         "MDPH",         "MDS",        "MJC",        "ML",
      "MQ",           "MSA",          "MSAP",       "MUNI",       "OACAS",
      "ODC",          "OF",           "OIL",        "OPCS",       "PAD",
      "PENSION",      "PI",           "PIJ_BIJ",    "PIMMS",      "PJJ",
      "PLIE",         "PREF",         "PREVENTION", "REG",        "RELAIS_LECTURE",
      "RESSOURCERIE", "RFS",          "RS_FJT",     "SCP",        "SPIP",
      "TIERS_LIEUX",  "UDAF"};
  return *s;
}

}  // namespace

std::vector<Violation> AnctRefusals(const Record& record) {
  std::vector<Violation> out;
  auto first = [&](const char* field) -> std::string {
    auto it = record.find(field);
    return it == record.end() || it->second.empty() ? std::string() : it->second.front();
  };
  auto refuse = [&](const std::string& field, const std::string& value, const std::string& why) {
    out.push_back({field, text::Quote(value, 200), "anct",
                   absl::StrCat("la cartographie nationale refuserait ce lieu (bibliothèque de "
                                "l'ANCT) : ",
                                why)});
  };
  // In the library's order: the first refusal here is the error it throws.
  const std::string pivot = first("pivot");
  if (pivot.size() != 14 && !std::regex_match(pivot, RnaRule())) {
    refuse("pivot", pivot,
           "le pivot doit être un SIRET de 14 caractères ou un RNA (W et 9 caractères)");
  }
  const std::string voie = first("adresse");
  if (voie.empty()) {
    refuse("adresse", voie, "l'adresse est vide");
  } else if (auto bad = FirstOutside(voie, U"-,()°.&:+–|;'’/")) {
    refuse("adresse", voie,
           absl::StrCat("l'adresse contient « ", *bad,
                        " », hors des lettres, chiffres et signes -,()°.&:+–|;'’/ "
                        "qu'elle accepte"));
  }
  const std::string code_postal = first("code_postal");
  if (!std::regex_match(code_postal, CodePostalRule())) {
    refuse("code_postal", code_postal, "le code postal doit avoir 5 chiffres");
  }
  const std::string code_insee = first("code_insee");
  if (!code_insee.empty() && !std::regex_match(code_insee, CodeInseeRule())) {
    refuse("code_insee", code_insee, "le code INSEE n'a pas la forme d'un code de commune");
  }
  const std::string commune = first("commune");
  if (commune.empty()) {
    refuse("commune", commune, "la commune est vide");
  } else if (auto bad = FirstOutside(commune, U"-'’")) {
    refuse("commune", commune,
           absl::StrCat("la commune contient « ", *bad,
                        " », hors des lettres, chiffres, espaces, - et ' "
                        "qu'elle accepte"));
  }
  auto list = [&](const char* field) -> const std::vector<std::string>& {
    static const auto* empty = new std::vector<std::string>();
    auto it = record.find(field);
    return it == record.end() ? *empty : it->second;
  };
  for (const auto& t : list("typologie")) {
    if (!AnctTypologies().count(t)) {
      refuse("typologie", t,
             absl::StrCat("typologie « ", text::Quote(t, 40),
                          " » hors de la liste de data·inclusion"));
      break;
    }
  }
  const std::string telephone = first("telephone");
  if (!telephone.empty() && !std::regex_match(telephone, TelephoneRule())) {
    refuse("telephone", telephone, "le numéro n'a pas la forme d'un numéro français");
  }
  for (const auto& label : list("formations_labels")) {
    // The schema spells it without the space, the library with: neither reads the other's.
    if (label == "Étapes numériques(La Poste)") {
      refuse("formations_labels", label,
             "elle attend « Étapes numériques (La Poste) », avec une espace, alors que le "
             "schéma national l'écrit sans");
      break;
    }
  }
  // The enumerations it checks (services, publics, frais, modalités...) are the schema's own.
  for (const char* field : {"fiche_acces_libre", "prise_rdv"}) {
    const std::string url = first(field);
    if (!url.empty() && !IsAnctUrl(url)) {
      refuse(field, url, "l'adresse web contient des caractères que sa règle d'URL n'accepte pas");
    }
  }
  return out;
}

absl::StatusOr<ParsedFile> ParseNationalCsv(const Standard& standard, std::string_view text,
                                            const std::string& source) {
  // A spreadsheet saved in Windows-1252 or Latin-1 is read as such, as the sync reads it: not
  // half its rows stored and every row with an accent refused (tester 25, M8).
  auto decoded = text::DecodeFile(text);
  if (!decoded) {
    return absl::InvalidArgumentError(absl::StrCat("[encoding] ", text::kUtf16Refusal));
  }
  const char delimiter = csv::SniffDelimiter(decoded->utf8());
  auto table = csv::Parse(decoded->utf8(), delimiter);
  if (!table.ok()) return table.status();
  ParsedFile out;
  if (decoded->encoding() != text::Encoding::kUtf8) {
    out.normalisations.push_back(absl::StrCat("fichier lu en ",
                                              std::string(text::EncodingName(decoded->encoding())),
                                              " et converti en UTF-8"));
  }
  // Blank first lines are no header: said so, rather than "required columns missing" with an
  // empty list of unrecognised ones (tester 27, L5).
  // Blank as a spreadsheet shows it: spaces, tabs, form feeds and no-break spaces (tester 28).
  auto blank = [](std::string_view h) {
    while (!h.empty()) {
      if (h.starts_with("\xC2\xA0")) {
        h.remove_prefix(2);
      } else if (h.front() == ' ' || h.front() == '\t' || h.front() == '\f' || h.front() == '\v') {
        h.remove_prefix(1);
      } else {
        return false;
      }
    }
    return true;
  };
  if (std::all_of(table->header.begin(), table->header.end(), blank)) {
    return absl::InvalidArgumentError(
        "[header] la première ligne est vide : le fichier doit commencer par l'en-tête du "
        "standard national (id, pivot, nom, ...)");
  }
  // The header decides whether the file is one of the standard's at all: a header that is not
  // text, or that lacks a required column, fails the whole file before any row (otherwise
  // every row would be "required" errors, or a web page would read as a file without venues).
  for (size_t c = 0; c < table->header.size(); ++c) {
    const std::string& h = table->header[c];
    if (auto bad = text::FirstInvalidUtf8(h)) {
      return absl::InvalidArgumentError(absl::StrCat("[utf8] en-tête illisible : la colonne ",
                                                     c + 1, " n'est pas en UTF-8 (octet ", *bad + 1,
                                                     ") ; enregistrez le fichier en UTF-8"));
    }
    if (text::FirstControl(h) || h.size() > 200) {
      return absl::InvalidArgumentError(absl::StrCat("[header] en-tête illisible : colonne ", c + 1,
                                                     " « ", text::Quote(h, 40), " »"));
    }
  }
  const bool v01 = IsV01Header(table->header);
  std::vector<int> column_of;  // file column -> kept (0) or not a known field (-1)
  static const std::set<std::string> kV01Only = {
      "courriel",         "cle_ban",       "publics_accueillis", "conditions_acces",
      "labels_nationaux", "labels_autres", "accessibilite"};
  std::map<std::string, size_t> known_at;  // a known column -> its first position (from 1)
  for (size_t c = 0; c < table->header.size(); ++c) {
    const std::string& h = table->header[c];
    const bool known = standard.Find(h) != nullptr || (v01 && kV01Only.count(h));
    if (!known) out.ignored_columns.push_back(text::Quote(h, 80));
    column_of.push_back(known ? 0 : -1);
    // Two columns of one field: which one a row means is anybody's guess (tester 25, M6).
    if (known && !known_at.emplace(h, c + 1).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "[unique] en-tête ambigu : la colonne « ", text::Quote(h, 40), " » est nommée deux ",
          "fois (colonnes ", known_at[h], " et ", c + 1, ") ; gardez-en une"));
    }
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
        "[required] ce n'est pas un fichier du standard national des lieux de médiation "
        "numérique : "
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
    auto stored_id = v.record.find("id");
    if (stored_id != v.record.end() && !stored_id->second.empty()) {
      ReadOwnId(source, &stored_id->second.front());
    }
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
    for (auto& refusal : AnctRefusals(v.record)) {
      out.warnings.push_back({row.line, text::Quote(id, 200), std::move(refusal)});
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
  raw["id"] = QualifiedId(v);
  std::vector<std::string> cells;
  // Opened in a spreadsheet, a cell such as =HYPERLINK(…) must stay text (docs/venues.md).
  for (const auto& f : standard.fields()) cells.push_back(csv::NeutraliseFormula(raw[f.name]));
  return csv::Line(cells, ',', true);
}

// A located venue as a GeoJSON Feature; nullopt for a venue without coordinates.
std::optional<nlohmann::json> Feature(const Standard& standard, const v1::Venue& v) {
  // RFC 7946: a Point's position is [longitude, latitude], finite numbers in WGS 84 ranges
  // (validation stores nothing else; an older row that broke it is left out, not written null).
  if (!v.has_latitude() || !v.has_longitude() || !std::isfinite(v.latitude()) ||
      !std::isfinite(v.longitude()) || std::abs(v.latitude()) > 90 ||
      std::abs(v.longitude()) > 180) {
    return std::nullopt;
  }
  auto raw = RawFromProto(standard, v);
  raw["id"] = QualifiedId(v);
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

// data·inclusion, current revision (schema v1, data-inclusion-schema 1.0.8). The mappings
// follow data·inclusion's own reading of the national cartography's data (its pipeline's
// `_map_mediation_numerique__*` tables); docs/venues.md lists, value by value, where and why
// we differ.
const Vocabulary& ThematiquesV1() {
  static const auto* m = new Vocabulary{
      {"Aide aux démarches administratives",
       {"difficultes-administratives-ou-juridiques--accompagnement-aux-demarches-administratives",
        "numerique--acceder-a-des-services-en-ligne"}},
      {"Maîtrise des outils numériques du quotidien",
       {"numerique--maitriser-les-fondamentaux-du-numerique",
        "numerique--acceder-a-des-services-en-ligne"}},
      {"Insertion professionnelle via le numérique",
       {"preparer-sa-candidature--organiser-ses-demarches-de-recherche-demploi",
        "numerique--maitriser-les-fondamentaux-du-numerique"}},
      {"Utilisation sécurisée du numérique",
       {"numerique--maitriser-les-fondamentaux-du-numerique"}},
      {"Parentalité et éducation avec le numérique",
       {"famille--soutien-a-la-parentalite-et-a-leducation",
        "numerique--maitriser-les-fondamentaux-du-numerique"}},
      {"Loisirs et créations numériques",
       {"remobilisation--activites-sportives-et-culturelles",
        "numerique--maitriser-les-fondamentaux-du-numerique"}},
      {"Compréhension du monde numérique", {"numerique--maitriser-les-fondamentaux-du-numerique"}},
      {"Accès internet et matériel informatique",
       {"numerique--acceder-a-une-connexion-internet", "numerique--acquerir-un-equipement"}},
      {"Acquisition de matériel informatique à prix solidaire",
       {"numerique--acquerir-un-equipement"}}};
  return *m;
}

// Schema v0 (the previous revision, on request): the national cartography's exporter
// (`toSchemaDataInclusion` in ANCT's library), always with the parent thematique `numerique`.
const Vocabulary& ThematiquesV0() {
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
      // The exporter maps nothing here; a service about safe use is about digital culture.
      {"Utilisation sécurisée du numérique", {"numerique--approfondir-ma-culture-numerique"}},
      {"Parentalité et éducation avec le numérique",
       {"numerique--soutenir-la-parentalite-et-l-education-avec-le-numerique"}},
      {"Loisirs et créations numériques", {"numerique--creer-avec-le-numerique"}},
      {"Compréhension du monde numérique",
       {"numerique--approfondir-ma-culture-numerique",
        "numerique--promouvoir-la-citoyennete-numerique"}},
      {"Accès internet et matériel informatique",
       {"numerique--acceder-a-une-connexion-internet", "numerique--acceder-a-du-materiel"}},
      {"Acquisition de matériel informatique à prix solidaire",
       {"numerique--s-equiper-en-materiel-informatique"}}};
  return *m;
}

// dispositif_programmes_nationaux and formations_labels -> data·inclusion slugs. v1's
// `reseaux_porteurs` names the networks that carry a structure; v0's `labels_nationaux` the
// labels it holds. A value absent from a revision's enumeration is left out of that revision
// (v0: kept in `labels_autres`).
const std::map<std::string, std::string>& ReseauxPorteursV1() {
  static const auto* m = new std::map<std::string, std::string>{
      {"Aidants Connect", "aidants-connect"},
      {"Conseillers numériques", "conseillers-numeriques"},
      {"France Services", "france-service"},
      {"Grande école du numérique", "grandes-ecoles-du-numerique"},
      {"La Croix Rouge", "croix-rouge"},
      {"Emmaüs Connect", "emmaus"},
      {"Relais numérique (Emmaüs Connect)", "emmaus"},
      {"Fabriques de Territoire", "fabrique-de-territoire"}};
  return *m;
}

const std::map<std::string, std::string>& LabelsNationauxV0() {
  static const auto* m = new std::map<std::string, std::string>{
      {"Aidants Connect", "aidants-connect"},
      {"Conseillers numériques", "conseiller-numerique"},
      {"France Services", "france-service"},
      {"Grande école du numérique", "grandes-ecoles-du-numerique"},
      {"Point d'accès numérique CAF", "caf"},
      {"Emmaüs Connect", "emmaus"},
      {"Relais numérique (Emmaüs Connect)", "emmaus"},
      {"La Croix Rouge", "croix-rouge"},
      {"Fabriques de Territoire", "fabrique-de-territoire"}};
  return *m;
}

// v0 profils.
const std::map<std::string, std::string>& ProfilsV0() {
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

// v1 publics (Illettrisme has none: it stays in `publics_precisions`).
const std::map<std::string, std::string>& PublicsV1() {
  static const auto* m = new std::map<std::string, std::string>{
      {"Jeunes", "jeunes"},
      {"Étudiants", "etudiants"},
      {"Familles et/ou enfants", "familles"},
      {"Seniors", "seniors"},
      {"Femmes", "femmes"},
      {"Surdité", "personnes-en-situation-de-handicap"},
      {"Handicaps moteurs", "personnes-en-situation-de-handicap"},
      {"Handicaps mentaux", "personnes-en-situation-de-handicap"},
      {"Déficience visuelle", "personnes-en-situation-de-handicap"},
      {"Langues étrangères (anglais)", "personnes-exilees"},
      {"Langues étrangères (autres)", "personnes-exilees"}};
  return *m;
}

// v0 structure typologies (the standard's `typologie` values data·inclusion v0 knows).
const std::set<std::string>& TypologiesV0() {
  static const auto* s = new std::set<std::string>{
      "ACI",          "ACIPHC", "AFPA",     "AI",     "ASE",    "ASSO",        "ASSO_CHOMEUR",
      "Autre",        "AVIP",   "BIB",      "CAARUD", "CADA",   "CAF",         "CAP_EMPLOI",
      "CAVA",         "CC",     "CCAS",     "CCONS",  "CD",     "CDAS",        "CFP",
      "CHRS",         "CHU",    "CIAS",     "CIDFF",  "CITMET", "CMP",         "CMS",
      "CPAM",         "CPH",    "CS",       "CSAPA",  "CSC",    "DEETS",       "DEPT",
      "DIPLP",        "E2C",    "EA",       "EATT",   "EI",     "EITI",        "ENM",
      "EPCI",         "EPI",    "EPIDE",    "EPN",    "ES",     "ESS",         "ETABL_PRI",
      "ETABL_PUB",    "ETAT",   "ETTI",     "EVS",    "FABLAB", "FAIS",        "FT",
      "GEIQ",         "HUDA",   "LA_POSTE", "MDE",    "MDEF",   "MDPH",        "MDS",
      "MJC",          "ML",     "MQ",       "MSA",    "MSAP",   "MUNI",        "OACAS",
      "ODC",          "OF",     "OIL",      "OPCS",   "PAD",    "PENSION",     "PI",
      "PIJ_BIJ",      "PIMMS",  "PJJ",      "PLIE",   "PREF",   "PREVENTION",  "REG",
      "RESSOURCERIE", "RFS",    "RS_FJT",   "SCP",    "SPIP",   "TIERS_LIEUX", "UDAF"};
  return *s;
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

bool Has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::vector<std::string> ThematiquesOf(const Vocabulary& vocabulary,
                                       const std::map<std::string, std::string>& raw,
                                       bool with_parent) {
  std::vector<std::string> out;
  if (with_parent) out.push_back("numerique");
  for (const auto& s : Split(raw.at("services"))) {
    auto it = vocabulary.find(s);
    if (it != vocabulary.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  Unique(out);
  return out;
}

void Put(nlohmann::json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

// What both revisions share: `source` (the standard's `source`, the producer's collecting
// structure, or else the registry's source of the venue: never empty), the qualified id, the
// date, the address and the point.
struct Common {
  std::map<std::string, std::string> raw;
  std::string id, source, date_maj;
};

Common CommonOf(const Standard& standard, const v1::Venue& v) {
  Common c;
  c.raw = RawFromProto(standard, v);
  c.id = QualifiedId(v);
  c.source = !c.raw["source"].empty()           ? c.raw["source"]
             : !v.provenance().source().empty() ? v.provenance().source()
                                                : std::string("passerelle");
  c.date_maj = c.raw["date_maj"];
  if (c.date_maj.empty() && v.has_update_time()) {
    c.date_maj = absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(v.update_time().seconds()),
                                  absl::UTCTimeZone());
  }
  return c;
}

void PutPlace(nlohmann::json& j, const Common& c, const v1::Venue& v) {
  Put(j, "adresse", c.raw.at("adresse"));
  Put(j, "complement_adresse", c.raw.at("complement_adresse"));
  Put(j, "code_postal", c.raw.at("code_postal"));
  Put(j, "code_insee", c.raw.at("code_insee"));
  Put(j, "commune", c.raw.at("commune"));
  if (v.has_latitude() && v.has_longitude() && std::isfinite(v.latitude()) &&
      std::isfinite(v.longitude())) {
    j["latitude"] = v.latitude();
    j["longitude"] = v.longitude();
  }
}

// A SIRET as data·inclusion takes it: 14 digits, not the placeholder of zeros.
std::string SiretOf(const std::string& pivot) {
  if (pivot.size() != 14 || pivot == "00000000000000") return "";
  for (char ch : pivot) {
    if (ch < '0' || ch > '9') return "";
  }
  return pivot;
}

// An RNA number: W and 9 digits (an association without SIRET). Never a SIRET.
std::string RnaOf(const std::string& pivot) {
  if (pivot.size() != 10 || pivot[0] != 'W') return "";
  for (size_t i = 1; i < pivot.size(); ++i) {
    if (pivot[i] < '0' || pivot[i] > '9') return "";
  }
  return pivot;
}

// A text of at least 5 code points cut to `max`, or "" (data·inclusion's description bounds).
std::string Description(const std::map<std::string, std::string>& raw, size_t max) {
  for (const char* field : {"presentation_detail", "presentation_resume"}) {
    const std::string& t = raw.at(field);
    if (text::CodePoints(t) >= 5) return text::Ellipsize(t, max);
  }
  return "";
}

}  // namespace

void ReadOwnId(std::string_view source, std::string* id) {
  if (id->size() > source.size() + 1 && id->starts_with(source) && (*id)[source.size()] == ':') {
    id->erase(0, source.size() + 1);
  }
}

std::string QualifiedId(const v1::Venue& v) {
  const std::string& source = v.provenance().source();
  return source.empty() ? v.id() : absl::StrCat(source, ":", v.id());
}

namespace {

nlohmann::json StructureV1(const Standard& standard, const v1::Venue& v) {
  Common c = CommonOf(standard, v);
  auto& raw = c.raw;
  nlohmann::json s{{"source", c.source},
                   {"id", c.id},
                   {"nom", text::Ellipsize(raw["nom"], 150)},
                   {"date_maj", c.date_maj}};
  Put(s, "siret", SiretOf(raw["pivot"]));
  PutPlace(s, c, v);
  Put(s, "telephone", raw["telephone"]);
  if (v.courriels_size() > 0) s["courriel"] = v.courriels(0);
  if (v.site_web_size() > 0) s["site_web"] = v.site_web(0);
  Put(s, "description", Description(raw, 10000));
  Put(s, "horaires_accueil", raw["horaires"]);
  Put(s, "accessibilite_lieu", raw["fiche_acces_libre"]);
  std::vector<std::string> reseaux;
  for (const char* field : {"dispositif_programmes_nationaux", "formations_labels"}) {
    for (const auto& d : Split(raw[field])) {
      if (auto it = ReseauxPorteursV1().find(d); it != ReseauxPorteursV1().end())
        reseaux.push_back(it->second);
    }
  }
  Unique(reseaux);
  std::sort(reseaux.begin(), reseaux.end());
  if (!reseaux.empty()) s["reseaux_porteurs"] = reseaux;
  return s;
}

nlohmann::json ServiceV1(const Standard& standard, const v1::Venue& v) {
  Common c = CommonOf(standard, v);
  auto& raw = c.raw;
  std::string description = Description(raw, 10000);
  if (description.empty()) {
    // Required: the services offered, as data·inclusion writes them when there is no text.
    description = absl::StrJoin(Split(raw["services"]), ", ");
    if (text::CodePoints(description) < 5) description = "Accompagnement au numérique";
  }
  nlohmann::json s{{"source", c.source},
                   {"id", c.id + "-mediation-numerique"},
                   {"structure_id", c.id},
                   {"nom", "Médiation numérique"},
                   {"description", text::Ellipsize(description, 10000)},
                   {"date_maj", c.date_maj}};
  PutPlace(s, c, v);
  const auto modalites = Split(raw["modalites_accompagnement"]);
  // One type: lending equipment first, then workshops, then individual support.
  if (Has(modalites, "En autonomie")) {
    s["type"] = "aide-materielle";
  } else if (Has(modalites, "Dans un atelier collectif")) {
    s["type"] = "atelier";
  } else {
    s["type"] = "accompagnement";
  }
  auto thematiques = ThematiquesOf(ThematiquesV1(), raw, /*with_parent=*/false);
  if (thematiques.empty())
    thematiques.push_back("numerique--maitriser-les-fondamentaux-du-numerique");
  std::sort(thematiques.begin(), thematiques.end());
  s["thematiques"] = thematiques;
  // One value: free when any access is free (with or without conditions).
  const auto frais = Split(raw["frais_a_charge"]);
  if (Has(frais, "Gratuit") || Has(frais, "Gratuit sous condition")) {
    s["frais"] = "gratuit";
  } else if (Has(frais, "Payant")) {
    s["frais"] = "payant";
  }
  std::vector<std::string> publics, precisions;
  for (const char* field : {"publics_specifiquement_adresses", "prise_en_charge_specifique"}) {
    for (const auto& p : Split(raw[field])) {
      precisions.push_back(p);
      if (auto it = PublicsV1().find(p); it != PublicsV1().end()) publics.push_back(it->second);
    }
  }
  Unique(publics);
  std::sort(publics.begin(), publics.end());
  if (publics.empty()) publics.push_back("tous-publics");  // never beside another value
  s["publics"] = publics;
  if (!precisions.empty()) s["publics_precisions"] = absl::StrJoin(precisions, ", ");
  Put(s, "telephone", raw["telephone"]);
  if (v.courriels_size() > 0) s["courriel"] = v.courriels(0);
  static const std::map<std::string, std::string> kMobilisation = {
      {"Contacter par mail", "envoyer-un-courriel"},
      {"Envoyer un mail avec une fiche de prescription", "envoyer-un-courriel"},
      {"Prendre un RDV en ligne", "utiliser-lien-mobilisation"},
      {"Se présenter", "se-presenter"},
      {"Téléphoner", "telephoner"}};
  std::vector<std::string> modes;
  for (const auto& m : Split(raw["modalites_acces"])) {
    auto it = kMobilisation.find(m);
    // An online appointment needs the link it names.
    if (it != kMobilisation.end() &&
        (it->second != "utiliser-lien-mobilisation" || !raw["prise_rdv"].empty()))
      modes.push_back(it->second);
  }
  if (modes.empty()) {
    if (!raw["telephone"].empty()) modes.push_back("telephoner");
    if (v.courriels_size() > 0) modes.push_back("envoyer-un-courriel");
    if (!raw["prise_rdv"].empty()) modes.push_back("utiliser-lien-mobilisation");
  }
  Unique(modes);
  std::sort(modes.begin(), modes.end());
  if (!modes.empty()) s["modes_mobilisation"] = modes;
  Put(s, "lien_mobilisation", raw["prise_rdv"]);
  s["mobilisable_par"] = {"usagers", "professionnels"};
  // Remote only when the venue says so; in person unless its only modality is remote.
  std::vector<std::string> accueil;
  if (Has(modalites, "À distance")) accueil.push_back("a-distance");
  if (modalites.empty() || !(modalites.size() == 1 && modalites[0] == "À distance"))
    accueil.push_back("en-presentiel");
  s["modes_accueil"] = accueil;
  Put(s, "horaires_accueil", raw["horaires"]);
  return s;
}

nlohmann::json StructureV0(const Standard& standard, const v1::Venue& v) {
  Common c = CommonOf(standard, v);
  auto& raw = c.raw;
  nlohmann::json s{{"source", c.source},
                   {"id", c.id},
                   {"nom", text::Ellipsize(raw["nom"], 150)},
                   {"date_maj", c.date_maj},
                   {"thematiques", ThematiquesOf(ThematiquesV0(), raw, /*with_parent=*/true)}};
  Put(s, "siret", SiretOf(raw["pivot"]));
  Put(s, "rna", RnaOf(raw["pivot"]));
  PutPlace(s, c, v);
  for (int i = 0; i < v.typologie_size(); ++i) {
    if (TypologiesV0().count(v.typologie(i))) {
      s["typologie"] = v.typologie(i);
      break;
    }
  }
  Put(s, "telephone", raw["telephone"]);
  if (v.courriels_size() > 0) s["courriel"] = v.courriels(0);
  if (v.site_web_size() > 0) s["site_web"] = v.site_web(0);
  // data·inclusion's limit is 280 characters: cut on code points, never inside one.
  Put(s, "presentation_resume", text::Ellipsize(raw["presentation_resume"], 280));
  Put(s, "presentation_detail", raw["presentation_detail"]);
  Put(s, "structure_parente", raw["structure_parente"]);
  Put(s, "horaires_ouverture", raw["horaires"]);
  Put(s, "accessibilite", raw["fiche_acces_libre"]);
  std::vector<std::string> nationaux, autres;
  for (const char* field : {"dispositif_programmes_nationaux", "formations_labels"}) {
    for (const auto& d : Split(raw[field])) {
      auto it = LabelsNationauxV0().find(d);
      if (it != LabelsNationauxV0().end()) {
        nationaux.push_back(it->second);
      } else {
        autres.push_back(d);
      }
    }
  }
  if (v.accepts_aptic_pass()) nationaux.push_back("aptic");
  if (!raw["autres_formations_labels"].empty()) autres.push_back(raw["autres_formations_labels"]);
  Unique(nationaux);
  Unique(autres);
  if (!nationaux.empty()) s["labels_nationaux"] = nationaux;
  if (!autres.empty()) s["labels_autres"] = autres;
  return s;
}

nlohmann::json ServiceV0(const Standard& standard, const v1::Venue& v) {
  static const std::map<std::string, std::string> kFrais = {
      {"Gratuit", "gratuit"},
      {"Gratuit sous condition", "gratuit-sous-conditions"},
      {"Payant", "payant"}};
  static const std::map<std::string, std::string> kTypes = {
      {"En autonomie", "autonomie"},
      {"Accompagnement individuel", "accompagnement"},
      {"Dans un atelier collectif", "atelier"},
      {"À distance", "accompagnement"}};
  static const std::map<std::string, std::string> kBeneficiaire = {
      {"Contacter par mail", "envoyer-un-mail"},
      {"Se présenter", "se-presenter"},
      {"Téléphoner", "telephoner"},
      {"Prendre un RDV en ligne", "prendre-rdv"}};
  static const std::map<std::string, std::string> kAccompagnateur = {
      {"Contacter par mail", "envoyer-un-mail"},
      {"Envoyer un mail avec une fiche de prescription",
       "envoyer-un-mail-avec-une-fiche-de-prescription"},
      {"Téléphoner", "telephoner"},
      {"Prendre un RDV en ligne", "prendre-rdv"}};
  Common c = CommonOf(standard, v);
  auto& raw = c.raw;
  nlohmann::json s{{"source", c.source},
                   {"id", c.id + "-mediation-numerique"},
                   {"structure_id", c.id},
                   {"nom", "Médiation numérique"},
                   {"date_maj", c.date_maj},
                   {"thematiques", ThematiquesOf(ThematiquesV0(), raw, /*with_parent=*/true)}};
  PutPlace(s, c, v);
  Put(s, "prise_rdv", raw["prise_rdv"]);
  Put(s, "presentation_resume", text::Ellipsize(raw["presentation_resume"], 280));
  // A value without a data·inclusion counterpart is left out: one venue never fails an export.
  auto mapped = [](const std::map<std::string, std::string>& m, const std::string& value,
                   std::vector<std::string>* out) {
    if (auto it = m.find(value); it != m.end()) out->push_back(it->second);
  };
  std::vector<std::string> frais, types, profils, beneficiaire, accompagnateur, accueil;
  for (const auto& f : Split(raw["frais_a_charge"])) mapped(kFrais, f, &frais);
  if (v.accepts_aptic_pass()) frais.push_back("pass-numerique");
  const auto modalites = Split(raw["modalites_accompagnement"]);
  for (const auto& t : modalites) mapped(kTypes, t, &types);
  for (const char* field : {"publics_specifiquement_adresses", "prise_en_charge_specifique"}) {
    for (const auto& p : Split(raw[field])) mapped(ProfilsV0(), p, &profils);
  }
  for (const auto& m : Split(raw["modalites_acces"])) {
    mapped(kBeneficiaire, m, &beneficiaire);
    mapped(kAccompagnateur, m, &accompagnateur);
  }
  if (Has(modalites, "À distance")) accueil.push_back("a-distance");
  if (modalites.empty() || !(modalites.size() == 1 && modalites[0] == "À distance"))
    accueil.push_back("en-presentiel");
  for (auto* list : {&frais, &types, &profils, &beneficiaire, &accompagnateur}) Unique(*list);
  if (!frais.empty()) s["frais"] = frais;
  if (!types.empty()) s["types"] = types;
  if (!profils.empty()) s["profils"] = profils;
  s["modes_accueil"] = accueil;
  if (!beneficiaire.empty()) s["modes_orientation_beneficiaire"] = beneficiaire;
  if (!accompagnateur.empty()) s["modes_orientation_accompagnateur"] = accompagnateur;
  Put(s, "telephone", raw["telephone"]);
  if (v.courriels_size() > 0) s["courriel"] = v.courriels(0);
  Put(s, "recurrence", raw["horaires"]);
  return s;
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

std::unique_ptr<Exporter> NewExporter(const Standard& standard, v1::VenueExportFormat format,
                                      v1::DataInclusionSchema schema) {
  const Standard* s = &standard;
  using Mapping = nlohmann::json (*)(const Standard&, const v1::Venue&);
  Mapping structure = nullptr, service = nullptr;
  switch (schema) {
    case v1::DATA_INCLUSION_SCHEMA_UNSPECIFIED:
    case v1::DATA_INCLUSION_SCHEMA_V1:
      structure = StructureV1;
      service = ServiceV1;
      break;
    case v1::DATA_INCLUSION_SCHEMA_V0:
      structure = StructureV0;
      service = ServiceV0;
      break;
    default:
      return nullptr;
  }
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
          "application/json", "[\n", ",\n", "\n]\n", [s, structure](const v1::Venue& v) {
            return std::optional<std::string>(Compact(structure(*s, v), 1));
          });
    case v1::DATA_INCLUSION_SERVICES:
      return std::make_unique<PieceExporter>(
          "application/json", "[\n", ",\n", "\n]\n", [s, service](const v1::Venue& v) {
            return std::optional<std::string>(Compact(service(*s, v), 1));
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

}  // namespace passerelle::standard
