// The gateway's request builder: a method byte, then `target\nbody`, through path splitting,
// route matching, query and JSON transcoding and the conversion to the request message
// (services/gateway/transcode.cpp). Properties: no crash, bounded work, every refusal an
// INVALID_ARGUMENT (or a reasoned one) whose message and violations are valid UTF-8; a request
// built is the message protobuf's own JSON parser reads from the same JSON.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "libs/api/status.hpp"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/routes.hpp"
#include "services/gateway/transcode.hpp"
#include "tests/fuzz/check.hpp"

using namespace passerelle;
using namespace passerelle::gateway;

namespace {

struct World {
  std::unique_ptr<ApiSchema> schema;
  std::unique_ptr<RouteTable> routes;
};

World& TheWorld() {
  static World* world = [] {
    auto* w = new World();
    w->schema = *ApiSchema::LoadEmbedded();
    w->routes = std::make_unique<RouteTable>(*RouteTable::Build(*w->schema));
    return w;
  }();
  return *world;
}

void CheckRefusal(const absl::Status& status, std::string_view where) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument,
             std::string(where) + " refused with another code than INVALID_ARGUMENT");
  fuzz::CheckMessage(status.message(), where);
  for (const api::FieldViolation& v : api::Violations(status)) {
    fuzz::CheckMessage(v.field, where);
    fuzz::CheckMessage(v.description, where);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 64 * 1024) return 0;
  World& w = TheWorld();
  static const char* kMethods[] = {"GET", "POST", "PATCH", "DELETE", "HEAD", "PUT"};
  std::string_view method = kMethods[data[0] % 6];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t newline = rest.find('\n');
  std::string_view target = rest.substr(0, newline);
  std::string_view body = newline == std::string_view::npos ? "" : rest.substr(newline + 1);
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view query =
      target.find('?') == std::string_view::npos ? "" : target.substr(target.find('?') + 1);

  absl::StatusOr<SplitPath> split = SplitRequestPath(path);
  if (!split.ok()) {
    CheckRefusal(split.status(), "path");
    return 0;
  }
  RouteTable::Lookup found = w.routes->Find(method, *split);
  if (found.route == nullptr) return 0;
  HttpInput input;
  input.bindings = found.bindings;
  input.query = query;
  input.body = body;
  input.content_type = "application/json";
  if (!body.empty() && (body[0] & 1)) input.if_match = std::string(body.substr(0, 8));
  absl::StatusOr<nlohmann::json> json = RequestJson(*found.route, input);
  if (!json.ok()) {
    if (api::Violations(json.status()).empty() && !absl::IsInvalidArgument(json.status())) {
      FUZZ_CHECK(false, "request refused without a reason");
    }
    CheckRefusal(json.status(), "request");
    return 0;
  }
  absl::StatusOr<std::string> bytes = JsonToRequest(*w.schema, *found.route, *json);
  if (!bytes.ok()) {
    CheckRefusal(bytes.status(), "conversion");
    return 0;
  }
  static google::protobuf::DynamicMessageFactory* factory =
      new google::protobuf::DynamicMessageFactory(&w.schema->pool());
  const google::protobuf::Message* prototype =
      factory->GetPrototype(found.route->method->input_type());
  std::unique_ptr<google::protobuf::Message> built(prototype->New());
  std::unique_ptr<google::protobuf::Message> reference(prototype->New());
  FUZZ_CHECK(built->ParseFromString(*bytes), "the request built does not parse");
  FUZZ_CHECK(google::protobuf::util::JsonStringToMessage(json->dump(), reference.get()).ok(),
             "a request was built from JSON protobuf's parser refuses: " + json->dump());
  google::protobuf::util::DefaultFieldComparator numbers;
  numbers.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differ;
  differ.set_field_comparator(&numbers);
  FUZZ_CHECK(differ.Compare(*built, *reference),
             "the request built is not what protobuf's parser reads: " + json->dump());
  return 0;
}
