// Exports of a nomenclature version.
#include "services/referential/exports.hpp"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/csv/csv.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::referential {
namespace {

// One cell, quoted when needed; a cell a spreadsheet would run as a formula (=HYPERLINK(...),
// @SUM...) gets the venues export's leading apostrophe (docs/venues.md "Exports").
std::string Csv(const std::string& v) { return csv::Quote(csv::NeutraliseFormula(v)); }

// A Turtle string literal with a language tag.
std::string Lit(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out + "\"@fr";
}

std::string Plain(const std::string& v) { return Lit(v).substr(0, Lit(v).size() - 3); }

nlohmann::json ItemJson(const ItemNode& i) {
  return {{"id", i.id},
          {"code", i.code},
          {"label", i.label},
          {"plain_label", i.plain_label},
          {"description", i.description},
          {"keywords", i.keywords},
          {"services", i.services},
          {"thematiques", i.thematiques},
          {"pix", i.pix_competences},
          {"retired", i.retired}};
}

}  // namespace

std::string ExportJson(const VersionTree& t) {
  nlohmann::json doc{{"nomenclature", t.nomenclature},
                     {"version", t.version},
                     {"title", t.title},
                     {"source", t.source},
                     {"state", VersionStateName(t.state)},
                     {"base_version", t.base_version},
                     {"item_count", t.ActiveItemCount()}};
  nlohmann::json levels = nlohmann::json::array();
  for (const auto& l : t.levels) {
    nlohmann::json cats = nlohmann::json::array();
    for (const auto& c : l.categories) {
      nlohmann::json items = nlohmann::json::array();
      for (const auto& id : c.item_ids) items.push_back(ItemJson(t.items.at(id)));
      cats.push_back({{"code", c.code}, {"label", c.label}, {"items", items}});
    }
    levels.push_back({{"code", l.code},
                      {"label", l.label},
                      {"aptic_theme", l.aptic_theme},
                      {"categories", cats}});
  }
  doc["levels"] = levels;
  nlohmann::json retired = nlohmann::json::array();
  for (const auto& [id, i] : t.items) {
    if (i.retired) retired.push_back(ItemJson(i));
  }
  doc["retired_items"] = retired;
  return doc.dump(1) + "\n";
}

std::string ExportCsv(const VersionTree& t) {
  std::string out =
      "id,code,level_code,level_label,category_code,category_label,label,plain_label,keywords,"
      "services,thematiques,pix_competences,retired\r\n";
  auto row = [&](const ItemNode& i, const std::string& level_label, const std::string& cat_label) {
    absl::StrAppend(
        &out, Csv(i.id), ",", Csv(i.code), ",", Csv(i.level_code), ",", Csv(level_label), ",",
        Csv(i.category_code), ",", Csv(cat_label), ",", Csv(i.label), ",", Csv(i.plain_label), ",",
        Csv(absl::StrJoin(i.keywords, "|")), ",", Csv(absl::StrJoin(i.services, "|")), ",",
        Csv(absl::StrJoin(i.thematiques, "|")), ",", Csv(absl::StrJoin(i.pix_competences, "|")),
        ",", i.retired ? "true" : "false", "\r\n");
  };
  for (const auto& l : t.levels) {
    for (const auto& c : l.categories) {
      for (const auto& id : c.item_ids) row(t.items.at(id), l.label, c.label);
    }
  }
  for (const auto& [id, i] : t.items) {
    if (i.retired) row(i, "", "");
  }
  return out;
}

std::string ExportSkosTurtle(const VersionTree& t, const std::string& base_uri) {
  // Concept URIs are `<base><nomenclature>/<key>` with a key minted once and never given to
  // another concept (docs/referential.md "SKOS"): items `it-…`, categories `cat-…`, levels
  // `level-…`, all kept across versions. A node stored without a key gets a URI of its own
  // version (`…-<version>`), which no later version can reuse either.
  const std::string scheme = absl::StrCat("<", base_uri, t.nomenclature, "/", t.version, ">");
  auto concept_uri = [&](const std::string& local) {
    return absl::StrCat("<", base_uri, t.nomenclature, "/", local, ">");
  };
  auto level_uri = [&](const LevelNode& l) {
    return concept_uri(l.key.empty() ? absl::StrCat("level-", l.code, "-", t.version) : l.key);
  };
  auto category_uri = [&](const CategoryNode& c) {
    return concept_uri(c.key.empty() ? absl::StrCat("category-", c.code, "-", t.version) : c.key);
  };
  // Notations are unique in the scheme: item numbers and level numbers would collide
  // ("1"), so levels are written `N<code>` (niveau); categories (`1.2`) and items (`A`, `12`)
  // as coded. A notation seen twice anyway is left out the second time rather than repeated.
  std::set<std::string> notations;
  auto notation = [&](const std::string& n) -> std::string {
    if (n.empty() || !notations.insert(n).second) return "";
    return absl::StrCat(" ;\n  skos:notation ", Plain(n));
  };
  std::string out = absl::StrCat(
      "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
      "@prefix dct: <http://purl.org/dc/terms/> .\n"
      "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n\n",
      scheme, " a skos:ConceptScheme ;\n  skos:prefLabel ", Lit(t.title), " ;\n  dct:source ",
      Lit(t.source), " ;\n  owl:versionInfo ", Plain(t.version));
  for (const auto& l : t.levels) absl::StrAppend(&out, " ;\n  skos:hasTopConcept ", level_uri(l));
  absl::StrAppend(&out, " .\n\n");
  for (const auto& l : t.levels) {
    const std::string luri = level_uri(l);
    absl::StrAppend(&out, luri, " a skos:Concept ;\n  skos:inScheme ", scheme,
                    " ;\n  skos:topConceptOf ", scheme, notation("N" + l.code),
                    " ;\n  skos:prefLabel ", Lit(l.label));
    if (!l.aptic_theme.empty()) absl::StrAppend(&out, " ;\n  skos:scopeNote ", Lit(l.aptic_theme));
    for (const auto& c : l.categories)
      absl::StrAppend(&out, " ;\n  skos:narrower ", category_uri(c));
    absl::StrAppend(&out, " .\n\n");
    for (const auto& c : l.categories) {
      const std::string curi = category_uri(c);
      absl::StrAppend(&out, curi, " a skos:Concept ;\n  skos:inScheme ", scheme,
                      " ;\n  skos:broader ", luri, notation(c.code), " ;\n  skos:prefLabel ",
                      Lit(c.label));
      for (const auto& id : c.item_ids) {
        absl::StrAppend(&out, " ;\n  skos:narrower ", concept_uri(t.items.at(id).id));
      }
      absl::StrAppend(&out, " .\n\n");
      for (const auto& id : c.item_ids) {
        const ItemNode& i = t.items.at(id);
        absl::StrAppend(&out, concept_uri(i.id), " a skos:Concept ;\n  skos:inScheme ", scheme,
                        " ;\n  skos:broader ", curi, notation(i.code), " ;\n  skos:prefLabel ",
                        Lit(i.label));
        if (!i.plain_label.empty())
          absl::StrAppend(&out, " ;\n  skos:altLabel ", Lit(i.plain_label));
        for (const auto& k : i.keywords) absl::StrAppend(&out, " ;\n  skos:hiddenLabel ", Lit(k));
        if (!i.description.empty())
          absl::StrAppend(&out, " ;\n  skos:definition ", Lit(i.description));
        absl::StrAppend(&out, " .\n\n");
      }
    }
  }
  for (const auto& [id, i] : t.items) {
    if (!i.retired) continue;
    absl::StrAppend(&out, concept_uri(i.id), " a skos:Concept ;\n  skos:inScheme ", scheme,
                    " ;\n  skos:prefLabel ", Lit(i.label), " ;\n  owl:deprecated true .\n\n");
  }
  return out;
}

}  // namespace passerelle::referential
