// The coverage domain: read model upkeep and the coverage API computed from memory.
#include "services/indicators/coverage.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/csv/csv.hpp"
#include "libs/events/consumer.hpp"
#include "libs/logging/logging.hpp"
#include "libs/text/json_string.hpp"
#include "libs/text/utf8.hpp"
#include "passerelle/referential/v1/events.pb.h"
#include "passerelle/venues/v1/events.pb.h"
#include "services/indicators/coverage_needs.hpp"

namespace passerelle::indicators::coverage {
namespace {

const api::ResourcePattern& LayerPattern() {
  static const auto* p = new api::ResourcePattern("areaLayers/{layer}");
  return *p;
}
const api::ResourcePattern& CoveragePattern() {
  static const auto* p = new api::ResourcePattern("areaLayers/{layer}/coverage");
  return *p;
}

constexpr size_t kMaxOffers = 200;
constexpr int kMaxFiguresPerPage = 5000;
constexpr double kMaxReach = 100000;

std::string Shortest(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

// Distances are reported to the decimetre: enough for a map, stable across runs.
double Round(double meters) { return std::round(meters * 10) / 10; }

v1::Needs NeedsProto(const NeedsRow& n) {
  v1::Needs out;
  out.set_population(n.population);
  if (n.score) out.set_fragility_score(*n.score);
  for (const auto& [k, v] : n.components) (*out.mutable_fragility_components())[k] = v;
  return out;
}

double NeedScore(const NeedsRow* n) {
  if (n == nullptr) return 0;
  return n->score ? static_cast<double>(n->population) * *n->score / 100
                  : static_cast<double>(n->population);
}

v1::WeeklyHours WeekProto(const WeekBits& w) {
  v1::WeeklyHours out;
  int evening = 0, saturday = 0;
  for (int h = 0; h < 168; ++h) {
    if (!w.test(static_cast<size_t>(h))) continue;
    out.add_hours(h);
    const int day = h / 24, hour = h % 24;
    if (day < 5 && hour >= 18) ++evening;
    if (day == 5) ++saturday;
  }
  out.set_evening_hours(evening);
  out.set_saturday_hours(saturday);
  return out;
}

const NeedsRow* FindNeeds(const Index& index, const std::string& layer, const std::string& code) {
  auto l = index.needs.find(layer);
  if (l == index.needs.end()) return nullptr;
  auto n = l->second.find(code);
  return n == l->second.end() ? nullptr : &n->second;
}

std::string Json(std::string_view s) {
  std::string out;
  text::AppendJsonStringRepaired(&out, s);
  return out;
}

std::string AreaName(const std::string& layer, const std::string& code) {
  return absl::StrCat("areaLayers/", layer, "/areas/", code);
}

}  // namespace

Domain::Domain(Store& store, Upstream& upstream, const api::PageTokens& tokens,
               const clocks::Clock& clock, Options options)
    : store_(store),
      upstream_(upstream),
      tokens_(tokens),
      clock_(clock),
      options_(std::move(options)) {}

// --- read model -------------------------------------------------------------------------------

absl::Status Domain::Consume(pqxx::work& tx, const events::v1::Event& event) {
  const std::string& type = event.type();
  if (type == "venue.created" || type == "venue.updated" || type == "venue.withdrawn") {
    VenueRow row;
    if (type == "venue.withdrawn") {
      venues::v1::VenueWithdrawn p;
      if (!event.payload().UnpackTo(&p) || p.name().empty()) {
        return events::Permanent(
            absl::InvalidArgumentError(absl::StrCat("undecodable ", type, " payload")));
      }
      row.name = p.name();
      row.active = false;
      row.areas.assign(p.areas().begin(), p.areas().end());
      std::sort(row.areas.begin(), row.areas.end());
      row.offers.assign(p.referential_items().begin(), p.referential_items().end());
      std::sort(row.offers.begin(), row.offers.end());
      row.update_time = api::FromTimestamp(event.occurred_time());
    } else {
      venues::v1::Venue venue;
      bool ok = false;
      if (type == "venue.created") {
        venues::v1::VenueCreated p;
        ok = event.payload().UnpackTo(&p);
        venue = p.venue();
      } else {
        venues::v1::VenueUpdated p;
        ok = event.payload().UnpackTo(&p);
        venue = p.venue();
      }
      if (!ok || venue.name().empty() || !venue.has_update_time()) {
        return events::Permanent(
            absl::InvalidArgumentError(absl::StrCat("undecodable ", type, " payload")));
      }
      row = FromVenue(venue);
    }
    // Text PostgreSQL cannot hold would fail the transaction forever: refused as poison.
    for (const auto* s : {&row.name, &row.nom}) {
      if (!text::IsValidUtf8(*s) || s->find('\0') != std::string::npos) {
        return events::Permanent(
            absl::InvalidArgumentError(absl::StrCat(type, " payload with invalid text")));
      }
    }
    // NATS is not authenticated: an event is a claim, checked before it is stored. Refused
    // events are acknowledged (dropped), counted and logged.
    if (row.update_time > clock_.Now() + options_.future_margin) {
      Reject(event, "future_update_time", absl::FormatTime(row.update_time));
      return absl::OkStatus();
    }
    if (row.offers.size() > options_.max_venue_offers) {
      Reject(event, "too_many_offers", absl::StrCat(row.offers.size()));
      return absl::OkStatus();
    }
    if (row.areas.size() > options_.max_venue_offers) {
      Reject(event, "too_many_areas", absl::StrCat(row.areas.size()));
      return absl::OkStatus();
    }
    if (!Store::HasVenue(tx, row.name)) {
      // A venue new to this model must be one venues knows; an outage is an error (retried).
      auto exists = upstream_.VenueExists(row.name);
      if (!exists.ok()) return exists.status();
      if (!*exists) {
        Reject(event, "unknown_venue", "");
        return absl::OkStatus();
      }
    }
    // Offers: the version's items (others are dropped) and the standard's services.
    {
      std::vector<std::string> items, kept;
      for (auto& o : row.offers) (o.starts_with("items/") ? items : kept).push_back(std::move(o));
      std::vector<std::string> offered = Store::OfferedItems(tx, items);
      if (offered.size() < items.size()) {
        Reject(event, "unknown_offers", absl::StrCat(items.size() - offered.size()));
      }
      kept.insert(kept.end(), offered.begin(), offered.end());
      std::sort(kept.begin(), kept.end());
      row.offers = std::move(kept);
    }
    Store::LockState(tx);
    if (row.active) {
      Store::UpsertVenue(tx, row);
    } else {
      Store::WithdrawVenue(tx, row);
    }
    Store::SetAsOf(tx, api::FromTimestamp(event.occurred_time()));
    // A venue in an area this model does not know: the layers are read again soon.
    for (const auto& area : row.areas) {
      if (!model_.KnowsArea(area)) areas_wanted_ = true;
    }
    return absl::OkStatus();
  }
  if (type == "referential.version.published") {
    referential::v1::VersionPublished p;
    if (!event.payload().UnpackTo(&p) || p.version().empty()) {
      return events::Permanent(
          absl::InvalidArgumentError("undecodable referential.version.published payload"));
    }
    std::vector<std::pair<std::string, std::string>> offered;
    for (const auto& m : p.code_mapping()) {
      if (!m.new_code().empty()) offered.emplace_back(m.item(), m.new_code());
    }
    for (const auto& item : p.items_added()) offered.emplace_back(item, "");
    std::vector<std::string> retired(p.items_retired().begin(), p.items_retired().end());
    Store::ApplyVersion(tx, p.version(), api::FromTimestamp(event.occurred_time()), offered,
                        retired);
    return absl::OkStatus();
  }
  return absl::OkStatus();  // not ours
}

void Domain::Reject(const events::v1::Event& event, const std::string& reason,
                    const std::string& detail) {
  if (on_rejected_) on_rejected_(reason);
  logging::Warn("coverage venue event refused", {{"reason", reason},
                                                 {"event_id", event.id()},
                                                 {"event_type", event.type()},
                                                 {"subject", event.subject().substr(0, 200)},
                                                 {"detail", detail}});
}

absl::Status Domain::Refresh() {
  std::lock_guard lock(refresh_mu_);
  auto state = store_.State();
  if (!state.ok()) return state.status();
  if (state->catalogue_generation != seen_catalogue_) {
    auto items = store_.Items();
    if (!items.ok()) return items.status();
    auto layers = store_.Layers();
    if (!layers.ok()) return layers.status();
    auto needs = store_.Needs();
    if (!needs.ok()) return needs.status();
    // Items whose label is not known yet are shown by their id.
    for (auto& i : *items) {
      if (i.label.empty()) i.label = i.name;
    }
    model_.SetReferential(state->referential_version, *std::move(items));
    model_.SetLayers(*std::move(layers));
    model_.SetNeeds(*std::move(needs));
    seen_catalogue_ = state->catalogue_generation;
  }
  int64_t max_seq = seen_seq_;
  auto venues = store_.VenuesSince(seen_seq_, &max_seq);
  if (!venues.ok()) return venues.status();
  for (auto& v : *venues) model_.ApplyVenue(std::move(v));
  seen_seq_ = max_seq;
  if (state->as_of) model_.SetAsOf(*state->as_of);
  return absl::OkStatus();
}

absl::Status Domain::Snapshot() {
  const absl::Time taken = clock_.Now();
  auto venues = upstream_.AllVenues();
  if (!venues.ok()) return venues.status();
  auto written = store_.SnapshotVenues(*venues, taken);
  if (!written.ok()) return written.status();
  logging::Info("coverage snapshot of venues taken",
                {{"venues", static_cast<int64_t>(venues->size())},
                 {"written", static_cast<int64_t>(*written)}});
  auto state = store_.State();
  if (!state.ok()) return state.status();
  if (state->referential_version.empty()) {
    std::string name;
    absl::Time published;
    auto items = upstream_.VersionItems(
        absl::StrCat("nomenclatures/", options_.nomenclature, "/versions/-"), &name, &published);
    if (!items.ok()) return items.status();
    if (absl::Status s = store_.SetItems(name, *items, /*bootstrap=*/true, published); !s.ok()) {
      return s;
    }
  }
  return Refresh();
}

absl::Status Domain::RefreshAreas() {
  auto layers = upstream_.AreaLayers();
  if (!layers.ok()) return layers.status();
  auto changed = store_.ReplaceLayers(*layers);
  if (!changed.ok()) return changed.status();
  if (*changed) {
    logging::Info("coverage area layers read", {{"layers", static_cast<int64_t>(layers->size())}});
  }
  return Refresh();
}

bool Domain::RefreshAreasOnDemand(bool force) {
  {
    std::lock_guard lock(upkeep_mu_);
    const absl::Time now = clock_.Now();
    if (!force && now - last_areas_ < options_.on_demand_gap) return false;
    last_areas_ = now;
  }
  if (absl::Status s = RefreshAreas(); !s.ok()) {
    logging::Warn("area layers could not be read", {{"error", std::string(s.message())}});
    return false;
  }
  return true;
}

absl::Status Domain::Upkeep() {
  absl::Status first;
  auto keep = [&](absl::Status s) {
    if (!s.ok() && first.ok()) first = s;
  };
  auto state = store_.State();
  if (!state.ok()) return state.status();
  const absl::Time now = clock_.Now();
  bool snapshot = false, labels = false, areas = false;
  {
    std::lock_guard lock(upkeep_mu_);
    if ((!state->snapshot_time || state->referential_version.empty()) &&
        now - last_snapshot_try_ >= options_.retry_gap) {
      snapshot = true;
      last_snapshot_try_ = now;
    }
    if (state->labels_pending && now - last_labels_try_ >= options_.retry_gap) {
      labels = true;
      last_labels_try_ = now;
    }
    if ((areas_wanted_ && now - last_areas_ >= options_.on_demand_gap) ||
        now - last_areas_ >= options_.areas_refresh) {
      areas = true;
      last_areas_ = now;
      areas_wanted_ = false;
    }
  }
  if (areas) keep(RefreshAreas());
  if (snapshot) {
    if (!state->snapshot_time) {
      keep(Snapshot());
    } else {
      // Venues were read; only the referential is still unknown.
      std::string name;
      absl::Time published;
      auto items = upstream_.VersionItems(
          absl::StrCat("nomenclatures/", options_.nomenclature, "/versions/-"), &name, &published);
      if (items.ok()) {
        keep(store_.SetItems(name, *items, /*bootstrap=*/true, published));
      } else {
        keep(items.status());
      }
    }
  }
  if (labels) {
    std::string name;
    absl::Time published;
    auto items = upstream_.VersionItems(state->referential_version, &name, &published);
    if (items.ok()) {
      keep(store_.SetItems(state->referential_version, *items, false));
    } else {
      keep(items.status());
    }
  }
  keep(Refresh());
  return first;
}

// --- API --------------------------------------------------------------------------------------

absl::StatusOr<v1::ImportNeedsResponse> Domain::ImportNeeds(const v1::ImportNeedsRequest& req,
                                                            absl::Time deadline) {
  auto parsed_layer = api::ParseLayerName(LayerPattern(), req.parent(), "parent");
  if (!parsed_layer.ok()) return parsed_layer.status();
  const std::string& layer = *parsed_layer;
  if (req.csv().size() > kMaxNeedsBytes) {
    return api::InvalidArgument(
        "fichier de besoins trop grand",
        {{"csv", absl::StrCat("[size] au plus ", kMaxNeedsBytes >> 20, " Mio")}});
  }
  auto codes = store_.AreaCodes(layer);
  if (!codes.ok()) return codes.status();
  // An administrator's import right after the layer reached venues: read the layers now.
  if (codes->empty() && RefreshAreasOnDemand(/*force=*/true)) {
    codes = store_.AreaCodes(layer);
    if (!codes.ok()) return codes.status();
  }
  if (codes->empty()) {
    return api::NotFound(req.parent(), "AREA_LAYER_NOT_FOUND");
  }
  auto parsed = ParseNeeds(req.csv(), std::set<std::string>(codes->begin(), codes->end()));
  if (!parsed.ok()) return parsed.status();
  v1::ImportNeedsResponse out;
  out.set_areas_imported(static_cast<int32_t>(parsed->rows.size()));
  for (const auto& e : parsed->errors) {
    auto* r = out.add_errors();
    r->set_row(e.row);
    r->set_field(e.field);
    r->set_value(e.value);
    r->set_rule(e.rule);
    r->set_message(e.message);
  }
  if (req.validate_only()) {
    if (req.replace()) {
      int cleared = 0;
      auto index = model_.Snapshot();
      for (const auto& c : *codes) {
        const NeedsRow* n = FindNeeds(*index, layer, c);
        if (n != nullptr && !parsed->rows.contains(c)) ++cleared;
      }
      out.set_areas_cleared(cleared);
    }
    return out;
  }
  auto cleared = store_.StoreNeeds(layer, parsed->rows, req.replace(), deadline);
  if (!cleared.ok()) return cleared.status();
  out.set_areas_cleared(*cleared);
  if (absl::Status s = Refresh(); !s.ok()) return s;
  return out;
}

absl::StatusOr<Domain::Query> Domain::ParseQuery(
    const std::string& name, const std::string& field, bool coverage_name,
    const google::protobuf::RepeatedPtrField<std::string>& offers, double reach,
    std::shared_ptr<const Index>* index) {
  auto layer = api::ParseLayerName(coverage_name ? CoveragePattern() : LayerPattern(), name, field);
  if (!layer.ok()) return layer.status();
  Query q;
  q.layer = *layer;
  std::vector<api::FieldViolation> bad;
  if (reach == 0) {
    q.reach = options_.default_reach_meters;
  } else if (api::CheckNumber(&bad, "reach_meters", reach, 1, kMaxReach)) {
    q.reach = reach;
  }
  if (offers.size() > static_cast<int>(kMaxOffers)) {
    bad.push_back({"offers", absl::StrCat("au plus ", kMaxOffers, " offres")});
  }
  if (!bad.empty()) return api::InvalidArgument("demande de couverture invalide", bad);
  *index = model_.Snapshot();
  if (!(*index)->layers.contains(q.layer) && RefreshAreasOnDemand()) *index = model_.Snapshot();
  if (!(*index)->layers.contains(q.layer)) {
    return api::NotFound(name, "AREA_LAYER_NOT_FOUND");
  }
  std::set<uint32_t> seen;
  for (int i = 0; i < offers.size(); ++i) {
    const std::string f = absl::StrCat("offers[", i, "]");
    const std::string& o = offers[i];
    auto it = (*index)->offer_index.find(o);
    if (it == (*index)->offer_index.end()) {
      bad.push_back({f, absl::StrCat("offre inconnue ", text::Quote(o),
                                     " : `items/{item}` de la version publiée ou "
                                     "`services/{service}` du standard")});
    } else if (!seen.insert(it->second).second) {
      bad.push_back({f, "offre en double"});
    } else {
      q.offers.push_back(it->second);
    }
  }
  if (offers.empty()) {
    for (uint32_t i = 0; i < (*index)->offers.size(); ++i) q.offers.push_back(i);
  }
  if (!bad.empty()) return api::InvalidArgument("demande de couverture invalide", bad);
  std::vector<std::string> names(offers.begin(), offers.end());
  q.params = api::BindParameters({q.layer, absl::StrJoin(names, "\n"), Shortest(q.reach)});
  return q;
}

absl::StatusOr<std::shared_ptr<const Domain::Computed>> Domain::Compute(
    const Query& q, std::shared_ptr<const Index> index) {
  std::string key = absl::StrCat(q.layer, "\x1f", Shortest(q.reach), "\x1f");
  for (uint32_t o : q.offers) absl::StrAppend(&key, o, ",");
  {
    std::lock_guard lock(cache_mu_);
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->generation == index->generation && it->key == key) {
        cache_.splice(cache_.begin(), cache_, it);
        return cache_.front().value;
      }
    }
  }
  const absl::Time started = absl::Now();
  const LayerRow& layer = index->layers.at(q.layer);
  auto computed = std::make_shared<Computed>();
  auto coverage = std::make_shared<LayerCoverage>(
      coverage::Compute(index, layer, q.offers, q.reach, options_.threads));
  for (uint32_t a = 0; a < layer.areas.size(); ++a) {
    const double need = NeedScore(FindNeeds(*index, q.layer, layer.areas[a].code));
    for (uint32_t o = 0; o < q.offers.size(); ++o) {
      const OfferFigures& f = coverage->At(a, o);
      // Covered: a venue inside the area, or one within reach of its centre.
      if (f.venue_count == 0 && (!f.nearest_meters || *f.nearest_meters > q.reach)) {
        computed->gaps.push_back({a, o, need});
      }
    }
  }
  const auto& offers = index->offers;
  std::sort(computed->gaps.begin(), computed->gaps.end(),
            [&](const Computed::GapRef& x, const Computed::GapRef& y) {
              if (x.need_score != y.need_score) return x.need_score > y.need_score;
              if (x.area != y.area) return x.area < y.area;  // areas are sorted by code
              return offers[coverage->offers[x.offer]].name <
                     offers[coverage->offers[y.offer]].name;
            });
  computed->coverage = std::move(coverage);
  if (on_compute_) on_compute_(absl::ToDoubleSeconds(absl::Now() - started));
  std::lock_guard lock(cache_mu_);
  // Entries of older generations can never be hit again.
  cache_.remove_if([&](const CacheEntry& e) { return e.generation != index->generation; });
  cache_.push_front({index->generation, key, computed});
  if (cache_.size() > 16) cache_.pop_back();
  return std::shared_ptr<const Computed>(computed);
}

absl::StatusOr<v1::Coverage> Domain::GetCoverage(const v1::GetCoverageRequest& req) {
  auto page_size = api::PageSize(req.page_size(), 50, 500);
  if (!page_size.ok()) return page_size.status();
  int size = *page_size;
  std::shared_ptr<const Index> index;
  auto q = ParseQuery(req.name(), "name", true, req.offers(), req.reach_meters(), &index);
  if (!q.ok()) return q.status();
  std::string after;
  if (!req.page_token().empty()) {
    auto cursor = tokens_.Open("indicators.GetCoverage", q->params, req.page_token());
    if (!cursor.ok()) return cursor.status();
    after = *cursor;
  }
  // A page's figures are bounded, whatever the offers asked: answers stay far under 4 MB.
  size = std::max(
      1, std::min(size, kMaxFiguresPerPage / std::max(1, static_cast<int>(q->offers.size()))));
  auto computed = Compute(*q, index);
  if (!computed.ok()) return computed.status();
  const LayerCoverage& c = *(*computed)->coverage;
  const LayerRow& layer = *c.layer;
  v1::Coverage out;
  out.set_name(absl::StrCat("areaLayers/", q->layer, "/coverage"));
  out.set_centre(v1::POINT_ON_SURFACE);
  out.set_reach_meters(q->reach);
  out.set_referential_version(index->referential_version);
  if (index->as_of != absl::InfinitePast())
    api::ToTimestamp(index->as_of, out.mutable_as_of_time());
  out.set_total_size(static_cast<int32_t>(layer.areas.size()));
  // Areas by code: the page starts after the cursor's code.
  size_t a = 0;
  if (!after.empty()) {
    while (a < layer.areas.size() && layer.areas[a].code <= after) ++a;
  }
  for (int n = 0; a < layer.areas.size() && n < size; ++a, ++n) {
    const AreaRow& area = layer.areas[a];
    auto* ac = out.add_areas();
    ac->set_area(AreaName(q->layer, area.code));
    ac->set_label(area.label);
    if (const NeedsRow* needs = FindNeeds(*index, q->layer, area.code)) {
      *ac->mutable_needs() = NeedsProto(*needs);
    }
    ac->set_venue_count(c.venue_count[a]);
    for (size_t o = 0; o < c.offers.size(); ++o) {
      const OfferFigures& f = c.At(a, o);
      auto* oc = ac->add_offers();
      const Offer& offer = index->offers[c.offers[o]];
      oc->set_offer(offer.name);
      oc->set_label(offer.label);
      oc->set_venue_count(f.venue_count);
      if (f.nearest_meters) {
        oc->set_nearest_distance_meters(f.venue_count > 0 ? 0 : Round(*f.nearest_meters));
        oc->set_nearest_venue(index->venues[static_cast<size_t>(f.nearest_venue)].name());
      }
      *oc->mutable_open_within_reach() = WeekProto(f.open_within_reach);
    }
  }
  if (a < layer.areas.size()) {
    out.set_next_page_token(
        tokens_.Seal("indicators.GetCoverage", q->params, layer.areas[a - 1].code));
  }
  return out;
}

absl::StatusOr<v1::ListGapsResponse> Domain::ListGaps(const v1::ListGapsRequest& req) {
  auto page_size = api::PageSize(req.page_size(), 100, 1000);
  if (!page_size.ok()) return page_size.status();
  const int size = *page_size;
  std::shared_ptr<const Index> index;
  auto q = ParseQuery(req.parent(), "parent", false, req.offers(), req.reach_meters(), &index);
  if (!q.ok()) return q.status();
  size_t offset = 0;
  if (!req.page_token().empty()) {
    auto cursor = tokens_.Open("indicators.ListGaps", q->params, req.page_token());
    if (!cursor.ok()) return cursor.status();
    if (!absl::SimpleAtoi(*cursor, &offset)) {
      return api::InvalidArgument("page_token invalide", {{"page_token", "jeton illisible"}});
    }
  }
  auto computed = Compute(*q, index);
  if (!computed.ok()) return computed.status();
  const auto& gaps = (*computed)->gaps;
  const LayerCoverage& c = *(*computed)->coverage;
  v1::ListGapsResponse out;
  out.set_total_size(static_cast<int32_t>(gaps.size()));
  size_t i = std::min(offset, gaps.size());
  for (int n = 0; i < gaps.size() && n < size; ++i, ++n) {
    const auto& g = gaps[i];
    const AreaRow& area = c.layer->areas[g.area];
    const OfferFigures& f = c.At(g.area, g.offer);
    const Offer& offer = index->offers[c.offers[g.offer]];
    auto* out_gap = out.add_gaps();
    out_gap->set_area(AreaName(q->layer, area.code));
    out_gap->set_label(area.label);
    out_gap->set_offer(offer.name);
    out_gap->set_offer_label(offer.label);
    if (f.nearest_meters) out_gap->set_nearest_distance_meters(Round(*f.nearest_meters));
    if (const NeedsRow* needs = FindNeeds(*index, q->layer, area.code)) {
      *out_gap->mutable_needs() = NeedsProto(*needs);
    }
    out_gap->set_need_score(std::round(g.need_score * 100) / 100);  // as the exports write it
  }
  if (i < gaps.size()) {
    out.set_next_page_token(tokens_.Seal("indicators.ListGaps", q->params, absl::StrCat(i)));
  }
  return out;
}

absl::Status Domain::Export(const v1::ExportCoverageRequest& req, std::string* content_type,
                            const std::function<bool(std::string_view)>& write) {
  if (!v1::ExportFormat_IsValid(req.format())) {
    return api::InvalidArgument("format invalide", {{"format", "valeur inconnue"}});
  }
  if (!v1::CoverageTable_IsValid(req.table())) {
    return api::InvalidArgument("table invalide", {{"table", "valeur inconnue"}});
  }
  const bool gaps = req.table() == v1::GAPS;
  const bool needs_table = req.table() == v1::NEEDS;
  v1::ExportFormat format = req.format();
  if (format == v1::EXPORT_FORMAT_UNSPECIFIED) {
    format = gaps || needs_table ? v1::CSV : v1::GEOJSON;
  }
  if (gaps && format == v1::GEOJSON) {
    return api::InvalidArgument("format invalide",
                                {{"format", "[format] les lacunes ne s'exportent qu'en CSV"}});
  }
  if (needs_table && format == v1::GEOJSON) {
    return api::InvalidArgument("format invalide",
                                {{"format", "les besoins ne s'exportent qu'en CSV"}});
  }
  std::shared_ptr<const Index> index;
  auto q = ParseQuery(req.name(), "name", true, req.offers(), req.reach_meters(), &index);
  if (!q.ok()) return q.status();
  auto computed = Compute(*q, index);
  if (!computed.ok()) return computed.status();
  const LayerCoverage& c = *(*computed)->coverage;
  const LayerRow& layer = *c.layer;
  auto cell = [](std::string_view s) { return csv::NeutraliseFormula(s); };
  // Empty for no value (a pointer: GCC 12 misreads optionals through lambdas).
  auto number = [](const double* v) { return v ? Shortest(*v) : std::string(); };
  auto score = [](const NeedsRow* n) {
    return n != nullptr && n->score ? Shortest(*n->score) : std::string();
  };
  if (needs_table) {
    // Every area of the layer, with its needs as imported (empty cells when none were): the
    // population of an area and its index are public statistics, not counts of people served,
    // so no small-count rule applies.
    *content_type = "text/csv; charset=utf-8";
    std::vector<std::string> header = {"area_code", "area_name", "population", "fragility_score"};
    for (const std::string& name : NeedsComponents()) header.push_back(name);
    if (!write(csv::Line(header))) return absl::OkStatus();
    for (const AreaRow& area : layer.areas) {
      const NeedsRow* needs = FindNeeds(*index, q->layer, area.code);
      std::vector<std::string> line = {cell(area.code), cell(area.label),
                                       needs ? absl::StrCat(needs->population) : "", score(needs)};
      for (const std::string& name : NeedsComponents()) {
        const double* v = nullptr;
        if (needs != nullptr) {
          auto it = needs->components.find(name);
          if (it != needs->components.end()) v = &it->second;
        }
        line.push_back(number(v));
      }
      if (!write(csv::Line(line))) return absl::OkStatus();
    }
    return absl::OkStatus();
  }
  if (gaps) {
    *content_type = "text/csv; charset=utf-8";
    if (!write(csv::Line({"rank", "area_code", "area_name", "offer", "offer_label",
                          "nearest_distance_meters", "population", "fragility_score",
                          "need_score"}))) {
      return absl::OkStatus();
    }
    int rank = 0;
    for (const auto& g : (*computed)->gaps) {
      const AreaRow& area = layer.areas[g.area];
      const OfferFigures& f = c.At(g.area, g.offer);
      const Offer& offer = index->offers[c.offers[g.offer]];
      const NeedsRow* needs = FindNeeds(*index, q->layer, area.code);
      const double nearest = f.nearest_meters ? Round(*f.nearest_meters) : 0;
      if (!write(
              csv::Line({absl::StrCat(++rank), cell(area.code), cell(area.label), cell(offer.name),
                         cell(offer.label), number(f.nearest_meters ? &nearest : nullptr),
                         needs ? absl::StrCat(needs->population) : "", score(needs),
                         Shortest(g.need_score)}))) {
        return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }
  if (format == v1::CSV) {
    *content_type = "text/csv; charset=utf-8";
    if (!write(csv::Line({"area_code", "area_name", "population", "fragility_score", "offer",
                          "offer_label", "venue_count", "nearest_distance_meters", "nearest_venue",
                          "hours_open_within_reach", "evening_hours", "saturday_hours"}))) {
      return absl::OkStatus();
    }
    for (size_t a = 0; a < layer.areas.size(); ++a) {
      const AreaRow& area = layer.areas[a];
      const NeedsRow* needs = FindNeeds(*index, q->layer, area.code);
      for (size_t o = 0; o < c.offers.size(); ++o) {
        const OfferFigures& f = c.At(a, o);
        const Offer& offer = index->offers[c.offers[o]];
        const auto week = WeekProto(f.open_within_reach);
        const double nearest = !f.nearest_meters   ? 0
                               : f.venue_count > 0 ? 0.0
                                                   : Round(*f.nearest_meters);
        if (!write(csv::Line({cell(area.code), cell(area.label),
                              needs ? absl::StrCat(needs->population) : "", score(needs),
                              cell(offer.name), cell(offer.label), absl::StrCat(f.venue_count),
                              number(f.nearest_meters ? &nearest : nullptr),
                              f.nearest_venue >= 0
                                  ? cell(index->venues[static_cast<size_t>(f.nearest_venue)].name())
                                  : "",
                              absl::StrCat(week.hours_size()), absl::StrCat(week.evening_hours()),
                              absl::StrCat(week.saturday_hours())}))) {
          return absl::OkStatus();
        }
      }
    }
    return absl::OkStatus();
  }
  // GeoJSON: one feature per area, flat figures QGIS shows as columns, and the offers' detail
  // as an array (a JSON string column in OGR).
  *content_type = "application/geo+json";
  if (!write(absl::StrCat(
          "{\"type\":\"FeatureCollection\",\"name\":", Json(absl::StrCat(q->layer, "-coverage")),
          ",\"reach_meters\":", Shortest(q->reach),
          ",\"referential_version\":", Json(index->referential_version), ",\"features\":["))) {
    return absl::OkStatus();
  }
  for (size_t a = 0; a < layer.areas.size(); ++a) {
    const AreaRow& area = layer.areas[a];
    const NeedsRow* needs = FindNeeds(*index, q->layer, area.code);
    int covered = 0;
    std::string offers_json;
    for (size_t o = 0; o < c.offers.size(); ++o) {
      const OfferFigures& f = c.At(a, o);
      const bool within = f.venue_count > 0 || (f.nearest_meters && *f.nearest_meters <= q->reach);
      covered += within ? 1 : 0;
      const Offer& offer = index->offers[c.offers[o]];
      absl::StrAppend(
          &offers_json, o ? "," : "", "{\"offer\":", Json(offer.name),
          ",\"venue_count\":", f.venue_count, ",\"nearest_distance_meters\":",
          f.nearest_meters ? Shortest(f.venue_count > 0 ? 0.0 : Round(*f.nearest_meters)) : "null",
          ",\"hours_open_within_reach\":", f.open_within_reach.count(), "}");
    }
    std::string properties = absl::StrCat(
        "{\"code\":", Json(area.code), ",\"name\":", Json(area.label),
        ",\"population\":", needs ? absl::StrCat(needs->population) : "null",
        ",\"fragility_score\":", needs && needs->score ? Shortest(*needs->score) : "null",
        ",\"need_score\":", needs ? Shortest(NeedScore(needs)) : "null",
        ",\"venue_count\":", c.venue_count[a], ",\"offers_within_reach\":", covered,
        ",\"gaps\":", static_cast<int>(c.offers.size()) - covered);
    if (c.offers.size() == 1) {
      const OfferFigures& f = c.At(a, 0);
      absl::StrAppend(
          &properties, ",\"offer_venue_count\":", f.venue_count, ",\"nearest_distance_meters\":",
          f.nearest_meters ? Shortest(f.venue_count > 0 ? 0.0 : Round(*f.nearest_meters)) : "null",
          ",\"hours_open_within_reach\":", f.open_within_reach.count());
    }
    absl::StrAppend(&properties, ",\"offers\":[", offers_json, "]}");
    if (!write(absl::StrCat(a ? "," : "", "{\"type\":\"Feature\",\"id\":", Json(area.code),
                            ",\"geometry\":", area.geometry, ",\"properties\":", properties,
                            "}"))) {
      return absl::OkStatus();
    }
  }
  write("]}");
  return absl::OkStatus();
}

}  // namespace passerelle::indicators::coverage
