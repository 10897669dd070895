// Unit tests of the referential domain: the seed as shipped, and keyword search over it.
#include "services/referential/catalog.hpp"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/referential/exports.hpp"

namespace passerelle::referential {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CatalogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = std::string(PASSERELLE_SOURCE_DIR) + "/services/referential/seed/";
    auto t = ParseSeed(Read(dir + "nomenclature-roubaix-2023-02.json"),
                       Read(dir + "items-2023-02-03.json"));
    ASSERT_TRUE(t.ok()) << t.status();
    tree_ = new VersionTree(std::move(t).value());
    index_ = new SearchIndex(*tree_);
  }
  std::string First(const std::string& q, bool plain = false) {
    auto hits = index_->Search(q, plain, 5);
    return hits.empty() ? "" : hits[0].item->code;
  }
  static VersionTree* tree_;
  static SearchIndex* index_;
};
VersionTree* CatalogTest::tree_ = nullptr;
SearchIndex* CatalogTest::index_ = nullptr;

TEST_F(CatalogTest, SeedHasFourLevelsTwelveCategoriesAndAllItems) {
  EXPECT_EQ(tree_->nomenclature, "roubaix-aptic");
  EXPECT_EQ(tree_->version, "2023-02-03");
  EXPECT_EQ(tree_->levels.size(), 4u);
  size_t categories = 0;
  for (const auto& l : tree_->levels) categories += l.categories.size();
  EXPECT_EQ(categories, 12u);
  EXPECT_EQ(tree_->ActiveItemCount(), 137);
  const ItemNode* i77 = tree_->FindByCode("77");
  ASSERT_NE(i77, nullptr);
  EXPECT_EQ(i77->id, "it-77");
  EXPECT_EQ(i77->category_code, "2.1");
  EXPECT_EQ(i77->level_code, "2");
}

TEST_F(CatalogTest, EveryItemHasAPlainLabelDescriptionKeywordsAndAStandardService) {
  for (const auto& [id, item] : tree_->items) {
    EXPECT_FALSE(item.plain_label.empty()) << id;
    EXPECT_GE(item.description.size(), 40u) << id;
    EXPECT_GE(item.keywords.size(), 2u) << id;
    EXPECT_FALSE(item.services.empty()) << id;
  }
}

TEST_F(CatalogTest, FindsWhatPeopleType) {
  EXPECT_EQ(First("ecran tactile"), "77");
  EXPECT_EQ(First("Écran TACTILE"), "77");
  EXPECT_EQ(First("pronote"), "82");
  EXPECT_EQ(First("pronot"), "82") << "prefix";
  EXPECT_EQ(First("pronoet"), "82") << "typo";
  EXPECT_EQ(First("impots"), "85");
  EXPECT_EQ(First("impôts"), "85");
  EXPECT_EQ(First("ameli"), "93");
  EXPECT_EQ(First("franceconnect"), "95");
}

TEST_F(CatalogTest, WhatsappFindsTheMessagingItems) {
  auto hits = index_->Search("whatsap", false, 10);
  ASSERT_FALSE(hits.empty());
  std::set<std::string> codes;
  for (const auto& h : hits) codes.insert(h.item->code);
  EXPECT_TRUE(codes.count("14")) << "instant messaging discovery";
}

TEST_F(CatalogTest, CsvExportNeutralisesFormulas) {
  VersionTree t = *tree_;
  ItemNode& item = t.items.at(t.FindByCode("77")->id);
  item.label = "=HYPERLINK(\"http://evil\",\"clic\")";
  item.plain_label = "@SUM(1+1)";
  const std::string csv = ExportCsv(t);
  EXPECT_THAT(csv, ::testing::HasSubstr("\"'=HYPERLINK(\"\"http://evil\"\",\"\"clic\"\")\""));
  EXPECT_THAT(csv, ::testing::HasSubstr("'@SUM(1+1)"));
  EXPECT_THAT(csv, ::testing::Not(::testing::HasSubstr(",=HYPERLINK")));
}

TEST_F(CatalogTest, AllWordsMustMatch) {
  EXPECT_TRUE(index_->Search("ecran zzzzzz", false, 5).empty());
  EXPECT_TRUE(index_->Search("", false, 5).empty());
}

TEST(ParseSeedTest, RejectsBrokenSeedsWithAPreciseMessage) {
  EXPECT_THAT(std::string(ParseSeed("{", "").status().message()),
              ::testing::HasSubstr("not valid JSON"));
  auto s = ParseSeed(R"({"nomenclature":"n","version":"v","item_count":2,"levels":[
      {"code":"0","label":"L","categories":[{"code":"0.1","label":"C","items":[
      {"code":"A","label":"a"}]}]}]})",
                     "");
  EXPECT_THAT(std::string(s.status().message()),
              ::testing::HasSubstr("item_count says 2 but 1 items were read"));
}

}  // namespace
}  // namespace passerelle::referential
