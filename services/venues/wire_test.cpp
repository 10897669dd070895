// The hand-written SearchVenues response encoding against the generated code's.
#include "services/venues/wire.hpp"

#include "gtest/gtest.h"

namespace passerelle::venues {
namespace {

std::shared_ptr<const IndexedVenue> Indexed(const v1::Venue& v) {
  auto out = std::make_shared<IndexedVenue>();
  out->name = v.name();
  v.SerializeToString(&out->wire);
  BasicView(v).SerializeToString(&out->basic);
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

TEST(EncodeSearchResponseTest, BasicViewCarriesTheListsFieldsAndNothingElse) {
  v1::Venue full;
  full.set_name("venues/a");
  full.set_id("a");
  full.set_nom("Centre social Basse Masure");
  full.set_adresse("1 rue de Lille");
  full.set_code_postal("59100");
  full.set_commune("Roubaix");
  full.set_latitude(50.69);
  full.set_longitude(0.0);  // present though zero
  full.add_typologie("CS");
  full.add_services(v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  full.add_frais_a_charge(v1::FRAIS_GRATUIT);
  full.set_source("siilab");
  full.set_date_maj("2026-11-30");
  full.set_accepts_aptic_pass(true);
  full.set_etag("W/\"3\"");
  full.mutable_provenance()->set_source("siilab");
  v1::Venue expected = full;  // every field of the BASIC view, none other
  full.set_horaires("Mo-Fr 09:00-17:00");
  full.set_presentation_detail(std::string(2000, 'p'));
  full.add_courriels("accueil@example.fr");
  full.set_telephone("03 20 00 00 00");
  full.mutable_provenance()->set_source_id("42");
  full.add_referential_items("items/1.1");
  full.add_areas("qpv:QN05904M");

  Registry::SearchResult found;
  found.hits = {{Indexed(full), 12.5, ""}};
  found.total = 1;
  v1::SearchVenuesResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(EncodeSearchResponse(found, /*basic=*/true)));
  ASSERT_EQ(parsed.results_size(), 1);
  EXPECT_EQ(parsed.results(0).venue().SerializeAsString(), expected.SerializeAsString());
  EXPECT_TRUE(parsed.results(0).venue().has_longitude());
  EXPECT_EQ(parsed.results(0).distance_meters(), 12.5);
  ASSERT_TRUE(parsed.ParseFromString(EncodeSearchResponse(found, /*basic=*/false)));
  EXPECT_EQ(parsed.results(0).venue().SerializeAsString(), full.SerializeAsString());
}

}  // namespace
}  // namespace passerelle::venues
