#include "services/indicators/reports_validation.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/api/resource.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::indicators::reports {
namespace {

const api::ResourcePattern kVenue("venues/{venue}");
const api::ResourcePattern kItem("items/{item}");

constexpr std::array<const char*, 4> kSexes = {"femme", "homme", "autre", "non_communique"};

std::array<int64_t, 4> Values(const v1::SexSplit& s) {
  return {s.femme(), s.homme(), s.autre(), s.non_communique()};
}

// A count that passes `[range]`; sums are checked only over such counts (a value already refused
// is not blamed a second time by every sum it is in).
bool InRange(int64_t v) { return v >= 0 && v <= kMaxCount; }

class Checker {
 public:
  Checker(std::string_view prefix, std::vector<api::FieldViolation>* bad)
      : prefix_(prefix), bad_(bad) {}

  std::string Field(std::string_view path) const {
    return absl::StrCat(prefix_, ".", std::string(path));
  }
  void Add(const std::string& path, std::string description) {
    bad_->push_back({Field(path), std::move(description)});
  }
  void Count(const std::string& path, int64_t v) {
    if (v < 0 || v > kMaxCount) {
      Add(path, absl::StrCat("[range] un effectif est compris entre 0 et 1 000 000, reçu ", v));
    }
  }
  void Split(const std::string& path, const v1::SexSplit& s) {
    const auto v = Values(s);
    for (size_t i = 0; i < kSexes.size(); ++i) Count(absl::StrCat(path, ".", kSexes[i]), v[i]);
  }
  void Text(const std::string& path, std::string_view value, size_t max, bool required) {
    if (required && value.empty()) {
      Add(path, "[required] obligatoire");
      return;
    }
    api::CheckText(bad_, Field(path), value, max);
  }

  // The parts of a breakdown add up, sex by sex, to `total` (named `total_path`). Which cell is
  // wrong cannot be known, so the description names every part with its value, their sum and
  // the total; the field is the part where the running sum first passes the total, or the last
  // part when it falls short (the list itself when there is no part). A sex where a part or the
  // total already failed `[range]` is not summed.
  void AddsUp(const v1::SexSplit& total, const std::string& total_path,
              const std::vector<std::pair<std::string, const v1::SexSplit*>>& parts,
              const std::string& list_path, const std::string& what) {
    const auto expected = Values(total);
    for (size_t s = 0; s < kSexes.size(); ++s) {
      if (!InRange(expected[s])) continue;
      int64_t sum = 0;
      int64_t blame = -1;
      bool counted = true;
      std::vector<std::string> terms;
      for (size_t i = 0; i < parts.size(); ++i) {
        const int64_t v = Values(*parts[i].second)[s];
        if (!InRange(v)) counted = false;
        sum += v;
        if (blame < 0 && sum > expected[s]) blame = static_cast<int64_t>(i);
        terms.push_back(absl::StrCat(parts[i].first, ".", kSexes[s], " = ", v));
      }
      if (!counted || sum == expected[s]) continue;
      std::string path;
      if (parts.empty()) {
        path = list_path;
      } else {
        if (blame < 0) blame = static_cast<int64_t>(parts.size()) - 1;
        path = absl::StrCat(parts[blame].first, ".", kSexes[s]);
      }
      Add(path,
          absl::StrCat("[sum] ", what, " pour « ", kSexes[s], " » font ", sum,
                       terms.empty() ? "" : absl::StrCat(" (", absl::StrJoin(terms, ", "), ")"),
                       ", mais ", total_path, ".", kSexes[s], " vaut ", expected[s]));
    }
  }

  // `part` ≤ `whole` sex by sex.
  void AtMost(const v1::SexSplit& part, const std::string& part_path, const v1::SexSplit& whole,
              const std::string& whole_path) {
    const auto p = Values(part), w = Values(whole);
    for (size_t s = 0; s < kSexes.size(); ++s) {
      if (InRange(p[s]) && InRange(w[s]) && p[s] > w[s]) {
        Add(absl::StrCat(part_path, ".", kSexes[s]),
            absl::StrCat("[sum] ", p[s], " dépasse ", whole_path, ".", kSexes[s], " (", w[s], ")"));
      }
    }
  }

 private:
  std::string prefix_;
  std::vector<api::FieldViolation>* bad_;
};

}  // namespace

const std::vector<std::string>& AgeBands() {
  static const auto* const kBands = new std::vector<std::string>{
      "moins_de_16", "16_25", "26_44", "45_64", "65_et_plus", "non_communique"};
  return *kBands;
}

const std::vector<std::string>& DropoutReasons() {
  static const auto* const kReasons = new std::vector<std::string>{
      "emploi",           "sante", "garde_enfants", "transport", "demenagement", "niveau_inadapte",
      "perte_de_contact", "autre", "non_communique"};
  return *kReasons;
}

std::optional<absl::CivilDay> ParseDay(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  absl::CivilDay day;
  if (!absl::ParseCivilTime(std::string(text), &day)) return std::nullopt;
  if (absl::FormatCivilTime(day) != text) return std::nullopt;  // 2026-02-30 and the like
  return day;
}

bool IsOrganisationId(std::string_view id) {
  if (id.size() < 2 || id.size() > 63) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
    if (!ok) return false;
  }
  return true;
}

std::vector<api::FieldViolation> ValidateReport(const v1::ActivityReport& r, absl::CivilDay today,
                                                std::string_view prefix) {
  std::vector<api::FieldViolation> bad;
  Checker c(prefix, &bad);
  if (r.organisation().empty()) {
    c.Add("organisation", "[required] obligatoire : l'identifiant de l'organisation");
  } else if (!IsOrganisationId(r.organisation())) {
    c.Add("organisation",
          absl::StrCat("[pattern] un identifiant d'organisation a de 2 à 63 caractères : "
                       "minuscules, chiffres et tirets, reçu ",
                       text::Quote(r.organisation(), 40)));
  }
  c.Text("action", r.action(), kMaxTitle, /*required=*/true);

  // Period.
  const auto start = ParseDay(r.period_start());
  const auto end = ParseDay(r.period_end());
  if (!start) {
    c.Add("period_start",
          absl::StrCat("[date] une date AAAA-MM-JJ, reçu ", text::Quote(r.period_start(), 20)));
  }
  if (!end) {
    c.Add("period_end",
          absl::StrCat("[date] une date AAAA-MM-JJ, reçu ", text::Quote(r.period_end(), 20)));
  } else if (*end > today) {
    c.Add("period_end", absl::StrCat("[future] la période ne peut pas finir après aujourd'hui (",
                                     absl::FormatCivilTime(today), ")"));
  }
  if (start && end) {
    if (*end < *start) {
      c.Add("period_end", "[order] la fin de la période précède son début");
    } else if (*end - *start > kMaxPeriodDays) {
      c.Add("period_end", absl::StrCat("[range] une période dure au plus ", kMaxPeriodDays,
                                       " jours, reçu ", *end - *start));
    }
  }

  // Venues and items.
  if (r.venues().empty()) c.Add("venues", "[required] au moins un lieu");
  if (r.venues_size() > kMaxVenues) {
    c.Add("venues", absl::StrCat("[size] au plus ", kMaxVenues, " lieux, reçu ", r.venues_size()));
  } else {
    std::set<std::string> seen;
    for (int i = 0; i < r.venues_size(); ++i) {
      const std::string path = absl::StrCat("venues[", i, "]");
      auto parsed = kVenue.Parse(r.venues(i), c.Field(path));
      if (!parsed.ok()) {
        for (auto& v : api::Violations(parsed.status())) bad.push_back(std::move(v));
      } else if (!seen.insert(r.venues(i)).second) {
        c.Add(path, "[unique] ce lieu est déjà nommé");
      }
    }
  }
  if (r.items_size() > kMaxItems) {
    c.Add("items", absl::StrCat("[size] au plus ", kMaxItems, " éléments, reçu ", r.items_size()));
  } else {
    std::set<std::string> seen;
    for (int i = 0; i < r.items_size(); ++i) {
      const std::string path = absl::StrCat("items[", i, "]");
      auto parsed = kItem.Parse(r.items(i), c.Field(path));
      if (!parsed.ok()) {
        for (auto& v : api::Violations(parsed.status())) bad.push_back(std::move(v));
      } else if (!seen.insert(r.items(i)).second) {
        c.Add(path, "[unique] cet élément est déjà nommé");
      }
    }
  }

  // Counts in range.
  c.Count("sessions", r.sessions());
  c.Count("corrective_actions", r.corrective_actions());
  c.Split("beneficiaries_total", r.beneficiaries_total());
  c.Split("first_time", r.first_time());
  c.Split("returning", r.returning());
  c.Split("qpv_residents", r.qpv_residents());
  c.Split("other_residents", r.other_residents());
  c.Split("completed", r.completed());
  c.Split("in_progress", r.in_progress());
  c.Split("satisfaction_respondents", r.satisfaction_respondents());
  c.Split("satisfied", r.satisfied());
  c.Split("positive_outcome", r.positive_outcome());

  const v1::SexSplit& total = r.beneficiaries_total();
  const std::string total_path = "beneficiaries_total";

  // Age bands: each documented band at most once, adding up to the totals.
  if (r.beneficiaries_by_age_size() > static_cast<int>(AgeBands().size())) {
    c.Add("beneficiaries_by_age",
          absl::StrCat("[size] au plus ", AgeBands().size(), " tranches d'âge, reçu ",
                       r.beneficiaries_by_age_size()));
  } else {
    std::set<std::string> seen;
    std::vector<std::pair<std::string, const v1::SexSplit*>> parts;
    for (int i = 0; i < r.beneficiaries_by_age_size(); ++i) {
      const auto& band = r.beneficiaries_by_age(i);
      const std::string path = absl::StrCat("beneficiaries_by_age[", i, "]");
      if (std::find(AgeBands().begin(), AgeBands().end(), band.age_band()) == AgeBands().end()) {
        c.Add(path + ".age_band",
              absl::StrCat("[enum] une tranche d'âge parmi moins_de_16, 16_25, 26_44, 45_64, "
                           "65_et_plus, non_communique ; reçu ",
                           text::Quote(band.age_band(), 30)));
      } else if (!seen.insert(band.age_band()).second) {
        c.Add(path + ".age_band", "[unique] cette tranche d'âge est déjà donnée");
      }
      c.Split(path + ".count", band.count());
      parts.emplace_back(path + ".count", &band.count());
    }
    c.AddsUp(total, total_path, parts, "beneficiaries_by_age", "les tranches d'âge");
  }
  c.AddsUp(total, total_path, {{"first_time", &r.first_time()}, {"returning", &r.returning()}},
           "returning", "les premières venues et les retours");
  c.AddsUp(total, total_path,
           {{"qpv_residents", &r.qpv_residents()}, {"other_residents", &r.other_residents()}},
           "other_residents", "les habitants de QPV et les autres");

  // Completed + dropouts by reason + in progress.
  if (r.dropouts_size() > static_cast<int>(DropoutReasons().size())) {
    c.Add("dropouts", absl::StrCat("[size] au plus ", DropoutReasons().size(), " motifs, reçu ",
                                   r.dropouts_size()));
  } else {
    std::set<std::string> seen;
    std::vector<std::pair<std::string, const v1::SexSplit*>> parts{{"completed", &r.completed()}};
    for (int i = 0; i < r.dropouts_size(); ++i) {
      const auto& d = r.dropouts(i);
      const std::string path = absl::StrCat("dropouts[", i, "]");
      const auto& reasons = DropoutReasons();
      if (std::find(reasons.begin(), reasons.end(), d.reason()) == reasons.end()) {
        c.Add(path + ".reason",
              absl::StrCat("[enum] un motif parmi emploi, sante, garde_enfants, transport, "
                           "demenagement, niveau_inadapte, perte_de_contact, autre, "
                           "non_communique ; reçu ",
                           text::Quote(d.reason(), 30)));
      } else if (!seen.insert(d.reason()).second) {
        c.Add(path + ".reason", "[unique] ce motif est déjà donné");
      }
      c.Split(path + ".count", d.count());
      parts.emplace_back(path + ".count", &d.count());
    }
    parts.emplace_back("in_progress", &r.in_progress());
    c.AddsUp(total, total_path, parts, "in_progress",
             "les parcours achevés, abandonnés et en cours");
  }

  // Outcomes: each kind within the totals; the people with one at least between the largest
  // kind and the sum of the kinds.
  if (r.outcomes_size() > kMaxOutcomes) {
    c.Add("outcomes",
          absl::StrCat("[size] au plus ", kMaxOutcomes, " sorties, reçu ", r.outcomes_size()));
  } else {
    std::array<int64_t, 4> largest{}, sum{};
    std::array<bool, 4> outcomes_in_range{true, true, true, true};
    for (int i = 0; i < r.outcomes_size(); ++i) {
      const auto& o = r.outcomes(i);
      const std::string path = absl::StrCat("outcomes[", i, "]");
      if (o.kind() == v1::OutcomeCount::KIND_UNSPECIFIED ||
          !v1::OutcomeCount::Kind_IsValid(o.kind())) {
        c.Add(path + ".kind",
              absl::StrCat("[enum] TRAINING, JOB, CERTIFICATION ou OTHER ; reçu ", o.kind()));
      }
      c.Text(path + ".detail", o.detail(), kMaxTitle,
             /*required=*/o.kind() == v1::OutcomeCount::OTHER);
      if (o.min_competences() < 0 || o.min_competences() > 16) {
        c.Add(path + ".min_competences",
              absl::StrCat("[range] entre 0 et 16 compétences, reçu ", o.min_competences()));
      } else if (o.min_competences() > 0 && o.kind() != v1::OutcomeCount::CERTIFICATION) {
        c.Add(path + ".min_competences",
              "[kind] des compétences ne se donnent que pour une certification");
      }
      c.Split(path + ".count", o.count());
      c.AtMost(o.count(), path + ".count", total, total_path);
      const auto v = Values(o.count());
      for (size_t s = 0; s < 4; ++s) {
        if (!InRange(v[s])) outcomes_in_range[s] = false;
        largest[s] = std::max(largest[s], v[s]);
        sum[s] += v[s];
      }
    }
    if (r.outcomes_size() > 0 && !r.has_positive_outcome()) {
      c.Add("positive_outcome",
            "[required] obligatoire avec des sorties : les personnes ayant au moins une sortie "
            "positive, chacune une fois");
    } else {
      c.AtMost(r.positive_outcome(), "positive_outcome", total, total_path);
      const auto p = Values(r.positive_outcome());
      for (size_t s = 0; s < 4; ++s) {
        if (!outcomes_in_range[s] || !InRange(p[s])) continue;
        if (p[s] < largest[s] || p[s] > sum[s]) {
          c.Add(absl::StrCat("positive_outcome.", kSexes[s]),
                absl::StrCat("[sum] ", p[s], " personnes avec une sortie positive pour « ",
                             kSexes[s], " », mais les sorties par type en comptent de ", largest[s],
                             " (la plus grande) à ", sum[s], " (leur somme)"));
        }
      }
    }
  }

  // Satisfaction.
  c.AtMost(r.satisfaction_respondents(), "satisfaction_respondents", total, total_path);
  c.AtMost(r.satisfied(), "satisfied", r.satisfaction_respondents(), "satisfaction_respondents");

  // Targets.
  if (r.targets_size() > kMaxTargets) {
    c.Add("targets",
          absl::StrCat("[size] au plus ", kMaxTargets, " objectifs, reçu ", r.targets_size()));
  } else {
    for (int i = 0; i < r.targets_size(); ++i) {
      const auto& t = r.targets(i);
      const std::string path = absl::StrCat("targets[", i, "]");
      c.Text(path + ".description", t.description(), kMaxTitle, /*required=*/true);
      c.Count(path + ".target", t.target());
      c.Count(path + ".reached", t.reached());
    }
  }
  return bad;
}

}  // namespace passerelle::indicators::reports
