// The registry's use cases against an in-memory repository and a manual clock: validation,
// etags, idempotent retries, batches, paging and the index, without PostgreSQL or a binary.
#include "services/venues/registry.hpp"

#include <algorithm>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/clock/clock.hpp"
#include "libs/text/utf8.hpp"
#include "services/venues/sample_venue.hpp"

namespace passerelle::venues {
namespace {

using itest::Valid;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The Repository contract as PgStore keeps it (registry.hpp), in memory.
class FakeRepository final : public Repository {
 public:
  explicit FakeRepository(const clocks::Clock& clock) : clock_(clock) {}

  std::vector<events::v1::Event> events;
  std::set<std::string> known_items;    // empty: no referential version received yet
  std::set<std::string> organisations;  // ids of the organisations that exist
  int writes = 0;

  absl::StatusOr<standard::Venue> Get(const std::string& id) override {
    auto it = venues_.find(id);
    if (it == venues_.end()) return absl::NotFoundError("venues/" + id + " does not exist");
    return it->second;
  }
  absl::StatusOr<std::optional<SeenRequest>> FindRequest(const std::string& caller,
                                                         const std::string& request_id) override {
    auto it = requests_.find({caller, request_id});
    if (it == requests_.end()) return std::optional<SeenRequest>();
    return std::optional<SeenRequest>(it->second);
  }
  absl::StatusOr<standard::Venue> Insert(const standard::Venue& venue, const EventFactory& event,
                                         const RequestKey& request) override {
    for (const auto& [id, v] : venues_) {
      if (v.source == venue.source && v.source_id == venue.source_id) {
        return absl::AlreadyExistsError("exists: " + v.Name());
      }
    }
    standard::Venue v = venue;
    v.id = NextId();
    v.revision = 1;
    v.create_time = v.update_time = clock_.Now();
    Save(v, event, {}, request);
    return v;
  }
  absl::StatusOr<standard::Venue> Update(
      const std::string& id, int expected_revision,
      const std::function<absl::Status(standard::Venue&)>& change, const EventFactory& event,
      const RequestKey& request) override {
    auto it = venues_.find(id);
    if (it == venues_.end()) return absl::NotFoundError("venues/" + id + " does not exist");
    if (expected_revision != 0 && it->second.revision != expected_revision) {
      return api::WithReason(absl::AbortedError("etag mismatch"), "ETAG_MISMATCH");
    }
    standard::Venue next = it->second;
    if (absl::Status s = change(next); !s.ok()) return s;
    std::vector<std::string> changed = ChangedFields(it->second, next);
    if (next.withdrawn != it->second.withdrawn) changed.push_back("state");
    if (changed.empty()) return it->second;
    ++next.revision;
    next.update_time = clock_.Now();
    Save(next, event, changed, request);
    return next;
  }
  absl::StatusOr<ListPage> List(const ListQuery& query) override {
    ListPage page;
    for (auto it = venues_.upper_bound(query.after); it != venues_.end(); ++it) {
      if (it->second.withdrawn && !query.show_withdrawn) continue;
      if (static_cast<int>(page.venues.size()) == query.page_size) {
        page.next_cursor = page.venues.back().id;
        break;
      }
      page.venues.push_back(it->second);
    }
    return page;
  }
  absl::StatusOr<Changes> ChangedSince(const ChangeCursor& cursor,
                                       const KnownRevision& known) override {
    Changes out;
    for (const auto& [id, seq] : written_at_) {
      const standard::Venue& v = venues_.at(id);
      if (seq >= cursor.next_xid && !(known && known(v.id, v.revision))) out.venues.push_back(v);
    }
    out.cursor.next_xid = static_cast<uint64_t>(writes) + 1;
    return out;
  }
  absl::StatusOr<int> ReplaceAreaLayer(const std::string&, const std::string&,
                                       const std::vector<AreaFeature>&, const EventFactory&,
                                       absl::Time) override {
    return absl::UnimplementedError("not used by these tests");
  }
  absl::StatusOr<std::vector<AreaLayerRecord>> ListAreaLayers(const std::string&, int) override {
    return std::vector<AreaLayerRecord>{};
  }
  absl::StatusOr<AreaLayerRecord> GetAreaLayer(const std::string& layer) override {
    return absl::NotFoundError("areaLayers/" + layer + " does not exist");
  }
  absl::StatusOr<AreaPage> ListAreas(const AreaQuery& query) override {
    return absl::NotFoundError("areaLayers/" + query.layer + " does not exist");
  }
  absl::StatusOr<std::vector<std::string>> UnknownItems(
      const std::vector<std::string>& items) override {
    std::vector<std::string> unknown;
    if (known_items.empty()) return unknown;
    for (const auto& i : items) {
      if (!known_items.contains(i)) unknown.push_back(i);
    }
    return unknown;
  }
  absl::StatusOr<std::vector<std::string>> UnknownAreas(
      const std::vector<std::string>& keys) override {
    return keys;  // this fake has no layers
  }
  absl::StatusOr<std::vector<std::string>> UnknownOrganisations(
      const std::vector<std::string>& ids) override {
    std::vector<std::string> unknown;
    for (const auto& id : ids) {
      if (!organisations.contains(id)) unknown.push_back(id);
    }
    return unknown;
  }
  absl::StatusOr<SourceRecord> CreateSource(const SourceRecord& source) override {
    if (!sources_.emplace(source.id, source).second) {
      return absl::AlreadyExistsError("sources/" + source.id + " already exists");
    }
    return source;
  }
  absl::StatusOr<SourceRecord> GetSource(const std::string& id) override {
    auto it = sources_.find(id);
    if (it == sources_.end()) return absl::NotFoundError("sources/" + id + " does not exist");
    return it->second;
  }
  absl::StatusOr<std::vector<SourceRecord>> ListSources(const std::string& after,
                                                        int limit) override {
    std::vector<SourceRecord> out;
    for (auto it = sources_.upper_bound(after);
         it != sources_.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  absl::StatusOr<std::vector<ConflictRecord>> ListConflicts(const ConflictQuery&) override {
    return std::vector<ConflictRecord>();  // the store's (PostgreSQL) are tested in the itests
  }
  absl::StatusOr<std::vector<RowResult>> Upsert(const std::string& source,
                                                const std::vector<standard::Venue>& rows,
                                                const EventFactory& created,
                                                const EventFactory& updated, bool reinstate,
                                                absl::Time deadline) override {
    if (clock_.Now() >= deadline) return absl::DeadlineExceededError("nothing was written");
    std::vector<RowResult> results;
    for (const standard::Venue& row : rows) {
      RowResult r;
      r.source_id = row.source_id;
      standard::Venue* current = nullptr;
      for (auto& [id, v] : venues_) {
        if (v.source == source && v.source_id == row.source_id) current = &v;
      }
      if (current == nullptr) {
        standard::Venue v = row;
        v.id = NextId();
        v.revision = 1;
        v.create_time = v.update_time = clock_.Now();
        Save(v, created, {}, {});
        r.outcome = RowResult::Outcome::kCreated;
        r.id = v.id;
        r.stored = v;
      } else {
        standard::Venue next = *current;
        next.standard = row.standard;
        if (!row.owner_organisation.empty()) next.owner_organisation = row.owner_organisation;
        next.referential_items = row.referential_items;
        next.accepts_aptic_pass = row.accepts_aptic_pass;
        std::vector<std::string> changed = ChangedFields(*current, next);
        if (reinstate && next.withdrawn) {
          next.withdrawn = false;
          changed.push_back("state");
        }
        r.id = current->id;
        if (changed.empty()) {
          r.outcome = RowResult::Outcome::kUnchanged;
        } else {
          ++next.revision;
          next.update_time = clock_.Now();
          Save(next, updated, changed, {});
          r.outcome = RowResult::Outcome::kUpdated;
          r.changed_fields = changed;
          r.stored = next;
        }
      }
      results.push_back(std::move(r));
    }
    return results;
  }

 private:
  std::string NextId() {
    char id[37];
    std::snprintf(id, sizeof id, "abcdef00-0000-4000-8000-%012d", ++ids_);
    return id;
  }
  void Save(const standard::Venue& v, const EventFactory& event,
            const std::vector<std::string>& changed, const RequestKey& request) {
    venues_[v.id] = v;
    written_at_[v.id] = static_cast<uint64_t>(++writes);
    events.push_back(event(v, changed));
    if (!request.id.empty()) {
      requests_.emplace(std::make_pair(request.caller, request.id), SeenRequest{request, v.id});
    }
  }

  const clocks::Clock& clock_;
  std::map<std::string, standard::Venue> venues_;
  std::map<std::string, uint64_t> written_at_;
  std::map<std::pair<std::string, std::string>, SeenRequest> requests_;  // by caller, id
  std::map<std::string, SourceRecord> sources_ = {{"passerelle", {"passerelle", "Passerelle", {}}}};
  int ids_ = 0;
};

class RegistryTest : public ::testing::Test {
 protected:
  clocks::ManualClock clock_;
  FakeRepository repo_{clock_};
  api::PageTokens tokens_{"registry-test-key"};
  Registry registry_{standard::Standard::V102(), repo_, tokens_, clock_};
};

// The rule for locally edited fields when the source writes the venue again.
TEST(MergeLocalEditsTest, UntouchedEditsStandCaughtUpOnesGoChangedOnesAreConflicts) {
  standard::Venue current;
  current.id = "v1";
  current.source = "siilab";
  current.source_record = standard::Record{{"nom", {"Ancien nom"}},
                                           {"telephone", {"+33300000000"}},
                                           {"horaires", {"Mo 09:00-12:00"}},
                                           {"latitude", {"50.69"}},
                                           {"longitude", {"3.18"}}};
  current.standard = *current.source_record;
  current.standard["nom"] = {"Nom corrigé"};          // edited here
  current.standard["telephone"] = {"+33320000000"};   // edited here
  current.standard["horaires"] = {"Mo 14:00-17:00"};  // edited here
  current.standard["latitude"] = {"50.70"};           // edited here (a position)
  for (const char* f : {"nom", "telephone", "horaires", "latitude"}) {
    current.local_fields[f] = {.time = absl::FromUnixSeconds(1), .by = "org-a"};
  }
  // The source sends: the name unchanged, the phone as edited here, new hours, a new longitude.
  standard::Venue row = current;
  row.standard = *current.source_record;
  row.standard["telephone"] = {"+33320000000"};
  row.standard["horaires"] = {"Tu 09:00-12:00"};
  row.standard["longitude"] = {"3.19"};
  for (ConflictPolicy policy : {ConflictPolicy::kSourceWins, ConflictPolicy::kLocalWins}) {
    standard::Venue next = row;
    std::vector<ConflictRecord> conflicts;
    MergeLocalEdits(current, policy, next, conflicts);
    const bool local = policy == ConflictPolicy::kLocalWins;
    EXPECT_EQ(next.standard["nom"], std::vector<std::string>{"Nom corrigé"});  // untouched
    EXPECT_TRUE(next.local_fields.contains("nom"));
    EXPECT_FALSE(next.local_fields.contains("telephone"));  // the source caught up
    EXPECT_EQ(next.standard["horaires"],
              std::vector<std::string>{local ? "Mo 14:00-17:00" : "Tu 09:00-12:00"});
    EXPECT_EQ(next.local_fields.contains("horaires"), local);
    // The position is settled as a whole: the local latitude goes with the source's longitude
    // or stays with the old one, never half of each.
    EXPECT_EQ(next.standard["latitude"], std::vector<std::string>{local ? "50.70" : "50.69"});
    EXPECT_EQ(next.standard["longitude"], std::vector<std::string>{local ? "3.18" : "3.19"});
    std::vector<std::string> fields;
    for (const ConflictRecord& c : conflicts) {
      fields.push_back(c.field);
      EXPECT_EQ(c.venue_id, "v1");
      EXPECT_EQ(c.policy, policy);
    }
    std::sort(fields.begin(), fields.end());
    EXPECT_THAT(fields, ElementsAre("horaires", "latitude", "longitude"));
  }
}

TEST_F(RegistryTest, CreateValidatesAndDatesTheEventByTheClock) {
  v1::Venue bad = Valid("a");
  bad.set_code_postal("ABCDE");
  bad.set_latitude(std::nan(""));
  auto refused = registry_.Create(bad, "");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const auto& v : api::Violations(refused.status())) fields.push_back(v.field);
  EXPECT_THAT(fields, ::testing::IsSupersetOf({"venue.code_postal", "venue.latitude"}));
  EXPECT_THAT(repo_.events, IsEmpty());

  clock_.Set(absl::FromUnixSeconds(1'900'000'000));
  auto created = registry_.Create(Valid("a"), "");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->source, "passerelle");
  ASSERT_EQ(repo_.events.size(), 1u);
  EXPECT_EQ(repo_.events[0].type(), "venue.created");
  EXPECT_EQ(repo_.events[0].subject(), created->Name());
  EXPECT_EQ(repo_.events[0].occurred_time().seconds(), 1'900'000'000);
}

TEST_F(RegistryTest, NamesHaveOneSpelling) {
  auto created = registry_.Create(Valid("a"), "");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(registry_.Get(created->Name()).ok());
  std::string upper = created->Name();
  std::transform(upper.begin() + 7, upper.end(), upper.begin() + 7, ::toupper);
  for (const std::string& alias : {upper, created->Name() + " ", created->Name() + "/",
                                   "venues//" + created->id, "Venues/" + created->id}) {
    auto got = registry_.Get(alias);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << alias;
  }
}

TEST_F(RegistryTest, UpdateHonoursMaskAndEtag) {
  auto created = registry_.Create(Valid("a"), "");
  ASSERT_TRUE(created.ok()) << created.status();
  v1::Venue change;
  change.set_name(created->Name());
  change.set_nom("Nouveau nom");
  change.set_commune("Ignorée");  // not in the mask
  change.set_etag(ETag(*created));
  auto updated = registry_.Update(change, {"nom"}, "");
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->standard.at("nom").front(), "Nouveau nom");
  EXPECT_EQ(updated->standard.at("commune").front(), "Roubaix");
  EXPECT_EQ(updated->revision, 2);
  ASSERT_EQ(repo_.events.size(), 2u);
  EXPECT_EQ(repo_.events[1].type(), "venue.updated");

  // The same etag again is stale now.
  auto stale = registry_.Update(change, {"nom"}, "");
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  auto bad_mask = registry_.Update(change, {"nom", "revision"}, "");
  EXPECT_EQ(bad_mask.status().code(), absl::StatusCode::kInvalidArgument);
  // A coordinate alone, or another id, would corrupt the venue: refused.
  v1::Venue half;
  half.set_name(created->Name());
  EXPECT_EQ(registry_.Update(half, {"latitude"}, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_.Update(half, {"id"}, "").status().code(), absl::StatusCode::kInvalidArgument);
  v1::Venue other_id = Valid("another-id");
  other_id.set_name(created->Name());
  EXPECT_EQ(registry_.Update(other_id, {"*"}, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryTest, RequestIdRetriesGetTheFirstResultAndReuseIsRefused) {
  auto first = registry_.Create(Valid("a"), "req-1");
  ASSERT_TRUE(first.ok()) << first.status();
  auto retry = registry_.Create(Valid("a"), "req-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id, first->id);
  EXPECT_EQ(repo_.events.size(), 1u);  // the retry wrote nothing
  auto reuse = registry_.Create(Valid("b"), "req-1");
  EXPECT_EQ(reuse.status().code(), absl::StatusCode::kInvalidArgument);
  auto withdraw = registry_.Withdraw(first->Name(), "Fermé", "", "req-1");
  EXPECT_EQ(withdraw.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryTest, WithdrawIsIdempotentAndNeedsAReason) {
  auto created = registry_.Create(Valid("a"), "");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(registry_.Withdraw(created->Name(), "", "", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto w1 = registry_.Withdraw(created->Name(), "Fermé définitivement", "", "");
  ASSERT_TRUE(w1.ok()) << w1.status();
  EXPECT_TRUE(w1->withdrawn);
  auto w2 = registry_.Withdraw(created->Name(), "Fermé définitivement", "", "");
  ASSERT_TRUE(w2.ok()) << w2.status();
  EXPECT_EQ(w2->revision, w1->revision);
  ASSERT_EQ(repo_.events.size(), 2u);
  EXPECT_EQ(repo_.events[1].type(), "venue.withdrawn");
  v1::Venue change = Valid("a", "Autre");
  change.set_name(created->Name());
  EXPECT_EQ(registry_.Update(change, {"nom"}, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RegistryTest, BatchRejectsBadRowsOnlyAndUnknownItems) {
  ASSERT_TRUE(registry_.CreateSource("siilab", "Base régionale").ok());
  repo_.known_items = {"items/a1"};
  std::vector<v1::Venue> rows = {Valid("r1"), Valid("r2"), Valid("r1"), Valid("r3")};
  rows[1].set_nom(std::string("a\0b", 3));
  rows[3].add_referential_items("items/zz");
  auto results = registry_.BatchUpsert("siilab", rows);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 4u);
  EXPECT_EQ((*results)[0].outcome, RowResult::Outcome::kCreated);
  EXPECT_EQ((*results)[1].outcome, RowResult::Outcome::kRejected);
  EXPECT_EQ((*results)[1].violations.at(0).field, "nom");
  EXPECT_EQ((*results)[2].outcome, RowResult::Outcome::kRejected);  // r1 twice
  EXPECT_EQ((*results)[3].outcome, RowResult::Outcome::kRejected);
  EXPECT_EQ((*results)[3].violations.at(0).rule, "referential");

  // The same batch again changes nothing; a changed row is updated.
  rows = {Valid("r1")};
  results = registry_.BatchUpsert("siilab", rows);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].outcome, RowResult::Outcome::kUnchanged);
  rows[0].set_nom("Renommé");
  results = registry_.BatchUpsert("siilab", rows);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].outcome, RowResult::Outcome::kUpdated);
  EXPECT_THAT((*results)[0].changed_fields, ElementsAre("nom"));

  EXPECT_EQ(registry_.BatchUpsert("passerelle", rows).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_.BatchUpsert("-abc", rows).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryTest, OwnersNameExistingOrganisations) {
  repo_.organisations = {"epeule"};
  auto owner_violation = [](const absl::Status& st) {
    for (const auto& v : api::Violations(st)) {
      if (v.field == "venue.owner_organisation") return v.description;
    }
    return std::string("none");
  };
  v1::Venue v = Valid("a");
  v.set_owner_organisation("inconnue");
  auto unknown = registry_.Create(v, "");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(owner_violation(unknown.status()), ::testing::StartsWith("[exists]"));
  v.set_owner_organisation("Ville de Roubaix");
  EXPECT_THAT(owner_violation(registry_.Create(v, "").status()),
              ::testing::StartsWith("[pattern]"));
  v.set_owner_organisation("epeule");
  auto owned = registry_.Create(v, "");
  ASSERT_TRUE(owned.ok()) << owned.status();
  EXPECT_EQ(owned->owner_organisation, "epeule");
  EXPECT_TRUE(registry_.Create(Valid("no-owner"), "").ok()) << "an empty owner stays allowed";

  // Updates check a new owner only: a value stored before organisations existed is kept.
  standard::Venue legacy;
  legacy.standard = owned->standard;
  legacy.standard["id"] = {"legacy"};
  legacy.source = "passerelle";
  legacy.source_id = "legacy";
  legacy.owner_organisation = "Ville de Roubaix — DSI";
  auto stored = repo_.Insert(legacy, registry_.CreatedEvents(), {});
  ASSERT_TRUE(stored.ok()) << stored.status();
  v1::Venue change;
  change.set_name(stored->Name());
  change.set_nom("Renommé");
  ASSERT_TRUE(registry_.Update(change, {"nom"}, "").ok());
  change.set_owner_organisation("inconnue");
  EXPECT_THAT(owner_violation(registry_.Update(change, {"owner_organisation"}, "").status()),
              ::testing::StartsWith("[exists]"));
  change.set_owner_organisation("epeule");
  auto moved = registry_.Update(change, {"owner_organisation"}, "");
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->owner_organisation, "epeule");

  // In a batch, a row naming no organisation is rejected alone.
  ASSERT_TRUE(registry_.CreateSource("partenaire", "").ok());
  std::vector<v1::Venue> rows = {Valid("r1"), Valid("r2"), Valid("r3")};
  rows[0].set_owner_organisation("epeule");
  rows[1].set_owner_organisation("inconnue");
  rows[2].set_owner_organisation(std::string("a\0b", 3));
  auto results = registry_.BatchUpsert("partenaire", rows);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].outcome, RowResult::Outcome::kCreated);
  ASSERT_EQ((*results)[1].outcome, RowResult::Outcome::kRejected);
  EXPECT_EQ((*results)[1].violations.at(0).field, "owner_organisation");
  EXPECT_EQ((*results)[1].violations.at(0).rule, "exists");
  ASSERT_EQ((*results)[2].outcome, RowResult::Outcome::kRejected);
  EXPECT_EQ((*results)[2].violations.at(0).rule, "pattern");
  EXPECT_TRUE(text::IsValidUtf8((*results)[2].violations.at(0).value));
}

TEST_F(RegistryTest, BatchRowsWithoutAnOwnerKeepTheStoredOne) {
  repo_.organisations = {"epeule", "roubaix"};
  ASSERT_TRUE(registry_.CreateSource("siilab", "").ok());
  std::vector<v1::Venue> rows = {Valid("r1")};
  auto created = registry_.BatchUpsert("siilab", rows);
  ASSERT_TRUE(created.ok()) << created.status();
  v1::Venue owner;
  owner.set_name("venues/" + (*created)[0].id);
  owner.set_owner_organisation("epeule");
  ASSERT_TRUE(registry_.Update(owner, {"owner_organisation"}, "").ok());

  auto again = registry_.BatchUpsert("siilab", rows);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].outcome, RowResult::Outcome::kUnchanged);
  rows[0].set_nom("Renommé par la source");
  auto renamed = registry_.BatchUpsert("siilab", rows);
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_THAT((*renamed)[0].changed_fields, ElementsAre("nom"));
  EXPECT_EQ(registry_.Get("venues/" + (*created)[0].id)->owner_organisation, "epeule");
  rows[0].set_owner_organisation("roubaix");
  auto moved = registry_.BatchUpsert("siilab", rows);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_THAT((*moved)[0].changed_fields, ElementsAre("owner_organisation"));
}

TEST_F(RegistryTest, PaddedIdsAreTheSameVenue) {
  ASSERT_TRUE(registry_.CreateSource("siilab", "").ok());
  const std::vector<v1::Venue> rows = {Valid("case-id"), Valid("case-id ")};
  auto results = registry_.BatchUpsert("siilab", rows);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].outcome, RowResult::Outcome::kCreated);
  EXPECT_EQ((*results)[1].outcome, RowResult::Outcome::kRejected);  // a duplicate, not a venue
  const std::vector<v1::Venue> again = {Valid(" case-id")};
  results = registry_.BatchUpsert("siilab", again);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].outcome, RowResult::Outcome::kUnchanged);
  auto imported = registry_.Import("siilab",
                                   "id,pivot,nom,commune,code_postal,adresse,date_maj\n"
                                   "imp-dup,21590512800017,A,Roubaix,59100,1 rue,2024-01-01\n"
                                   "imp-dup ,21590512800017,B,Roubaix,59100,1 rue,2024-01-01\n");
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->created, 1);
  ASSERT_EQ(imported->rejected.size(), 1u);
}

TEST_F(RegistryTest, WritesNameARegisteredSource) {
  const std::vector<v1::Venue> rows = {Valid("r1")};
  auto unknown = registry_.BatchUpsert("siilab", rows);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry_.Import("siilab", "id,nom\nx,y\n").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(repo_.writes, 0);

  clock_.Set(absl::FromUnixSeconds(1'850'000'000));
  auto created = registry_.CreateSource("siilab", "");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->display_name, "siilab");
  EXPECT_EQ(created->create_time, absl::FromUnixSeconds(1'850'000'000));
  EXPECT_EQ(registry_.CreateSource("siilab", "").status().code(), absl::StatusCode::kAlreadyExists);
  for (const char* bad : {"passerelle", "-abc", "Upper", ""}) {
    EXPECT_EQ(registry_.CreateSource(bad, "").status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(registry_.CreateSource("ok", std::string("a\0b", 3)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry_.BatchUpsert("siilab", rows).ok());
  EXPECT_TRUE(registry_.GetSource("sources/passerelle").ok());
  EXPECT_EQ(registry_.GetSource("sources/nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_.GetSource("sources/Siilab").status().code(),
            absl::StatusCode::kInvalidArgument);

  // Paging: three sources, two per page.
  ASSERT_TRUE(registry_.CreateSource("zeta", "").ok());
  auto first = registry_.ListSources(2, "");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->sources.size(), 2u);
  EXPECT_EQ(first->sources[0].id, "passerelle");
  auto second = registry_.ListSources(2, first->next_page_token);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->sources.size(), 1u);
  EXPECT_EQ(second->sources[0].id, "zeta");
  EXPECT_TRUE(second->next_page_token.empty());
  EXPECT_EQ(registry_.ListSources(2, "forged").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryTest, BatchPastItsDeadlineWritesNothing) {
  ASSERT_TRUE(registry_.CreateSource("siilab", "").ok());
  const std::vector<v1::Venue> rows = {Valid("r1")};
  auto late = registry_.BatchUpsert("siilab", rows, false, clock_.Now() - absl::Seconds(1));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(repo_.writes, 0);
}

TEST_F(RegistryTest, ListPagesWithSealedTokensBoundToTheQuery) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(registry_.Create(Valid(absl::StrCat("v", i)), "").ok());
  auto q = registry_.ParseListQuery("", "", 2, "", false);
  ASSERT_TRUE(q.ok()) << q.status();
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto query = registry_.ParseListQuery("", "", 2, token, false);
    ASSERT_TRUE(query.ok()) << query.status();
    auto page = registry_.List(*query);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& v : page->venues) EXPECT_TRUE(seen.insert(v.id).second) << v.id;
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(pages, 3);

  auto first = registry_.List(*q);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token.empty());
  // The token of one query does not serve another; a cut or forged one is refused.
  auto other =
      registry_.ParseListQuery("commune = \"Lille\"", "", 2, first->next_page_token, false);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  std::string cut = first->next_page_token;
  cut.pop_back();
  EXPECT_EQ(registry_.ParseListQuery("", "", 2, cut, false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryTest, WritesReachTheIndexAndRefreshPicksUpOtherReplicas) {
  auto created = registry_.Create(Valid("a"), "");
  ASSERT_TRUE(created.ok()) << created.status();
  SearchQuery q;
  q.text = "jean levy";
  auto found = registry_.Search(q, "p", "");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->hits.size(), 1u);
  EXPECT_EQ(found->hits[0].venue->name, created->Name());

  // Another replica writes straight into the repository; the refresh brings it in.
  Registry other(standard::Standard::V102(), repo_, tokens_, clock_);
  ASSERT_TRUE(other.Create(Valid("b", "Centre social Jean Lévy"), "").ok());
  EXPECT_EQ(registry_.Search(q, "p", "")->hits.size(), 1u);
  ASSERT_TRUE(registry_.RefreshIndex().ok());
  EXPECT_EQ(registry_.Search(q, "p", "")->hits.size(), 2u);
}

TEST_F(RegistryTest, GetFromTheIndexIsTheStoresAnswerForTheSameRevision) {
  repo_.organisations = {"epeule"};
  v1::Venue m = Valid("a");
  m.set_owner_organisation("epeule");
  m.add_referential_items("items/a1");
  m.set_accepts_aptic_pass(true);
  auto created = registry_.Create(m, "");
  ASSERT_TRUE(created.ok()) << created.status();
  auto store_bytes = [&](const std::string& name) {
    auto v = registry_.Get(name);
    EXPECT_TRUE(v.ok()) << v.status();
    v1::Venue message;
    ToProto(standard::Standard::V102(), *v, &message);
    return message.SerializeAsString();
  };
  auto indexed = registry_.FindIndexed(created->Name());
  ASSERT_NE(indexed, nullptr);
  EXPECT_EQ(indexed->wire, store_bytes(created->Name()));

  v1::Venue change;
  change.set_name(created->Name());
  change.set_telephone("03 20 66 45 00");
  ASSERT_TRUE(registry_.Update(change, {"telephone"}, "").ok());
  indexed = registry_.FindIndexed(created->Name());
  ASSERT_NE(indexed, nullptr);
  EXPECT_EQ(indexed->wire, store_bytes(created->Name())) << "the write's revision is served";
  v1::Venue read;
  ASSERT_TRUE(read.ParseFromString(indexed->wire));
  EXPECT_EQ(read.etag(), "W/\"2\"");

  // Withdrawn, unknown and malformed names are the store's to answer.
  ASSERT_TRUE(registry_.Withdraw(created->Name(), "Fermé", "", "").ok());
  EXPECT_EQ(registry_.FindIndexed(created->Name()), nullptr);
  EXPECT_EQ(registry_.FindIndexed("venues/abcdef00-0000-4000-8000-999999999999"), nullptr);
  std::string upper = created->Name();
  std::transform(upper.begin() + 7, upper.end(), upper.begin() + 7, ::toupper);
  for (const std::string& alias : {upper, created->Name() + " ", "x" + created->Name(),
                                   "venues/" + created->Name(), std::string("venues/")}) {
    EXPECT_EQ(registry_.FindIndexed(alias), nullptr) << alias;
  }
}

}  // namespace
}  // namespace passerelle::venues
