#include "services/gateway/transcode.hpp"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "libs/api/status.hpp"
#include "libs/text/utf8.hpp"
#include "passerelle/sync/v1/sync.pb.h"
#include "passerelle/venues/v1/venues.pb.h"
#include "services/gateway/json_testing.hpp"

namespace passerelle::gateway {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace v1 = ::passerelle::venues::v1;

class TranscodeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    schema_ = ApiSchema::LoadEmbedded()->release();
    table_ = new RouteTable(*RouteTable::Build(*schema_));
  }
  // Builds the request of `method path?query` with `body`, as binary; the status on refusal.
  static absl::StatusOr<std::string> Build(std::string_view method, std::string_view target,
                                           std::string_view body = "",
                                           std::string_view type = "application/json",
                                           HttpInput extra = {}) {
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view query =
        target.find('?') == std::string_view::npos ? "" : target.substr(target.find('?') + 1);
    RouteTable::Lookup found = table_->Find(method, *SplitRequestPath(path));
    EXPECT_NE(found.route, nullptr) << target;
    if (found.route == nullptr) return absl::NotFoundError("no route");
    extra.bindings = found.bindings;
    extra.query = query;
    extra.body = body;
    extra.content_type = type;
    absl::StatusOr<nlohmann::json> json = RequestJson(*found.route, extra);
    if (!json.ok()) return json.status();
    return JsonToRequest(*schema_, *found.route, *json);
  }
  template <typename M>
  static M Parse(const absl::StatusOr<std::string>& bytes) {
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    M m;
    if (bytes.ok()) {
      EXPECT_TRUE(m.ParseFromString(*bytes));
    }
    return m;
  }
  static std::string Field(const absl::StatusOr<std::string>& refused) {
    EXPECT_FALSE(refused.ok());
    std::vector<api::FieldViolation> v = api::Violations(refused.status());
    return v.empty() ? std::string(refused.status().message()) : v[0].field;
  }
  static const ApiSchema* schema_;
  static const RouteTable* table_;
};
const ApiSchema* TranscodeTest::schema_ = nullptr;
const RouteTable* TranscodeTest::table_ = nullptr;

TEST_F(TranscodeTest, PathVariablesFillTheRequest) {
  auto req = Parse<v1::GetVenueRequest>(Build("GET", "/v1/venues/abc"));
  EXPECT_EQ(req.name(), "venues/abc");
}

TEST_F(TranscodeTest, QueryParametersFillNestedRepeatedAndEnumFields) {
  auto req = Parse<v1::SearchVenuesRequest>(
      Build("GET",
            "/v1/venues:search?near.latitude=50.69&near.longitude=3.17&near.radiusMeters=5000"
            "&services=SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES&page_size=20"
            "&query=caf+en%20ligne&openAt=2026-12-01T10:00:00Z"));
  EXPECT_DOUBLE_EQ(req.near().latitude(), 50.69);
  EXPECT_DOUBLE_EQ(req.near().radius_meters(), 5000);
  EXPECT_THAT(req.services(), ElementsAre(v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES));
  EXPECT_EQ(req.page_size(), 20);
  EXPECT_EQ(req.query(), "caf en ligne");
  EXPECT_EQ(req.open_at().seconds(), 1796119200);
}

TEST_F(TranscodeTest, UnknownOrBadQueryParametersAreNamed) {
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?nearLongitude=1")), "nearLongitude");
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?page_size=1&page_size=2")), "page_size");
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?near.latitude=NaN")), "near.latitude");
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?near.latitude=inf")), "near.latitude");
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?near.latitude=1e400")), "near.latitude");
  // A number a JSON body could send is one here too (its range is the service's to judge).
  EXPECT_DOUBLE_EQ(
      Parse<v1::SearchVenuesRequest>(Build("GET", "/v1/venues:search?near.latitude=5.069e1"))
          .near()
          .latitude(),
      50.69);
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?page_size=0x10")), "page_size");
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?page_size=99999999999")), "page_size");
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?services=1")), "services");
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?services=NOPE")), "services");
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?query=%FF%FE")), "query");
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?query=%4")), "query");
  EXPECT_EQ(Field(Build("GET", "/v1/venues:search?near=1")), "near");
  EXPECT_EQ(Field(Build("GET", "/v1/venues/abc?name=venues/other")), "name");
  // A filter's 100 values with the other parameters of a search pass; past 500 parameters, no.
  std::string full = "/v1/venues:search?near.latitude=50.69&near.longitude=3.17&page_size=5";
  for (int i = 0; i < 100; ++i) full += absl::StrCat("&areas=qpv:QN0590", i);
  const auto full_request = Parse<v1::SearchVenuesRequest>(Build("GET", full));
  EXPECT_EQ(full_request.areas_size(), 100);
  EXPECT_EQ(full_request.areas(99), "qpv:QN059099");
  EXPECT_EQ(full_request.page_size(), 5);
  std::string many = "/v1/venues:search?";
  for (int i = 0; i < 501; ++i) many += "areas=a&";
  EXPECT_EQ(Field(Build("GET", many)), "query");
  std::string huge = "/v1/venues:search?query=" + std::string(9000, 'a');
  EXPECT_EQ(Field(Build("GET", huge)), "query");
}

TEST_F(TranscodeTest, BadQueryValuesNameTheirRule) {
  auto description = [](const absl::StatusOr<std::string>& refused) {
    std::vector<api::FieldViolation> v = api::Violations(refused.status());
    return v.empty() ? std::string() : v[0].description;
  };
  EXPECT_EQ(Field(Build("PATCH", "/v1/venues/abc?updateMask=nom%09", "{}")), "updateMask");
  EXPECT_THAT(description(Build("PATCH", "/v1/venues/abc?updateMask=nom%09", "{}")),
              StartsWith("[format]"));
  EXPECT_THAT(description(Build("PATCH", "/v1/venues/abc?updateMask=nom,,adresse", "{}")),
              StartsWith("[format]"));
  EXPECT_THAT(description(Build("GET", "/v1/venues:search?openAt=2026-13-01T10:00:00Z")),
              StartsWith("[date]"));
  EXPECT_THAT(description(Build("GET", "/v1/venues:search?page_size=4294967296")),
              AllOf(StartsWith("[range]"), HasSubstr("-2147483648 à 2147483647")));
  EXPECT_THAT(description(Build("GET", "/v1/venues:search?near=1")), StartsWith("[unexpected]"));
  EXPECT_THAT(description(Build("GET", "/v1/venues/abc?name=venues/other")),
              StartsWith("[unexpected]"));
  std::string huge = "/v1/venues:search?query=" + std::string(9000, 'a');
  EXPECT_THAT(description(Build("GET", huge)), StartsWith("[size]"));
  EXPECT_THAT(description(Build("POST", "/v1/venues/abc:withdraw?reason=x", "{}")),
              StartsWith("[unknown]"));
  // An empty mask is still a mask.
  EXPECT_TRUE(Build("PATCH", "/v1/venues/abc?updateMask=", "{}").ok());
  // In a body too, an unknown field or enum name is refused in the door's words, not protobuf's.
  auto unknown = Build("PATCH", "/v1/venues/abc?updateMask=nom", R"({"nom":"x","foo":1})");
  EXPECT_EQ(Field(unknown), "venue.foo");
  EXPECT_THAT(description(unknown), StartsWith("[unknown] pas de champ « foo »"));
  auto bad_enum = Build("PATCH", "/v1/venues/abc?updateMask=services",
                        R"({"services":["SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES","NOPE"]})");
  EXPECT_EQ(Field(bad_enum), "venue.services[1]");
  EXPECT_THAT(description(bad_enum),
              AllOf(StartsWith("[enum] une valeur parmi SERVICE_"), HasSubstr("reçu « NOPE »")));
}

TEST_F(TranscodeTest, BodiesTakeLowerCamelAndSnakeNames) {
  auto camel =
      Parse<v1::UpdateVenueRequest>(Build("PATCH", "/v1/venues/abc?updateMask=code_postal,nom",
                                          R"({"nom": "Médiathèque", "codePostal": "59100"})"));
  EXPECT_EQ(camel.venue().name(), "venues/abc");
  EXPECT_EQ(camel.venue().code_postal(), "59100");
  EXPECT_THAT(camel.update_mask().paths(), ElementsAre("code_postal", "nom"));
  auto snake = Parse<v1::UpdateVenueRequest>(
      Build("PATCH", "/v1/venues/abc?update_mask=codePostal", R"({"code_postal": "59100"})"));
  EXPECT_EQ(snake.venue().code_postal(), "59100");
  EXPECT_THAT(snake.update_mask().paths(), ElementsAre("code_postal"));
}

// gRPC takes a mask's paths as they are: `TELEPHONE` names no field there. The JSON parser
// would fold it into `telephone`: the gateway refuses every spelling but the field's proto name
// and exactly its lowerCamel JSON name, so REST refuses what gRPC refuses.
TEST_F(TranscodeTest, AFieldMaskIsTakenInSnakeOrExactLowerCamelCaseOnly) {
  for (const char* mask : {"TELEPHONE", "Telephone", "teLEPHONE", "CodePostal", "code_Postal",
                           "CODE_POSTAL", "nom,TELEPHONE", "nom.Adresse"}) {
    auto refused = Build("PATCH", absl::StrCat("/v1/venues/abc?updateMask=", mask), "{}");
    ASSERT_FALSE(refused.ok()) << mask;
    EXPECT_EQ(Field(refused), "updateMask") << mask;
    std::vector<api::FieldViolation> v = api::Violations(refused.status());
    ASSERT_EQ(v.size(), 1u) << mask;
    EXPECT_THAT(v[0].description, StartsWith("[case]")) << mask;
  }
  auto taken = Parse<v1::UpdateVenueRequest>(
      Build("PATCH", "/v1/venues/abc?updateMask=telephone,codePostal,code_insee", "{}"));
  EXPECT_THAT(taken.update_mask().paths(), ElementsAre("telephone", "code_postal", "code_insee"));
  // The refusal names the spellings taken for the field written, not an example's.
  auto message = [&](const char* mask) {
    auto v = api::Violations(
        Build("PATCH", absl::StrCat("/v1/venues/abc?updateMask=", mask), "{}").status());
    return v.empty() ? std::string() : v[0].description;
  };
  EXPECT_THAT(message("Nom"), HasSubstr("écrivez « nom »"));
  EXPECT_THAT(message("Nom"), Not(HasSubstr("code_postal")));
  EXPECT_THAT(message("prise_RDV"), HasSubstr("« prise_rdv » ou « priseRdv »"));
  EXPECT_THAT(message("CodePostal"), HasSubstr("« code_postal » ou « codePostal »"));
  // `*` alone is every field (AIP-134), as gRPC takes it; among other names it is no name.
  auto star = Parse<v1::UpdateVenueRequest>(Build("PATCH", "/v1/venues/abc?updateMask=*", "{}"));
  EXPECT_THAT(star.update_mask().paths(), ElementsAre("*"));
  EXPECT_THAT(message("nom,*"), StartsWith("[format]"));
}

// AIP-134: a PATCH without a mask changes the fields its body names (tester 25, H1: it replaced
// the whole venue and blanked every field the body left out).
TEST_F(TranscodeTest, APatchWithoutAMaskChangesTheFieldsItsBodyNames) {
  HttpInput if_match;
  if_match.if_match = "W/\"3\"";
  auto implied = Parse<v1::UpdateVenueRequest>(
      Build("PATCH", "/v1/venues/abc",
            R"({"telephone": "", "code_postal": "59100", "name": "venues/abc", "nom": "N"})",
            "application/json", if_match));
  EXPECT_THAT(implied.update_mask().paths(),
              ::testing::UnorderedElementsAre("telephone", "code_postal", "nom"));
  EXPECT_EQ(implied.venue().etag(), "W/\"3\"");
  auto with_etag = Parse<v1::UpdateVenueRequest>(
      Build("PATCH", "/v1/venues/abc", R"({"etag": "W/\"3\"", "horaires": "Mo 09:00-12:00"})"));
  EXPECT_THAT(with_etag.update_mask().paths(), ElementsAre("horaires"));
  // A mask given, in the query or the body, is the mask.
  auto given = Parse<v1::UpdateVenueRequest>(
      Build("PATCH", "/v1/venues/abc?updateMask=nom", R"({"nom": "N", "telephone": "x"})"));
  EXPECT_THAT(given.update_mask().paths(), ElementsAre("nom"));
  auto star = Parse<v1::UpdateVenueRequest>(Build("PATCH", "/v1/venues/abc?updateMask=*", "{}"));
  EXPECT_THAT(star.update_mask().paths(), ElementsAre("*"));
  // Every PATCH route alike; a body naming nothing to change is refused, never "everything".
  auto source = Parse<::passerelle::sync::v1::UpdateSourceRequest>(
      Build("PATCH", "/v1/sync/sources/region", R"({"displayName": "Région"})"));
  EXPECT_THAT(source.update_mask().paths(), ElementsAre("display_name"));
  for (const char* body : {"{}", R"({"name": "venues/abc"})", R"({"etag": "W/\"1\""})", ""}) {
    auto refused = Build("PATCH", "/v1/venues/abc", body);
    ASSERT_FALSE(refused.ok()) << body;
    EXPECT_EQ(Field(refused), "updateMask") << body;
    EXPECT_THAT(api::Violations(refused.status())[0].description, StartsWith("[required]"));
  }
}

TEST_F(TranscodeTest, BodyStarTakesEveryFieldAndNoQuery) {
  auto req = Parse<v1::WithdrawVenueRequest>(
      Build("POST", "/v1/venues/abc:withdraw", R"({"reason": "fermé", "etag": "W/\"3\""})"));
  EXPECT_EQ(req.name(), "venues/abc");
  EXPECT_EQ(req.reason(), "fermé");
  EXPECT_EQ(Field(Build("POST", "/v1/venues/abc:withdraw?reason=x", "{}")), "reason");
  EXPECT_EQ(Field(Build("POST", "/v1/venues/abc:withdraw", R"({"name": "venues/zzz"})")), "name");
}

TEST_F(TranscodeTest, MalformedJsonIsRefusedWithItsPosition) {
  absl::StatusOr<std::string> refused = Build("POST", "/v1/venues/abc:withdraw", "{\"reason\": }");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(api::Violations(refused.status())[0].description, HasSubstr("octet 12"));
  EXPECT_FALSE(Build("POST", "/v1/venues/abc:withdraw", "{\"reason\": \"\xff\"}").ok());
  EXPECT_FALSE(Build("POST", "/v1/venues/abc:withdraw", "{\"reason\": \"\\ud800\"}").ok());
  EXPECT_FALSE(Build("POST", "/v1/venues/abc:withdraw", "[1]").ok());
  EXPECT_THAT(
      api::Violations(Build("POST", "/v1/venues/abc:withdraw", R"({"reason": 1e400})").status())[0]
          .description,
      HasSubstr("[range]"));
  // Megabytes of digits are not a number at all.
  EXPECT_THAT(api::Violations(Build("POST", "/v1/venues/abc:withdraw",
                                    "{\"reason\": " + std::string(5'000'000, '7') + "}")
                                  .status())[0]
                  .description,
              HasSubstr("[number] un nombre de 5000000 caractères"));
  std::string deep(40, '[');
  EXPECT_THAT(
      api::Violations(Build("POST", "/v1/venues/abc:withdraw", "{\"reason\": " + deep).status())[0]
          .description,
      HasSubstr("imbriqué"));
}

TEST_F(TranscodeTest, AFieldGivenTwiceIsRefused) {
  EXPECT_EQ(Field(Build("POST", "/v1/venues",
                        R"({"ownerOrganisation": "a", "owner_organisation": "b"})")),
            "venue.owner_organisation");
  absl::StatusOr<std::string> twice =
      Build("POST", "/v1/venues/abc:withdraw", R"({"reason": "a", "reason": "b"})");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(api::Violations(twice.status())[0].description, HasSubstr("deux fois"));
  EXPECT_EQ(Field(Build("POST", "/v1/sources/s/venues:batchUpsert",
                        R"({"venues": [{}, {"codePostal": "1", "code_postal": "2"}]})")),
            "venues[1].code_postal");
}

// A body field that is a message takes an object: anything else would become an empty venue
// once the path fills in its name, and a PATCH would blank the fields of its mask.
TEST_F(TranscodeTest, AMessageBodyMustBeAnObject) {
  for (const char* body : {R"("hello")", "[1,2,3]", "null", "42", "true"}) {
    SCOPED_TRACE(body);
    absl::StatusOr<std::string> refused =
        Build("PATCH", "/v1/venues/abc?updateMask=complementAdresse", body);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(Field(refused), "body");
    EXPECT_THAT(refused.status().message(), HasSubstr("objet JSON"));
  }
  EXPECT_TRUE(Build("PATCH", "/v1/venues/abc?updateMask=complementAdresse", "{}").ok());
}

TEST_F(TranscodeTest, UnknownBodyFieldsAreRefused) {
  absl::StatusOr<std::string> refused =
      Build("POST", "/v1/venues/abc:withdraw", R"({"reasn": "typo"})");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("reasn"));
}

TEST_F(TranscodeTest, OtherMediaTypesAreRefused) {
  absl::StatusOr<std::string> refused =
      Build("POST", "/v1/venues/abc:withdraw", "reason=x", "application/x-www-form-urlencoded");
  ASSERT_FALSE(refused.ok());
  ASSERT_EQ(api::Violations(refused.status()).size(), 1u);
  EXPECT_THAT(api::Violations(refused.status())[0].description,
              HasSubstr("[media] type de contenu « application/x-www-form-urlencoded »"));
  EXPECT_TRUE(
      Build("POST", "/v1/venues/abc:withdraw", "{}", "application/json; charset=utf-8").ok());
  EXPECT_TRUE(
      Build("POST", "/v1/venues/abc:withdraw", "{}", "Application/JSON;Charset=\"UTF-8\"").ok());
  // A body declared in another charset would be read as UTF-8 all the same (tester 25).
  for (const char* type :
       {"application/json; charset=iso-8859-1", "application/json; charset=windows-1252"}) {
    absl::StatusOr<std::string> other = Build("POST", "/v1/venues/abc:withdraw", "{}", type);
    ASSERT_FALSE(other.ok()) << type;
    EXPECT_THAT(std::string(other.status().message()), HasSubstr("UTF-8")) << type;
    const std::vector<api::FieldViolation> v = api::Violations(other.status());
    ASSERT_EQ(v.size(), 1u) << type;
    EXPECT_EQ(v[0].field, "Content-Type");
    EXPECT_THAT(v[0].description, HasSubstr("[encoding] corps déclaré en « "));
  }
  // A hostile charset is quoted bounded, valid UTF-8 and without its NUL.
  const std::string hostile = std::string("a\0b\xff\xfe\u202E") + std::string(100000, 'x');
  absl::StatusOr<std::string> refused_hostile =
      Build("POST", "/v1/venues/abc:withdraw", "{}", "application/json; charset=" + hostile);
  ASSERT_FALSE(refused_hostile.ok());
  const std::vector<api::FieldViolation> v = api::Violations(refused_hostile.status());
  ASSERT_EQ(v.size(), 1u);
  EXPECT_LT(v[0].description.size(), 400u);
  EXPECT_TRUE(text::IsValidUtf8(v[0].description)) << v[0].description;
  EXPECT_EQ(v[0].description.find('\0'), std::string::npos);
}

TEST_F(TranscodeTest, HeadersFillEtagAndRequestId) {
  HttpInput headers;
  headers.if_match = "W/\"7\"";
  headers.idempotency_key = "key-1";
  auto update = Parse<v1::UpdateVenueRequest>(Build(
      "PATCH", "/v1/venues/abc?updateMask=nom", R"({"nom": "x"})", "application/json", headers));
  EXPECT_EQ(update.venue().etag(), "W/\"7\"");
  EXPECT_EQ(update.request_id(), "key-1");
  HttpInput any;
  any.if_match = "*";
  auto unconditional = Parse<v1::UpdateVenueRequest>(
      Build("PATCH", "/v1/venues/abc?updateMask=nom", R"({"nom": "x"})", "application/json", any));
  EXPECT_EQ(unconditional.venue().etag(), "");
  HttpInput conflicting;
  conflicting.if_match = "W/\"8\"";
  EXPECT_EQ(Field(Build("POST", "/v1/venues/abc:withdraw", R"({"etag": "W/\"7\""})",
                        "application/json", conflicting)),
            "If-Match");
}

// Two members of one oneof are refused on the second one's name with their rule, wherever they
// came from, not by protobuf's parser against `body` in its own words.
TEST_F(TranscodeTest, TwoMembersOfAOneofAreRefusedOnTheirName) {
  absl::StatusOr<std::string> refused =
      Build("GET",
            "/v1/venues:search?near.latitude=50.69&near.longitude=3.17&near.radiusMeters=300"
            "&within.minLatitude=50&within.minLongitude=3&within.maxLatitude=51"
            "&within.maxLongitude=4");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(api::Violations(refused.status()).at(0).field, StartsWith("within"));
  EXPECT_THAT(refused.status().message(), HasSubstr("[oneof]"));
  EXPECT_THAT(refused.status().message(), Not(HasSubstr("body")));
  // One member is fine.
  EXPECT_TRUE(Build("GET",
                    "/v1/venues:search?within.minLatitude=50&within.minLongitude=3"
                    "&within.maxLatitude=51&within.maxLongitude=4")
                  .ok());
}

TEST_F(TranscodeTest, RawBodiesBecomeTheBytesField) {
  auto req = Parse<v1::ImportAreaLayerRequest>(
      Build("POST", "/v1/areaLayers/quartiers:import?title=Quartiers", "{\"type\":1}\x01",
            "application/geo+json"));
  EXPECT_EQ(req.layer(), "quartiers");
  EXPECT_EQ(req.geojson(), "{\"type\":1}\x01");
}

TEST_F(TranscodeTest, ResponsesPrintAsProto3Json) {
  v1::Venue venue;
  venue.set_name("venues/abc");
  venue.set_code_postal("59100");
  absl::StatusOr<std::string> json =
      MessageToJson(*schema_, schema_->pool().FindMessageTypeByName("passerelle.venues.v1.Venue"),
                    venue.SerializeAsString());
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"({"name":"venues/abc","codePostal":"59100"})");
}

// Every public method's request, filled at random and written as JSON by protobuf, comes back
// as the same message: whether the encoder took it (plain values) or left it to protobuf's
// parser (well-known types, maps, bytes, NaN…). JSON protobuf refuses is refused.
TEST_F(TranscodeTest, EveryRequestComesBackAsTheMessageItWas) {
  google::protobuf::DynamicMessageFactory factory(&schema_->pool());
  int compared = 0, refused = 0;
  for (const Route& route : table_->routes()) {
    const google::protobuf::Descriptor* type = route.method->input_type();
    for (uint32_t seed = 0; seed < 30; ++seed) {
      std::unique_ptr<google::protobuf::Message> m(factory.GetPrototype(type)->New());
      Filler(seed * 104729 + static_cast<uint32_t>(compared)).Fill(m.get(), 0);
      std::string text;
      if (!google::protobuf::util::MessageToJsonString(*m, &text).ok()) continue;
      nlohmann::json request = nlohmann::json::parse(text, nullptr, false);
      ASSERT_FALSE(request.is_discarded()) << text;
      absl::StatusOr<std::string> bytes = JsonToRequest(*schema_, route, request);
      std::unique_ptr<google::protobuf::Message> expected(factory.GetPrototype(type)->New());
      google::protobuf::util::Status parsed =
          google::protobuf::util::JsonStringToMessage(request.dump(), expected.get());
      if (!parsed.ok()) {
        EXPECT_FALSE(bytes.ok()) << type->full_name() << ": " << text;
        ++refused;
        continue;
      }
      ASSERT_TRUE(bytes.ok()) << type->full_name() << ": " << bytes.status() << "\n" << text;
      std::unique_ptr<google::protobuf::Message> back(factory.GetPrototype(type)->New());
      ASSERT_TRUE(back->ParseFromString(*bytes)) << type->full_name();
      std::string differences;
      google::protobuf::util::DefaultFieldComparator numbers;
      numbers.set_treat_nan_as_equal(true);
      google::protobuf::util::MessageDifferencer differ;
      differ.set_field_comparator(&numbers);
      differ.ReportDifferencesToString(&differences);
      ASSERT_TRUE(differ.Compare(*back, *expected)) << type->full_name() << " seed " << seed << "\n"
                                                    << text.substr(0, 2000) << "\n"
                                                    << differences;
      ++compared;
    }
  }
  EXPECT_GT(compared, 1000);
  std::cout << compared << " requests compared, " << refused << " refused by both\n";
}

// Values the encoder must not take as plain, each refused, or read as protobuf reads it.
TEST_F(TranscodeTest, TheEncoderLeavesWhatIsNotPlainToProtobuf) {
  const Route* search = nullptr;
  for (const Route& r : table_->routes()) {
    if (r.method->name() == "SearchVenues") search = &r;
  }
  ASSERT_NE(search, nullptr);
  auto encode = [&](std::string_view text) {
    return JsonToRequest(*schema_, *search, nlohmann::json::parse(text));
  };
  // Numbers in strings: protobuf's parser reads them.
  v1::SearchVenuesRequest quoted =
      Parse<v1::SearchVenuesRequest>(encode(R"({"pageSize": "20", "near": {"latitude": "48.5"}})"));
  EXPECT_EQ(quoted.page_size(), 20);
  EXPECT_EQ(quoted.near().latitude(), 48.5);
  // What protobuf's parser would take too leniently is refused with the field's path.
  for (const auto& [bad, field] : std::vector<std::pair<const char*, const char*>>{
           {R"({"near": {"latitude": "0x10"}})", "near.latitude"},
           {R"({"pageSize": "0x14"})", "page_size"},
           {R"({"pageSize": " 20"})", "page_size"},
           {R"({"pageSize": "1e"})", "page_size"},
           {R"({"typologie": [["CCAS"]]})", "typologie[0]"},
           {R"({"services": ["SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES", null]})",
            "services[1]"}}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(Field(encode(bad)), field);
  }
  EXPECT_TRUE(encode(R"({"near": {"latitude": "-4.5e1", "longitude": "NaN"}})").ok());
  // null is the default value.
  EXPECT_EQ(Parse<v1::SearchVenuesRequest>(encode(R"({"pageSize": null})")).page_size(), 0);
  // Plain values, taken by the encoder.
  v1::SearchVenuesRequest plain = Parse<v1::SearchVenuesRequest>(encode(
      R"({"page_size": 7, "near": {"latitude": 48.8566, "longitude": -2, "radiusMeters": 5000},
                 "services": ["SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES"], "query": "été"})"));
  EXPECT_EQ(plain.page_size(), 7);
  EXPECT_EQ(plain.near().latitude(), 48.8566);
  EXPECT_EQ(plain.near().longitude(), -2);
  ASSERT_EQ(plain.services_size(), 1);
  EXPECT_EQ(plain.services(0), v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  EXPECT_EQ(plain.query(), "été");
  // Refused, by protobuf's parser in its words.
  for (const char* bad :
       {R"({"pageSize": 2147483648})", R"({"pageSize": -2147483649})", R"({"pageSize": 1.5})",
        R"({"pageSize": [1]})", R"({"pageSize": true})", R"({"services": ["SERVICE_NOPE"]})",
        R"({"near": 3})", R"({"near.latitude": 3})", R"({"nope": 1})", R"({"query": 5})",
        R"({"near": {"latitude": 1}, "within": {}})"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(encode(bad).ok());
  }
}

TEST(ForeignCharsetTest, ReadsParametersAsRfc9110WritesThem) {
  for (const char* utf8 :
       {"text/csv", "text/csv;", "text/csv; charset=utf-8", "text/csv;charset=UTF8",
        "text/csv; charset=\"utf-8\"", "text/csv; charset=\"utf\\-8\"",
        "text/csv; header=present; charset=utf-8", "text/csv; charset=", "text/csv; charset=\"\"",
        "text/csv; foo=\"a;charset=latin1\"", "text/csv; foo=\"a\\\";charset=latin1\"", ";;;"}) {
    EXPECT_EQ(ForeignCharset(utf8), std::nullopt) << utf8;
  }
  EXPECT_EQ(ForeignCharset("text/csv; charset=utf-16"), "utf-16");
  EXPECT_EQ(ForeignCharset("text/csv; CHARSET = \"Windows-1252\" ; x=y"), "Windows-1252");
  EXPECT_EQ(ForeignCharset("text/csv; charset=utf-8; charset=latin1"), "latin1");
  EXPECT_EQ(ForeignCharset("text/csv; charset=\"utf-8;\""), "utf-8;");
  EXPECT_EQ(ForeignCharset("text/csv; charset=\"latin1"), "latin1");  // unterminated
  // Hostile values come back as sent; the refusal quotes them bounded and valid UTF-8.
  const std::string hostile = std::string("a\0b\xff\xfe\u202E") + std::string(100000, 'x');
  EXPECT_EQ(ForeignCharset("application/json; charset=" + hostile), hostile);
}

}  // namespace
}  // namespace passerelle::gateway
