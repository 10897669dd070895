// The OGC API's pure parts: the standard's spellings read from the API schema (checked against
// the national schema file itself), venues as GeoJSON features, the items' query parameters
// (hostile ones included) and the public URL rule. The HTTP side is in tests/e2e.
#include "services/gateway/ogc.hpp"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/api/status.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;
namespace v1 = ::passerelle::venues::v1;

class OgcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    schema_ = ApiSchema::LoadEmbedded()->release();
    features_ = new VenueFeatures(*VenueFeatures::Build(*schema_));
  }
  static const ApiSchema* schema_;
  static const VenueFeatures* features_;

  // The one violation of a refused query: its field and description.
  static std::pair<std::string, std::string> Refusal(std::string_view query) {
    absl::StatusOr<ItemsQuery> q = ParseItemsQuery(query, *features_);
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << query;
    std::vector<api::FieldViolation> v = api::Violations(q.status());
    EXPECT_EQ(v.size(), 1u) << query;
    if (v.empty()) return {"", ""};
    return {v[0].field, v[0].description};
  }

  static nlohmann::json Feature(const v1::Venue& venue) {
    std::string out;
    features_->Append(venue, "", &out);
    return nlohmann::json::parse(out);  // throws (fails the test) when not JSON
  }
};
const ApiSchema* OgcTest::schema_ = nullptr;
const VenueFeatures* OgcTest::features_ = nullptr;

// The schema file's enumerations, from its patterns `(?:(?:^|\|)(A|B|C))+$`.
std::map<std::string, std::vector<std::string>> SchemaEnumerations() {
  std::ifstream in(STANDARD_SCHEMA);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json schema = nlohmann::json::parse(text.str());
  std::map<std::string, std::vector<std::string>> out;
  const std::string prefix = "(?:(?:^|\\|)(", suffix = "))+$";
  for (const auto& field : schema["fields"]) {
    if (!field.contains("constraints") || !field["constraints"].contains("pattern")) continue;
    std::string pattern = field["constraints"]["pattern"];
    if (pattern.rfind(prefix, 0) != 0) continue;
    std::string body =
        pattern.substr(prefix.size(), pattern.size() - prefix.size() - suffix.size());
    std::vector<std::string> values(1);
    for (size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\\' && i + 1 < body.size()) {
        values.back().push_back(body[++i]);
      } else if (body[i] == '|') {
        values.emplace_back();
      } else {
        values.back().push_back(body[i]);
      }
    }
    out[field["name"]] = values;
  }
  return out;
}

TEST_F(OgcTest, SpellingsAreTheNationalSchemasOwn) {
  std::map<std::string, std::vector<std::string>> expected = SchemaEnumerations();
  ASSERT_EQ(expected.size(), 9u);  // itinerance, services, … modalites_accompagnement
  for (const auto& [field, values] : expected) {
    const std::vector<std::string>* ours = features_->Spellings(field);
    ASSERT_NE(ours, nullptr) << field;
    EXPECT_EQ(*ours, values) << field;
  }
  EXPECT_EQ(features_->Spellings("nom"), nullptr);
}

TEST_F(OgcTest, FeatureCarriesTheExportsProperties) {
  v1::Venue v;
  v.set_name("venues/0139f523-dfe5-45c0-97e7-ea3bc64a5eba");
  v.set_id("lieu-1");
  v.mutable_provenance()->set_source("siilab");
  v.set_nom("Médiathèque \"Zola\"\n");
  v.set_latitude(50.69);
  v.set_longitude(3.181234567890123);
  v.add_typologie("CCAS");
  v.add_typologie("ASSO");
  v.add_services(v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  v.add_services(v1::SERVICE_ACQUISITION_DE_MATERIEL_INFORMATIQUE_A_PRIX_SOLIDAIRE);
  v.add_formations_labels(v1::FORMATION_LABEL_FORME_A_MON_ESPACE_SANTE);
  v.add_itinerance(v1::ITINERANCE_FIXE);
  v.set_date_maj("2026-11-25");
  v.set_accepts_aptic_pass(true);
  v.add_referential_items("items/a");
  v.add_referential_items("items/b");
  v.set_withdrawal_reason("not a property");
  nlohmann::json f = Feature(v);
  EXPECT_EQ(f["type"], "Feature");
  EXPECT_EQ(f["id"], "0139f523-dfe5-45c0-97e7-ea3bc64a5eba");
  EXPECT_EQ(f["geometry"]["type"], "Point");
  EXPECT_EQ(f["geometry"]["coordinates"][0].get<double>(), 3.181234567890123);  // exact
  EXPECT_EQ(f["geometry"]["coordinates"][1].get<double>(), 50.69);
  const nlohmann::json& p = f["properties"];
  EXPECT_EQ(p["name"], "venues/0139f523-dfe5-45c0-97e7-ea3bc64a5eba");
  EXPECT_EQ(p["id"], "siilab:lieu-1");  // qualified by its source, as every export writes it
  EXPECT_EQ(p["nom"], "Médiathèque \"Zola\"\n");
  EXPECT_EQ(p["typologie"], "CCAS|ASSO");
  EXPECT_EQ(p["services"],
            "Aide aux démarches administratives|Acquisition de matériel informatique à prix "
            "solidaire");
  EXPECT_EQ(p["formations_labels"], "Formé à « Mon Espace Santé »");
  EXPECT_EQ(p["itinerance"], "Fixe");
  EXPECT_EQ(p["date_maj"], "2026-11-25");
  EXPECT_EQ(p["code_insee"], "");
  EXPECT_EQ(p["accepts_aptic_pass"], true);
  EXPECT_EQ(p["owner_organisation"], "");
  EXPECT_EQ(p["referential_items"], "items/a|items/b");
  EXPECT_FALSE(p.contains("latitude"));
  EXPECT_FALSE(p.contains("longitude"));
  EXPECT_FALSE(p.contains("withdrawal_reason"));
  // The export's 30 non-number standard columns, name and the three local fields.
  EXPECT_EQ(p.size(), 34u);
}

TEST_F(OgcTest, FeatureWithoutCoordinatesHasNullGeometryAndStaysJsonWhateverItHolds) {
  v1::Venue v;
  v.set_name("venues/0139f523-dfe5-45c0-97e7-ea3bc64a5eba");
  v.set_latitude(50.69);  // longitude missing
  v.set_nom(std::string("a\0b\x01\x7f\xff\xfe", 7));
  v.add_services(static_cast<v1::Service>(42));
  nlohmann::json f = Feature(v);
  EXPECT_TRUE(f["geometry"].is_null());
  EXPECT_EQ(f["properties"]["nom"], "ab\x01\x7f\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(f["properties"]["services"], "(valeur d'énumération inconnue 42)");
}

TEST_F(OgcTest, ItemsDefaultToTenEverywhere) {
  absl::StatusOr<ItemsQuery> q = ParseItemsQuery("", *features_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->search.page_size(), kOgcDefaultLimit);
  EXPECT_FALSE(q->search.has_within());
  EXPECT_FALSE(q->hits);
  EXPECT_TRUE(q->echo.empty());
}

TEST_F(OgcTest, BboxBecomesWithin) {
  absl::StatusOr<ItemsQuery> q = ParseItemsQuery("bbox=3.1,50.6,3.25,50.75&limit=100", *features_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->search.within().min_longitude(), 3.1);
  EXPECT_EQ(q->search.within().min_latitude(), 50.6);
  EXPECT_EQ(q->search.within().max_longitude(), 3.25);
  EXPECT_EQ(q->search.within().max_latitude(), 50.75);
  EXPECT_EQ(q->search.page_size(), 100);
  EXPECT_THAT(q->echo, ElementsAre("bbox=3.1,50.6,3.25,50.75", "limit=100"));
  // As GDAL writes it (%.18g), with altitudes, across the antimeridian, URL-encoded commas.
  EXPECT_TRUE(ParseItemsQuery("bbox=3.16999999999999992895,50.6,3.2,5.07e1", *features_).ok());
  q = ParseItemsQuery("bbox=3.1,50.6,-100,3.25,50.75,100", *features_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->search.within().max_longitude(), 3.25);
  EXPECT_EQ(q->search.within().max_latitude(), 50.75);
  q = ParseItemsQuery("bbox=170,-10,-170,10", *features_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->search.within().min_longitude(), 170);
  EXPECT_TRUE(ParseItemsQuery("bbox=3.1%2C50.6%2C3.25%2C50.75", *features_).ok());
}

TEST_F(OgcTest, HostileBboxIsRefusedNamingIt) {
  for (std::string_view bad :
       {"bbox=nan,50,3,51", "bbox=3,50,inf,51", "bbox=3,50,-inf,51", "bbox=1e308,50,3,51",
        "bbox=3,50,3,1e400", "bbox=0x10,50,3,51", "bbox=3,50,3", "bbox=3,50,3,51,4",
        "bbox=", "bbox=3,,3,51", "bbox=181,50,182,51", "bbox=3,-91,4,51", "bbox=3,51,4,50",
        "bbox=3 ,50,4,51x", "bbox=3,50,4,51,0,nan", "bbox=%00,50,4,51", "bbox=3.,.5,4,51e"}) {
    EXPECT_EQ(Refusal(bad).first, "bbox") << bad;
    // Each names its rule first, as the REST routes' refusals do (tester 28).
    EXPECT_THAT(Refusal(bad).second, MatchesRegex(R"(\[[a-z]+\] .*)")) << bad;
  }
  EXPECT_THAT(Refusal("bbox=3,51,4,50").second, StartsWith("[order] boîte inversée"));
  EXPECT_THAT(Refusal("bbox=3,50,1e308,51").second, HasSubstr("maxLon"));
  EXPECT_THAT(Refusal("bbox=nan,50,3,51").second, HasSubstr("nan"));
}

TEST_F(OgcTest, LimitIsAPositiveIntegerCappedAtTheSearchsMaximum) {
  for (std::string_view bad :
       {"limit=0", "limit=-1", "limit=1e9", "limit=1000000000", "limit=abc", "limit=", "limit=01",
        "limit=+5", "limit=2.5", "limit=99999999999999999999"}) {
    EXPECT_EQ(Refusal(bad).first, "limit") << bad;
  }
  EXPECT_EQ(ParseItemsQuery("limit=1", *features_)->search.page_size(), 1);
  EXPECT_EQ(ParseItemsQuery("limit=500", *features_)->search.page_size(), kOgcMaxLimit);
  EXPECT_EQ(ParseItemsQuery("limit=999999999", *features_)->search.page_size(), kOgcMaxLimit);
}

TEST_F(OgcTest, UnknownRepeatedAndUnsupportedParametersAreRefused) {
  EXPECT_EQ(Refusal("limt=10").first, "limt");
  EXPECT_THAT(Refusal("limt=10").second, HasSubstr("paramètre inconnu"));
  EXPECT_EQ(Refusal("limit=10&limit=20").first, "limit");
  EXPECT_EQ(Refusal("datetime=2026-01-01&datetime=2026-01-02").first, "datetime");
  EXPECT_EQ(Refusal("resultType=count").first, "resultType");
  EXPECT_EQ(Refusal("f=html").first, "f");
  EXPECT_EQ(Refusal("page_token=a%00b").first, "page_token");
  EXPECT_EQ(Refusal("bad%zz=1").first, "query");
  EXPECT_EQ(Refusal("%FF%FE=1").first, "query");
  EXPECT_EQ(Refusal("a%00b=1").first, "query");
  for (std::string_view bad : {"limt=10", "limit=10&limit=20", "resultType=count", "f=html",
                               "page_token=a%00b", "bad%zz=1", "a%00b=1", "limit=0"}) {
    EXPECT_THAT(Refusal(bad).second, MatchesRegex(R"(\[[a-z]+\] .*)")) << bad;
  }
  EXPECT_THAT(Refusal("limit=10&limit=20").second, StartsWith("[unique] "));
  EXPECT_TRUE(ParseItemsQuery("resultType=hits&f=json", *features_)->hits);
}

TEST_F(OgcTest, PropertyFiltersTakeTheStandardsSpellings) {
  absl::StatusOr<ItemsQuery> q = ParseItemsQuery(
      "services=Aide%20aux%20d%C3%A9marches%20administratives|Loisirs+et+cr%C3%A9ations+"
      "num%C3%A9riques&frais_a_charge=Gratuit&frais_a_charge=Payant&typologie=CCAS&"
      "publics_specifiquement_adresses=Familles%20et%2Fou%20enfants&"
      "prise_en_charge_specifique=Langues%20%C3%A9trang%C3%A8res%20(anglais)",
      *features_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_THAT(q->search.services(), ElementsAre(v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES,
                                                v1::SERVICE_LOISIRS_ET_CREATIONS_NUMERIQUES));
  EXPECT_THAT(q->search.frais(), ElementsAre(v1::FRAIS_GRATUIT, v1::FRAIS_PAYANT));
  EXPECT_THAT(q->search.typologie(), ElementsAre("CCAS"));
  EXPECT_THAT(q->search.publics(), ElementsAre(v1::PUBLIC_FAMILLES_ET_OU_ENFANTS));
  EXPECT_THAT(q->search.prises_en_charge(),
              ElementsAre(v1::PRISE_EN_CHARGE_LANGUES_ETRANGERES_ANGLAIS));

  EXPECT_EQ(Refusal("services=SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES").first, "services");
  EXPECT_THAT(Refusal("frais_a_charge=gratuit").second, HasSubstr("Gratuit sous condition"));
  EXPECT_EQ(Refusal("services=").first, "services");
  EXPECT_EQ(Refusal("typologie=CC%01AS").first, "typologie");
  EXPECT_EQ(Refusal("typologie=%FF").first, "typologie");
  std::string many = "typologie=A";
  for (int i = 0; i < 50; ++i) many += "|A";
  EXPECT_EQ(Refusal(many).first, "typologie");
}

TEST_F(OgcTest, PageTokenIsPassedOnButNotRepeatedInLinks) {
  absl::StatusOr<ItemsQuery> q =
      ParseItemsQuery("limit=5&page_token=abc-_DEF&services=Payant", *features_);
  ASSERT_FALSE(q.ok());  // Payant is a frais, not a service
  q = ParseItemsQuery("limit=5&page_token=abc-_DEF&frais_a_charge=Payant", *features_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->search.page_token(), "abc-_DEF");
  EXPECT_EQ(q->page_token, "abc-_DEF");
  EXPECT_THAT(q->echo, ElementsAre("limit=5", "frais_a_charge=Payant"));
}

// The date_maj bounds a datetime gives: (min, max), empty for none.
std::pair<std::string, std::string> Days(std::string_view datetime) {
  v1::SearchVenuesRequest search;
  absl::Status s = ReadDatetime(datetime, &search);
  EXPECT_TRUE(s.ok()) << datetime << ": " << s;
  return {search.min_date_maj(), search.max_date_maj()};
}

TEST_F(OgcTest, DatetimeBecomesTheDateMajDaysItMeets) {
  using P = std::pair<std::string, std::string>;
  // An instant: the UTC day it falls in (an offset moves it).
  EXPECT_EQ(Days("2024-01-01T10:00:00Z"), P("2024-01-01", "2024-01-01"));
  EXPECT_EQ(Days("2024-01-01T00:30:00+01:00"), P("2023-12-31", "2023-12-31"));
  EXPECT_EQ(Days("2024-01-01t23:59:59.999z"), P("2024-01-01", "2024-01-01"));
  EXPECT_EQ(Days("2024-02-29"), P("2024-02-29", "2024-02-29"));
  EXPECT_EQ(Days("2024-02-29T/.."), P("2024-02-29", ""));  // as GDAL 3.6 writes a Date
  // Closed and half-bounded intervals, `..` or empty for the open end.
  EXPECT_EQ(Days("2024-01-01T00:00:00Z/2024-06-30T23:59:59Z"), P("2024-01-01", "2024-06-30"));
  EXPECT_EQ(Days("2024-01-01T00:00:00Z/.."), P("2024-01-01", ""));
  EXPECT_EQ(Days("../2024-06-30T12:00:00Z"), P("", "2024-06-30"));
  EXPECT_EQ(Days("2024-01-01/"), P("2024-01-01", ""));
  EXPECT_EQ(Days("/2024-06-30"), P("", "2024-06-30"));
  EXPECT_EQ(Days("../.."), P("", ""));
  EXPECT_EQ(Days("2024-01-01/2024-01-01"), P("2024-01-01", "2024-01-01"));
  // Through the items' query, %-escaped as clients send it.
  absl::StatusOr<ItemsQuery> q =
      ParseItemsQuery("datetime=2024-01-01T00%3A00%3A00Z%2F..&limit=5", *features_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->search.min_date_maj(), "2024-01-01");
  EXPECT_TRUE(q->search.max_date_maj().empty());
  EXPECT_THAT(q->echo, ElementsAre("datetime=2024-01-01T00%3A00%3A00Z%2F..", "limit=5"));
}

TEST_F(OgcTest, HostileDatetimesAreRefusedNamingIt) {
  for (std::string_view bad : {"",
                               "..",
                               "now",
                               "2024",
                               "2024-13-01",
                               "2024-02-30",
                               "2024-1-01",
                               "24-01-01",
                               "2024-01-01T25:00:00Z",
                               "2024-01-01T10:00:00",
                               "2024-01-01T10:00Z",
                               "2024-01-01 10:00:00Z",
                               "2024-01-01T10:00:00Z/2023-01-01T00:00:00Z",
                               "2024-06-02/2024-06-01",
                               "a/b",
                               "2024-01-01/2024-02-01/2024-03-01",
                               "+2024-01-01",
                               "0000-01-01T00:30:00+01:00",
                               "2024-01-01T10:00:00Z%00",
                               "2024-01-01T10:00:00Z\xff",
                               "１２３４-01-01",
                               "2024-01-01T10:00:00.1234567890123456789012345Z"}) {
    v1::SearchVenuesRequest search;
    absl::Status s = ReadDatetime(bad, &search);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    std::vector<api::FieldViolation> v = api::Violations(s);
    ASSERT_EQ(v.size(), 1u) << bad;
    EXPECT_EQ(v[0].field, "datetime") << bad;
  }
  EXPECT_THAT(Refusal("datetime=2024-06-02%2F2024-06-01").second, HasSubstr("inversé"));
  EXPECT_EQ(Refusal("datetime=2024-01-01T10:00:00Z%00").first, "datetime");
  EXPECT_EQ(Refusal("datetime=%FF").first, "datetime");
  EXPECT_EQ(Refusal(absl::StrCat("datetime=", std::string(5000, '2'))).first, "datetime");
}

TEST(OgcAreas, LayerIdsAreTheServicesButVenues) {
  for (const std::string good : {"qpv", "quartiers", "iris-2024", "a"}) {
    EXPECT_TRUE(IsAreaLayerId(good)) << good;
  }
  EXPECT_TRUE(IsAreaLayerId(std::string(40, 'z')));
  EXPECT_FALSE(IsAreaLayerId(std::string(41, 'z')));
  for (const std::string bad : {"", "venues", "QPV", "q_v", "q v", "q%20v", "é"}) {
    EXPECT_FALSE(IsAreaLayerId(bad)) << bad;
  }
}

TEST(OgcAreas, ItemsBecomeAFullListAreasRequest) {
  absl::StatusOr<AreaItemsQuery> q =
      ParseAreaItemsQuery("qpv", "bbox=3.1,50.6,3.2,50.7&limit=500&page_token=abc&f=geojson");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->list.parent(), "areaLayers/qpv");
  EXPECT_EQ(q->list.view(), v1::AREA_VIEW_FULL);
  EXPECT_EQ(q->list.page_size(), kOgcMaxLimit);
  EXPECT_EQ(q->list.page_token(), "abc");
  EXPECT_DOUBLE_EQ(q->list.within().min_longitude(), 3.1);
  EXPECT_DOUBLE_EQ(q->list.within().max_latitude(), 50.7);
  EXPECT_THAT(q->echo, ElementsAre("bbox=3.1,50.6,3.2,50.7", "limit=500", "f=geojson"));
  EXPECT_EQ(ParseAreaItemsQuery("qpv", "")->list.page_size(), kOgcDefaultLimit);
  EXPECT_TRUE(ParseAreaItemsQuery("qpv", "resultType=hits")->hits);

  auto refused = [](std::string_view query) {
    absl::StatusOr<AreaItemsQuery> r = ParseAreaItemsQuery("qpv", query);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << query;
    std::vector<api::FieldViolation> v = api::Violations(r.status());
    return v.size() == 1 ? v[0].field : "";
  };
  EXPECT_EQ(refused("datetime=2024-01-01"), "datetime");
  EXPECT_EQ(refused("services=Payant"), "services");
  EXPECT_EQ(refused("limit=0"), "limit");
  EXPECT_EQ(refused("limit=1&limit=2"), "limit");
  EXPECT_EQ(refused("bbox=1,2,3"), "bbox");
  EXPECT_EQ(refused("bbox=nan,1,2,3"), "bbox");
  EXPECT_EQ(refused("page_token=a%00b"), "page_token");
  EXPECT_EQ(refused("%FF=1"), "query");
}

TEST(OgcAreas, AnAreaIsAFeatureWithItsPolygon) {
  v1::Area area;
  area.set_name("areaLayers/qpv/areas/QN05912M");
  area.set_code("QN05912M");
  area.set_label("Alma-Gare \"Nord\"\x01");
  area.set_venue_count(3);
  area.set_geometry(
      R"({"type":"MultiPolygon","coordinates":[[[[3.16,50.69],[3.17,50.69],[3.17,50.7],[3.16,50.69]]]]})");
  area.mutable_extent()->set_min_longitude(3.16);
  area.mutable_extent()->set_min_latitude(50.69);
  area.mutable_extent()->set_max_longitude(3.17);
  area.mutable_extent()->set_max_latitude(50.7);
  std::string out;
  AppendAreaFeature(area, "", &out);
  nlohmann::json f = nlohmann::json::parse(out);
  EXPECT_EQ(f["type"], "Feature");
  EXPECT_EQ(f["id"], "QN05912M");
  EXPECT_EQ(f["geometry"]["type"], "MultiPolygon");
  EXPECT_DOUBLE_EQ(f["geometry"]["coordinates"][0][0][1][0].get<double>(), 3.17);
  EXPECT_EQ(f["bbox"], nlohmann::json({3.16, 50.69, 3.17, 50.7}));
  EXPECT_EQ(f["properties"]["name"], "areaLayers/qpv/areas/QN05912M");
  EXPECT_EQ(f["properties"]["label"], "Alma-Gare \"Nord\"\x01");
  EXPECT_EQ(f["properties"]["venue_count"], 3);
  // Without geometry (not the FULL view): null, still JSON.
  area.clear_geometry();
  area.clear_extent();
  out.clear();
  AppendAreaFeature(area, R"([{"href":"x"}])", &out);
  f = nlohmann::json::parse(out);
  EXPECT_TRUE(f["geometry"].is_null());
  EXPECT_FALSE(f.contains("bbox"));
  EXPECT_EQ(f["links"][0]["href"], "x");
}

TEST(OgcPublicUrl, TakesOnlyPlainBaseUrls) {
  for (std::string_view good :
       {"http://127.0.0.1:8080", "https://api.passerelle.example", "https://a.example/base/v",
        "http://[::1]:58000", "http://localhost"}) {
    EXPECT_TRUE(CheckPublicUrl(good).ok()) << good;
  }
  for (std::string_view bad :
       {"", "ftp://x.example", "http://", "https://user:pw@x.example", "http://x.example/",
        "http://x.example?a=1", "http://x.example#f", "http://x.example:0", "http://x.example:",
        "http://x.example:99999", "http://x_y.example", "http://[::1", "http://x.example//a",
        "http://x.example/a b", "javascript:alert(1)", "http://x.example:80a"}) {
    EXPECT_EQ(CheckPublicUrl(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace passerelle::gateway
