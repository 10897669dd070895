// The referential's use cases without PostgreSQL or binaries: the state mappings, and (below) the
// Referential over an in-memory Repository and a manual clock.
#include "services/referential/referential.hpp"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "passerelle/referential/v1/referential.pb.h"

namespace passerelle::referential {
namespace {

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

}  // namespace
}  // namespace passerelle::referential
