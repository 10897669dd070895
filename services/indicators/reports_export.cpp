#include "services/indicators/reports_export.hpp"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/csv/csv.hpp"

namespace passerelle::indicators::reports {
namespace {

std::string KindCode(v1::OutcomeCount::Kind kind) {
  switch (kind) {
    case v1::OutcomeCount::TRAINING:
      return "formation";
    case v1::OutcomeCount::JOB:
      return "emploi";
    case v1::OutcomeCount::CERTIFICATION:
      return "certification";
    case v1::OutcomeCount::OTHER:
      return "autre";
    default:
      return "";
  }
}

}  // namespace

std::string ActivityReportsCsvHeader() {
  return csv::Line({"rapport",
                    "revision",
                    "etat",
                    "organisation",
                    "action",
                    "debut",
                    "fin",
                    "lieux",
                    "services",
                    "seances",
                    "actions_correctives",
                    "mesure",
                    "categorie",
                    "detail",
                    "competences_min",
                    "femme",
                    "homme",
                    "autre",
                    "non_communique",
                    "cible",
                    "atteint"});
}

std::string ActivityReportCsvLines(const v1::ActivityReport& r) {
  const std::vector<std::string> head = {
      csv::NeutraliseFormula(r.name()),
      absl::StrCat(r.revision()),
      r.state() == v1::ActivityReport::WITHDRAWN ? "retire" : "soumis",
      csv::NeutraliseFormula(r.organisation()),
      csv::NeutraliseFormula(r.action()),
      csv::NeutraliseFormula(r.period_start()),
      csv::NeutraliseFormula(r.period_end()),
      csv::NeutraliseFormula(absl::StrJoin(r.venues(), " ")),
      csv::NeutraliseFormula(absl::StrJoin(r.items(), " ")),
      absl::StrCat(r.sessions()),
      absl::StrCat(r.corrective_actions())};
  std::string out;
  auto line = [&](std::string_view measure, std::string_view category, std::string_view detail,
                  std::string competences, const v1::SexSplit* s, std::string target,
                  std::string reached) {
    std::vector<std::string> fields = head;
    fields.push_back(std::string(measure));
    fields.push_back(csv::NeutraliseFormula(category));
    fields.push_back(csv::NeutraliseFormula(detail));
    fields.push_back(std::move(competences));
    for (int v : {s ? s->femme() : -1, s ? s->homme() : -1, s ? s->autre() : -1,
                  s ? s->non_communique() : -1}) {
      fields.push_back(v < 0 ? std::string() : absl::StrCat(v));
    }
    fields.push_back(std::move(target));
    fields.push_back(std::move(reached));
    out += csv::Line(fields);
  };
  auto split = [&](std::string_view measure, const v1::SexSplit& s) {
    line(measure, "", "", "", &s, "", "");
  };
  split("beneficiaires", r.beneficiaries_total());
  for (const auto& a : r.beneficiaries_by_age())
    line("age", a.age_band(), "", "", &a.count(), "", "");
  split("premiere_venue", r.first_time());
  split("retour", r.returning());
  split("residents_qpv", r.qpv_residents());
  split("autres_residents", r.other_residents());
  split("acheve", r.completed());
  for (const auto& d : r.dropouts()) line("abandon", d.reason(), "", "", &d.count(), "", "");
  split("en_cours", r.in_progress());
  for (const auto& o : r.outcomes()) {
    line("sortie", KindCode(o.kind()), o.detail(),
         o.min_competences() > 0 ? absl::StrCat(o.min_competences()) : "", &o.count(), "", "");
  }
  split("sortie_positive", r.positive_outcome());
  split("repondants_satisfaction", r.satisfaction_respondents());
  split("satisfaits", r.satisfied());
  for (const auto& t : r.targets()) {
    line("objectif", t.description(), "", "", nullptr, absl::StrCat(t.target()),
         absl::StrCat(t.reached()));
  }
  return out;
}

}  // namespace passerelle::indicators::reports
