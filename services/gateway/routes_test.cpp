#include "services/gateway/routes.hpp"

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passerelle::gateway {
namespace {

using ::testing::UnorderedElementsAre;

class RoutesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = ApiSchema::LoadEmbedded();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    schema_ = loaded->release();
    auto built = RouteTable::Build(*schema_);
    ASSERT_TRUE(built.ok()) << built.status();
    table_ = new RouteTable(*std::move(built));
  }
  static RouteTable::Lookup Find(std::string_view method, std::string_view path) {
    return table_->Find(method, *SplitRequestPath(path));
  }
  static const ApiSchema* schema_;
  static const RouteTable* table_;
};
const ApiSchema* RoutesTest::schema_ = nullptr;
const RouteTable* RoutesTest::table_ = nullptr;

// The embedded set really carries the options: an extension parsed into unknown fields would
// silently serve nothing, so the count of routes per service is pinned.
TEST_F(RoutesTest, EveryAnnotatedMethodIsARoute) {
  std::map<std::string, int> per_service;
  for (const Route& r : table_->routes()) ++per_service[r.method->service()->full_name()];
  EXPECT_EQ(per_service["passerelle.venues.v1.VenueService"], 20);
  EXPECT_EQ(per_service["passerelle.venues.v1.DuplicateService"], 3);
  EXPECT_EQ(per_service["passerelle.referential.v1.ReferentialService"], 13);
  EXPECT_EQ(per_service["passerelle.sync.v1.SyncService"], 9);
  EXPECT_EQ(per_service["passerelle.notifications.v1.NotificationService"], 10);
  EXPECT_EQ(per_service["passerelle.indicators.v1.CoverageService"], 4);
  EXPECT_EQ(per_service["passerelle.indicators.v1.ReportService"], 11);
}

TEST_F(RoutesTest, EveryRouteHasAnAccessScope) {
  for (const Route& r : table_->routes()) {
    EXPECT_NE(r.access.scope(), api::v1::SCOPE_UNSPECIFIED) << r.method->full_name();
  }
}

TEST_F(RoutesTest, CommentsComeWithTheDescriptors) {
  const auto* method =
      schema_->pool().FindMethodByName("passerelle.venues.v1.VenueService.GetVenue");
  ASSERT_NE(method, nullptr);
  EXPECT_EQ(ApiSchema::Comment(method), "Returns one venue (AIP-131).");
}

TEST_F(RoutesTest, FindsRoutesByMethodAndPath) {
  RouteTable::Lookup get = Find("GET", "/v1/venues/0b7f3a55-8c51-4c7e-9d0c-3f2b6a1e9c11");
  ASSERT_NE(get.route, nullptr);
  EXPECT_EQ(get.route->grpc_path, "/passerelle.venues.v1.VenueService/GetVenue");
  EXPECT_EQ(get.bindings[0].second, "venues/0b7f3a55-8c51-4c7e-9d0c-3f2b6a1e9c11");

  RouteTable::Lookup head = Find("HEAD", "/v1/venues:search");
  ASSERT_NE(head.route, nullptr);
  EXPECT_EQ(head.route->method->name(), "SearchVenues");

  RouteTable::Lookup sync = Find("GET", "/v1/sync/sources/siilab");
  ASSERT_NE(sync.route, nullptr);
  EXPECT_EQ(sync.route->method->full_name(), "passerelle.sync.v1.SyncService.GetSource");
  RouteTable::Lookup venues_source = Find("GET", "/v1/sources/siilab");
  ASSERT_NE(venues_source.route, nullptr);
  EXPECT_EQ(venues_source.route->method->full_name(),
            "passerelle.venues.v1.VenueService.GetSource");

  RouteTable::Lookup export_route = Find("GET", "/v1/venues:export");
  ASSERT_NE(export_route.route, nullptr);
  EXPECT_TRUE(export_route.route->raw_response());
  RouteTable::Lookup import = Find("POST", "/v1/sources/siilab/venues:import");
  ASSERT_NE(import.route, nullptr);
  EXPECT_TRUE(import.route->raw_request());

  // The area reads: layers, one layer, its areas, one area.
  for (const auto& [path, method] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/areaLayers", "ListAreaLayers"},
           {"/v1/areaLayers/qpv", "GetAreaLayer"},
           {"/v1/areaLayers/qpv/areas", "ListAreas"},
           {"/v1/areaLayers/qpv/areas/QN05912M", "GetArea"}}) {
    RouteTable::Lookup area = Find("GET", path);
    ASSERT_NE(area.route, nullptr) << path;
    EXPECT_EQ(area.route->method->name(), method) << path;
  }

  // Per-field provenance: a venue's conflicts (`-` for every venue) and the restore.
  RouteTable::Lookup conflicts = Find("GET", "/v1/venues/-/conflicts");
  ASSERT_NE(conflicts.route, nullptr);
  EXPECT_EQ(conflicts.route->method->name(), "ListVenueConflicts");
  EXPECT_EQ(conflicts.bindings[0].second, "venues/-");
  RouteTable::Lookup restore =
      Find("POST", "/v1/venues/0b7f3a55-8c51-4c7e-9d0c-3f2b6a1e9c11:restoreSourceFields");
  ASSERT_NE(restore.route, nullptr);
  EXPECT_EQ(restore.route->method->name(), "RestoreSourceFields");
}

TEST_F(RoutesTest, OtherMethodsOnAKnownPathAreListedForA405) {
  RouteTable::Lookup wrong = Find("DELETE", "/v1/venues/abc");
  EXPECT_EQ(wrong.route, nullptr);
  EXPECT_THAT(wrong.allowed, UnorderedElementsAre("GET", "PATCH"));
  RouteTable::Lookup none = Find("GET", "/v1/nowhere");
  EXPECT_EQ(none.route, nullptr);
  EXPECT_TRUE(none.allowed.empty());
}

TEST_F(RoutesTest, ShowWithdrawnNeedsThePartnerScope) {
  RouteTable::Lookup list = Find("GET", "/v1/venues");
  ASSERT_NE(list.route, nullptr);
  ASSERT_EQ(list.route->field_scopes.size(), 1u);
  EXPECT_EQ(list.route->field_scopes[0].first->name(), "show_withdrawn");
  EXPECT_EQ(list.route->field_scopes[0].second, api::v1::PARTNER);
}

TEST(RouteTableTest, RefusesADescriptorSetThatDoesNotBuild) {
  EXPECT_FALSE(ApiSchema::Load("\xff\xff not a descriptor set").ok());
}

}  // namespace
}  // namespace passerelle::gateway
