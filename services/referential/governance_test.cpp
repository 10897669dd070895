// Accepts the 43 workshop proposals, publishes, and checks the new version item by item
// against what each proposal says.
#include "services/referential/governance.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passerelle::referential {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

std::string Read(const std::string& name) {
  std::ifstream in(std::string(PASSERELLE_SOURCE_DIR) + "/services/referential/seed/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class GovernanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto base = ParseSeed(Read("nomenclature-roubaix-2023-02.json"), Read("items-2023-02-03.json"));
    ASSERT_TRUE(base.ok()) << base.status();
    base_ = *std::move(base);
    auto proposals =
        ParseProposals(Read("proposals-2023-02.json"), Read("proposals-2023-02-amendments.json"));
    ASSERT_TRUE(proposals.ok()) << proposals.status();
    proposals_ = *std::move(proposals);
    for (auto& p : proposals_) p.state = ProposalState::kAccepted;
    auto next = Publish(base_, proposals_, "2023-03-01");
    ASSERT_TRUE(next.ok()) << next.status();
    next_ = *std::move(next);
  }
  const LevelNode& Level(const std::string& code) {
    for (const auto& l : next_.levels) {
      if (l.code == code) return l;
    }
    static LevelNode none;
    ADD_FAILURE() << "no level " << code;
    return none;
  }
  const CategoryNode* CategoryOf(const ItemNode& i) {
    for (const auto& l : next_.levels) {
      for (const auto& c : l.categories) {
        if (c.code == i.category_code) return &c;
      }
    }
    return nullptr;
  }
  const ItemNode& Item(const std::string& id) { return next_.items.at(id); }

  VersionTree base_, next_;
  std::vector<Proposal> proposals_;
};

TEST_F(GovernanceTest, FortyThreeProposalsEachWithReviewedOperations) {
  ASSERT_EQ(proposals_.size(), 43u);
  EXPECT_EQ(proposals_[0].number, 1);
  EXPECT_EQ(proposals_[0].kind, "add");
  EXPECT_EQ(proposals_[29].code_hint, "1.3");
}

TEST_F(GovernanceTest, EveryAddedItemIsWhereItsProposalPutIt) {
  // proposal number -> (label, category label in the new version)
  const std::map<int, std::pair<std::string, std::string>> added = {
      {1, {"Panorama des plateformes de démarches administratives", "S'informer"}},
      {2, {"Logements sociaux : faire sa demande en ligne", "Faire ses démarches en ligne"}},
      {3, {"Démarches de justice en ligne", "Faire ses démarches en ligne"}},
      {4,
       {"Démarches auprès de la Maison départementale des personnes handicapées (MDPH)",
        "Faire ses démarches en ligne"}},
      {5, {"Créer une adresse e-mail", "Faire ses démarches en ligne"}},
      {6,
       {"Professionnalisation : certifications, formations professionnelles",
        "S'insérer professionnellement"}},
      {12, {"Accéder à un smartphone", "Accéder à du matériel numérique"}},
      {13, {"Suivre la scolarité : Pronote, ENT, ONE Pocket", "Faire ses démarches en ligne"}},
      {14,
       {"Agence nationale des titres sécurisés (ANTS) : amendes, titres",
        "Faire ses démarches en ligne"}},
      {15,
       {"Démarches des étrangers en ligne (visas, cartes de séjour)",
        "Faire ses démarches en ligne"}},
      {16, {"Applications municipales (Vivacité, etc.)", "Faire ses démarches en ligne"}},
      {22, {"Installer de l'équipement à la maison", "S'équiper et devenir autonome"}},
      {23, {"Aller vers l'autonomie à la maison", "S'équiper et devenir autonome"}},
      {24, {"Apprendre à utiliser le matériel et la connectique", "S'équiper et devenir autonome"}},
      {25,
       {"Adapter le matériel, le plan de travail et les logiciels aux personnes en situation "
        "de handicap",
        "S'équiper et devenir autonome"}},
      {26,
       {"Connaître les démarches pour accéder (coût, ticket, abonnement, inscription)",
        "S'équiper et devenir autonome"}},
      {27, {"Chercher un accès", "Accéder à du matériel numérique"}},
      {28, {"Apprendre à utiliser un QR code", "S'informer"}},
      {29,
       {"Droits et devoirs sur Internet (responsabilités, notions de droit pénal)", "S'informer"}},
  };
  for (const auto& [number, expected] : added) {
    const std::string id = "it-p" + std::to_string(number) + (number == 22 ? "-1" : "-0");
    ASSERT_TRUE(next_.items.count(id)) << "proposal " << number;
    const ItemNode& i = Item(id);
    EXPECT_EQ(i.label, expected.first) << number;
    const CategoryNode* c = CategoryOf(i);
    ASSERT_NE(c, nullptr) << number;
    EXPECT_EQ(c->label, expected.second) << number;
    EXPECT_FALSE(i.code.empty()) << number;
  }
  EXPECT_THAT(Item("it-p13-0").keywords, Contains("Pronote"));
  EXPECT_THAT(Item("it-p16-0").keywords, Contains("Vivacité"));
  EXPECT_EQ(next_.ActiveItemCount(), 137 + 19 - 2);
}

TEST_F(GovernanceTest, RemovedItemsAreRetiredNeverDeleted) {
  for (const char* id : {"it-18", "it-73"}) {
    ASSERT_TRUE(next_.items.count(id));
    EXPECT_TRUE(Item(id).retired);
    EXPECT_TRUE(Item(id).code.empty());
    for (const auto& l : next_.levels) {
      for (const auto& c : l.categories) EXPECT_THAT(c.item_ids, ::testing::Not(Contains(id)));
    }
  }
}

TEST_F(GovernanceTest, RestructureSwapsLevelsAndMovesComprendre) {
  // 10 + 11: level « Découvrir le numérique » keeps S'informer; Comprendre opens « Maîtriser »;
  // 32: practice before theory, so « Maîtriser » becomes level 1.
  ASSERT_EQ(next_.levels.size(), 4u);
  EXPECT_EQ(Level("1").label, "Maîtriser le numérique");
  ASSERT_EQ(Level("1").categories.size(), 3u);
  EXPECT_EQ(Level("1").categories[0].label, "Comprendre");
  EXPECT_EQ(Level("1").categories[0].code, "1.1");
  EXPECT_EQ(Level("1").categories[1].label, "Utiliser");
  EXPECT_EQ(Level("1").categories[2].label, "Faire ses démarches en ligne");
  EXPECT_EQ(Level("2").label, "Découvrir le numérique");
  ASSERT_EQ(Level("2").categories.size(), 2u);
  EXPECT_EQ(Level("2").categories[0].label, "S'informer");
  EXPECT_THAT(Level("2").categories[1].label, HasSubstr("Hygiène de vie"));  // 30
  EXPECT_EQ(Level("0").categories.size(), 4u);                               // 22
  EXPECT_EQ(Item("it-77").category_code, "1.2");
}

TEST_F(GovernanceTest, RenamesFollowTheProposals) {
  EXPECT_EQ(Level("0").categories[1].label, "Accéder à du matériel numérique");  // 18
  EXPECT_EQ(Item("it-3").label,
            "Être parent à l'ère numérique: connaître les usages, découvrir les rôles du parent");
  EXPECT_EQ(Item("it-1").label, "Qu'est-ce que l'identité numérique ?");     // 38
  EXPECT_EQ(Item("it-15").label, "Panorama des outils de visioconférence");  // 39
}

TEST_F(GovernanceTest, MovesFollowProposal37) {
  EXPECT_EQ(Item("it-110").level_code, "0");
  EXPECT_EQ(CategoryOf(Item("it-110"))->label, "Accéder à des outils périphériques");
  EXPECT_EQ(Item("it-G").level_code, "3");
  EXPECT_EQ(CategoryOf(Item("it-G"))->label, "Explorer de nouvelles possibilités");
}

TEST_F(GovernanceTest, KeywordsAreAddedWhereProposed) {
  for (const auto& id : {"it-42", "it-44", "it-77", "it-82"}) {  // base category 2.1 (17)
    EXPECT_THAT(Item(id).keywords, Contains("WhatsApp")) << id;
    EXPECT_THAT(Item(id).keywords, Contains("FaceTime")) << id;
  }
  EXPECT_THAT(Item("it-85").keywords, ::testing::Not(Contains("FaceTime")));
  EXPECT_THAT(Item("it-11").keywords, Contains("Safari"));       // 41
  EXPECT_THAT(Item("it-66").keywords, Contains("LibreOffice"));  // 42
  EXPECT_THAT(Item("it-56").keywords, Contains("Facebook"));     // 43
  const auto& k = Item("it-14").keywords;                        // no duplicate WhatsApp
  EXPECT_EQ(std::count(k.begin(), k.end(), "WhatsApp"), 1);
}

TEST_F(GovernanceTest, CodesAreReassignedInTreeOrder) {
  std::set<std::string> codes;
  int numbered = 0;
  for (const auto& l : next_.levels) {
    for (const auto& c : l.categories) {
      for (const auto& id : c.item_ids) {
        const auto& code = Item(id).code;
        EXPECT_TRUE(codes.insert(code).second) << "duplicate code " << code;
        if (l.code == "0") {
          EXPECT_TRUE(std::isupper(static_cast<unsigned char>(code[0]))) << code;
        } else {
          EXPECT_EQ(code, std::to_string(++numbered));
        }
      }
    }
  }
  EXPECT_EQ(codes.size(), 154u);
}

TEST_F(GovernanceTest, DiffAndMappingDescribeTheChange) {
  VersionDiff d = Diff(base_, next_);
  EXPECT_EQ(d.added.size(), 19u);
  EXPECT_EQ(d.retired, (std::vector<std::string>{"it-18", "it-73"}));
  EXPECT_EQ(std::set<std::string>(d.renamed.begin(), d.renamed.end()),
            (std::set<std::string>{"it-1", "it-15", "it-3"}));
  EXPECT_EQ(std::set<std::string>(d.moved.begin(), d.moved.end()),
            (std::set<std::string>{"it-110", "it-G"}));
  ASSERT_EQ(d.mapping.size(), 137u);
  for (const auto& m : d.mapping) {
    if (m.item_id == "it-18") {
      EXPECT_TRUE(m.new_code.empty());
    }
    if (m.item_id == "it-77") {
      EXPECT_EQ(m.old_code, "77");
      EXPECT_EQ(m.new_code, Item("it-77").code);
    }
  }
}

TEST_F(GovernanceTest, OperationsOnMissingNodesFailWithTheProposalNumber) {
  Proposal p;
  p.number = 99;
  p.operations = {{.kind = Operation::Kind::kRetireItem, .target = "item:999"}};
  auto r = Publish(base_, {p}, "x");
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("proposal 99 operation 0: item:999"));
  auto bad = ParseOperations(nlohmann::json::parse(R"([{"op":"explode"},{"op":"add_item"}])"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("opérations invalides"));
}

}  // namespace
}  // namespace passerelle::referential

namespace passerelle::referential {
namespace {

// Open proposals follow a publication: their nodes are renamed by identity, not by offset.
TEST_F(GovernanceTest, RebaseRenamesNodesToTheirCodesInThePublishedVersion) {
  Renumbering renumbering;
  // Proposal 2 adds an item at the end of 2.2 and proposal 7 retires item 18 (in 1.1): items
  // 19 to 95 move down by one, the others keep their codes.
  auto next = Publish(base_, {proposals_[1], proposals_[6]}, "v2", &renumbering);
  ASSERT_TRUE(next.ok()) << next.status();
  auto p42 = RebaseOperations(proposals_[41].operations, renumbering);  // item:66
  ASSERT_TRUE(p42.ok()) << p42.status();
  EXPECT_EQ((*p42)[0].target, "item:65");
  EXPECT_EQ(next->items.at("it-66").code, "65");
  auto p39 = RebaseOperations(proposals_[38].operations, renumbering);  // item:15
  ASSERT_TRUE(p39.ok());
  EXPECT_EQ((*p39)[0].target, "item:15");
  auto p37 = RebaseOperations(proposals_[36].operations, renumbering);  // item:110 and item:G
  ASSERT_TRUE(p37.ok());
  EXPECT_EQ((*p37)[0].target, "item:110");
  EXPECT_EQ((*p37)[1].target, "item:G");
  EXPECT_EQ((*p37)[1].category, "3.4");
  // A category the publication did not add keeps its `new:` name for the proposal adding it.
  auto p22 = RebaseOperations(proposals_[21].operations, renumbering);
  auto p23 = RebaseOperations(proposals_[22].operations, renumbering);
  ASSERT_TRUE(p22.ok() && p23.ok());
  EXPECT_EQ((*p23)[0].category, "new:0.4");
  Proposal a = proposals_[21], b = proposals_[22];
  a.operations = *p22;
  b.operations = *p23;
  auto together = Publish(*next, {a, b}, "v3");
  EXPECT_TRUE(together.ok()) << together.status();
  // Once added by a publication, it is renamed to its code there.
  Renumbering after22;
  auto with22 = Publish(*next, {a}, "v3", &after22);
  ASSERT_TRUE(with22.ok());
  auto p23again = RebaseOperations(*p23, after22);
  ASSERT_TRUE(p23again.ok());
  EXPECT_EQ((*p23again)[0].category, "0.4");
  // A retired item cannot be renamed: the reason names it.
  std::vector<Operation> on18 = {
      {.kind = Operation::Kind::kAddKeywords, .target = "item:18", .keywords = {"Chorus"}}};
  auto gone = RebaseOperations(on18, renumbering);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(gone.status().message(), HasSubstr("item:18"));
}

TEST_F(GovernanceTest, OperationsAreBounded) {
  std::vector<Operation> ops(kMaxOperations + 1,
                             {.kind = Operation::Kind::kRetireItem, .target = "item:1"});
  std::vector<api::FieldViolation> bad;
  CheckOperations(ops, &bad);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].field, "operations");
  bad.clear();
  CheckOperations(
      {{.kind = Operation::Kind::kSetLabel, .target = "item:1", .label = std::string("a\0b", 3)}},
      &bad);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].field, "operations[0].label");
}

}  // namespace
}  // namespace passerelle::referential
