// The SKOS export read by a real RDF parser (rdflib): both directions of the hierarchy, top
// concepts on the scheme, notations unique per scheme, and concept URIs that keep naming the
// same concept across versions, even when a publication swaps the levels' codes.
#include "services/referential/exports.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/testing/testing.hpp"
#include "nlohmann/json.hpp"
#include "services/referential/governance.hpp"

namespace passerelle::referential {
namespace {

using namespace std::chrono_literals;

constexpr char kBase[] = "https://referentiel.example/";

std::string Read(const std::string& name) {
  std::ifstream in(testing::SourceDir() + "/services/referential/seed/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The graph as rdflib reads it: each concept's notations, labels, broader and narrower, and
// the scheme's top concepts.
nlohmann::json Graph(const std::string& ttl) {
  const std::string path = "/tmp/" + testing::UniqueName("skos") + ".ttl";
  std::ofstream(path) << ttl;
  auto p = testing::Process::Start(
      {"/usr/bin/python3", "-c",
       "import sys, json, rdflib\n"
       "g = rdflib.Graph().parse(sys.argv[1], format='turtle')\n"
       "S = rdflib.Namespace('http://www.w3.org/2004/02/skos/core#')\n"
       "out = {'concepts': {}, 'top': {}}\n"
       "for c in g.subjects(rdflib.RDF.type, S.Concept):\n"
       "  out['concepts'][str(c)] = {\n"
       "    'notation': sorted(str(n) for n in g.objects(c, S.notation)),\n"
       "    'label': [str(n) for n in g.objects(c, S.prefLabel)],\n"
       "    'broader': sorted(str(n) for n in g.objects(c, S.broader)),\n"
       "    'narrower': sorted(str(n) for n in g.objects(c, S.narrower)),\n"
       "    'top_of': sorted(str(n) for n in g.objects(c, S.topConceptOf)),\n"
       "    'in': sorted(str(n) for n in g.objects(c, S.inScheme))}\n"
       "for s in g.subjects(rdflib.RDF.type, S.ConceptScheme):\n"
       "  out['top'][str(s)] = sorted(str(n) for n in g.objects(s, S.hasTopConcept))\n"
       "print(json.dumps(out))\n",
       path});
  EXPECT_EQ(p->Wait(60s), 0) << p->Output();
  std::remove(path.c_str());
  const std::string output = p->Output();
  return nlohmann::json::parse(output.substr(output.find('{')));
}

class SkosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto base = ParseSeed(Read("nomenclature-roubaix-2023-02.json"), Read("items-2023-02-03.json"));
    ASSERT_TRUE(base.ok()) << base.status();
    base_ = *std::move(base);
    auto proposals =
        ParseProposals(Read("proposals-2023-02.json"), Read("proposals-2023-02-amendments.json"));
    ASSERT_TRUE(proposals.ok()) << proposals.status();
    for (auto& p : *proposals) p.state = ProposalState::kAccepted;
    auto next = Publish(base_, *proposals, "2023-03-01");
    ASSERT_TRUE(next.ok()) << next.status();
    next_ = *std::move(next);
  }
  VersionTree base_, next_;
};

TEST_F(SkosTest, HierarchyIsStatedBothWaysWithTopConceptsOnTheScheme) {
  for (const VersionTree* t : {&base_, &next_}) {
    SCOPED_TRACE(t->version);
    const auto g = Graph(ExportSkosTurtle(*t, kBase));
    const std::string scheme = absl::StrCat(kBase, t->nomenclature, "/", t->version);
    const auto& concepts = g.at("concepts");
    std::set<std::string> tops;
    for (const auto& [uri, c] : concepts.items()) {
      for (const auto& b : c.at("broader")) {
        ASSERT_TRUE(concepts.contains(b.get<std::string>())) << uri;
        EXPECT_THAT(concepts.at(b.get<std::string>()).at("narrower"), ::testing::Contains(uri))
            << b << " does not state narrower " << uri;
      }
      for (const auto& n : c.at("narrower")) {
        EXPECT_THAT(concepts.at(n.get<std::string>()).at("broader"), ::testing::Contains(uri));
      }
      if (!c.at("top_of").empty()) tops.insert(uri);
    }
    EXPECT_EQ(tops.size(), t->levels.size());
    ASSERT_TRUE(g.at("top").contains(scheme));
    EXPECT_EQ(g.at("top").at(scheme).get<std::set<std::string>>(), tops);
  }
}

TEST_F(SkosTest, NotationsAreUniqueInTheScheme) {
  for (const VersionTree* t : {&base_, &next_}) {
    SCOPED_TRACE(t->version);
    const auto g = Graph(ExportSkosTurtle(*t, kBase));
    std::map<std::string, std::string> owner;
    int active = 0;
    for (const auto& [uri, c] : g.at("concepts").items()) {
      for (const auto& n : c.at("notation")) {
        auto [it, fresh] = owner.emplace(n.get<std::string>(), uri);
        EXPECT_TRUE(fresh) << "notation " << n << " on " << uri << " and " << it->second;
      }
      active += !c.at("notation").empty();
    }
    // Every level, category and active item has its notation (only retired items have none).
    int nodes = static_cast<int>(t->levels.size()) + t->ActiveItemCount();
    for (const auto& l : t->levels) nodes += static_cast<int>(l.categories.size());
    EXPECT_EQ(active, nodes);
  }
}

// Level "1" of 2023-02-03 and level "1" of 2023-03-01 are different levels (proposal 32 swaps
// them): they must not share a URI, and each level keeps its URI from one version to the next.
TEST_F(SkosTest, AConceptUriNeverNamesAnotherConceptInALaterVersion) {
  const auto before = Graph(ExportSkosTurtle(base_, kBase)).at("concepts");
  const auto after = Graph(ExportSkosTurtle(next_, kBase)).at("concepts");
  int shared = 0;
  for (const auto& [uri, c] : before.items()) {
    if (!after.contains(uri)) continue;
    ++shared;
    const auto& later = after.at(uri);
    // Same concept: a level or category keeps its place in the hierarchy's kind (top or not)
    // and, unless a proposal renamed it, its label; the exceptions are listed by the diff.
    EXPECT_EQ(c.at("top_of").empty(), later.at("top_of").empty()) << uri;
  }
  EXPECT_GT(shared, 150);
  for (const auto& l : base_.levels) {
    const std::string uri = absl::StrCat(kBase, base_.nomenclature, "/", l.key);
    ASSERT_TRUE(after.contains(uri)) << uri;
    EXPECT_EQ(after.at(uri).at("label")[0], [&] {
      for (const auto& m : next_.levels) {
        if (m.key == l.key) return m.label;
      }
      return std::string("(missing)");
    }());
  }
  auto level_uri = [&](const VersionTree& t, const std::string& code) {
    for (const auto& l : t.levels) {
      if (l.code == code) return absl::StrCat(kBase, t.nomenclature, "/", l.key);
    }
    return std::string();
  };
  ASSERT_NE(base_.levels[1].label, next_.levels[1].label) << "the fixture no longer swaps levels";
  EXPECT_NE(level_uri(base_, "1"), level_uri(next_, "1"));
  EXPECT_EQ(before.at(level_uri(base_, "1")).at("label")[0], base_.levels[1].label);
}

TEST_F(SkosTest, NodesWithoutAKeyGetAUriOfTheirVersion) {
  // A version stored before levels had keys: its URIs carry the version, so a later version's
  // concept can never be mistaken for it.
  VersionTree old = base_;
  for (auto& l : old.levels) l.key.clear();
  for (auto& c : old.levels[0].categories) c.key.clear();
  const std::string ttl = ExportSkosTurtle(old, kBase);
  EXPECT_THAT(ttl, ::testing::HasSubstr(absl::StrCat("/level-1-", old.version, ">")));
  EXPECT_THAT(ttl, ::testing::HasSubstr(absl::StrCat("/category-", old.levels[0].categories[0].code,
                                                     "-", old.version, ">")));
}

}  // namespace
}  // namespace passerelle::referential
