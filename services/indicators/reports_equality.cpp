#include "services/indicators/reports_equality.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "libs/csv/csv.hpp"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"
#include "services/indicators/reports_validation.hpp"

namespace passerelle::indicators::reports {

absl::StatusOr<EqualityGrid> EqualityGrid::Parse(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("questions") || !j.contains("steps") ||
      !j["questions"].is_array() || !j["steps"].is_array()) {
    return absl::InternalError("equality grid: questions and steps expected");
  }
  EqualityGrid grid;
  for (const auto& q : j["questions"]) {
    if (!q.is_object() || !q.value("section", nlohmann::json()).is_string() ||
        !q.value("n", nlohmann::json()).is_number_integer() ||
        !q.value("text", nlohmann::json()).is_string()) {
      return absl::InternalError("equality grid: a question lacks section, n or text");
    }
    grid.questions.push_back({absl::StrCat(q["section"].get<std::string>(), "-", q["n"].get<int>()),
                              q["text"].get<std::string>()});
  }
  for (const auto& s : j["steps"]) {
    if (!s.is_string()) return absl::InternalError("equality grid: a step is not a string");
    grid.steps.push_back(s.get<std::string>());
  }
  if (grid.questions.empty() || grid.steps.empty()) {
    return absl::InternalError("equality grid: no question or no step");
  }
  return grid;
}

std::string EqualityGrid::TextOf(std::string_view question) const {
  for (const auto& q : questions) {
    if (q.id == question) return q.text;
  }
  return "";
}

std::vector<api::FieldViolation> EqualityGrid::Validate(const v1::EqualityAssessment& a,
                                                        absl::CivilDay today,
                                                        std::string_view prefix) const {
  std::vector<api::FieldViolation> bad;
  auto field = [&](std::string_view path) {
    return absl::StrCat(std::string(prefix), ".", std::string(path));
  };
  if (a.organisation().empty()) {
    bad.push_back(
        {field("organisation"), "[required] obligatoire : l'identifiant de l'organisation"});
  } else if (!IsOrganisationId(a.organisation())) {
    bad.push_back(
        {field("organisation"), absl::StrCat("[pattern] un identifiant d'organisation ; reçu ",
                                             text::Quote(a.organisation(), 40))});
  }
  if (a.action().empty()) {
    bad.push_back({field("action"), "[required] obligatoire"});
  } else {
    api::CheckText(&bad, field("action"), a.action(), kMaxTitle);
  }
  const auto day = ParseDay(a.assess_date());
  if (!day) {
    bad.push_back({field("assess_date"), absl::StrCat("[date] une date AAAA-MM-JJ, reçu ",
                                                      text::Quote(a.assess_date(), 20))});
  } else if (*day > today) {
    bad.push_back({field("assess_date"), "[future] la date ne peut pas être après aujourd'hui"});
  }
  // Answers: each of the grid's questions once.
  if (a.answers_size() > static_cast<int>(questions.size())) {
    bad.push_back({field("answers"), absl::StrCat("[size] ", questions.size(),
                                                  " réponses attendues, reçu ", a.answers_size())});
  } else {
    std::set<std::string> seen;
    for (int i = 0; i < a.answers_size(); ++i) {
      const auto& ans = a.answers(i);
      const std::string path = absl::StrCat("answers[", i, "]");
      if (TextOf(ans.question()).empty()) {
        bad.push_back({field(path + ".question"),
                       absl::StrCat("[enum] une question de la grille (diagnostic-1…"
                                    "communication-2) ; reçu ",
                                    text::Quote(ans.question(), 40))});
      } else if (!seen.insert(ans.question()).second) {
        bad.push_back({field(path + ".question"), "[unique] cette question a déjà une réponse"});
      }
      if (ans.answer() == v1::QuestionAnswer::ANSWER_UNSPECIFIED ||
          !v1::QuestionAnswer::Answer_IsValid(ans.answer())) {
        bad.push_back(
            {field(path + ".answer"), absl::StrCat("[enum] YES, NO ou NOT_APPLICABLE ; reçu ",
                                                   static_cast<int>(ans.answer()))});
      }
    }
    for (const auto& q : questions) {
      if (!seen.contains(q.id)) {
        bad.push_back({field("answers"),
                       absl::StrCat("[required] la question ", q.id, " n'a pas de réponse")});
      }
    }
  }
  // Steps: each once, scored 0–3.
  if (a.steps_size() > static_cast<int>(steps.size())) {
    bad.push_back({field("steps"), absl::StrCat("[size] ", steps.size(), " étapes attendues, reçu ",
                                                a.steps_size())});
  } else {
    std::set<std::string> seen;
    for (int i = 0; i < a.steps_size(); ++i) {
      const auto& s = a.steps(i);
      const std::string path = absl::StrCat("steps[", i, "]");
      if (std::find(steps.begin(), steps.end(), s.step()) == steps.end()) {
        bad.push_back({field(path + ".step"),
                       absl::StrCat("[enum] une étape de la grille (theme, nom, diagnostic, "
                                    "objectifs, contenu, mobilisation_du_public, "
                                    "indicateurs_d_evaluation, suivi) ; reçu ",
                                    text::Quote(s.step(), 40))});
      } else if (!seen.insert(s.step()).second) {
        bad.push_back({field(path + ".step"), "[unique] cette étape a déjà une note"});
      }
      if (s.score() < 0 || s.score() > 3) {
        bad.push_back(
            {field(path + ".score"), absl::StrCat("[range] une note de 0 à 3, reçu ", s.score())});
      }
    }
    for (const auto& st : steps) {
      if (!seen.contains(st)) {
        bad.push_back(
            {field("steps"), absl::StrCat("[required] l'étape ", st, " n'a pas de note")});
      }
    }
  }
  return bad;
}

void EqualityGrid::Score(v1::EqualityAssessment* a) {
  int total = 0;
  for (const auto& s : a->steps()) total += s.score();
  int yes = 0, applicable = 0;
  for (const auto& ans : a->answers()) {
    if (ans.answer() == v1::QuestionAnswer::YES) ++yes;
    if (ans.answer() == v1::QuestionAnswer::YES || ans.answer() == v1::QuestionAnswer::NO) {
      ++applicable;
    }
  }
  a->set_step_total(total);
  a->set_yes_share(applicable == 0 ? 0.0 : std::round(1000.0 * yes / applicable) / 10.0);
}

void ProtectTally(int k, v1::QuestionTally* t) {
  const int no = t->no_count(), applicable = t->applicable_count(), yes = applicable - no;
  auto small = [k](int n) { return n >= 1 && n < k; };
  const std::string less = absl::StrCat("< ", k);
  if (small(no)) {
    t->mutable_no()->set_display(less);
  } else {
    t->mutable_no()->set_value(no);
    t->mutable_no()->set_display(absl::StrCat(no));
  }
  if (small(applicable)) {
    t->mutable_applicable()->set_display(less);
  } else if (small(yes)) {
    // « oui » = applicable − non: one of the two hidden, and « non » may be published.
    t->mutable_applicable()->set_display("s");
  } else {
    t->mutable_applicable()->set_value(applicable);
    t->mutable_applicable()->set_display(absl::StrCat(applicable));
  }
}

v1::EqualityScores ComputeScores(const EqualityGrid& grid,
                                 std::vector<v1::EqualityAssessment> assessments, int top, int k) {
  // Latest first within an action: by date, then recording time, then name.
  std::sort(assessments.begin(), assessments.end(), [](const auto& a, const auto& b) {
    if (a.organisation() != b.organisation()) return a.organisation() < b.organisation();
    if (a.action() != b.action()) return a.action() < b.action();
    if (a.assess_date() != b.assess_date()) return a.assess_date() > b.assess_date();
    const auto ta = std::make_pair(a.create_time().seconds(), a.create_time().nanos());
    const auto tb = std::make_pair(b.create_time().seconds(), b.create_time().nanos());
    if (ta != tb) return ta > tb;
    return a.name() > b.name();
  });
  v1::EqualityScores out;
  std::map<std::string, std::pair<int, int>> tally;  // question → (no, applicable)
  for (size_t i = 0; i < assessments.size();) {
    size_t j = i + 1;
    while (j < assessments.size() &&
           assessments[j].organisation() == assessments[i].organisation() &&
           assessments[j].action() == assessments[i].action()) {
      ++j;
    }
    v1::ActionScores* s = out.add_actions();
    s->set_organisation(assessments[i].organisation());
    s->set_action(assessments[i].action());
    *s->mutable_latest() = assessments[i];
    if (j > i + 1) {
      *s->mutable_previous() = assessments[i + 1];
      s->set_step_total_change(assessments[i].step_total() - assessments[i + 1].step_total());
      s->set_yes_share_change(
          std::round(10.0 * (assessments[i].yes_share() - assessments[i + 1].yes_share())) / 10.0);
    }
    for (const auto& ans : assessments[i].answers()) {
      auto& t = tally[ans.question()];
      if (ans.answer() == v1::QuestionAnswer::NO) ++t.first;
      if (ans.answer() != v1::QuestionAnswer::NOT_APPLICABLE) ++t.second;
    }
    i = j;
  }
  std::vector<v1::QuestionTally> tallies;
  for (const auto& q : grid.questions) {
    auto it = tally.find(q.id);
    if (it == tally.end() || it->second.first == 0) continue;
    v1::QuestionTally t;
    t.set_question(q.id);
    t.set_text(q.text);
    t.set_no_count(it->second.first);
    t.set_applicable_count(it->second.second);
    ProtectTally(k, &t);
    tallies.push_back(std::move(t));
  }
  // Most « non » first by published count (every « < k » below every number); ties, and the
  // « < k » among themselves, in the grid's order (stable): the order tells nothing of a
  // hidden count.
  std::stable_sort(tallies.begin(), tallies.end(),
                   [](const auto& a, const auto& b) { return a.no().value() > b.no().value(); });
  for (int i = 0; i < static_cast<int>(tallies.size()) && i < top; ++i) {
    *out.add_most_no() = tallies[i];
  }
  out.set_threshold(k);
  return out;
}

std::string EqualityActionsCsv(const v1::EqualityScores& scores) {
  std::string out = csv::Line({"organisation", "action", "date", "total_etapes", "part_oui",
                               "date_precedente", "total_etapes_precedent", "part_oui_precedente",
                               "evolution_total_etapes", "evolution_part_oui"});
  for (const v1::ActionScores& a : scores.actions()) {
    const bool previous = a.has_previous();
    out +=
        csv::Line({csv::NeutraliseFormula(a.organisation()), csv::NeutraliseFormula(a.action()),
                   a.latest().assess_date(), absl::StrCat(a.latest().step_total()),
                   absl::StrCat(a.latest().yes_share()), previous ? a.previous().assess_date() : "",
                   previous ? absl::StrCat(a.previous().step_total()) : "",
                   previous ? absl::StrCat(a.previous().yes_share()) : "",
                   previous ? absl::StrCat(a.step_total_change()) : "",
                   previous ? absl::StrCat(a.yes_share_change()) : ""});
  }
  return out;
}

std::string EqualityMostNoCsv(const v1::EqualityScores& scores) {
  std::string out = csv::Line({"question", "texte", "non", "applicable"});
  for (const v1::QuestionTally& t : scores.most_no()) {
    out += csv::Line({t.question(), csv::NeutraliseFormula(t.text()), t.no().display(),
                      t.applicable().display()});
  }
  return out;
}

}  // namespace passerelle::indicators::reports
