// The gateway's JSON printer on what a backend answers (services/gateway/json_print.cpp): a
// type byte picks one of the public methods' answer types, the rest are the answer's bytes.
// Properties: no crash, bounded work; what the printer writes is JSON and valid UTF-8, and
// protobuf's own printer accepts the same message (the printer never answers where protobuf
// would refuse; where it declines, protobuf answers or explains) and writes the same JSON. The
// wire walk alone answers only for bytes that parse, and then the same JSON again.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/json_testing.hpp"
#include "services/gateway/routes.hpp"
#include "tests/fuzz/check.hpp"

using namespace passerelle;
using namespace passerelle::gateway;

namespace {

struct World {
  std::unique_ptr<ApiSchema> schema;
  std::vector<const google::protobuf::Descriptor*> answers;
};

World& TheWorld() {
  static World* world = [] {
    auto* w = new World();
    w->schema = *ApiSchema::LoadEmbedded();
    RouteTable routes = *RouteTable::Build(*w->schema);
    for (const Route& r : routes.routes()) w->answers.push_back(r.method->output_type());
    return w;
  }();
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 64 * 1024) return 0;
  World& w = TheWorld();
  const google::protobuf::Descriptor* type = w.answers[data[0] % w.answers.size()];
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  std::optional<std::string> printed = w.schema->printer().Print(type, bytes);
  std::optional<std::string> wire = w.schema->printer().PrintWire(type, bytes);
  FUZZ_CHECK(!wire || printed, "the wire walk answered where the printer did not");
  if (!printed) return 0;
  FUZZ_CHECK(text::IsValidUtf8(*printed), "printed JSON is not valid UTF-8");
  FUZZ_CHECK(nlohmann::json::accept(*printed), "printed text is not JSON");
  // Compared on the message's canonical bytes: the printer reads what parsing means (a field
  // sent twice is merged, the last value wins), protobuf's printer each occurrence on the wire.
  static google::protobuf::DynamicMessageFactory* factory =
      new google::protobuf::DynamicMessageFactory(&w.schema->pool());
  std::unique_ptr<google::protobuf::Message> parsed(factory->GetPrototype(type)->New());
  FUZZ_CHECK(parsed->ParsePartialFromArray(bytes.data(), static_cast<int>(bytes.size())),
             "the fast printer answered for bytes that do not parse");
  std::string reference;
  google::protobuf::util::Status s =
      google::protobuf::util::BinaryToJsonString(w.schema->resolver(), ApiSchema::TypeUrl(type),
                                                 parsed->SerializePartialAsString(), &reference);
  FUZZ_CHECK(s.ok(),
             "the fast printer answered where protobuf's refuses: " + std::string(s.message()));
  nlohmann::json expected = nlohmann::json::parse(reference);
  FUZZ_CHECK(SameJson(nlohmann::json::parse(*printed), expected),
             "the fast printer and protobuf's differ:\n" + *printed + "\n" + reference);
  FUZZ_CHECK(!wire || SameJson(nlohmann::json::parse(*wire), expected),
             "the wire walk and protobuf's differ:\n" + *wire + "\n" + reference);
  return 0;
}
