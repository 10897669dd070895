// Unit tests of French text folding.
#include "libs/text/text.hpp"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passerelle::text {
namespace {

using ::testing::ElementsAre;

TEST(TextTest, FoldsCaseAccentsAndLigatures) {
  EXPECT_EQ(Fold("Médiathèque"), "mediatheque");
  EXPECT_EQ(Fold("ÉCRAN Tactile"), "ecran tactile");
  EXPECT_EQ(Fold("Œuvre à Roubaix"), "oeuvre a roubaix");
  EXPECT_EQ(Fold("l’accès"), "l'acces");
  EXPECT_EQ(Fold("ça"), "ca");
}

TEST(TextTest, WordsDropElisionsAndStopWords) {
  EXPECT_THAT(Words("Les principaux gestes pour l'écran tactile"),
              ElementsAre("principaux", "gestes", "ecran", "tactile"));
  EXPECT_THAT(Words("impots.gouv"), ElementsAre("impots", "gouv"));
}

TEST(TextTest, EditDistanceCountsTranspositions) {
  EXPECT_EQ(EditDistance("whatsapp", "whatsap", 2), 1);
  EXPECT_EQ(EditDistance("pronote", "pronoet", 2), 1);
  EXPECT_EQ(EditDistance("abc", "xyz", 1), 2);
  EXPECT_EQ(EditDistance("", "", 0), 0);
}

}  // namespace
}  // namespace passerelle::text
