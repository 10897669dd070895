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
  EXPECT_EQ(p["id"], "lieu-1");
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
  }
  EXPECT_THAT(Refusal("bbox=3,51,4,50").second, HasSubstr("inversée"));
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
  EXPECT_EQ(Refusal("datetime=2026-01-01T00:00:00Z").first, "datetime");
  EXPECT_THAT(Refusal("datetime=2026-01-01T00:00:00Z").second, HasSubstr("non pris en charge"));
  EXPECT_THAT(ParseItemsQuery("datetime=2026-01-01/..", *features_).status().message(),
              HasSubstr("« datetime » invalide : filtre temporel non pris en charge"));
  EXPECT_EQ(Refusal("resultType=count").first, "resultType");
  EXPECT_EQ(Refusal("f=html").first, "f");
  EXPECT_EQ(Refusal("page_token=a%00b").first, "page_token");
  EXPECT_EQ(Refusal("bad%zz=1").first, "query");
  EXPECT_EQ(Refusal("%FF%FE=1").first, "query");
  EXPECT_EQ(Refusal("a%00b=1").first, "query");
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
