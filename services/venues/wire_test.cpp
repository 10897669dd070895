// The hand-written SearchVenues response encoding against the generated code's.
#include "services/venues/wire.hpp"

#include "gtest/gtest.h"

namespace passerelle::venues {
namespace {

std::shared_ptr<const IndexedVenue> Indexed(const v1::Venue& v) {
  auto out = std::make_shared<IndexedVenue>();
  out->name = v.name();
  v.SerializeToString(&out->wire);
  return out;
}

TEST(EncodeSearchResponseTest, WritesTheBytesTheGeneratedCodeWrites) {
  v1::Venue a, b;
  a.set_name("venues/a");
  a.set_nom("Médiathèque Chemin Rouge");
  a.add_services(v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  b.set_name("venues/b");
  b.set_nom(std::string(300, 'x'));  // a venue longer than 127 bytes: two-byte lengths
  Registry::SearchResult found;
  found.hits = {{Indexed(a), 0.0, ""}, {Indexed(b), 1234.5, ""}};
  found.total = 42;
  found.next_page_token = "next";
  found.previous_page_token = "previous";
  found.unknown_hours = 7;

  v1::SearchVenuesResponse expected;
  auto* m = expected.add_results();
  *m->mutable_venue() = a;
  m->set_distance_meters(0.0);  // present though zero: the first venue is at the centre
  m = expected.add_results();
  *m->mutable_venue() = b;
  m->set_distance_meters(1234.5);
  expected.set_total_size(42);
  expected.set_next_page_token("next");
  expected.set_unknown_hours_size(7);
  expected.set_previous_page_token("previous");

  const std::string bytes = EncodeSearchResponse(found);
  EXPECT_EQ(bytes, expected.SerializeAsString());
  v1::SearchVenuesResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  ASSERT_EQ(parsed.results_size(), 2);
  EXPECT_EQ(parsed.results(1).venue().nom(), b.nom());
  EXPECT_TRUE(parsed.results(0).has_distance_meters());
}

TEST(EncodeSearchResponseTest, LeavesDistanceOutWithoutACircleAndEmptyResultsEmpty) {
  v1::Venue a;
  a.set_name("venues/a");
  Registry::SearchResult found;
  found.hits = {{Indexed(a), -1, "a"}};
  found.total = 1;
  v1::SearchVenuesResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(EncodeSearchResponse(found)));
  EXPECT_FALSE(parsed.results(0).has_distance_meters());
  EXPECT_EQ(parsed.total_size(), 1);
  EXPECT_TRUE(EncodeSearchResponse({}).empty());
}

}  // namespace
}  // namespace passerelle::venues
