#include "services/gateway/openapi.hpp"

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace passerelle::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using json = nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr const char* kMethods[] = {"get",   "put",  "post",    "delete",
                                    "patch", "head", "options", "trace"};

class OpenApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = ApiSchema::LoadEmbedded();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    schema_ = loaded->release();
    auto built = RouteTable::Build(*schema_);
    ASSERT_TRUE(built.ok()) << built.status();
    table_ = new RouteTable(*std::move(built));
    doc_ = new json(json::parse(BuildOpenApi(*schema_, *table_, "/")));
  }

  // Every (path, method, operation) of the document.
  struct Documented {
    std::string path;
    std::string method;
    const json* op;
  };
  static std::vector<Documented> Operations() {
    std::vector<Documented> out;
    for (const auto& [path, item] : (*doc_)["paths"].items()) {
      for (const char* method : kMethods) {
        if (item.contains(method)) out.push_back({path, method, &item[method]});
      }
    }
    return out;
  }
  static const json& Op(const std::string& path, const std::string& method) {
    static const json kNone;
    const json& paths = (*doc_)["paths"];
    if (!paths.contains(path) || !paths[path].contains(method)) {
      ADD_FAILURE() << "no " << method << " " << path;
      return kNone;
    }
    return paths[path][method];
  }
  static const json& Schema(const std::string& name) {
    static const json kNone;
    const json& schemas = (*doc_)["components"]["schemas"];
    if (!schemas.contains(name)) {
      ADD_FAILURE() << "no schema " << name;
      return kNone;
    }
    return schemas[name];
  }
  // The parameter `name` of an operation, resolved when it is a $ref.
  static json Parameter(const json& op, const std::string& name) {
    for (const json& p : op["parameters"]) {
      json resolved = p.contains("$ref") ? Resolve(p["$ref"]) : p;
      if (resolved["name"] == name) return resolved;
    }
    return nullptr;
  }
  static json Resolve(const std::string& ref) {
    if (!ref.starts_with("#/")) return nullptr;
    json::json_pointer pointer(ref.substr(1));
    return doc_->contains(pointer) ? (*doc_)[pointer] : json(nullptr);
  }
  static std::string SchemaName(const std::string& full_name) {
    return full_name.starts_with("passerelle.") ? full_name.substr(11) : full_name;
  }

  static const ApiSchema* schema_;
  static const RouteTable* table_;
  static const json* doc_;
};
const ApiSchema* OpenApiTest::schema_ = nullptr;
const RouteTable* OpenApiTest::table_ = nullptr;
const json* OpenApiTest::doc_ = nullptr;

void CollectRefs(const json& node, std::vector<std::string>* out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "$ref" && value.is_string()) out->push_back(value);
      CollectRefs(value, out);
    }
  } else if (node.is_array()) {
    for (const json& v : node) CollectRefs(v, out);
  }
}

TEST_F(OpenApiTest, IsAnOpenApi31Document) {
  EXPECT_EQ((*doc_)["openapi"], "3.1.0");
  EXPECT_EQ((*doc_)["info"]["title"], "Passerelle — API publique");
  EXPECT_EQ((*doc_)["info"]["version"], "v1");
  EXPECT_THAT((*doc_)["info"]["description"].get<std::string>(), ::testing::HasSubstr("clé"));
  EXPECT_EQ((*doc_)["servers"][0]["url"], "/");
  EXPECT_EQ((*doc_)["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
}

// The consistency the issue asks for, one way: each served route is documented exactly once,
// at the path its template gives, as the operation of its own RPC.
TEST_F(OpenApiTest, EveryServedRouteIsDocumentedOnce) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const Route& r : table_->routes()) {
    OpenApiPath path = ToOpenApiPath(r.path, r.method->input_type());
    std::string method = absl::AsciiStrToLower(r.http_method);
    EXPECT_TRUE(seen.emplace(path.path, method).second) << "twice: " << method << " " << path.path;
    const json& op = Op(path.path, method);
    EXPECT_EQ(op.value("x-passerelle-rpc", ""), r.grpc_path) << method << " " << path.path;
  }
  for (const FixedRoute& f : kFixedRoutes) {
    std::string method = absl::AsciiStrToLower(std::string(f.http_method));
    EXPECT_TRUE(seen.emplace(std::string(f.path), method).second);
    EXPECT_FALSE(Op(std::string(f.path), method).is_null());
  }
  EXPECT_EQ(Operations().size(), seen.size()) << "the document has operations no route serves";
}

// And the other way: each documented operation, its path filled with sample values, is found
// by the router as that same RPC (or is one of the gateway's fixed routes).
TEST_F(OpenApiTest, EveryDocumentedOperationIsServed) {
  std::set<std::pair<std::string, std::string>> fixed;
  for (const FixedRoute& f : kFixedRoutes) {
    fixed.emplace(std::string(f.path), absl::AsciiStrToLower(std::string(f.http_method)));
  }
  for (const Documented& d : Operations()) {
    if (fixed.count({d.path, d.method}) > 0) continue;
    std::string concrete;
    int n = 0;
    for (size_t i = 0; i < d.path.size(); ++i) {
      if (d.path[i] != '{') {
        concrete.push_back(d.path[i]);
        continue;
      }
      i = d.path.find('}', i);
      absl::StrAppend(&concrete, "sample-", ++n);
    }
    auto split = SplitRequestPath(concrete);
    ASSERT_TRUE(split.ok()) << concrete;
    RouteTable::Lookup found = table_->Find(absl::AsciiStrToUpper(d.method), *split);
    ASSERT_NE(found.route, nullptr) << "not served: " << d.method << " " << d.path;
    EXPECT_EQ(found.route->grpc_path, d.op->value("x-passerelle-rpc", ""))
        << d.method << " " << d.path;
  }
}

TEST_F(OpenApiTest, EveryRefResolves) {
  std::vector<std::string> refs;
  CollectRefs(*doc_, &refs);
  ASSERT_GT(refs.size(), 100u);
  for (const std::string& ref : refs) {
    EXPECT_FALSE(Resolve(ref).is_null()) << "dangling " << ref;
  }
}

TEST_F(OpenApiTest, EveryComponentIsUsed) {
  std::vector<std::string> refs;
  CollectRefs(*doc_, &refs);
  std::set<std::string> used(refs.begin(), refs.end());
  for (const char* section : {"schemas", "responses", "parameters", "headers"}) {
    for (const auto& [name, unused] : (*doc_)["components"][section].items()) {
      EXPECT_TRUE(used.count(absl::StrCat("#/components/", section, "/", name)) > 0)
          << section << "/" << name << " is never referenced";
    }
  }
}

// Every message and enum a client reads or writes has its schema, found here by walking the
// descriptors from the routes, independently of the generator.
TEST_F(OpenApiTest, EveryReachableMessageHasASchema) {
  std::vector<const Descriptor*> messages;
  std::set<std::string> expected;
  auto add = [&](const Descriptor* m) {
    if (m->full_name().starts_with("google.protobuf.")) return;
    if (expected.insert(SchemaName(m->full_name())).second) messages.push_back(m);
  };
  for (const Route& r : table_->routes()) {
    if (r.body == "*") add(r.method->input_type());
    if (r.body_field != nullptr && r.body_field->message_type() != nullptr) {
      add(r.body_field->message_type());
    }
    if (!r.raw_response()) add(r.method->output_type());
  }
  while (!messages.empty()) {
    const Descriptor* m = messages.back();
    messages.pop_back();
    for (int i = 0; i < m->field_count(); ++i) {
      const FieldDescriptor* f = m->field(i);
      if (f->is_map()) f = f->message_type()->map_value();
      if (f->enum_type() != nullptr) expected.insert(SchemaName(f->enum_type()->full_name()));
      if (f->message_type() != nullptr) add(f->message_type());
    }
  }
  ASSERT_GT(expected.size(), 40u);
  for (const std::string& name : expected) {
    EXPECT_TRUE((*doc_)["components"]["schemas"].contains(name)) << "no schema for " << name;
  }
}

TEST_F(OpenApiTest, EveryOperationHasASummaryAUniqueIdAndSecurity) {
  std::set<std::string> ids;
  for (const Documented& d : Operations()) {
    EXPECT_FALSE(d.op->value("summary", "").empty()) << d.method << " " << d.path;
    EXPECT_TRUE(ids.insert(d.op->value("operationId", "")).second)
        << d.op->value("operationId", "");
    EXPECT_TRUE(d.op->contains("security")) << d.path;
    EXPECT_TRUE(d.op->contains("x-passerelle-scope")) << d.path;
    EXPECT_TRUE((*d.op)["responses"].contains("400")) << d.path;
  }
  EXPECT_EQ(Op("/v1/venues/{venue}", "get")["operationId"], "VenueService_GetVenue");
  EXPECT_EQ(Op("/v1/venues/{venue}", "get")["summary"], "Returns one venue (AIP-131)");
}

TEST_F(OpenApiTest, PathParametersAreUniqueAndMatchThePath) {
  for (const Documented& d : Operations()) {
    std::vector<std::string> in_path;
    for (size_t i = d.path.find('{'); i != std::string::npos; i = d.path.find('{', i + 1)) {
      in_path.push_back(d.path.substr(i + 1, d.path.find('}', i) - i - 1));
    }
    std::set<std::string> unique(in_path.begin(), in_path.end());
    EXPECT_EQ(unique.size(), in_path.size()) << d.path;
    std::set<std::string> declared;
    for (const json& p : d.op->value("parameters", json::array())) {
      if (p.contains("in") && p["in"] == "path") {
        EXPECT_TRUE(p["required"].get<bool>()) << d.path;
        declared.insert(p["name"].get<std::string>());
      }
    }
    EXPECT_EQ(declared, unique) << d.method << " " << d.path;
  }
}

TEST(OpenApiPathTest, NamesEachStarAfterItsCollection) {
  auto path = [](std::string_view text) {
    auto parsed = PathTemplate::Parse(text);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    OpenApiPath p = ToOpenApiPath(*parsed, nullptr);
    std::vector<std::string> names;
    for (const PathParameter& param : p.parameters) names.push_back(param.name);
    return std::make_pair(p.path, names);
  };
  EXPECT_EQ(path("/v1/{name=venues/*}:withdraw").first, "/v1/venues/{venue}:withdraw");
  EXPECT_EQ(path("/v1/{name=nomenclatures/*/versions/*}").first,
            "/v1/nomenclatures/{nomenclature}/versions/{version}");
  EXPECT_EQ(path("/v1/{parent=categories/*}/boxes").first, "/v1/categories/{category}/boxes");
  EXPECT_EQ(path("/v1/sources/{source}/venues:import").first, "/v1/sources/{source}/venues:import");
  EXPECT_EQ(path("/v1/areaLayers/{layer}:import").first, "/v1/areaLayers/{areaLayer}:import");
  // Right after the version, the field names the parameter.
  EXPECT_EQ(path("/v1/{layer}").first, "/v1/{layer}");
  // The same collection twice still gives distinct names.
  EXPECT_THAT(path("/v1/{a=things/*}/{b=things/*}").second, ElementsAre("thing", "thing2"));
}

TEST_F(OpenApiTest, ResourcePathsReadAsCollections) {
  EXPECT_FALSE(Op("/v1/venues/{venue}:withdraw", "post").is_null());
  EXPECT_FALSE(Op("/v1/nomenclatures/{nomenclature}/versions/{version}:diff", "get").is_null());
  EXPECT_FALSE(Op("/v1/sync/sources/{source}/runs/{run}/errors", "get").is_null());
  const json& patch = Op("/v1/venues/{venue}", "patch");
  EXPECT_THAT(Parameter(patch, "venue")["description"].get<std::string>(),
              ::testing::HasSubstr("venue.name"));
}

TEST_F(OpenApiTest, AccessIsDeclaredPerOperation) {
  const json& get = Op("/v1/venues/{venue}", "get");
  EXPECT_EQ(get["x-passerelle-scope"], "public");
  EXPECT_EQ(get["security"], json::parse(R"([{}, {"bearerAuth": []}])"));
  EXPECT_FALSE(get["responses"].contains("403"));
  const json& create = Op("/v1/venues", "post");
  EXPECT_EQ(create["x-passerelle-scope"], "organisation:write");
  EXPECT_EQ(create["security"], json::parse(R"([{"bearerAuth": []}])"));
  EXPECT_TRUE(create["responses"].contains("403"));
  EXPECT_THAT(create["description"].get<std::string>(),
              ::testing::HasSubstr("venue.ownerOrganisation"));
  EXPECT_EQ(Op("/v1/sync/sources", "get")["x-passerelle-scope"], "admin");
  // A public list whose `showWithdrawn` needs the partner scope can answer 403.
  const json& list = Op("/v1/venues", "get");
  EXPECT_EQ(Parameter(list, "showWithdrawn")["x-passerelle-scope"], "partner");
  EXPECT_TRUE(list["responses"].contains("403"));
}

TEST_F(OpenApiTest, QueryParametersAreTheFieldsLeftOver) {
  const json& search = Op("/v1/venues:search", "get");
  std::set<std::string> names;
  for (const json& p : search["parameters"]) {
    json resolved = p.contains("$ref") ? Resolve(p["$ref"]) : p;
    names.insert(resolved["name"].get<std::string>());
  }
  EXPECT_THAT(names, Contains("near.latitude"));
  EXPECT_THAT(names, Contains("within.maxLongitude"));
  EXPECT_THAT(names, Contains("openAt"));
  EXPECT_THAT(names, Contains("If-None-Match"));
  EXPECT_THAT(names, Contains("X-Request-Id"));
  json services = Parameter(search, "services");
  EXPECT_EQ(services["style"], "form");
  EXPECT_EQ(services["explode"], true);
  EXPECT_EQ(services["schema"]["type"], "array");
  EXPECT_EQ(services["schema"]["items"]["$ref"], "#/components/schemas/venues.v1.Service");
  EXPECT_EQ(Parameter(search, "openAt")["schema"]["format"], "date-time");
  // A nested field carries what its message is for, and the oneof it belongs to.
  std::string latitude = Parameter(search, "near.latitude")["description"];
  EXPECT_THAT(latitude, ::testing::HasSubstr("Center latitude"));
  EXPECT_THAT(latitude, ::testing::HasSubstr("Around a point"));
  EXPECT_THAT(latitude, ::testing::HasSubstr("Un seul de : `near`, `within`."));
  // Path fields and the body are not parameters; a whole-body request has none.
  const json& update = Op("/v1/venues/{venue}", "patch");
  EXPECT_FALSE(Parameter(update, "updateMask").is_null());
  EXPECT_TRUE(Parameter(update, "venue.name").is_null());
  EXPECT_FALSE(Parameter(update, "If-Match").is_null());
  EXPECT_FALSE(Parameter(update, "Idempotency-Key").is_null());
  EXPECT_TRUE(update["responses"].contains("412"));
  const json& withdraw = Op("/v1/venues/{venue}:withdraw", "post");
  EXPECT_TRUE(Parameter(withdraw, "reason").is_null());
  EXPECT_FALSE(Parameter(withdraw, "If-Match").is_null());
  EXPECT_EQ(withdraw["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/venues.v1.WithdrawVenueRequest");
  // A report's correction names its revision (If-Match) and may be retried (Idempotency-Key).
  const json& correct = Op("/v1/activityReports/{activityReport}:correct", "post");
  EXPECT_FALSE(Parameter(correct, "If-Match").is_null());
  EXPECT_FALSE(Parameter(correct, "Idempotency-Key").is_null());
  // A method open to more scopes says so.
  std::string scores = Op("/v1/equalityScores", "get")["description"];
  EXPECT_THAT(scores, ::testing::HasSubstr("`partner`, `organisation:write` (ou `admin`)"));
}

TEST_F(OpenApiTest, ResponsesCarryTheirStatusesAndHeaders) {
  const json& create = Op("/v1/venues", "post");
  EXPECT_FALSE(create["responses"].contains("200"));
  EXPECT_TRUE(create["responses"]["201"]["headers"].contains("Location"));
  EXPECT_EQ(create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/venues.v1.Venue");
  EXPECT_EQ(create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/venues.v1.Venue");
  EXPECT_TRUE(create["responses"].contains("415"));
  const json& get = Op("/v1/venues/{venue}", "get");
  EXPECT_TRUE(get["responses"]["200"]["headers"].contains("ETag"));
  EXPECT_TRUE(get["responses"]["200"]["headers"].contains("RateLimit-Remaining"));
  EXPECT_TRUE(get["responses"].contains("304"));
  EXPECT_FALSE(get["responses"].contains("409"));
  EXPECT_TRUE(Op("/v1/venues", "get")["responses"]["200"]["headers"].contains("Link"));
  for (const char* code : {"401", "404", "429", "500", "503", "504"}) {
    EXPECT_TRUE(get["responses"].contains(code)) << code;
  }
  json not_found = Resolve(get["responses"]["404"]["$ref"]);
  EXPECT_EQ(not_found["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error");
  EXPECT_TRUE(Resolve("#/components/responses/TooManyRequests")["headers"].contains("Retry-After"));
}

TEST_F(OpenApiTest, RawBodiesHaveTheirMediaTypes) {
  json venues_export = Op("/v1/venues:export", "get")["responses"]["200"];
  std::set<std::string> types;
  for (const auto& [media, unused] : venues_export["content"].items()) types.insert(media);
  EXPECT_THAT(types, UnorderedElementsAre("text/csv", "application/geo+json", "application/json"));
  EXPECT_TRUE(venues_export["headers"].contains("Content-Disposition"));
  EXPECT_FALSE(Op("/v1/venues:export", "get")["responses"].contains("304"));
  json version_export =
      Op("/v1/nomenclatures/{nomenclature}/versions/{version}:export", "get")["responses"]["200"];
  EXPECT_TRUE(version_export["content"].contains("text/turtle"));
  const json& import = Op("/v1/sources/{source}/venues:import", "post");
  EXPECT_TRUE(import["requestBody"]["content"].contains("text/csv"));
  EXPECT_TRUE(import["responses"].contains("415"));
  EXPECT_FALSE(import["responses"]["200"]["headers"].contains("ETag"));
  EXPECT_TRUE(import["responses"].contains("413"));
  const json& layer = Op("/v1/areaLayers/{areaLayer}:import", "post");
  EXPECT_TRUE(layer["requestBody"]["content"].contains("application/geo+json"));
  EXPECT_FALSE(Parameter(layer, "title").is_null());
  EXPECT_TRUE(Parameter(layer, "geojson").is_null());
}

TEST_F(OpenApiTest, SchemasFollowTheProto3JsonMapping) {
  const json& venue = Schema("venues.v1.Venue");
  EXPECT_EQ(venue["type"], "object");
  EXPECT_TRUE(venue["properties"].contains("codePostal"));
  EXPECT_FALSE(venue["properties"].contains("code_postal"));
  EXPECT_EQ(venue["properties"]["createTime"]["format"], "date-time");
  EXPECT_EQ(venue["properties"]["createTime"]["readOnly"], true);
  EXPECT_FALSE(venue["properties"]["nom"].contains("readOnly"));
  EXPECT_EQ(venue["properties"]["services"]["type"], "array");
  EXPECT_EQ(venue["properties"]["latitude"]["type"], "number");
  EXPECT_EQ(venue["properties"]["provenance"]["$ref"], "#/components/schemas/venues.v1.Provenance");
  const json& run = Schema("sync.v1.Run");
  EXPECT_EQ(run["properties"]["fileBytes"]["type"], json::parse(R"(["string", "integer"])"));
  EXPECT_EQ(run["properties"]["fileBytes"]["format"], "int64");
  EXPECT_EQ(run["properties"]["state"]["$ref"], "#/components/schemas/sync.v1.Run.State");
  EXPECT_EQ(Schema("sync.v1.Source")["properties"]["authorization"]["writeOnly"], true);
  EXPECT_EQ(Schema("sync.v1.Source")["properties"]["refreshInterval"]["type"], "string");
  const json& state = Schema("venues.v1.VenueState");
  EXPECT_EQ(state["type"], "string");
  EXPECT_EQ(state["enum"], json::parse(R"(["VENUE_STATE_UNSPECIFIED", "ACTIVE", "WITHDRAWN"])"));
  EXPECT_THAT(state["description"].get<std::string>(), ::testing::HasSubstr("Withdrawn"));
  // Maps (google.rpc.ErrorInfo.metadata) are objects of their values.
  EXPECT_EQ(
      Schema("google.rpc.ErrorInfo")["properties"]["metadata"]["additionalProperties"]["type"],
      "string");
  EXPECT_EQ(Schema("Error")["properties"]["error"]["properties"]["details"]["items"]["$ref"],
            "#/components/schemas/ErrorDetail");
}

TEST_F(OpenApiTest, CommentsBecomeDescriptions) {
  EXPECT_EQ(Schema("venues.v1.Venue")["properties"]["codePostal"]["description"],
            "Standard `code_postal` (required, 5 digits).");
  const json& tags = (*doc_)["tags"];
  bool found = false;
  for (const json& tag : tags) {
    if (tag["name"] == "VenueService") {
      found = true;
      EXPECT_THAT(tag["description"].get<std::string>(),
                  ::testing::HasSubstr("Reads and writes venues."));
    }
  }
  EXPECT_TRUE(found);
  EXPECT_THAT(Op("/v1/venues/{venue}", "get")["description"].get<std::string>(),
              ::testing::HasSubstr("Accès : public"));
}

// A small API made here, for what the real one does not use yet: bytes, uint64, maps, oneofs in a
// body, recursive messages, additional bindings, methods without comments.
constexpr char kThingProto[] = R"pb(
  name: "test/v1/thing.proto"
  package: "test.v1"
  dependency: "google/api/annotations.proto"
  dependency: "passerelle/api/v1/access.proto"
  syntax: "proto3"
  message_type {
    name: "Thing"
    field { name: "name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "blob" number: 2 label: LABEL_OPTIONAL type: TYPE_BYTES }
    field { name: "big_count" number: 3 label: LABEL_OPTIONAL type: TYPE_UINT64 }
    field {
      name: "labels"
      number: 4
      label: LABEL_REPEATED
      type: TYPE_MESSAGE
      type_name: ".test.v1.Thing.LabelsEntry"
    }
    field {
      name: "circle"
      number: 5
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".test.v1.Circle"
      oneof_index: 0
    }
    field { name: "code" number: 6 label: LABEL_OPTIONAL type: TYPE_STRING oneof_index: 0 }
    field {
      name: "parent_thing"
      number: 7
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".test.v1.Thing"
    }
    field {
      name: "kind"
      number: 8
      label: LABEL_OPTIONAL
      type: TYPE_ENUM
      type_name: ".test.v1.Thing.Kind"
    }
    nested_type {
      name: "LabelsEntry"
      field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
      field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
      options { map_entry: true }
    }
    enum_type {
      name: "Kind"
      value { name: "KIND_UNSPECIFIED" number: 0 }
      value { name: "BIG" number: 1 }
    }
    oneof_decl { name: "shape" }
  }
  message_type {
    name: "Circle"
    field { name: "radius_meters" number: 1 label: LABEL_OPTIONAL type: TYPE_DOUBLE }
  }
  message_type {
    name: "GetThingRequest"
    field { name: "name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field {
      name: "like"
      number: 2
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".test.v1.Thing"
    }
    field {
      name: "circles"
      number: 3
      label: LABEL_REPEATED
      type: TYPE_MESSAGE
      type_name: ".test.v1.Circle"
    }
  }
  service {
    name: "ThingService"
    method {
      name: "GetThing"
      input_type: ".test.v1.GetThingRequest"
      output_type: ".test.v1.Thing"
      options {
        [google.api.http] {
          get: "/v1/{name=things/*}"
          additional_bindings { get: "/v1/{name=boxes/*/things/*}" }
        }
        [passerelle.api.v1.access] { scope: PUBLIC }
      }
    }
    method {
      name: "CreateThing"
      input_type: ".test.v1.Thing"
      output_type: ".test.v1.Thing"
      options {
        [google.api.http] { post: "/v1/things" body: "*" }
        [passerelle.api.v1.access] { scope: ADMIN }
      }
    }
  }
)pb";

class SyntheticApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    google::protobuf::FileDescriptorSet set;
    const google::protobuf::DescriptorPool* generated =
        google::protobuf::DescriptorPool::generated_pool();
    for (const char* file : {"google/protobuf/descriptor.proto", "google/api/http.proto",
                             "google/api/annotations.proto", "passerelle/api/v1/access.proto"}) {
      const google::protobuf::FileDescriptor* f = generated->FindFileByName(file);
      ASSERT_NE(f, nullptr) << file;
      f->CopyTo(set.add_file());
    }
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kThingProto, set.add_file()));
    auto loaded = ApiSchema::Load(set.SerializeAsString());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    schema_ = *std::move(loaded);
    auto built = RouteTable::Build(*schema_);
    ASSERT_TRUE(built.ok()) << built.status();
    table_ = std::make_unique<RouteTable>(*std::move(built));
    doc_ = json::parse(BuildOpenApi(*schema_, *table_, "https://api.example.org"));
  }
  std::unique_ptr<ApiSchema> schema_;
  std::unique_ptr<RouteTable> table_;
  json doc_;
};

TEST_F(SyntheticApiTest, AdditionalBindingsAreOperationsOfTheirOwn) {
  const json& paths = doc_["paths"];
  ASSERT_TRUE(paths.contains("/v1/things/{thing}"));
  ASSERT_TRUE(paths.contains("/v1/boxes/{box}/things/{thing}"));
  EXPECT_EQ(paths["/v1/things/{thing}"]["get"]["operationId"], "ThingService_GetThing");
  EXPECT_EQ(paths["/v1/boxes/{box}/things/{thing}"]["get"]["operationId"],
            "ThingService_GetThing_2");
  // No comment: the method's name is the summary.
  EXPECT_EQ(paths["/v1/things/{thing}"]["get"]["summary"], "GetThing");
  EXPECT_EQ(paths["/v1/things"]["post"]["x-passerelle-scope"], "admin");
  EXPECT_TRUE(paths["/v1/things"]["post"]["responses"].contains("201"));
  EXPECT_EQ(doc_["servers"][0]["url"], "https://api.example.org");
}

TEST_F(SyntheticApiTest, ScalarsMapsAndOneofsFollowTheJsonMapping) {
  const json& thing = doc_["components"]["schemas"]["test.v1.Thing"];
  EXPECT_EQ(thing["properties"]["blob"]["contentEncoding"], "base64");
  EXPECT_EQ(thing["properties"]["bigCount"]["type"], json::parse(R"(["string", "integer"])"));
  EXPECT_EQ(thing["properties"]["bigCount"]["format"], "uint64");
  EXPECT_EQ(thing["properties"]["labels"]["type"], "object");
  EXPECT_EQ(thing["properties"]["labels"]["additionalProperties"]["type"], "string");
  EXPECT_EQ(thing["properties"]["parentThing"]["$ref"], "#/components/schemas/test.v1.Thing");
  EXPECT_EQ(thing["properties"]["kind"]["$ref"], "#/components/schemas/test.v1.Thing.Kind");
  EXPECT_EQ(thing["not"], json::parse(R"({"required": ["circle", "code"],
                                          "properties": {"circle": {}, "code": {}}})"));
  EXPECT_FALSE(doc_["components"]["schemas"].contains("test.v1.Thing.LabelsEntry"));
  EXPECT_EQ(doc_["components"]["schemas"]["test.v1.Thing.Kind"]["enum"],
            json::parse(R"(["KIND_UNSPECIFIED", "BIG"])"));
}

TEST_F(SyntheticApiTest, QueryParametersStopAtMapsRepeatedMessagesAndCycles) {
  std::set<std::string> names;
  for (const json& p : doc_["paths"]["/v1/things/{thing}"]["get"]["parameters"]) {
    if (p.contains("in") && p["in"] == "query") names.insert(p["name"].get<std::string>());
  }
  EXPECT_THAT(names, UnorderedElementsAre("like.name", "like.blob", "like.bigCount",
                                          "like.circle.radiusMeters", "like.code", "like.kind"));
}

}  // namespace
}  // namespace passerelle::gateway
