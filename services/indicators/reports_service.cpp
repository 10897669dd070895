#include "services/indicators/reports_service.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/events/event.hpp"
#include "libs/logging/logging.hpp"
#include "libs/text/utf8.hpp"
#include "passerelle/indicators/v1/events.pb.h"
#include "services/indicators/reports_export.hpp"
#include "services/indicators/reports_validation.hpp"

namespace passerelle::indicators::reports {
namespace {

const api::ResourcePattern kReportName("activityReports/{report}");
const api::ResourcePattern kAssessmentName("equalityAssessments/{assessment}");
constexpr char kSubmittedEvent[] = "indicators.report.submitted";

// The report's id in `name`, a canonical UUID; INVALID_ARGUMENT on `field` otherwise.
absl::StatusOr<std::string> ReportId(const std::string& name, std::string_view field) {
  auto parts = kReportName.Parse(name, field);
  if (!parts.ok()) return parts.status();
  if (!api::IsCanonicalUuid((*parts)[0])) {
    return api::InvalidName(field, "[pattern] activityReports/{report} avec un UUID en minuscules", name);
  }
  return (*parts)[0];
}

void ClearOutputOnly(v1::ActivityReport* r) {
  r->clear_name();
  r->clear_state();
  r->clear_revision();
  r->clear_create_time();
  r->clear_update_time();
  r->clear_etag();
  r->clear_venue_areas();
  r->clear_withdrawal_reason();
}

absl::Status CheckRequestId(const std::string& id) {
  if (id.empty() || api::IsCanonicalUuid(id)) return absl::OkStatus();
  return api::InvalidArgument(
      "identifiant de requête invalide",
      {{"request_id", "[uuid] un UUID en minuscules (8-4-4-4-12), reçu " + text::Quote(id, 40)}});
}

std::string Digest(std::string_view method, const google::protobuf::Message& m) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return api::ContentDigest(absl::StrCat(std::string(method), "\n", bytes));
}

events::v1::Event SubmittedEvent(const v1::ActivityReport& r, absl::Time now) {
  v1::ReportSubmitted p;
  p.set_name(r.name());
  p.set_organisation(r.organisation());
  p.set_revision(r.revision());
  p.set_withdrawn(r.state() == v1::ActivityReport::WITHDRAWN);
  p.set_period_start(r.period_start());
  p.set_period_end(r.period_end());
  for (const auto& v : r.venues()) p.add_venues(v);
  return events::MakeEvent(kSubmittedEvent, "indicators", r.name(), p, now);
}

// A service the domain asks did not answer: the member reads which one, in French; the cause (in
// the transport's English) goes to the log.
absl::Status Unavailable(std::string_view who, const absl::Status& cause) {
  logging::Warn("indicators reports: upstream call failed",
                {{"upstream", std::string(who)}, {"error", std::string(cause.message())}});
  return absl::UnavailableError(
      absl::StrCat(std::string(who), " ne répond pas ; réessayez dans un moment"));
}

bool Visible(const Access& access, const std::string& organisation) {
  return access.all || access.organisation == organisation;
}

}  // namespace

Reports::Reports(ReportStore& store, Directory& directory, const api::PageTokens& tokens,
                 const clocks::Clock& clock, EqualityGrid grid, ReportsOptions options)
    : store_(store),
      directory_(directory),
      tokens_(tokens),
      clock_(clock),
      grid_(std::move(grid)),
      options_(options) {
  // Periods are days in Roubaix: "not in the future" is Paris's today.
  if (!absl::LoadTimeZone("Europe/Paris", &zone_)) zone_ = absl::UTCTimeZone();
}

absl::CivilDay Reports::Today() const { return absl::ToCivilDay(clock_.Now(), zone_); }

absl::Status Reports::CheckDirectory(const v1::ActivityReport& r,
                                     std::vector<api::FieldViolation>* bad, std::string* label,
                                     std::vector<std::string>* areas) {
  auto named = [&](std::string_view field) {
    return std::any_of(bad->begin(), bad->end(),
                       [&](const api::FieldViolation& v) { return v.field == field; });
  };
  if (!named("activity_report.organisation")) {
    auto found = directory_.OrganisationLabel(r.organisation());
    if (found.ok()) {
      *label = *found;
    } else if (found.status().code() == absl::StatusCode::kNotFound) {
      bad->push_back(
          {"activity_report.organisation", absl::StrCat("[exists] aucune organisation « ",
                                                        r.organisation(), " » dans l'annuaire")});
    } else {
      return Unavailable("l'annuaire des organisations", found.status());
    }
  }
  std::set<std::string> all_areas;
  if (r.venues_size() <= kMaxVenues) {
    for (int i = 0; i < r.venues_size(); ++i) {
      const std::string field = absl::StrCat("activity_report.venues[", i, "]");
      if (named(field)) continue;
      auto found = directory_.VenueAreas(r.venues(i));
      if (found.ok()) {
        all_areas.insert(found->begin(), found->end());
      } else if (found.status().code() == absl::StatusCode::kNotFound ||
                 found.status().code() == absl::StatusCode::kInvalidArgument) {
        bad->push_back({field, absl::StrCat("[exists] aucun lieu ", text::Quote(r.venues(i), 60),
                                            " dans le registre")});
      } else {
        return Unavailable("le registre des lieux", found.status());
      }
    }
  }
  areas->assign(all_areas.begin(), all_areas.end());

  // Items: each in the referential's current published version (not retired).
  std::vector<int> to_check;
  if (r.items_size() <= kMaxItems) {
    for (int i = 0; i < r.items_size(); ++i) {
      if (!named(absl::StrCat("activity_report.items[", i, "]"))) to_check.push_back(i);
    }
  }
  if (to_check.empty()) return absl::OkStatus();
  auto published = directory_.PublishedItems();
  if (!published.ok()) {
    return Unavailable("le référentiel", published.status());
  }
  for (int i : to_check) {
    if (published->count(r.items(i)) == 0) {
      bad->push_back({absl::StrCat("activity_report.items[", i, "]"),
                      absl::StrCat("[exists] aucun élément « ", text::Quote(r.items(i), 60),
                                   " » dans la version publiée du référentiel")});
    }
  }
  std::lock_guard lock(labels_mu_);
  item_labels_.expires = absl::Now() + absl::Hours(1);
  item_labels_.by_code =
      std::make_shared<const std::map<std::string, std::string>>(*std::move(published));
  return absl::OkStatus();
}

absl::StatusOr<v1::ActivityReport> Reports::Submit(const v1::SubmitActivityReportRequest& req,
                                                   const Access& access) {
  if (absl::Status s = CheckRequestId(req.request_id()); !s.ok()) return s;
  v1::ActivityReport r = req.activity_report();
  ClearOutputOnly(&r);
  if (!access.all) r.set_organisation(access.organisation);
  const RememberedRequest remembered{access.request_scope, req.request_id(),
                                     Digest("SubmitActivityReport", r)};
  auto seen = store_.FindRequest(remembered);
  if (!seen.ok()) return seen.status();
  if (*seen) return store_.Get(IdOf(**seen), 0);

  std::vector<api::FieldViolation> bad = ValidateReport(r, Today(), "activity_report");
  std::string label;
  std::vector<std::string> areas;
  if (absl::Status s = CheckDirectory(r, &bad, &label, &areas); !s.ok()) return s;
  if (!bad.empty()) return api::InvalidArgument("rapport d'activité invalide", bad);

  const absl::Time now = clock_.Now();
  r.set_name(kReportName.Format({events::NewUuid()}));
  r.set_state(v1::ActivityReport::SUBMITTED);
  r.set_revision(1);
  api::ToTimestamp(now, r.mutable_create_time());
  api::ToTimestamp(now, r.mutable_update_time());
  r.set_etag(api::WeakETag(1));
  for (const auto& a : areas) r.add_venue_areas(a);
  if (access.expired()) return absl::DeadlineExceededError("délai de l'appel dépassé");
  auto name = store_.InsertReport(r, label, remembered, SubmittedEvent(r, now), access.budget);
  if (!name.ok()) return name.status();
  Invalidate();
  if (*name != r.name()) return store_.Get(IdOf(*name), 0);  // a concurrent retry won
  return r;
}

absl::StatusOr<v1::ActivityReport> Reports::Get(const v1::GetActivityReportRequest& req,
                                                const Access& access) {
  auto id = ReportId(req.name(), "name");
  if (!id.ok()) return id.status();
  if (req.revision() < 0) {
    return api::InvalidArgument("révision invalide",
                                {{"revision", absl::StrCat("[range] 0 (la dernière) ou une "
                                                           "révision, reçu ",
                                                           req.revision())}});
  }
  auto r = store_.Get(*id, req.revision());
  if (!r.ok()) return r.status();
  if (!Visible(access, r->organisation())) return absl::NotFoundError("rapport introuvable");
  return r;
}

absl::StatusOr<v1::ListActivityReportsResponse> Reports::List(
    const v1::ListActivityReportsRequest& req, const Access& access) {
  std::vector<api::FieldViolation> bad;
  std::string organisation = req.organisation();
  if (!access.all) organisation = access.organisation;
  if (!organisation.empty() && !IsOrganisationId(organisation)) {
    bad.push_back({"organisation", absl::StrCat("[pattern] un identifiant d'organisation ; reçu ",
                                                text::Quote(organisation, 40))});
  }
  const int size = api::PageSize(&bad, req.page_size(), 50, 500);
  if (!bad.empty()) return api::InvalidArgument("demande de liste invalide", bad);
  const std::string params =
      api::BindParameters({organisation, req.show_withdrawn() ? "withdrawn" : "submitted"});
  std::string cursor;
  if (!req.page_token().empty()) {
    auto opened = tokens_.Open("activityReports", params, req.page_token());
    if (!opened.ok()) return opened.status();
    cursor = *opened;
  }
  auto page = store_.List(organisation, req.show_withdrawn(), cursor, size);
  if (!page.ok()) return page.status();
  v1::ListActivityReportsResponse out;
  for (auto& r : page->reports) *out.add_activity_reports() = std::move(r);
  if (!page->next_cursor.empty()) {
    out.set_next_page_token(tokens_.Seal("activityReports", params, page->next_cursor));
  }
  out.set_total_size(page->total_size);
  return out;
}

absl::StatusOr<v1::ActivityReport> Reports::Revise(
    const std::string& id, const Access& access, int expected_revision,
    const std::function<absl::StatusOr<v1::ActivityReport>(const v1::ActivityReport&)>& change,
    const std::string& label, const RememberedRequest& request) {
  if (access.expired()) return absl::DeadlineExceededError("délai de l'appel dépassé");
  const absl::Time now = clock_.Now();
  auto written = store_.Revise(
      id,
      [&](const v1::ActivityReport& latest) -> absl::StatusOr<v1::ActivityReport> {
        if (!Visible(access, latest.organisation())) {
          return absl::NotFoundError("rapport introuvable");
        }
        if (expected_revision != 0 && latest.revision() != expected_revision) {
          return api::WithReason(
              absl::AbortedError(absl::StrCat("le rapport a changé : révision ", latest.revision(),
                                              ", etag reçu pour la révision ", expected_revision)),
              "ETAG_MISMATCH");
        }
        if (latest.state() == v1::ActivityReport::WITHDRAWN) {
          return api::WithReason(absl::FailedPreconditionError("le rapport est retiré"),
                                 "REPORT_WITHDRAWN");
        }
        auto next = change(latest);
        if (!next.ok()) return next.status();
        next->set_name(latest.name());
        next->set_organisation(latest.organisation());
        next->set_revision(latest.revision() + 1);
        *next->mutable_create_time() = latest.create_time();
        api::ToTimestamp(now, next->mutable_update_time());
        next->set_etag(api::WeakETag(next->revision()));
        return next;
      },
      label, [now](const v1::ActivityReport& r) { return SubmittedEvent(r, now); }, request,
      access.budget);
  if (written.ok()) Invalidate();
  return written;
}

absl::StatusOr<v1::ActivityReport> Reports::Correct(const v1::CorrectActivityReportRequest& req,
                                                    const Access& access) {
  if (absl::Status s = CheckRequestId(req.request_id()); !s.ok()) return s;
  auto id = ReportId(req.activity_report().name(), "activity_report.name");
  if (!id.ok()) return id.status();
  // The etag is required (AIP-154 lets a resource demand it): a correction replaces the whole
  // report, so it is made to the revision the member read, never blindly over another's.
  if (req.activity_report().etag().empty()) {
    return api::InvalidArgument(
        "etag manquant",
        {{"activity_report.etag",
          "[required] obligatoire : l'etag de la révision corrigée (lue avec GetActivityReport)"}});
  }
  auto expected = api::RevisionFromETag(req.activity_report().etag());
  if (!expected.ok()) return expected.status();
  // The request as sent (name and etag included) is what its id is bound to.
  v1::ActivityReport sent = req.activity_report();
  if (!access.all) sent.set_organisation(access.organisation);
  const RememberedRequest remembered{access.request_scope, req.request_id(),
                                     Digest("CorrectActivityReport", sent)};
  auto seen = store_.FindRequest(remembered);
  if (!seen.ok()) return seen.status();
  if (*seen) {
    auto first = store_.Get(IdOf(**seen), RevisionOf(**seen));
    if (!first.ok()) return first.status();
    if (!Visible(access, first->organisation())) return absl::NotFoundError("rapport introuvable");
    return first;
  }
  auto current = store_.Get(*id, 0);
  if (!current.ok()) return current.status();
  if (!Visible(access, current->organisation())) return absl::NotFoundError("rapport introuvable");

  v1::ActivityReport r = req.activity_report();
  ClearOutputOnly(&r);
  std::vector<api::FieldViolation> bad;
  if (!r.organisation().empty() && r.organisation() != current->organisation()) {
    bad.push_back(
        {"activity_report.organisation", "[immutable] l'organisation d'un rapport ne change pas"});
  }
  r.set_organisation(current->organisation());
  for (auto& v : ValidateReport(r, Today(), "activity_report")) bad.push_back(std::move(v));
  std::string label;
  std::vector<std::string> areas;
  if (absl::Status s = CheckDirectory(r, &bad, &label, &areas); !s.ok()) return s;
  if (!bad.empty()) return api::InvalidArgument("rapport d'activité invalide", bad);
  return Revise(
      *id, access, *expected,
      [&](const v1::ActivityReport&) -> absl::StatusOr<v1::ActivityReport> {
        v1::ActivityReport next = r;
        next.set_state(v1::ActivityReport::SUBMITTED);
        for (const auto& a : areas) next.add_venue_areas(a);
        return next;
      },
      label, remembered);
}

absl::StatusOr<v1::ActivityReport> Reports::Withdraw(const v1::WithdrawActivityReportRequest& req,
                                                     const Access& access) {
  auto id = ReportId(req.name(), "name");
  if (!id.ok()) return id.status();
  std::vector<api::FieldViolation> bad;
  api::CheckText(&bad, "reason", req.reason(), kMaxReason, /*multiline=*/true);
  if (!bad.empty()) return api::InvalidArgument("retrait invalide", bad);
  auto expected = api::RevisionFromETag(req.etag());
  if (!expected.ok()) return expected.status();
  return Revise(
      *id, access, *expected,
      [&](const v1::ActivityReport& latest) -> absl::StatusOr<v1::ActivityReport> {
        v1::ActivityReport next = latest;
        next.set_state(v1::ActivityReport::WITHDRAWN);
        next.set_withdrawal_reason(req.reason());
        return next;
      },
      "");
}

void Reports::Invalidate() {
  std::lock_guard lock(mu_);
  refreshed_ = absl::InfinitePast();
}

absl::Time Reports::ReleaseCut() const {
  if (options_.release_interval <= absl::ZeroDuration()) return absl::InfiniteFuture();
  const int64_t interval = absl::ToInt64Microseconds(options_.release_interval);
  const int64_t now = absl::ToUnixMicros(clock_.Now());
  return absl::FromUnixMicros(now - ((now % interval) + interval) % interval);
}

absl::StatusOr<std::shared_ptr<const Reports::Snapshot>> Reports::Current() {
  std::lock_guard lock(mu_);
  // Steady time: how old the copy is, not a date (the injected clock dates reports).
  const absl::Time now = absl::Now();
  if (now - refreshed_ >= options_.breakdown_max_age) {
    auto changes = store_.ChangesSince(last_seq_);
    if (!changes.ok()) return changes.status();
    refreshed_ = now;
    for (auto& c : *changes) {
      last_seq_ = std::max(last_seq_, c.seq);
      pending_.push_back(std::move(c));
    }
  }
  // The revisions written before the last release, in order; the others wait for the next.
  const absl::Time cut = ReleaseCut();
  bool changed = false;
  size_t waiting = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    Change& c = pending_[i];
    if (c.write_time >= cut) {
      if (i != waiting) pending_[waiting] = std::move(c);
      ++waiting;
      continue;
    }
    changed = true;
    if (c.withdrawn) {
      current_.erase(c.figures.id);
    } else {
      std::string key = c.figures.id;
      current_[key] = std::make_shared<const Figures>(std::move(c.figures));
    }
  }
  pending_.resize(waiting);
  if (!changed) return snapshot_;
  auto next = std::make_shared<Snapshot>();
  next->reserve(current_.size());
  for (const auto& [id, f] : current_) next->push_back(f);
  snapshot_ = std::move(next);
  return snapshot_;
}

std::shared_ptr<const std::map<std::string, std::string>> Reports::AreaLabels(
    const std::string& layer) {
  std::lock_guard lock(labels_mu_);
  const absl::Time now = absl::Now();
  auto it = area_labels_.find(layer);
  if (it != area_labels_.end() && now < it->second.expires) return it->second.by_code;
  // Bounded: a public request names any layer; unknown ones are remembered too, for a while.
  if (area_labels_.size() > 100) area_labels_.clear();
  auto labels = directory_.AreaLabels(layer);
  Labels entry;
  if (labels.ok()) {
    entry.expires = now + absl::Hours(1);
    entry.by_code = std::make_shared<const std::map<std::string, std::string>>(*std::move(labels));
  } else {
    entry.expires = now + absl::Minutes(1);
    entry.by_code = it != area_labels_.end() ? it->second.by_code : nullptr;
  }
  area_labels_[layer] = entry;
  return entry.by_code;
}

std::shared_ptr<const std::map<std::string, std::string>> Reports::ItemLabels() {
  std::lock_guard lock(labels_mu_);
  const absl::Time now = absl::Now();
  if (now < item_labels_.expires) return item_labels_.by_code;
  auto labels = directory_.PublishedItems();
  if (labels.ok()) {
    item_labels_.expires = now + absl::Hours(1);
    item_labels_.by_code =
        std::make_shared<const std::map<std::string, std::string>>(*std::move(labels));
  } else {
    item_labels_.expires = now + absl::Minutes(1);
  }
  return item_labels_.by_code;
}

absl::StatusOr<v1::Breakdown> Reports::GetBreakdown(const v1::GetBreakdownRequest& req) {
  auto query = ParseBreakdownRequest(req, Today());
  if (!query.ok()) return query.status();
  if (query->dimension == v1::AREA) {
    query->area_labels = AreaLabels(query->layer);
    // Without an answer of the venues service the codes stand in; an answer with no area is a
    // layer that does not exist (or holds nothing to group by).
    if (query->area_labels && query->area_labels->empty()) {
      return api::InvalidArgument(
          "demande de tableau invalide",
          {{"layer",
            absl::StrCat("[unknown] aucune zone dans la couche ", text::Quote(query->layer, 40),
                         " : couche inconnue ou vide (qpv, quartiers, iris...)")}});
    }
  }
  if (query->dimension == v1::ITEM) query->item_labels = ItemLabels();
  auto snapshot = Current();
  if (!snapshot.ok()) return snapshot.status();
  // The snapshot keeps every report alive while the figures are computed, so a report's
  // address names its revision: the kept answer stands while the year's reports are the same.
  std::vector<const Figures*> selected;
  selected.reserve((*snapshot)->size());
  for (const auto& f : **snapshot) {
    if (Selected(*query, *f)) selected.push_back(f.get());
  }
  const std::string key =
      absl::StrCat(static_cast<int>(query->dimension), "/", query->layer, "/", query->year);
  auto kept = [&]() -> const v1::Breakdown* {
    auto it = computed_.find(key);
    if (it != computed_.end() && it->second.selected == selected &&
        it->second.area_labels == query->area_labels &&
        it->second.item_labels == query->item_labels) {
      return &it->second.breakdown;
    }
    return nullptr;
  };
  std::shared_ptr<std::mutex> flight;
  {
    std::lock_guard lock(computed_mu_);
    if (const v1::Breakdown* b = kept()) return *b;
    auto& f = in_flight_[key];
    if (!f) f = std::make_shared<std::mutex>();
    flight = f;
  }
  // One computation per table at a time: the others wait for it and take its answer.
  std::lock_guard computing(*flight);
  {
    std::lock_guard lock(computed_mu_);
    if (const v1::Breakdown* b = kept()) return *b;
  }
  v1::Breakdown out = ComputeBreakdown(
      *query, selected,
      BreakdownOptions{.k = options_.min_count, .min_reports = options_.min_reports});
  std::lock_guard lock(computed_mu_);
  if (computed_.size() > 256) {
    // Many layers asked for: keep the tables of the dimensions without a layer.
    for (auto it = computed_.begin(); it != computed_.end();) {
      it = it->second.area_labels ? computed_.erase(it) : std::next(it);
    }
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      it = it->second.use_count() == 1 ? in_flight_.erase(it) : std::next(it);
    }
  }
  computed_[key] = {*snapshot, std::move(selected), query->area_labels, query->item_labels, out};
  return out;
}

absl::StatusOr<v1::EqualityAssessment> Reports::SubmitAssessment(
    const v1::SubmitEqualityAssessmentRequest& req, const Access& access) {
  if (absl::Status s = CheckRequestId(req.request_id()); !s.ok()) return s;
  v1::EqualityAssessment a = req.equality_assessment();
  a.clear_name();
  a.clear_step_total();
  a.clear_yes_share();
  a.clear_create_time();
  if (!access.all) a.set_organisation(access.organisation);
  const RememberedRequest remembered{access.request_scope, req.request_id(),
                                     Digest("SubmitEqualityAssessment", a)};
  auto seen = store_.FindRequest(remembered);
  if (!seen.ok()) return seen.status();
  if (*seen) return store_.GetAssessment(IdOf(**seen));

  std::vector<api::FieldViolation> bad = grid_.Validate(a, Today(), "equality_assessment");
  const bool organisation_ok = std::none_of(
      bad.begin(), bad.end(),
      [](const api::FieldViolation& v) { return v.field == "equality_assessment.organisation"; });
  if (organisation_ok) {
    auto found = directory_.OrganisationLabel(a.organisation());
    if (found.status().code() == absl::StatusCode::kNotFound) {
      bad.push_back({"equality_assessment.organisation",
                     absl::StrCat("[exists] aucune organisation « ", a.organisation(),
                                  " » dans l'annuaire")});
    } else if (!found.ok()) {
      return Unavailable("l'annuaire des organisations", found.status());
    }
  }
  if (!bad.empty()) return api::InvalidArgument("évaluation invalide", bad);
  EqualityGrid::Score(&a);
  a.set_name(kAssessmentName.Format({events::NewUuid()}));
  api::ToTimestamp(clock_.Now(), a.mutable_create_time());
  if (access.expired()) return absl::DeadlineExceededError("délai de l'appel dépassé");
  auto name = store_.InsertAssessment(a, remembered, access.budget);
  if (!name.ok()) return name.status();
  if (*name != a.name()) return store_.GetAssessment(IdOf(*name));
  return a;
}

absl::StatusOr<v1::EqualityScores> Reports::Scores(const v1::GetEqualityScoresRequest& req,
                                                   const Access& access) {
  std::vector<api::FieldViolation> bad;
  if (!req.organisation().empty() && !IsOrganisationId(req.organisation())) {
    bad.push_back({"organisation", absl::StrCat("[pattern] un identifiant d'organisation ; reçu ",
                                                text::Quote(req.organisation(), 40))});
  }
  const int questions = static_cast<int>(grid_.questions.size());
  if (req.top() < 0 || req.top() > questions) {
    bad.push_back({"top", absl::StrCat("[range] de 0 à ", questions, ", reçu ", req.top())});
  }
  if (!bad.empty()) return api::InvalidArgument("demande de scores invalide", bad);
  if (access.all) {
    auto assessments = store_.LatestAssessments(req.organisation());
    if (!assessments.ok()) return assessments.status();
    return ComputeScores(grid_, *std::move(assessments), req.top() == 0 ? 5 : req.top(),
                         options_.min_count);
  }
  // Another organisation's scores are its own business: a key sees its organisation's actions
  // (none for a key of no organisation) and the tallies of the whole network.
  if (!req.organisation().empty() && req.organisation() != access.organisation) {
    return api::WithReason(
        absl::PermissionDeniedError(absl::StrCat(
            "les scores par action ne se lisent que pour l'organisation de la clé, pas pour ",
            text::Quote(req.organisation(), 40))),
        "NOT_OWNER");
  }
  auto assessments = store_.LatestAssessments("");
  if (!assessments.ok()) return assessments.status();
  v1::EqualityScores out = ComputeScores(grid_, *std::move(assessments),
                                         req.top() == 0 ? 5 : req.top(), options_.min_count);
  // The exact tallies stay with administrators: other keys read the published figures.
  for (v1::QuestionTally& t : *out.mutable_most_no()) {
    t.clear_no_count();
    t.clear_applicable_count();
  }
  auto* actions = out.mutable_actions();
  actions->erase(std::remove_if(actions->begin(), actions->end(),
                                [&](const v1::ActionScores& a) {
                                  return access.organisation.empty() ||
                                         a.organisation() != access.organisation;
                                }),
                 actions->end());
  return out;
}

absl::Status Reports::ExportReports(const v1::ExportActivityReportsRequest& req,
                                    const Access& access,
                                    const std::function<bool(std::string_view)>& write) {
  v1::ListActivityReportsRequest list;
  list.set_organisation(req.organisation());
  list.set_show_withdrawn(req.show_withdrawn());
  list.set_page_size(500);
  bool started = false;
  do {
    auto page = List(list, access);
    if (!page.ok()) return page.status();
    if (!started) {
      started = true;
      if (!write(ActivityReportsCsvHeader())) return absl::OkStatus();
    }
    for (const v1::ActivityReport& r : page->activity_reports()) {
      if (!write(ActivityReportCsvLines(r))) return absl::OkStatus();
    }
    list.set_page_token(page->next_page_token());
  } while (!list.page_token().empty());
  return absl::OkStatus();
}

absl::StatusOr<std::string> Reports::ExportScores(const v1::ExportEqualityScoresRequest& req,
                                                  const Access& access) {
  if (!v1::EqualityTable_IsValid(req.table())) {
    return api::InvalidArgument(
        "demande d'export invalide",
        {{"table", absl::StrCat("[enum] ACTIONS ou MOST_NO ; reçu ", req.table())}});
  }
  v1::GetEqualityScoresRequest get;
  get.set_organisation(req.organisation());
  get.set_top(req.top());  // checked whatever the table
  auto scores = Scores(get, access);
  if (!scores.ok()) return scores.status();
  return req.table() == v1::MOST_NO ? EqualityMostNoCsv(*scores) : EqualityActionsCsv(*scores);
}

}  // namespace passerelle::indicators::reports
