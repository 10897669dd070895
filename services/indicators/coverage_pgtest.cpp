// The coverage read model against the real PostgreSQL + PostGIS the test command started, with
// a fake of venues and the referential: tables rebuilt from scratch (snapshot, then every event
// replayed, old ones included) equal the tables kept event by event, and a redelivered or
// replayed event changes no figure.
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/db/migrations.hpp"
#include "libs/db/transaction.hpp"
#include "libs/events/consumer.hpp"
#include "libs/events/event.hpp"
#include "libs/testing/testing.hpp"
#include "passerelle/referential/v1/events.pb.h"
#include "passerelle/venues/v1/events.pb.h"
#include "services/indicators/coverage.hpp"

namespace passerelle::indicators::coverage {
std::vector<db::Migration> Migrations();
namespace {

// Venues and the referential as their services would answer.
class FakeUpstream final : public Upstream {
 public:
  absl::StatusOr<std::vector<VenueRow>> AllVenues() override {
    std::vector<VenueRow> out;
    for (const auto& [name, v] : venues) out.push_back(v);
    return out;
  }
  absl::StatusOr<bool> VenueExists(const std::string& name) override {
    ++exists_calls;
    if (!venues_error.ok()) return venues_error;
    return venues.contains(name);
  }
  absl::StatusOr<std::vector<LayerInput>> AreaLayers() override { return layers; }
  absl::StatusOr<std::vector<ItemRow>> VersionItems(const std::string&, std::string* name,
                                                    absl::Time* published) override {
    *name = version;
    *published = version_time;
    return items;
  }
  std::map<std::string, VenueRow> venues;
  absl::Status venues_error;  // venues down: what VenueExists answers
  int exists_calls = 0;
  std::vector<LayerInput> layers;
  std::string version;
  absl::Time version_time;
  std::vector<ItemRow> items;
};

std::string Square(double lon, double lat, double size) {
  return absl::StrCat("{\"type\":\"MultiPolygon\",\"coordinates\":[[[[", lon, ",", lat, "],[",
                      lon + size, ",", lat, "],[", lon + size, ",", lat + size, "],[", lon, ",",
                      lat + size, "],[", lon, ",", lat, "]]]]}");
}

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  out.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(out.seconds()))));
  return out;
}

class CoveragePgTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(MigrateSchema({{"coverage", Migrations()}}).ok());
    store_ = std::make_unique<Store>(pool());
    upstream_.layers = {{"quartiers",
                         "Quartiers",
                         {{"ALMA", "Alma", Square(3.14, 50.69, 0.02)},
                          {"EPEULE", "Épeule", Square(3.14, 50.67, 0.02)},
                          {"PILE", "Pile", Square(3.18, 50.67, 0.02)}}}};
    upstream_.version = "nomenclatures/roubaix-aptic/versions/2023-02-03";
    upstream_.version_time = absl::FromUnixSeconds(1600000000);
    upstream_.items = {{"items/a", "1", "Envoyer un courriel", 0},
                       {"items/b", "2", "Déclarer ses impôts", 1}};
  }
  std::unique_ptr<Domain> NewDomain() {
    return std::make_unique<Domain>(*store_, upstream_, tokens_, clock_, Options{.threads = 1});
  }
  absl::Status Apply(Domain& d, const events::v1::Event& e) {
    return db::RunInTransaction(pool(), [&](pqxx::work& tx) { return d.Consume(tx, e); });
  }
  venues::v1::Venue Venue(const std::string& id, double lat, double lon, absl::Time t,
                          std::vector<std::string> items, std::string area) {
    venues::v1::Venue v;
    v.set_name("venues/" + id);
    v.set_nom("Lieu " + id);
    v.set_latitude(lat);
    v.set_longitude(lon);
    v.set_state(venues::v1::ACTIVE);
    v.set_horaires("Mo-Fr 09:00-12:00; Sa 10:00-12:00");
    for (auto& i : items) v.add_referential_items(i);
    v.add_services(venues::v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
    v.add_areas(std::move(area));
    *v.mutable_update_time() = Ts(t);
    return v;
  }
  events::v1::Event Created(const venues::v1::Venue& v) {
    venues::v1::VenueCreated p;
    *p.mutable_venue() = v;
    upstream_.venues[v.name()] = FromVenue(v);
    return events::MakeEvent("venue.created", "venues", v.name(), p, clock_.Now());
  }
  events::v1::Event Updated(const venues::v1::Venue& v) {
    venues::v1::VenueUpdated p;
    *p.mutable_venue() = v;
    upstream_.venues[v.name()] = FromVenue(v);
    return events::MakeEvent("venue.updated", "venues", v.name(), p, clock_.Now());
  }
  events::v1::Event Withdrawn(const venues::v1::Venue& v, absl::Time t) {
    venues::v1::VenueWithdrawn p;
    p.set_name(v.name());
    p.mutable_areas()->Assign(v.areas().begin(), v.areas().end());
    // What venues lists afterwards: the venue as it was, withdrawn, changed at that time.
    VenueRow row = FromVenue(v);
    row.active = false;
    row.update_time = t;
    upstream_.venues[v.name()] = row;
    return events::MakeEvent("venue.withdrawn", "venues", v.name(), p, t);
  }
  // Every column but seq (the order of writes, which differs by construction).
  std::string Dump() {
    std::string out;
    EXPECT_TRUE(db::RunInTransaction(pool(), [&](pqxx::work& tx) {
                  out.clear();
                  for (const auto& r : tx.exec(
                           "SELECT name, nom, active, latitude, longitude, areas::text, "
                           "offers::text, hours, update_time FROM coverage_venues ORDER BY name")) {
                    for (const auto& f : r) absl::StrAppend(&out, f.c_str(), "|");
                    out += "\n";
                  }
                  for (const auto& r : tx.exec("SELECT item, code, label, position, retired "
                                               "FROM coverage_items ORDER BY item")) {
                    for (const auto& f : r) absl::StrAppend(&out, f.c_str(), "|");
                    out += "\n";
                  }
                  auto s = tx.exec("SELECT referential_version, as_of FROM coverage_state");
                  absl::StrAppend(&out, s[0][0].c_str(), "|", s[0][1].c_str(), "\n");
                  return absl::OkStatus();
                }).ok());
    return out;
  }
  std::string Figures(Domain& d) {
    EXPECT_TRUE(d.Refresh().ok());
    v1::GetCoverageRequest req;
    req.set_name("areaLayers/quartiers/coverage");
    auto c = d.GetCoverage(req);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return "";
    c->clear_as_of_time();
    return c->SerializeAsString();
  }

  FakeUpstream upstream_;
  std::unique_ptr<Store> store_;
  api::PageTokens tokens_{"coverage-pgtest"};
  clocks::ManualClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(CoveragePgTest, RebuiltFromScratchEqualsKeptIncrementallyAndReplaysChangeNothing) {
  auto d = NewDomain();
  {
    absl::Status s = d->Snapshot();
    ASSERT_TRUE(s.ok()) << s;
  }  // nothing yet: the referential's version only
  {
    absl::Status s = d->RefreshAreas();
    ASSERT_TRUE(s.ok()) << s;
  }
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  std::vector<events::v1::Event> log;
  auto step = [&](events::v1::Event e) {
    clock_.Advance(absl::Seconds(1));
    absl::Status s = Apply(*d, e);
    ASSERT_TRUE(s.ok()) << s;
    log.push_back(std::move(e));
  };
  auto v1 = Venue("1", 50.70, 3.15, t0 + absl::Seconds(1), {"items/a"}, "quartiers:ALMA");
  auto v2 =
      Venue("2", 50.68, 3.15, t0 + absl::Seconds(2), {"items/a", "items/b"}, "quartiers:EPEULE");
  auto v3 = Venue("3", 50.68, 3.19, t0 + absl::Seconds(3), {"items/b"}, "quartiers:PILE");
  step(Created(v1));
  step(Created(v2));
  step(Created(v3));
  const std::string before_move = Figures(*d);
  // v2 moves to Pile and drops item a; v3 is withdrawn; v1 gains item b.
  auto v2b = Venue("2", 50.685, 3.195, t0 + absl::Seconds(10), {"items/b"}, "quartiers:PILE");
  step(Updated(v2b));
  step(Withdrawn(v3, t0 + absl::Seconds(11)));
  auto v1b =
      Venue("1", 50.70, 3.15, t0 + absl::Seconds(12), {"items/a", "items/b"}, "quartiers:ALMA");
  step(Updated(v1b));
  // A new version retires nothing and renames nothing: replayed below, it must not go back.
  referential::v1::VersionPublished vp;
  vp.set_version("nomenclatures/roubaix-aptic/versions/2020-01-01");
  auto* m = vp.add_code_mapping();
  m->set_old_code("1");
  m->set_item("items/a");
  m->set_new_code("1");
  auto old_version = events::MakeEvent("referential.version.published", "referential", vp.version(),
                                       vp, absl::FromUnixSeconds(1500000000));
  step(old_version);
  const std::string kept = Dump();
  const std::string figures = Figures(*d);
  EXPECT_NE(figures, before_move);

  // Redelivered (the inbox bypassed) and replayed old events: no figure moves.
  for (const auto& e : log) ASSERT_TRUE(Apply(*d, e).ok());
  EXPECT_EQ(Figures(*d), figures);
  EXPECT_EQ(Dump(), kept);

  // From scratch: empty tables, a snapshot from the services, then every event replayed.
  ASSERT_TRUE(db::RunInTransaction(pool(), [&](pqxx::work& tx) {
                tx.exec0(
                    "TRUNCATE coverage_venues, coverage_items, coverage_layers, "
                    "coverage_areas, coverage_needs");
                tx.exec0("DELETE FROM coverage_state");
                tx.exec0("INSERT INTO coverage_state DEFAULT VALUES");
                return absl::OkStatus();
              }).ok());
  auto rebuilt = NewDomain();
  {
    absl::Status s = rebuilt->Snapshot();
    ASSERT_TRUE(s.ok()) << s;
  }
  {
    absl::Status s = rebuilt->RefreshAreas();
    ASSERT_TRUE(s.ok()) << s;
  }
  for (const auto& e : log) ASSERT_TRUE(Apply(*rebuilt, e).ok());
  EXPECT_EQ(Dump(), kept);
  EXPECT_EQ(Figures(*rebuilt), figures);

  // The figures themselves: Pile has v2 inside (item b); Alma v1 with both; v3 counts nowhere.
  v1::GetCoverageRequest req;
  req.set_name("areaLayers/quartiers/coverage");
  req.add_offers("items/b");
  auto c = rebuilt->GetCoverage(req);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->areas_size(), 3);
  EXPECT_EQ(c->areas(0).area(), "areaLayers/quartiers/areas/ALMA");
  EXPECT_EQ(c->areas(0).offers(0).venue_count(), 1);
  EXPECT_EQ(c->areas(1).area(), "areaLayers/quartiers/areas/EPEULE");
  EXPECT_EQ(c->areas(1).venue_count(), 0);
  EXPECT_GT(c->areas(1).offers(0).nearest_distance_meters(), 0);
  EXPECT_EQ(c->areas(2).offers(0).venue_count(), 1);
  EXPECT_EQ(c->areas(2).offers(0).nearest_venue(), "venues/2");
  EXPECT_EQ(c->referential_version(), "nomenclatures/roubaix-aptic/versions/2023-02-03");
  EXPECT_EQ(c->areas(0).offers(0).label(), "Déclarer ses impôts");
  EXPECT_EQ(c->areas(0).offers(0).open_within_reach().saturday_hours(), 2);
}

TEST_F(CoveragePgTest, AVenueHiddenAsADuplicateIsCountedOnceAndAgainWhenItComesBack) {
  auto d = NewDomain();
  ASSERT_TRUE(d->Snapshot().ok());
  ASSERT_TRUE(d->RefreshAreas().ok());
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  auto count_alma = [&] {
    EXPECT_TRUE(d->Refresh().ok());
    v1::GetCoverageRequest req;
    req.set_name("areaLayers/quartiers/coverage");
    auto c = d->GetCoverage(req);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->areas(0).venue_count() : -1;
  };
  // One place published by two sources.
  auto a = Venue("1", 50.70, 3.15, t0 + absl::Seconds(1), {"items/a"}, "quartiers:ALMA");
  auto b = Venue("2", 50.70, 3.1501, t0 + absl::Seconds(2), {"items/a"}, "quartiers:ALMA");
  ASSERT_TRUE(Apply(*d, Created(a)).ok());
  ASSERT_TRUE(Apply(*d, Created(b)).ok());
  EXPECT_EQ(count_alma(), 2);
  // Resolved SAME: venues publishes the hidden one's venue.updated with `duplicate_of`.
  auto hidden = b;
  hidden.set_duplicate_of("venues/1");
  *hidden.mutable_update_time() = Ts(t0 + absl::Seconds(3));
  ASSERT_TRUE(Apply(*d, Updated(hidden)).ok());
  EXPECT_EQ(count_alma(), 1);
  // The snapshot reads it the same way (ListVenues shows it with the withdrawn ones).
  EXPECT_FALSE(FromVenue(hidden).active);
  // Back (the resolution corrected, or the kept venue withdrawn): counted again.
  auto back = b;
  *back.mutable_update_time() = Ts(t0 + absl::Seconds(4));
  ASSERT_TRUE(Apply(*d, Updated(back)).ok());
  EXPECT_EQ(count_alma(), 2);
}

TEST_F(CoveragePgTest, CentresArePostgisPointsOnSurface) {
  // A C-shaped area whose centroid lies outside it: the centre is inside.
  upstream_.layers = {{"formes",
                       "Formes",
                       {{"C", "C",
                         "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[3.10,50.60],[3.20,50.60],"
                         "[3.20,50.62],[3.12,50.62],[3.12,50.68],[3.20,50.68],[3.20,50.70],"
                         "[3.10,50.70],[3.10,50.60]]]]}"}}}};
  auto d = NewDomain();
  {
    absl::Status s = d->RefreshAreas();
    ASSERT_TRUE(s.ok()) << s;
  }
  auto index = d->model().Snapshot();
  const AreaRow& c = index->layers.at("formes").areas.at(0);
  bool inside = false;
  ASSERT_TRUE(db::RunInTransaction(pool(), [&](pqxx::work& tx) {
                inside = tx.exec_params(
                               "SELECT ST_Contains(outline, ST_SetSRID(ST_MakePoint($1, "
                               "$2), 4326)) FROM coverage_areas WHERE code = 'C'",
                               c.centre_longitude, c.centre_latitude)[0][0]
                             .as<bool>();
                return absl::OkStatus();
              }).ok());
  EXPECT_TRUE(inside);
}

TEST_F(CoveragePgTest, NeedsAreStoredWholeOrNotAtAllWithinTheCallersDeadline) {
  auto d = NewDomain();
  {
    absl::Status s = d->RefreshAreas();
    ASSERT_TRUE(s.ok()) << s;
  }
  v1::ImportNeedsRequest req;
  req.set_parent("areaLayers/quartiers");
  req.set_csv("code,population,score_global\nALMA,100,120\nPILE,200,\nLUNE,1,1\n");
  // A caller whose deadline is (almost) past: nothing written.
  auto late = d->ImportNeeds(req, absl::Now() + absl::Milliseconds(50));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded) << late.status();
  auto empty = store_->Needs();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  // In time: the good rows stored, the bad one reported.
  auto ok = d->ImportNeeds(req, absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->areas_imported(), 2);
  ASSERT_EQ(ok->errors_size(), 1);
  EXPECT_EQ(ok->errors(0).rule(), "exists");
  auto stored = store_->Needs();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->at("quartiers").at("ALMA").score, 120);
  EXPECT_FALSE(stored->at("quartiers").at("PILE").score.has_value());
  // `replace` clears the areas absent from the file.
  req.set_csv("code,population,score_global\nPILE,250,99\n");
  req.set_replace(true);
  auto replaced = d->ImportNeeds(req);
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_EQ(replaced->areas_cleared(), 1);
  stored = store_->Needs();
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->at("quartiers").contains("ALMA"));
  EXPECT_EQ(stored->at("quartiers").at("PILE").population, 250);
}

TEST_F(CoveragePgTest, VenueEventsAreCheckedBeforeTheyAreStored) {
  auto d = NewDomain();
  ASSERT_TRUE(d->Snapshot().ok());
  ASSERT_TRUE(d->RefreshAreas().ok());
  std::vector<std::string> rejected;
  d->OnRejected([&](const std::string& reason) { rejected.push_back(reason); });
  auto offers = [&](const std::string& name) {
    std::string out = "none";
    EXPECT_TRUE(db::RunInTransaction(pool(), [&](pqxx::work& tx) {
                  auto r = tx.exec_params(
                      "SELECT offers::text, latitude FROM coverage_venues WHERE name = $1", name);
                  if (!r.empty()) out = absl::StrCat(r[0][0].c_str(), " ", r[0][1].c_str());
                  return absl::OkStatus();
                }).ok());
    return out;
  };
  const absl::Time t0 = clock_.Now();
  // Venues is down: an event for a venue new to the model is an error (retried), not dropped.
  auto v1 = Venue("1", 50.70, 3.15, t0, {"items/a", "items/inconnu"}, "quartiers:ALMA");
  const auto created = Created(v1);
  upstream_.venues_error = absl::UnavailableError("venues down");
  EXPECT_EQ(Apply(*d, created).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(offers("venues/1"), "none");
  EXPECT_TRUE(rejected.empty());
  // Back: stored, with the version's items only (items/inconnu is no item of it).
  upstream_.venues_error = absl::OkStatus();
  ASSERT_TRUE(Apply(*d, created).ok());
  EXPECT_EQ(offers("venues/1"), "{items/a,services/aide-aux-demarches-administratives} 50.7");
  EXPECT_EQ(rejected, std::vector<std::string>{"unknown_offers"});
  // Known to the model now: venues is not asked again.
  const int calls = upstream_.exists_calls;
  ASSERT_TRUE(Apply(*d, Updated(Venue("1", 50.70, 3.15, t0 + absl::Seconds(1), {"items/b"},
                                      "quartiers:ALMA")))
                  .ok());
  EXPECT_EQ(upstream_.exists_calls, calls);
  EXPECT_EQ(offers("venues/1"), "{items/b,services/aide-aux-demarches-administratives} 50.7");
  rejected.clear();

  // A venue venues does not know: acknowledged, nothing stored.
  {
    venues::v1::VenueCreated p;
    *p.mutable_venue() = Venue("fantome", 50.70, 3.15, t0, {"items/a"}, "quartiers:ALMA");
    ASSERT_TRUE(
        Apply(*d, events::MakeEvent("venue.created", "venues", "venues/fantome", p, t0)).ok());
    EXPECT_EQ(offers("venues/fantome"), "none");
  }
  // An update_time past now + 5 minutes, or past 500 offers: refused, the row unchanged.
  {
    venues::v1::VenueUpdated p;
    *p.mutable_venue() =
        Venue("1", 50.60, 3.15, t0 + absl::Minutes(6), {"items/a"}, "quartiers:ALMA");
    ASSERT_TRUE(Apply(*d, events::MakeEvent("venue.updated", "venues", "venues/1", p, t0)).ok());
    std::vector<std::string> many;
    for (int i = 0; i < 501; ++i) many.push_back(absl::StrCat("items/x", i));
    *p.mutable_venue() = Venue("1", 50.60, 3.15, t0 + absl::Seconds(2), many, "quartiers:ALMA");
    ASSERT_TRUE(Apply(*d, events::MakeEvent("venue.updated", "venues", "venues/1", p, t0)).ok());
    venues::v1::VenueWithdrawn w;
    w.set_name("venues/1");
    ASSERT_TRUE(Apply(*d, events::MakeEvent("venue.withdrawn", "venues", "venues/1", w,
                                            t0 + absl::Hours(1)))
                    .ok());
  }
  EXPECT_EQ(offers("venues/1"), "{items/b,services/aide-aux-demarches-administratives} 50.7");
  EXPECT_EQ(rejected, (std::vector<std::string>{"unknown_venue", "future_update_time",
                                                "too_many_offers", "future_update_time"}));
  // Just inside the margin: applied.
  ASSERT_TRUE(Apply(*d, Updated(Venue("1", 50.65, 3.15, t0 + absl::Minutes(4), {"items/a"},
                                      "quartiers:ALMA")))
                  .ok());
  EXPECT_EQ(offers("venues/1"), "{items/a,services/aide-aux-demarches-administratives} 50.65");
}

TEST_F(CoveragePgTest, PoisonPayloadsAreErrorsSoTheConsumerParksThem) {
  auto d = NewDomain();
  events::v1::Event e;
  e.set_id("1");
  e.set_type("venue.created");
  e.mutable_payload()->set_type_url("type.googleapis.com/passerelle.venues.v1.VenueCreated");
  e.mutable_payload()->set_value(std::string("\xff\xff\xff", 3));
  // Permanent: the consumer dead-letters them at the first delivery.
  EXPECT_TRUE(events::IsPermanent(Apply(*d, e)));
  venues::v1::VenueCreated nul;
  *nul.mutable_venue() = Venue("x", 50.7, 3.15, absl::FromUnixSeconds(1), {}, "quartiers:ALMA");
  nul.mutable_venue()->set_nom(std::string("a\0b", 3));
  EXPECT_TRUE(events::IsPermanent(
      Apply(*d, events::MakeEvent("venue.created", "venues", "venues/x", nul, clock_.Now()))));
  // Events of other types are not ours: acknowledged, nothing written.
  EXPECT_TRUE(
      Apply(*d, events::MakeEvent("sync.run.completed", "sync", "x", nul, clock_.Now())).ok());
  EXPECT_EQ(Dump(), "|\n");
}

}  // namespace
}  // namespace passerelle::indicators::coverage
