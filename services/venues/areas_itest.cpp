// Area layers and their polygons (ListAreaLayers, GetAreaLayer, ListAreas with the FULL view,
// boxes and pages both ways), and SearchVenues' date_maj range and previous pages, through the
// public gRPC API of passerelle-venues: what the gateway's OGC collections read.
#include <grpcpp/grpcpp.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/itest_support.hpp"

namespace passerelle::venues {
namespace {

using itest::Reason;
using itest::Valid;
using itest::Violations;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Invalid UTF-8 in a string field fails the message's parsing (INVALID_ARGUMENT without a field):
// the field is named only for the others.
bool Utf8(const std::string& s) { return text::IsValidUtf8(s); }

// A square of `side` degrees whose south-west corner is (lon, lat).
std::string Square(const std::string& code, const std::string& name, double lon, double lat,
                   double side = 0.01) {
  nlohmann::json ring = {
      {lon, lat}, {lon + side, lat}, {lon + side, lat + side}, {lon, lat + side}, {lon, lat}};
  return nlohmann::json{{"type", "Feature"},
                        {"properties", {{"code", code}, {"name", name}}},
                        {"geometry", {{"type", "Polygon"}, {"coordinates", {ring}}}}}
      .dump();
}

std::string Layer(const std::vector<std::string>& features) {
  std::string out = R"({"type":"FeatureCollection","features":[)";
  for (size_t i = 0; i < features.size(); ++i) out += (i ? "," : "") + features[i];
  return out + "]}";
}

class AreasTest : public itest::VenuesServiceTest {
 protected:
  grpc::Status ListAreas(const v1::ListAreasRequest& req, v1::ListAreasResponse* out) {
    grpc::ClientContext ctx;
    return stub_->ListAreas(&ctx, req, out);
  }
  grpc::Status ListLayers(int page_size, const std::string& token,
                          v1::ListAreaLayersResponse* out) {
    grpc::ClientContext ctx;
    v1::ListAreaLayersRequest req;
    req.set_page_size(page_size);
    req.set_page_token(token);
    return stub_->ListAreaLayers(&ctx, req, out);
  }
  grpc::Status GetLayer(const std::string& name, v1::AreaLayer* out) {
    grpc::ClientContext ctx;
    v1::GetAreaLayerRequest req;
    req.set_name(name);
    return stub_->GetAreaLayer(&ctx, req, out);
  }
  static std::vector<std::string> Codes(const v1::ListAreasResponse& r) {
    std::vector<std::string> out;
    for (const auto& a : r.areas()) out.push_back(a.code());
    return out;
  }
  static std::vector<std::string> Noms(const v1::SearchVenuesResponse& r) {
    std::vector<std::string> out;
    for (const auto& m : r.results()) out.push_back(m.venue().nom());
    return out;
  }
};

TEST_F(AreasTest, LayersAreListedWithTheirCountExtentAndTime) {
  v1::AreaLayer imported;
  ASSERT_TRUE(
      AreaLayer(Layer({Square("A", "Alma", 3.16, 50.69), Square("B", "Épeule", 3.14, 50.68)}),
                &imported, "qpv")
          .ok());
  EXPECT_EQ(imported.name(), "areaLayers/qpv");
  EXPECT_EQ(imported.area_count(), 2);
  EXPECT_TRUE(imported.has_update_time());
  ASSERT_TRUE(imported.has_extent());
  EXPECT_DOUBLE_EQ(imported.extent().min_longitude(), 3.14);
  EXPECT_DOUBLE_EQ(imported.extent().min_latitude(), 50.68);
  EXPECT_DOUBLE_EQ(imported.extent().max_longitude(), 3.17);
  EXPECT_DOUBLE_EQ(imported.extent().max_latitude(), 50.70);
  for (const std::string layer : {"quartiers", "iris", "zz-last"}) {
    v1::AreaLayer out;
    ASSERT_TRUE(AreaLayer(Layer({Square("X", "X", 3.1, 50.6)}), &out, layer).ok());
  }

  // Paged by id, every layer once.
  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    v1::ListAreaLayersResponse page;
    ASSERT_TRUE(ListLayers(3, token, &page).ok());
    for (const auto& l : page.area_layers()) names.push_back(l.name());
    token = page.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(names, ElementsAre("areaLayers/iris", "areaLayers/qpv", "areaLayers/quartiers",
                                 "areaLayers/zz-last"));

  v1::AreaLayer got;
  ASSERT_TRUE(GetLayer("areaLayers/qpv", &got).ok());
  EXPECT_EQ(got.area_count(), 2);
  EXPECT_EQ(got.title(), "qpv");
  EXPECT_DOUBLE_EQ(got.extent().max_latitude(), 50.70);

  // A huge page size is capped, not refused.
  v1::ListAreaLayersResponse all;
  ASSERT_TRUE(ListLayers(2'000'000'000, "", &all).ok());
  EXPECT_EQ(all.area_layers_size(), 4);
}

TEST_F(AreasTest, AreasComeWithTheirPolygonsInPagesBothWays) {
  // Ten squares along a parallel, codes C0..C9, and a venue in C2.
  std::vector<std::string> features;
  for (int i = 0; i < 10; ++i) {
    features.push_back(
        Square(absl::StrCat("C", i), absl::StrCat("Carré ", i), 3.0 + i * 0.1, 50.6));
  }
  v1::Venue inside = Valid("in-c2");
  inside.set_latitude(50.605);
  inside.set_longitude(3.205);
  v1::Venue created;
  ASSERT_TRUE(Create(inside, &created).ok());
  v1::AreaLayer layer;
  ASSERT_TRUE(AreaLayer(Layer(features), &layer, "carres").ok());
  ASSERT_EQ(layer.area_count(), 10);

  // BASIC by default: no polygon; every area in one page.
  v1::ListAreasRequest req;
  req.set_parent("areaLayers/carres");
  v1::ListAreasResponse basic;
  ASSERT_TRUE(ListAreas(req, &basic).ok());
  ASSERT_EQ(basic.areas_size(), 10);
  EXPECT_EQ(basic.total_size(), 10);
  EXPECT_TRUE(basic.areas(2).geometry().empty());
  EXPECT_FALSE(basic.areas(2).has_extent());
  EXPECT_EQ(basic.areas(2).venue_count(), 1);
  EXPECT_TRUE(basic.next_page_token().empty());
  EXPECT_TRUE(basic.previous_page_token().empty());

  // FULL: the MultiPolygon as GeoJSON and its box.
  req.set_view(v1::AREA_VIEW_FULL);
  req.set_page_size(4);
  v1::ListAreasResponse p1;
  ASSERT_TRUE(ListAreas(req, &p1).ok());
  EXPECT_THAT(Codes(p1), ElementsAre("C0", "C1", "C2", "C3"));
  EXPECT_EQ(p1.total_size(), 10);
  EXPECT_TRUE(p1.previous_page_token().empty());
  ASSERT_FALSE(p1.next_page_token().empty());
  const nlohmann::json geometry = nlohmann::json::parse(p1.areas(2).geometry());
  EXPECT_EQ(geometry["type"], "MultiPolygon");
  EXPECT_DOUBLE_EQ(geometry["coordinates"][0][0][0][0].get<double>(), 3.2);
  EXPECT_DOUBLE_EQ(p1.areas(2).extent().min_longitude(), 3.2);
  EXPECT_DOUBLE_EQ(p1.areas(2).extent().max_latitude(), 50.61);
  EXPECT_EQ(p1.areas(2).label(), "Carré 2");

  // Forward to the end, then back to the start, through the tokens.
  req.set_page_token(p1.next_page_token());
  v1::ListAreasResponse p2;
  ASSERT_TRUE(ListAreas(req, &p2).ok());
  EXPECT_THAT(Codes(p2), ElementsAre("C4", "C5", "C6", "C7"));
  req.set_page_token(p2.next_page_token());
  v1::ListAreasResponse p3;
  ASSERT_TRUE(ListAreas(req, &p3).ok());
  EXPECT_THAT(Codes(p3), ElementsAre("C8", "C9"));
  EXPECT_TRUE(p3.next_page_token().empty());
  req.set_page_token(p3.previous_page_token());
  v1::ListAreasResponse back2;
  ASSERT_TRUE(ListAreas(req, &back2).ok());
  EXPECT_THAT(Codes(back2), ElementsAre("C4", "C5", "C6", "C7"));
  req.set_page_token(back2.previous_page_token());
  v1::ListAreasResponse back1;
  ASSERT_TRUE(ListAreas(req, &back1).ok());
  EXPECT_THAT(Codes(back1), ElementsAre("C0", "C1", "C2", "C3"));
  EXPECT_TRUE(back1.previous_page_token().empty());
  EXPECT_FALSE(back1.next_page_token().empty());

  // Only the areas the box touches; across the antimeridian none of these.
  v1::ListAreasRequest boxed;
  boxed.set_parent("areaLayers/carres");
  auto* box = boxed.mutable_within();
  box->set_min_longitude(3.205);
  box->set_max_longitude(3.45);
  box->set_min_latitude(50.0);
  box->set_max_latitude(51.0);
  v1::ListAreasResponse touched;
  ASSERT_TRUE(ListAreas(boxed, &touched).ok());
  EXPECT_THAT(Codes(touched), ElementsAre("C2", "C3", "C4"));
  EXPECT_EQ(touched.total_size(), 3);
  box->set_min_longitude(179);
  box->set_max_longitude(-179);
  ASSERT_TRUE(ListAreas(boxed, &touched).ok());
  EXPECT_EQ(touched.areas_size(), 0);
  EXPECT_EQ(touched.total_size(), 0);

  // A token is bound to its request: another view or box is refused.
  v1::ListAreasRequest other;
  other.set_parent("areaLayers/carres");
  other.set_page_token(p1.next_page_token());
  v1::ListAreasResponse refused;
  EXPECT_EQ(ListAreas(other, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A huge page size is capped at 100 with polygons.
  req.clear_page_token();
  req.set_page_size(2'000'000'000);
  v1::ListAreasResponse capped;
  ASSERT_TRUE(ListAreas(req, &capped).ok());
  EXPECT_EQ(capped.areas_size(), 10);
}

TEST_F(AreasTest, OneAreaIsReadByItsNameWithPreciseErrors) {
  v1::AreaLayer layer;
  ASSERT_TRUE(AreaLayer(Layer({Square("A", "Alma", 3.16, 50.69)}), &layer, "qpv").ok());
  auto get = [this](const std::string& name, v1::Area* out) {
    grpc::ClientContext ctx;
    v1::GetAreaRequest req;
    req.set_name(name);
    return stub_->GetArea(&ctx, req, out);
  };
  v1::Area area;
  grpc::Status st = get("areaLayers/qpv/areas/A", &area);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(area.code(), "A");
  EXPECT_EQ(area.label(), "Alma");
  for (const char* missing : {"areaLayers/qpv/areas/B", "areaLayers/nope/areas/A"}) {
    st = get(missing, &area);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << missing;
  }
  std::vector<std::string> bad_names = itest::HostileNames("areaLayers/qpv/areas/");
  bad_names.insert(bad_names.end(), {"areaLayers/qpv", "qpv/A"});
  for (const std::string& name : bad_names) {
    st = get(name, &area);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name.substr(0, 40);
    EXPECT_LT(st.error_message().size() + st.error_details().size(), 4000u);
  }
}

TEST_F(AreasTest, ImportRefusesCodesNoNameCanHoldAndEmptyLayers) {
  v1::AreaLayer layer;
  ASSERT_TRUE(AreaLayer(Layer({Square("A", "Alma", 3.16, 50.69)}), &layer, "qpv").ok());
  grpc::Status st =
      AreaLayer(Layer({Square("A", "Alma", 3.16, 50.69), Square("B C", "Blanc Seau", 3.17, 50.69),
                       Square("D/E", "Epeule", 3.18, 50.69)}),
                &layer, "qpv");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  itest::BadRequest bad = itest::Violations(st);
  EXPECT_EQ(bad.fields,
            (std::set<std::string>{"features[1].properties.code", "features[2].properties.code"}))
      << bad.text;
  // An empty collection is a file-level error: it would have erased the layer.
  st = AreaLayer(R"({"type":"FeatureCollection","features":[]})", &layer, "qpv");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(itest::Violations(st).fields, std::set<std::string>{"geojson.features"});
  grpc::ClientContext ctx;
  v1::GetAreaRequest req;
  req.set_name("areaLayers/qpv/areas/A");
  v1::Area area;
  st = stub_->GetArea(&ctx, req, &area);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(area.label(), "Alma");
}

TEST_F(AreasTest, HostileAreaRequestsGetPreciseErrors) {
  v1::AreaLayer layer;
  ASSERT_TRUE(AreaLayer(Layer({Square("A", "Alma", 3.16, 50.69)}), &layer, "qpv").ok());
  const std::string huge(100000, 'x');
  for (const std::string& name :
       {std::string("areaLayers/"), std::string("areaLayers/QPV"), std::string("qpv"),
        std::string("areaLayers/qpv/areas"), std::string("areaLayers/q\0v", 14),
        std::string("areaLayers/q\xffv"), "areaLayers/" + huge, std::string("areaLayers/qpv ")}) {
    v1::AreaLayer out;
    grpc::Status st = GetLayer(name, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name.substr(0, 40);
    if (Utf8(name)) {
      EXPECT_THAT(Violations(st).fields, ElementsAre("name")) << name.substr(0, 40);
    }
    EXPECT_LT(st.error_message().size() + st.error_details().size(), 4000u);
    v1::ListAreasRequest req;
    req.set_parent(name);
    v1::ListAreasResponse areas;
    st = ListAreas(req, &areas);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name.substr(0, 40);
    if (Utf8(name)) {
      EXPECT_THAT(Violations(st).fields, ElementsAre("parent")) << name.substr(0, 40);
    }
  }
  v1::AreaLayer out;
  grpc::Status st = GetLayer("areaLayers/nowhere", &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(st), "AREA_LAYER_NOT_FOUND");
  v1::ListAreasRequest req;
  req.set_parent("areaLayers/nowhere");
  v1::ListAreasResponse areas;
  EXPECT_EQ(ListAreas(req, &areas).error_code(), grpc::StatusCode::NOT_FOUND);

  req.set_parent("areaLayers/qpv");
  req.set_page_size(-1);
  st = ListAreas(req, &areas);
  EXPECT_THAT(Violations(st).fields, ElementsAre("page_size"));
  req.set_page_size(0);
  req.set_view(static_cast<v1::AreaView>(7));
  st = ListAreas(req, &areas);
  EXPECT_THAT(Violations(st).fields, ElementsAre("view"));
  req.set_view(v1::AREA_VIEW_FULL);
  // An edge left out is refused by name, never read as 0 (the equator, Greenwich).
  req.mutable_within()->set_max_latitude(10);
  req.mutable_within()->set_max_longitude(1e300);
  st = ListAreas(req, &areas);
  EXPECT_THAT(Violations(st).fields, ElementsAre("within.min_latitude", "within.min_longitude"));
  req.mutable_within()->set_min_latitude(std::nan(""));
  req.mutable_within()->set_min_longitude(0);
  st = ListAreas(req, &areas);
  EXPECT_THAT(Violations(st).fields, ElementsAre("within.max_longitude", "within.min_latitude"));
  req.mutable_within()->set_min_latitude(20);
  req.mutable_within()->set_max_longitude(10);
  st = ListAreas(req, &areas);
  EXPECT_THAT(Violations(st).fields, ElementsAre("within.min_latitude"));
  req.clear_within();
  for (const std::string& token :
       {std::string("garbage"), std::string("a\0b", 3), huge, std::string("\xff\xfe")}) {
    req.set_page_token(token);
    st = ListAreas(req, &areas);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    if (Utf8(token)) {
      EXPECT_THAT(Violations(st).fields, ElementsAre("page_token"));
    }
  }
  v1::ListAreaLayersResponse layers;
  st = ListLayers(-5, "", &layers);
  EXPECT_THAT(Violations(st).fields, ElementsAre("page_size"));
  st = ListLayers(0, std::string("\0x", 2), &layers);
  EXPECT_THAT(Violations(st).fields, ElementsAre("page_token"));
  st = ListLayers(0, "\xff", &layers);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AreasTest, SearchFiltersOnDateMajAndPagesBackwards) {
  const std::vector<std::pair<std::string, std::string>> venues = {
      {"Atelier", "2023-12-31"}, {"Bibliothèque", "2024-01-01"}, {"Centre", "2024-02-29"},
      {"Dépôt", "2024-06-15"},   {"Espace", "2025-01-01"},       {"Forum", "2025-01-02"}};
  std::vector<v1::Venue> rows;
  for (const auto& [nom, day] : venues) {
    v1::Venue v = Valid("d-" + day, nom);
    v.set_date_maj(day);
    rows.push_back(v);
  }
  v1::BatchUpsertVenuesResponse written;
  ASSERT_TRUE(Batch("dates", rows, &written).ok());

  v1::SearchVenuesRequest q;
  q.set_min_date_maj("2024-01-01");
  q.set_max_date_maj("2024-12-31");
  v1::SearchVenuesResponse found;
  ASSERT_TRUE(Search(q, &found).ok());
  EXPECT_THAT(Noms(found), ElementsAre("Bibliothèque", "Centre", "Dépôt"));
  EXPECT_EQ(found.total_size(), 3);
  q.clear_max_date_maj();
  q.set_min_date_maj("2025-01-01");
  ASSERT_TRUE(Search(q, &found).ok());
  EXPECT_THAT(Noms(found), ElementsAre("Espace", "Forum"));
  q.clear_min_date_maj();
  q.set_max_date_maj("2024-01-01");
  ASSERT_TRUE(Search(q, &found).ok());
  EXPECT_THAT(Noms(found), ElementsAre("Atelier", "Bibliothèque"));

  // Pages of 2 forward, then back with previous_page_token.
  v1::SearchVenuesRequest all;
  all.set_page_size(2);
  v1::SearchVenuesResponse p1, p2, p3, back;
  ASSERT_TRUE(Search(all, &p1).ok());
  EXPECT_TRUE(p1.previous_page_token().empty());
  all.set_page_token(p1.next_page_token());
  ASSERT_TRUE(Search(all, &p2).ok());
  EXPECT_THAT(Noms(p2), ElementsAre("Centre", "Dépôt"));
  all.set_page_token(p2.next_page_token());
  ASSERT_TRUE(Search(all, &p3).ok());
  EXPECT_THAT(Noms(p3), ElementsAre("Espace", "Forum"));
  EXPECT_TRUE(p3.next_page_token().empty());
  all.set_page_token(p3.previous_page_token());
  ASSERT_TRUE(Search(all, &back).ok());
  EXPECT_THAT(Noms(back), ElementsAre("Centre", "Dépôt"));
  EXPECT_EQ(back.total_size(), 6);
  all.set_page_token(back.previous_page_token());
  ASSERT_TRUE(Search(all, &back).ok());
  EXPECT_THAT(Noms(back), ElementsAre("Atelier", "Bibliothèque"));
  EXPECT_TRUE(back.previous_page_token().empty());
  EXPECT_EQ(back.next_page_token().empty(), false);
  // A previous token is bound to its request like a next one.
  v1::SearchVenuesRequest other = all;
  other.set_page_token(p3.previous_page_token());
  other.set_min_date_maj("2024-01-01");
  EXPECT_EQ(Search(other, &found).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Dates: the standard's YYYY-MM-DD, existing, in order.
  for (const std::string& day :
       {std::string("2024-02-30"), std::string("2024-1-01"), std::string("20240101"),
        std::string("-024-01-01"), std::string("2024-01-01T00:00:00Z"),
        std::string("2024-01-0\0", 10), std::string("2024-01-\xff\xff"),
        std::string(100000, '2')}) {
    v1::SearchVenuesRequest bad;
    bad.set_min_date_maj(day);
    grpc::Status st = Search(bad, &found);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << day.substr(0, 20);
    if (Utf8(day)) {
      EXPECT_THAT(Violations(st).fields, ElementsAre("min_date_maj")) << day.substr(0, 20);
    }
    EXPECT_LT(st.error_message().size() + st.error_details().size(), 4000u);
  }
  v1::SearchVenuesRequest reversed;
  reversed.set_min_date_maj("2024-02-01");
  reversed.set_max_date_maj("2024-01-31");
  grpc::Status st = Search(reversed, &found);
  EXPECT_THAT(Violations(st).fields, ElementsAre("max_date_maj"));
  EXPECT_THAT(Violations(st).text, HasSubstr("min_date_maj"));
}

}  // namespace
}  // namespace passerelle::venues
