#include "services/indicators/reports_breakdown.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/unknown_field_set.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/csv/csv.hpp"
#include "libs/text/utf8.hpp"
#include "services/indicators/perturbation.hpp"
#include "services/indicators/reports_validation.hpp"
#include "services/indicators/suppression.hpp"

namespace passerelle::indicators::reports {
namespace {

BySex Of(const v1::SexSplit& s) { return {s.femme(), s.homme(), s.autre(), s.non_communique()}; }

void Add(BySex& to, const BySex& v) {
  for (size_t i = 0; i < 4; ++i) to[i] += v[i];
}

// A report's measures, in the order of the breakdown's linked tables.
constexpr BySex Figures::*kFigureMeasures[] = {
    &Figures::reached, &Figures::respondents, &Figures::satisfied, &Figures::completed,
    &Figures::dropped, &Figures::positive,    &Figures::qpv};

// The key sums of a group's cells: per measure, per column (the four sexes, then the row's total).
using CellKeys = std::array<std::array<uint64_t, 5>, 7>;

// The sums of one group.
struct Group {
  std::string label;
  int reports = 0;
  /// Per cell, the record keys of the reports that count someone in it, summed (wrapping): a
  /// report that adds nothing to a cell leaves its noise as it is, so cells that differ only by
  /// such reports (a row beside zeros, one's own report with 0 there) show the same value
  /// rather than two draws of one count.
  CellKeys keys{};
  BySex reached{}, respondents{}, satisfied{}, completed{}, dropped{}, positive{}, qpv{};

  void Count(const Figures& f) {
    ++reports;
    for (size_t m = 0; m < keys.size(); ++m) {
      const BySex& v = f.*kFigureMeasures[m];
      int64_t sum = 0;
      for (size_t c = 0; c < 4; ++c) {
        if (v[c] != 0) keys[m][c] += f.record_key;
        sum += v[c];
      }
      if (sum != 0) keys[m][4] += f.record_key;
    }
    Add(reached, f.reached);
    Add(respondents, f.respondents);
    Add(satisfied, f.satisfied);
    Add(completed, f.completed);
    Add(dropped, f.dropped);
    Add(positive, f.positive);
    Add(qpv, f.qpv);
  }
  void Merge(const Group& g) {
    reports += g.reports;
    for (size_t m = 0; m < keys.size(); ++m) {
      for (size_t c = 0; c < keys[m].size(); ++c) keys[m][c] += g.keys[m][c];
    }
    Add(reached, g.reached);
    Add(respondents, g.respondents);
    Add(satisfied, g.satisfied);
    Add(completed, g.completed);
    Add(dropped, g.dropped);
    Add(positive, g.positive);
    Add(qpv, g.qpv);
  }
};

// The quarter of a day: `2026-Q3`.
std::string QuarterKey(absl::CivilDay d) {
  return absl::StrCat(d.year(), "-Q", (d.month() - 1) / 3 + 1);
}

std::string QuarterLabel(const std::string& key) {
  const int quarter = key[6] - '0';
  return absl::StrCat(quarter == 1 ? "1er" : absl::StrCat(quarter, "e"), " trimestre ",
                      key.substr(0, 4));
}

// Rows for the reports that fit no single group, and for the rows of too few reports.
constexpr std::string_view kMultiple = "multiple";
constexpr std::string_view kNone = "none";
constexpr std::string_view kOthers = "others";

// The one group of a report under the query's dimension, as a raw key (the area as stored, the
// item, the organisation, the quarter), or kMultiple / kNone: every report counts in one row,
// so that the rows add up to the total the protection relies on.
std::string_view RawKeyOf(const BreakdownQuery& q, const Figures& f, std::string* quarter) {
  std::string_view found;
  bool several = false;
  auto add = [&](std::string_view k) {
    if (found.empty()) {
      found = k;
    } else if (k != found) {
      several = true;
    }
  };
  switch (q.dimension) {
    case v1::AREA:
      for (const auto& a : f.areas) {
        if (a.size() > q.layer.size() && a.compare(0, q.layer.size(), q.layer) == 0 &&
            a[q.layer.size()] == ':') {
          add(a);
        }
      }
      break;
    case v1::ITEM:
      for (const auto& i : f.items) add(i);
      break;
    case v1::ORGANISATION:
      return f.organisation;
    case v1::PERIOD:
      *quarter = QuarterKey(f.period_start);
      return *quarter;
    default:
      break;
  }
  if (several) return kMultiple;
  if (found.empty()) return kNone;
  return found;
}

// The published key and label of a raw key.
std::pair<std::string, std::string> KeyAndLabel(const BreakdownQuery& q, const std::string& raw,
                                                const Group& g) {
  if (raw == kOthers) {
    switch (q.dimension) {
      case v1::AREA:
        return {raw, "Autres zones"};
      case v1::ITEM:
        return {raw, "Autres services"};
      case v1::ORGANISATION:
        return {raw, "Autres organisations"};
      default:
        return {raw, "Autres trimestres"};
    }
  }
  if ((q.dimension == v1::AREA || q.dimension == v1::ITEM) && (raw == kMultiple || raw == kNone)) {
    const bool area = q.dimension == v1::AREA;
    if (raw == kMultiple) return {raw, area ? "Plusieurs zones" : "Plusieurs services"};
    return {raw, area ? "Hors zone" : "Sans service"};
  }
  switch (q.dimension) {
    case v1::AREA: {
      const std::string code = raw.substr(q.layer.size() + 1);
      std::string label = code;
      if (q.area_labels) {
        auto it = q.area_labels->find(code);
        if (it != q.area_labels->end() && !it->second.empty()) label = it->second;
      }
      return {absl::StrCat("areaLayers/", q.layer, "/areas/", code), std::move(label)};
    }
    case v1::ITEM: {
      if (q.item_labels) {
        auto it = q.item_labels->find(raw);
        if (it != q.item_labels->end() && !it->second.empty()) return {raw, it->second};
      }
      return {raw, raw.substr(raw.find('/') + 1)};
    }
    case v1::ORGANISATION:
      return {raw, g.label.empty() ? raw : g.label};
    case v1::PERIOD:
      return {raw, QuarterLabel(raw)};
    default:
      return {raw, raw};
  }
}

// One measure (by sex) over every group and the total, with its protection.
struct Measure {
  CountTable table;
  Protection protection;
};

// The measures of a breakdown, in the order of LinkedTables: reached, respondents, satisfied,
// completed, dropped out, positive outcome, residents of a QPV (last, so that the cell keys of
// the others are those they had before it was published).
constexpr BySex Group::*kMeasures[] = {&Group::reached,   &Group::respondents, &Group::satisfied,
                                       &Group::completed, &Group::dropped,     &Group::positive,
                                       &Group::qpv};
constexpr int kMeasureCount = 7;

LinkedTables Link(const std::vector<const Group*>& groups, const Group& total) {
  LinkedTables lt;
  for (BySex Group::*field : kMeasures) {
    CountTable t = CountTable::Zero(static_cast<int>(groups.size()), 4);
    for (size_t r = 0; r < groups.size(); ++r) {
      for (int c = 0; c < 4; ++c) {
        t.at(static_cast<int>(r), c) = (groups[r]->*field)[c];
        t.row_totals[r] += (groups[r]->*field)[c];
      }
    }
    for (int c = 0; c < 4; ++c) {
      t.col_totals[c] = (total.*field)[c];
      t.grand_total += (total.*field)[c];
    }
    lt.tables.push_back(std::move(t));
  }
  // What every report satisfies (reports_validation), so every sum.
  lt.relations = {{{1}, 0}, {{2}, 1}, {{3, 4}, 0}, {{5}, 0}, {{6}, 0}};
  // Each value's noise, on the grid (row totals last, the total row last): smallness is decided
  // on the published value, not the true one.
  for (int m = 0; m < kMeasureCount; ++m) {
    std::vector<int> noise;
    for (size_t r = 0; r <= groups.size(); ++r) {
      const CellKeys& keys = r < groups.size() ? groups[r]->keys : total.keys;
      for (int c = 0; c <= 4; ++c) noise.push_back(Noise(CellKey(keys[m][c], m, c)));
    }
    lt.noise.push_back(std::move(noise));
  }
  lt.noise_bound = kNoiseBound;
  // Beneficiaries are published in full; the other measures through the shares of women and
  // of men only.
  lt.published_columns.push_back({true, true, true, true, true});
  for (int m = 1; m < kMeasureCount; ++m) {
    lt.published_columns.push_back({true, true, false, false, false});
  }
  return lt;
}

// Protects a breakdown's measures. The total row is protected first on its own and fixed: every
// breakdown of a year, whatever its dimension, shows the same total row.
std::vector<Measure> Protected(const std::vector<const Group*>& groups, const Group& total, int k) {
  LinkedTables alone = Link({&total}, total);
  const std::vector<Protection> first = Protect(alone, k);
  LinkedTables lt = Link(groups, total);
  for (const Protection& p : first) {
    std::vector<CellState> row(p.cells.begin(), p.cells.end());
    row.push_back(p.row_totals[0]);
    lt.fixed_total_row.push_back(std::move(row));
  }
  std::vector<Protection> protections = Protect(lt, k);
  std::vector<Measure> out;
  for (int m = 0; m < kMeasureCount; ++m) {
    out.push_back({std::move(lt.tables[m]), std::move(protections[m])});
  }
  return out;
}

// The state and value of one cell (row −1: the total row; column 4: the row's total); the value
// of a published cell is the perturbed one, the only one that leaves the service.
struct Cell {
  int64_t value;
  CellState state;
  bool published() const { return state == CellState::kPublished; }
};

// Reads the cells of one row of the protected measures.
struct RowReader {
  const std::vector<Measure>& measures;
  int row;
  const CellKeys& keys;
  int k;

  Cell operator()(int measure, int col) const {
    const Measure& m = measures[static_cast<size_t>(measure)];
    Cell c;
    if (row < 0 && col == 4) {
      c = {m.table.grand_total, m.protection.grand_total};
    } else if (row < 0) {
      c = {m.table.col_totals[col], m.protection.col_totals[col]};
    } else if (col == 4) {
      c = {m.table.row_totals[row], m.protection.row_totals[row]};
    } else {
      c = {m.table.at(row, col), m.protection.at(row, col)};
    }
    if (c.published()) {
      c.value = Perturbed(c.value, CellKey(keys[measure][col], measure, col), k);
    }
    return c;
  }
};

void SetFigure(const Cell& c, int k, v1::Figure* out) {
  if (c.published()) out->set_value(c.value);
  out->set_display(Display(c.value, c.state, k));
}

// A share of perturbed counts: at most 100 (a part's noise can lift it over its whole).
void SetShare(const Cell& part, const Cell& whole, v1::Share* out) {
  if (!part.published() || !whole.published() || whole.value <= 0) return;
  const double percent =
      std::round(1000.0 * static_cast<double>(part.value) / static_cast<double>(whole.value)) /
      10.0;
  out->set_percent(std::min(percent, 100.0));
}

void SetGap(const v1::Share& women, const v1::Share& men, v1::ShareGap* out) {
  if (!women.has_percent() || !men.has_percent()) return;
  out->set_points(std::round(10.0 * (women.percent() - men.percent())) / 10.0);
}

}  // namespace

Figures FiguresOf(const std::string& id, const std::string& organisation_label,
                  const v1::ActivityReport& r) {
  Figures f;
  f.id = id;
  f.organisation = r.organisation();
  f.organisation_label = organisation_label;
  f.period_start = ParseDay(r.period_start()).value_or(absl::CivilDay());
  f.period_end = ParseDay(r.period_end()).value_or(absl::CivilDay());
  f.items.assign(r.items().begin(), r.items().end());
  f.areas.assign(r.venue_areas().begin(), r.venue_areas().end());
  f.reached = Of(r.beneficiaries_total());
  f.respondents = Of(r.satisfaction_respondents());
  f.satisfied = Of(r.satisfied());
  f.completed = Of(r.completed());
  for (const auto& d : r.dropouts()) Add(f.dropped, Of(d.count()));
  f.positive = Of(r.positive_outcome());
  f.qpv = Of(r.qpv_residents());
  return f;
}

absl::StatusOr<BreakdownQuery> ParseBreakdownRequest(const v1::GetBreakdownRequest& r,
                                                     absl::CivilDay today) {
  std::vector<api::FieldViolation> bad;
  BreakdownQuery q;
  q.dimension = r.dimension();
  if (q.dimension == v1::DIMENSION_UNSPECIFIED || !v1::Dimension_IsValid(q.dimension)) {
    bad.push_back({"dimension", absl::StrCat("[enum] AREA, ITEM, ORGANISATION ou PERIOD ; reçu ",
                                             static_cast<int>(r.dimension()))});
  }
  if (q.dimension == v1::AREA) {
    if (r.layer().empty()) {
      bad.push_back({"layer", "[required] obligatoire avec AREA : qpv, quartiers, iris..."});
    } else if (!api::IsLayerId(r.layer())) {
      bad.push_back({"layer", absl::StrCat("[pattern] ", api::kLayerIdRule, " ; reçu ",
                                           text::Quote(r.layer(), 40))});
    }
    q.layer = r.layer();
  } else if (!r.layer().empty()) {
    bad.push_back({"layer", "[unexpected] seulement avec la dimension AREA"});
  }
  // Filters a client may still send (removed from the message: they made answers that differ by
  // a few reports): refused by name rather than ignored, since an old client would take the
  // whole table for a filtered one.
  const auto& unknown = r.GetReflection()->GetUnknownFields(r);
  for (int i = 0; i < unknown.field_count() && i < 8; ++i) {
    static const char* const kRemoved[] = {"granularity", "period_start", "period_end", "item",
                                           "organisation"};
    const int number = unknown.field(i).number();
    const std::string name =
        number >= 3 && number <= 7 ? kRemoved[number - 3] : absl::StrCat("#", number);
    bad.push_back({name, "[removed] un tableau porte sur une année entière (year), sans filtre"});
  }
  q.year = r.year() == 0 ? static_cast<int>(today.year()) : r.year();
  if (q.year < 2000 || q.year > today.year()) {
    bad.push_back(
        {"year", absl::StrCat("[range] une année de 2000 à ", today.year(), ", reçu ", r.year())});
  }
  if (!bad.empty()) return api::InvalidArgument("demande de tableau invalide", bad);
  return q;
}

bool Selected(const BreakdownQuery& q, const Figures& f) { return f.period_start.year() == q.year; }

v1::Breakdown ComputeBreakdown(const BreakdownQuery& query,
                               const std::vector<std::shared_ptr<const Figures>>& reports,
                               const BreakdownOptions& options) {
  std::vector<const Figures*> raw;
  raw.reserve(reports.size());
  for (const auto& f : reports) raw.push_back(f.get());
  return ComputeBreakdown(query, raw, options);
}

v1::Breakdown ComputeBreakdown(const BreakdownQuery& q, const std::vector<const Figures*>& reports,
                               const BreakdownOptions& options) {
  const int k = options.k;
  // Raw keys sort as the published ones do (areas of one layer by code, items, organisations,
  // quarters), so the rows come out by key; `multiple` and `none` go last.
  std::map<std::string, Group, std::less<>> by_key;
  Group multiple, none;
  Group total;
  total.label = "Total";
  std::string quarter;
  for (const Figures* f : reports) {
    total.Count(*f);
    const std::string_view key = RawKeyOf(q, *f, &quarter);
    // By identity: an organisation could be called `none`.
    if (key.data() == kMultiple.data()) {
      multiple.Count(*f);
      continue;
    }
    if (key.data() == kNone.data()) {
      none.Count(*f);
      continue;
    }
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      it = by_key.emplace(std::string(key), Group()).first;
      if (q.dimension == v1::ORGANISATION) it->second.label = f->organisation_label;
    }
    it->second.Count(*f);
  }
  struct Row {
    std::string raw;
    const Group* group;
  };
  std::vector<Row> candidates;
  for (const auto& [key, g] : by_key) candidates.push_back({key, &g});
  if (multiple.reports > 0) candidates.push_back({std::string(kMultiple), &multiple});
  if (none.reports > 0) candidates.push_back({std::string(kNone), &none});
  // A row stands for at least min_reports reports: a row of one or two reports is one or two
  // members' own figures, which other tables then isolate by difference. Small rows are pooled,
  // and while the pool itself is too small the smallest row joins it.
  Group others;
  std::vector<Row> rows;
  for (Row& r : candidates) {
    if (r.group->reports < options.min_reports) {
      others.Merge(*r.group);
    } else {
      rows.push_back(std::move(r));
    }
  }
  while (others.reports > 0 && others.reports < options.min_reports && !rows.empty()) {
    auto smallest = std::min_element(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return a.group->reports < b.group->reports;
    });
    others.Merge(*smallest->group);
    rows.erase(smallest);
  }
  // A pool of every report would only repeat the total.
  if (others.reports > 0 && !rows.empty()) rows.push_back({std::string(kOthers), &others});
  // A year of too few reports shows no count at all, only how many reports there are.
  const bool withheld = total.reports > 0 && total.reports < options.min_reports;
  if (withheld) rows.clear();

  std::vector<const Group*> groups;
  std::vector<std::pair<std::string, std::string>> keys;
  for (const Row& r : rows) {
    keys.push_back(KeyAndLabel(q, r.raw, *r.group));
    groups.push_back(r.group);
  }
  const std::vector<Measure> measures = Protected(groups, total, k);
  enum { kReached, kRespondents, kSatisfied, kCompleted, kDropped, kPositive, kQpv };

  auto fill = [&](int row, const std::string& key, const std::string& label, const Group& g,
                  v1::BreakdownRow* out) {
    out->set_key(key);
    out->set_label(label);
    out->set_reports(g.reports);
    const RowReader at{measures, row, g.keys, k};
    SetFigure(at(kReached, 0), k, out->mutable_women());
    SetFigure(at(kReached, 1), k, out->mutable_men());
    SetFigure(at(kReached, 2), k, out->mutable_other());
    SetFigure(at(kReached, 3), k, out->mutable_not_given());
    SetFigure(at(kReached, 4), k, out->mutable_total());
    // Shares of everyone reached (the total): « autre » and « non communiqué » are nearly
    // always small and hidden, so a denominator built from them would hide every share.
    const Cell f = at(kReached, 0), h = at(kReached, 1), all = at(kReached, 4);
    SetShare(f, all, out->mutable_women_share());
    SetShare(h, all, out->mutable_men_share());
    SetShare(at(kSatisfied, 0), at(kRespondents, 0), out->mutable_women_satisfied());
    SetShare(at(kSatisfied, 1), at(kRespondents, 1), out->mutable_men_satisfied());
    SetShare(at(kCompleted, 0), f, out->mutable_women_completed());
    SetShare(at(kCompleted, 1), h, out->mutable_men_completed());
    SetShare(at(kDropped, 0), f, out->mutable_women_dropped_out());
    SetShare(at(kDropped, 1), h, out->mutable_men_dropped_out());
    SetShare(at(kPositive, 0), f, out->mutable_women_positive_outcome());
    SetShare(at(kPositive, 1), h, out->mutable_men_positive_outcome());
    SetShare(at(kQpv, 0), f, out->mutable_women_qpv_residents());
    SetShare(at(kQpv, 1), h, out->mutable_men_qpv_residents());
    SetGap(out->women_share(), out->men_share(), out->mutable_reached_gap());
    SetGap(out->women_satisfied(), out->men_satisfied(), out->mutable_satisfied_gap());
    SetGap(out->women_completed(), out->men_completed(), out->mutable_completed_gap());
    SetGap(out->women_dropped_out(), out->men_dropped_out(), out->mutable_dropped_out_gap());
    SetGap(out->women_positive_outcome(), out->men_positive_outcome(),
           out->mutable_positive_outcome_gap());
    SetGap(out->women_qpv_residents(), out->men_qpv_residents(), out->mutable_qpv_residents_gap());
  };
  v1::Breakdown out;
  out.set_dimension(q.dimension);
  out.set_threshold(k);
  out.set_year(q.year);
  out.set_min_reports(options.min_reports);
  out.set_noise_bound(kNoiseBound);
  for (size_t r = 0; r < groups.size(); ++r) {
    fill(static_cast<int>(r), keys[r].first, keys[r].second, *groups[r], out.add_rows());
  }
  if (withheld) {
    v1::BreakdownRow* t = out.mutable_total();
    t->set_key("total");
    t->set_label("Total");
    t->set_reports(total.reports);
    for (v1::Figure* figure : {t->mutable_women(), t->mutable_men(), t->mutable_other(),
                               t->mutable_not_given(), t->mutable_total()}) {
      figure->set_display("s");
    }
    out.set_suppressed_cells(5);
    return out;
  }
  fill(-1, "total", "Total", total, out.mutable_total());
  out.set_suppressed_cells(measures[kReached].protection.suppressed());
  return out;
}

std::string BreakdownCsv(const v1::Breakdown& b) {
  std::string out = csv::Line({"cle",
                               "libelle",
                               "rapports",
                               "femmes",
                               "hommes",
                               "autres",
                               "non_communique",
                               "total",
                               "part_femmes",
                               "part_hommes",
                               "femmes_satisfaites",
                               "hommes_satisfaits",
                               "femmes_achevement",
                               "hommes_achevement",
                               "femmes_abandon",
                               "hommes_abandon",
                               "femmes_sortie_positive",
                               "hommes_sortie_positive",
                               "ecart_part",
                               "ecart_satisfaction",
                               "ecart_achevement",
                               "ecart_abandon",
                               "ecart_sortie_positive",
                               "femmes_qpv",
                               "hommes_qpv",
                               "ecart_qpv"});
  auto share = [](const v1::Share& s) {
    return s.has_percent() ? absl::StrCat(s.percent()) : std::string();
  };
  auto gap = [](const v1::ShareGap& g) {
    return g.has_points() ? absl::StrCat(g.points()) : std::string();
  };
  auto line = [&](const v1::BreakdownRow& r) {
    out += csv::Line({csv::NeutraliseFormula(r.key()),
                      csv::NeutraliseFormula(r.label()),
                      absl::StrCat(r.reports()),
                      r.women().display(),
                      r.men().display(),
                      r.other().display(),
                      r.not_given().display(),
                      r.total().display(),
                      share(r.women_share()),
                      share(r.men_share()),
                      share(r.women_satisfied()),
                      share(r.men_satisfied()),
                      share(r.women_completed()),
                      share(r.men_completed()),
                      share(r.women_dropped_out()),
                      share(r.men_dropped_out()),
                      share(r.women_positive_outcome()),
                      share(r.men_positive_outcome()),
                      gap(r.reached_gap()),
                      gap(r.satisfied_gap()),
                      gap(r.completed_gap()),
                      gap(r.dropped_out_gap()),
                      gap(r.positive_outcome_gap()),
                      share(r.women_qpv_residents()),
                      share(r.men_qpv_residents()),
                      gap(r.qpv_residents_gap())});
  };
  for (const auto& r : b.rows()) line(r);
  line(b.total());
  return out;
}

}  // namespace passerelle::indicators::reports
