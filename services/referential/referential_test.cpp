// The referential's use cases without PostgreSQL or binaries: the state mappings, and (below) the
// Referential over an in-memory Repository and a manual clock.
#include "services/referential/referential.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/api/page_token.hpp"
#include "libs/api/resource.hpp"
#include "libs/clock/clock.hpp"
#include "passerelle/referential/v1/referential.pb.h"

namespace passerelle::referential {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// kProposalStates is what text is read back through: it must hold every state once, as many as
// the API defines (less UNSPECIFIED), each with its own name.
TEST(StateNamesTest, EveryProposalStateRoundTripsThroughItsText) {
  std::set<std::string> names;
  for (ProposalState s : kProposalStates) {
    const std::string name = ProposalStateName(s);
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(ProposalStateFromName(name), s) << name;
  }
  EXPECT_EQ(static_cast<int>(names.size()), v1::ProposalState_descriptor()->value_count() - 1);
  EXPECT_EQ(ProposalStateFromName("OPEN"), std::nullopt);  // the store's text is lower case
  EXPECT_EQ(ProposalStateFromName(""), std::nullopt);
}

TEST(StateNamesTest, EveryVersionStateRoundTripsThroughItsText) {
  std::set<std::string> names;
  for (VersionState s : kVersionStates) {
    const std::string name = VersionStateName(s);
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(VersionStateFromName(name), s) << name;
  }
  EXPECT_EQ(static_cast<int>(names.size()), v1::VersionState_descriptor()->value_count() - 1);
  EXPECT_EQ(VersionStateFromName("final"), std::nullopt);
}

// The Repository's contract in memory: what PgStore does, without PostgreSQL. Several
// Referentials may share one, as replicas share the database.
class FakeRepository final : public Repository {
 public:
  absl::StatusOr<std::vector<VersionTree>> LoadAll() override {
    std::lock_guard lock(mu_);
    return versions_;
  }

  absl::StatusOr<bool> InsertVersion(const VersionTree& tree,
                                     const events::v1::Event& event) override {
    std::lock_guard lock(mu_);
    if (FindVersion(tree.nomenclature, tree.version)) return false;
    AddVersion(tree, event);
    return true;
  }

  absl::StatusOr<bool> PublishVersion(const VersionTree& tree, const std::vector<int>& applied,
                                      const std::vector<Proposal>& carried,
                                      const events::v1::Event& event) override {
    std::lock_guard lock(mu_);
    std::vector<int> accepted_now, want = applied;
    std::vector<std::pair<int, int>> open_now, open_want;
    for (const auto& [key, p] : proposals_) {
      if (p.nomenclature != tree.nomenclature || p.base_version != tree.base_version) continue;
      if (p.state == ProposalState::kAccepted) accepted_now.push_back(p.number);
      if (p.state == ProposalState::kOpen) open_now.emplace_back(p.number, p.revision);
    }
    for (const auto& p : carried) open_want.emplace_back(p.number, p.revision);
    std::sort(want.begin(), want.end());
    std::sort(open_want.begin(), open_want.end());
    if (accepted_now != want || open_now != open_want) {
      return absl::AbortedError("the proposals changed while publishing; publish again");
    }
    if (FindVersion(tree.nomenclature, tree.version)) return false;
    AddVersion(tree, event);
    for (int n : applied) {
      Proposal& p = proposals_.at({tree.nomenclature, n});
      p.state = ProposalState::kApplied;
      p.applied_in = tree.version;
      p.update_time = tree.publish_time;
      ++p.revision;
    }
    for (const auto& c : carried) {
      Proposal& p = proposals_.at({tree.nomenclature, c.number});
      p.base_version = c.base_version;
      p.operations = c.operations;
      p.state = c.state;
      p.decision_reason = c.decision_reason;
      p.update_time = c.update_time;
      ++p.revision;
    }
    return true;
  }

  absl::StatusOr<std::string> VersionsFingerprint() override {
    std::lock_guard lock(mu_);
    return absl::StrCat(versions_.size(), "/", events_.size());
  }

  absl::Status ImportProposals(const std::vector<Proposal>& proposals) override {
    std::lock_guard lock(mu_);
    for (const auto& p : proposals) proposals_.emplace(std::make_pair(p.nomenclature, p.number), p);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Proposal>> ListProposals(const std::string& nomenclature) override {
    std::lock_guard lock(mu_);
    std::vector<Proposal> out;
    for (const auto& [key, p] : proposals_) {
      if (key.first == nomenclature) out.push_back(p);
    }
    return out;
  }

  absl::StatusOr<Proposal> GetProposal(const std::string& nomenclature, int number) override {
    std::lock_guard lock(mu_);
    auto it = proposals_.find({nomenclature, number});
    if (it == proposals_.end()) return absl::NotFoundError("no such proposal");
    return it->second;
  }

  absl::StatusOr<Proposal> UpdateProposal(
      const std::string& nomenclature, int number,
      const std::function<absl::Status(Proposal&)>& change) override {
    std::lock_guard lock(mu_);
    auto it = proposals_.find({nomenclature, number});
    if (it == proposals_.end()) return absl::NotFoundError("no such proposal");
    Proposal p = it->second;
    if (absl::Status s = change(p); !s.ok()) return s;
    ++p.revision;
    it->second = p;
    return p;
  }

  absl::StatusOr<Proposal> AddComment(const std::string& nomenclature, int number,
                                      const Comment& comment) override {
    std::lock_guard lock(mu_);
    auto it = proposals_.find({nomenclature, number});
    if (it == proposals_.end()) return absl::NotFoundError("no such proposal");
    it->second.comments.push_back(comment);
    it->second.update_time = comment.create_time;
    ++it->second.revision;
    return it->second;
  }

  /// What the outbox would have relayed, in order.
  std::vector<events::v1::Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  bool FindVersion(const std::string& nomenclature, const std::string& version) const {
    return std::any_of(versions_.begin(), versions_.end(), [&](const VersionTree& v) {
      return v.nomenclature == nomenclature && v.version == version;
    });
  }
  void AddVersion(const VersionTree& tree, const events::v1::Event& event) {
    versions_.push_back(tree);
    std::sort(versions_.begin(), versions_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.nomenclature, a.version) < std::tie(b.nomenclature, b.version);
    });
    events_.push_back(event);
  }

  mutable std::mutex mu_;
  std::vector<VersionTree> versions_;                          // by nomenclature, then version
  std::map<std::pair<std::string, int>, Proposal> proposals_;  // by nomenclature, then number
  std::vector<events::v1::Event> events_;
};

// A nomenclature of two levels and five items (it-A, it-B, it-1, it-2, it-3), a second one for
// lists, and four proposals on version v1, each with its reviewed operations:
//   1 renames item 1, 2 retires item 2 (both accepted by the tests that publish),
//   3 adds keywords to item 2 (closed when 2 is applied), 4 renames item 3 (carried: item 3
//   becomes item 2 when item 2 is retired).
constexpr char kNomenclature[] = R"({
  "nomenclature": "essai", "version": "v1", "title": "Essai", "source": "Tests",
  "levels": [
    {"code": "0", "label": "Libre-service", "categories": [
      {"code": "0.1", "label": "Connexion", "items": [
        {"code": "A", "label": "Accéder au wifi"}, {"code": "B", "label": "Accéder à un ordinateur"}]}]},
    {"code": "1", "label": "S'informer", "categories": [
      {"code": "1.1", "label": "Démarches", "items": [
        {"code": "1", "label": "Faire une démarche CAF"}, {"code": "2", "label": "Déclarer ses impôts"}]},
      {"code": "1.2", "label": "Emploi", "items": [{"code": "3", "label": "Chercher un emploi"}]}]}]})";
constexpr char kOtherNomenclature[] = R"({
  "nomenclature": "autre", "version": "2024-01-01", "title": "Autre", "source": "Tests",
  "levels": [{"code": "0", "label": "Un", "categories": [
    {"code": "0.1", "label": "Une", "items": [{"code": "A", "label": "Un item"}]}]}]})";
constexpr char kProposals[] = R"({
  "nomenclature": "essai", "base_version": "v1",
  "proposals": [
    {"table": 1, "kind": "rename", "target": "item:1", "text": "Préciser en ligne"},
    {"table": 1, "kind": "remove", "target": "item:2", "text": "Retirer les impôts"},
    {"table": 2, "kind": "keywords", "target": "item:2", "text": "Mots-clés impôts"},
    {"table": 2, "kind": "rename", "target": "item:3", "text": "Préciser en ligne"}]})";
constexpr char kAmendments[] = R"({"operations": {
  "1": [{"op": "set_label", "target": "item:1", "label": "Faire une démarche CAF en ligne"}],
  "2": [{"op": "retire_item", "target": "item:2"}],
  "3": [{"op": "add_keywords", "target": "item:2", "keywords": ["impots.gouv"]}],
  "4": [{"op": "set_label", "target": "item:3", "label": "Chercher un emploi en ligne"}]}})";

constexpr char kParent[] = "nomenclatures/essai";

std::string ProposalNamed(int number) { return absl::StrCat(kParent, "/proposals/", number); }

class ReferentialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_dir_ = std::filesystem::path(::testing::TempDir()) /
                absl::StrCat("referential_test_", getpid(), "_",
                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(seed_dir_);
    Write("nomenclature-essai.json", kNomenclature);
    Write("nomenclature-autre.json", kOtherNomenclature);
    Write("proposals-essai.json", kProposals);
    Write("proposals-essai-amendments.json", kAmendments);
    ASSERT_TRUE(ref_.LoadSeed(seed_dir_.string()).ok());
  }
  void TearDown() override { std::filesystem::remove_all(seed_dir_); }

  void Write(const std::string& file, const std::string& text) {
    std::ofstream(seed_dir_ / file) << text;
  }
  // Accepts proposals 1 and 2 (no etag) and publishes v2 an hour later.
  Referential::Published AcceptAndPublish(Referential& ref) {
    for (int n : {1, 2}) EXPECT_TRUE(ref.Decide(ProposalNamed(n), true, "oui", "").ok());
    clock_.Advance(absl::Hours(1));
    auto published = ref.Publish(kParent, "v2");
    EXPECT_TRUE(published.ok()) << published.status();
    return published.ok() ? *std::move(published) : Referential::Published{};
  }
  const VersionTree& Current(const Referential& ref) {
    auto t = ref.ResolveVersion(*ref.snapshot(), "nomenclatures/essai/versions/-");
    EXPECT_TRUE(t.ok()) << t.status();
    static const VersionTree none;
    return t.ok() ? **t : none;
  }

  std::filesystem::path seed_dir_;
  clocks::ManualClock clock_;
  api::PageTokens tokens_{"a secret for tests"};
  FakeRepository repo_;
  Referential ref_{repo_, tokens_, clock_};
};

TEST_F(ReferentialTest, SeedIsPublishedAtTheClocksTimeOnce) {
  const absl::Time loaded = clock_.Now();
  EXPECT_EQ(Current(ref_).version, "v1");
  EXPECT_EQ(Current(ref_).publish_time, loaded);
  ASSERT_EQ(repo_.events().size(), 2u);  // one per nomenclature
  EXPECT_EQ(repo_.events()[0].occurred_time().seconds(), absl::ToUnixSeconds(loaded));
  auto p = ref_.GetProposal(ProposalNamed(1));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->create_time, loaded);

  clock_.Advance(absl::Minutes(5));  // a second replica starting later writes nothing again
  Referential other(repo_, tokens_, clock_);
  ASSERT_TRUE(other.LoadSeed(seed_dir_.string()).ok());
  EXPECT_EQ(repo_.events().size(), 2u);
  EXPECT_EQ(Current(other).publish_time, loaded);
}

TEST_F(ReferentialTest, CommentAcceptPublishMakesANewVersionAtTheClocksTime) {
  auto read = ref_.GetProposal(ProposalNamed(1));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->state, ProposalState::kOpen);

  clock_.Advance(absl::Minutes(10));
  auto commented = ref_.Comment(ProposalNamed(1), "Centre social", "D'accord, en ligne surtout.");
  ASSERT_TRUE(commented.ok()) << commented.status();
  EXPECT_NE(ETag(*commented), ETag(*read));  // a comment changes the proposal
  ASSERT_EQ(commented->comments.size(), 1u);
  EXPECT_EQ(commented->comments[0].create_time, clock_.Now());
  EXPECT_EQ(commented->update_time, clock_.Now());

  clock_.Advance(absl::Minutes(10));
  auto accepted = ref_.Decide(ProposalNamed(1), true, "Adoptée", ETag(*commented));
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->state, ProposalState::kAccepted);
  EXPECT_EQ(accepted->update_time, clock_.Now());
  ASSERT_TRUE(ref_.Decide(ProposalNamed(2), true, "Adoptée", "").ok());

  clock_.Advance(absl::Hours(1));
  const absl::Time publish_time = clock_.Now();
  auto published = ref_.Publish(kParent, "v2");
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_EQ(published->previous, "v1");
  EXPECT_EQ(published->version->version, "v2");
  EXPECT_EQ(published->version->state, VersionState::kPublished);
  EXPECT_EQ(published->version->publish_time, publish_time);
  EXPECT_EQ(published->version->items.at("it-1").label, "Faire une démarche CAF en ligne");
  EXPECT_TRUE(published->version->items.at("it-2").retired);
  EXPECT_THAT(published->diff.retired, ElementsAre("it-2"));
  const events::v1::Event event = repo_.events().back();
  EXPECT_EQ(event.type(), "referential.version.published");
  EXPECT_EQ(event.subject(), "nomenclatures/essai/versions/v2");
  EXPECT_EQ(event.occurred_time().seconds(), absl::ToUnixSeconds(publish_time));
  for (int n : {1, 2}) {
    auto p = ref_.GetProposal(ProposalNamed(n));
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->state, ProposalState::kApplied);
    EXPECT_EQ(p->applied_in, "v2");
    EXPECT_EQ(p->update_time, publish_time);
  }

  clock_.Advance(absl::Minutes(1));  // a retried publication answers what was published
  auto again = ref_.Publish(kParent, "v2");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->version->publish_time, publish_time);
  EXPECT_EQ(repo_.events().size(), 3u);
  // Another existing id is not a retry: it would publish nothing and answer OK.
  EXPECT_EQ(ref_.Publish(kParent, "v1").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(repo_.events().size(), 3u);
}

TEST_F(ReferentialTest, PublishCarriesOpenProposalsThatStillApplyAndClosesTheOthers) {
  auto before = ref_.GetProposal(ProposalNamed(4));
  ASSERT_TRUE(before.ok()) << before.status();
  const Referential::Published published = AcceptAndPublish(ref_);

  // 4 named item:3, which is item:2 once item 2 is retired: carried, renamed, new etag.
  auto carried = ref_.GetProposal(ProposalNamed(4));
  ASSERT_TRUE(carried.ok()) << carried.status();
  EXPECT_EQ(carried->state, ProposalState::kOpen);
  EXPECT_EQ(carried->base_version, "v2");
  ASSERT_EQ(carried->operations.size(), 1u);
  EXPECT_EQ(carried->operations[0].target, "item:2");
  EXPECT_EQ(published.version->items.at("it-3").code, "2");
  EXPECT_NE(ETag(*carried), ETag(*before));
  EXPECT_EQ(carried->update_time, clock_.Now());

  // 3 added keywords to the retired item 2: closed, with the version and the cause.
  auto closed = ref_.GetProposal(ProposalNamed(3));
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->state, ProposalState::kClosed);
  EXPECT_EQ(closed->base_version, "v1");
  EXPECT_THAT(closed->decision_reason, HasSubstr("v2"));
  EXPECT_THAT(closed->decision_reason, HasSubstr("item:2"));

  // The carried proposal is on the version in force: it can be accepted and published.
  ASSERT_TRUE(ref_.Decide(ProposalNamed(4), true, "oui", ETag(*carried)).ok());
  auto v3 = ref_.Publish(kParent, "v3");
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->version->items.at("it-3").label, "Chercher un emploi en ligne");
  // A closed proposal cannot be decided any more.
  EXPECT_EQ(ref_.Decide(ProposalNamed(3), true, "oui", "").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ReferentialTest, StaleEtagsAreRefused) {
  auto read = ref_.GetProposal(ProposalNamed(4));
  ASSERT_TRUE(read.ok()) << read.status();
  const std::string stale = ETag(*read);
  ASSERT_TRUE(ref_.Comment(ProposalNamed(4), "Médiathèque", "Et le CV ?").ok());

  Operation op{.kind = Operation::Kind::kSetLabel, .target = "item:3", .label = "Autre"};
  auto amended = ref_.Amend(ProposalNamed(4), {op}, stale);
  EXPECT_EQ(amended.status().code(), absl::StatusCode::kAborted) << amended.status();
  EXPECT_THAT(amended.status().message(), HasSubstr("etag mismatch"));
  auto decided = ref_.Decide(ProposalNamed(4), false, "non", stale);
  EXPECT_EQ(decided.status().code(), absl::StatusCode::kAborted) << decided.status();
  auto now = ref_.GetProposal(ProposalNamed(4));
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->state, ProposalState::kOpen);  // nothing written
  EXPECT_EQ(now->operations[0].label, "Chercher un emploi en ligne");

  // An etag read before a publication carried the proposal is stale too.
  const std::string before_publish = ETag(*now);
  AcceptAndPublish(ref_);
  EXPECT_EQ(ref_.Decide(ProposalNamed(4), true, "oui", before_publish).status().code(),
            absl::StatusCode::kAborted);
  // The fresh etag works; a malformed one is the client's error.
  auto fresh = ref_.GetProposal(ProposalNamed(4));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE(ref_.Decide(ProposalNamed(4), true, "oui", ETag(*fresh)).ok());
  EXPECT_EQ(ref_.Decide(ProposalNamed(4), true, "oui", "W/\"x\"").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReferentialTest, DashNamesTheCurrentVersionAndIsNeverAVersionId) {
  EXPECT_EQ(Current(ref_).version, "v1");
  AcceptAndPublish(ref_);
  EXPECT_EQ(Current(ref_).version, "v2");
  auto old = ref_.ResolveVersion(*ref_.snapshot(), "nomenclatures/essai/versions/v1");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ((*old)->version, "v1");
  EXPECT_EQ(ref_.ResolveVersion(*ref_.snapshot(), "nomenclatures/nope/versions/-").status().code(),
            absl::StatusCode::kNotFound);

  ASSERT_TRUE(ref_.Decide(ProposalNamed(4), true, "oui", "").ok());
  auto dash = ref_.Publish(kParent, "-");
  EXPECT_EQ(dash.status().code(), absl::StatusCode::kInvalidArgument) << dash.status();
  EXPECT_EQ(api::Violations(dash.status()).at(0).field, "version_id");
  EXPECT_EQ(Current(ref_).version, "v2");
}

TEST_F(ReferentialTest, PageTokensRoundTripAndAreBoundToTheirList) {
  // Nomenclatures, one a page.
  auto first = ref_.ListNomenclatures(1, "");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(first->nomenclatures, ElementsAre("autre"));
  ASSERT_FALSE(first->next_page_token.empty());
  auto second = ref_.ListNomenclatures(1, first->next_page_token);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(second->nomenclatures, ElementsAre("essai"));
  EXPECT_TRUE(second->next_page_token.empty());

  // Proposals, two a page, then filtered one a page.
  std::vector<int> numbers;
  std::string token;
  do {
    auto page = ref_.ListProposals(kParent, "", 2, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& p : page->proposals) numbers.push_back(p.number);
    token = page->next_page_token;
  } while (!token.empty() && numbers.size() < 10);
  EXPECT_THAT(numbers, ElementsAre(1, 2, 3, 4));
  ASSERT_TRUE(ref_.Decide(ProposalNamed(2), false, "non", "").ok());
  numbers.clear();
  std::string open_token;
  do {
    auto page = ref_.ListProposals(kParent, "state = OPEN", 1, open_token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& p : page->proposals) numbers.push_back(p.number);
    open_token = page->next_page_token;
    if (numbers.size() == 1) token = open_token;  // kept for the checks below
  } while (!open_token.empty() && numbers.size() < 10);
  EXPECT_THAT(numbers, ElementsAre(1, 3, 4));

  // A token is refused by another list, with another filter or another parent.
  auto refused = [](const auto& result) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
    const auto violations = api::Violations(result.status());
    EXPECT_TRUE(!violations.empty() && violations[0].field == "page_token") << result.status();
  };
  refused(ref_.ListProposals(kParent, "", 1, first->next_page_token));
  refused(ref_.ListNomenclatures(1, token));
  refused(ref_.ListProposals(kParent, "state = REJECTED", 1, token));
  refused(ref_.ListProposals("nomenclatures/autre", "state = OPEN", 1, token));
  refused(ref_.ListProposals(kParent, "state = OPEN", 1, token.substr(1)));
  auto same = ref_.ListProposals(kParent, "state = OPEN", 1, token);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->proposals.at(0).number, 3);
}

TEST_F(ReferentialTest, ResourceNamesHaveOneSpelling) {
  auto refused = [](const absl::Status& st, const std::string& field) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    const auto violations = api::Violations(st);
    EXPECT_TRUE(!violations.empty() && violations[0].field == field) << st;
  };
  ASSERT_TRUE(ref_.GetProposal("nomenclatures/essai/proposals/1").ok());
  for (const char* name :
       {"nomenclatures/essai/proposals/01", "nomenclatures/essai/proposals/+1",
        "nomenclatures/essai/proposals/0", "nomenclatures/essai/proposals/1/",
        "nomenclatures//proposals/1", "nomenclatures/essai/proposals/ 1",
        "nomenclatures/essai/proposals/99999999999", "nomenclatures/essai/versions/1"}) {
    refused(ref_.GetProposal(name).status(), "name");
    refused(ref_.Comment(name, "Moi", "Un avis").status(), "name");
  }
  auto untouched = ref_.GetProposal(ProposalNamed(1));
  ASSERT_TRUE(untouched.ok()) << untouched.status();
  EXPECT_TRUE(untouched->comments.empty());
  EXPECT_EQ(ref_.GetProposal("nomenclatures/essai/proposals/9").status().code(),
            absl::StatusCode::kNotFound);

  for (const char* parent :
       {"nomenclatures/essai/", "nomenclatures", "essai", "nomenclatures/a/b"}) {
    refused(ref_.ListProposals(parent, "", 0, "").status(), "parent");
    refused(ref_.Publish(parent, "v9").status(), "parent");
  }
  refused(ref_.GetProposal("nomenclatures/ESSAI/proposals/1").status(), "name");
  refused(ref_.ListProposals("nomenclatures/Essai", "", 0, "").status(), "parent");
  for (const char* version :
       {"nomenclatures/essai/versions/", "nomenclatures/essai/v1",
        "nomenclatures/essai/versions/v1/items", "nomenclatures/essai/versions/V1",
        "nomenclatures/essai/versions/--", "nomenclatures/ESSAI/versions/v1"}) {
    refused(ref_.ResolveVersion(*ref_.snapshot(), version, "from_version").status(),
            "from_version");
  }
  auto item = ParseItemName("items/it-1", "name");
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(*item, "it-1");
  refused(ParseItemName("items/", "name").status(), "name");
  refused(ParseItemName("items/it-1/x", "name").status(), "name");
  EXPECT_EQ(ProposalName("essai", 12), "nomenclatures/essai/proposals/12");
  EXPECT_EQ(VersionName("essai", "v1"), "nomenclatures/essai/versions/v1");
}

TEST_F(ReferentialTest, AReloadPicksUpAnotherReplicasPublish) {
  Referential other(repo_, tokens_, clock_);
  ASSERT_TRUE(other.Reload().ok());
  auto unchanged = other.ReloadIfChanged();
  ASSERT_TRUE(unchanged.ok()) << unchanged.status();
  EXPECT_FALSE(*unchanged);

  AcceptAndPublish(ref_);  // on the first replica
  EXPECT_EQ(Current(other).version, "v1");
  auto reloaded = other.ReloadIfChanged();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ(Current(other).version, "v2");
  EXPECT_EQ(Current(other).publish_time, clock_.Now());
  auto again = other.ReloadIfChanged();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);

  // The same publication retried on the other replica answers with the version published.
  auto retried = other.Publish(kParent, "v2");
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->previous, "v1");
  EXPECT_EQ(repo_.events().size(), 3u);
}

}  // namespace
}  // namespace passerelle::referential
