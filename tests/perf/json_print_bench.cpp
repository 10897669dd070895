// The gateway's JSON for a REST search answer: 20 venues with every field set, printed by the
// gateway's printer (services/gateway/json_print) and, in the same run, by protobuf's own
// converter (BinaryToJsonString, the reference and the printer's fallback). Both outputs are
// parsed back and must be the same JSON. Figures in docs/performance.md.
//
//   json_print_bench [answers]   (default 20000; the test command runs 1000)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "passerelle/venues/v1/venues.pb.h"
#include "services/gateway/api_schema.hpp"
#include "services/venues/sample_venue.hpp"

namespace {

using google::protobuf::FieldDescriptor;
using passerelle::venues::v1::SearchVenuesResponse;
using passerelle::venues::v1::Venue;

// Every string field of a venue set, with the accents, quotes and line breaks of real French
// text (what the escaping has to look at), every enumeration list given two values.
Venue FullVenue(int i) {
  Venue v = passerelle::venues::itest::Valid("lieu-" + std::to_string(i),
                                             "Médiathèque « L'Odyssée » n°" + std::to_string(i));
  const google::protobuf::Reflection* r = v.GetReflection();
  const google::protobuf::Descriptor* d = v.GetDescriptor();
  const std::string text =
      "Accompagnement aux démarches en ligne (CAF, impôts, Ameli), ateliers d'initiation à "
      "l'ordinateur et au smartphone.\nSur rendez-vous le mardi : « venez avec vos "
      "identifiants ».";
  for (int f = 0; f < d->field_count(); ++f) {
    const FieldDescriptor* field = d->field(f);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
        field->type() != FieldDescriptor::TYPE_BYTES) {
      if (field->is_repeated()) {
        if (r->FieldSize(v, field) == 0) {
          r->AddString(&v, field, field->name() + " élément un");
          r->AddString(&v, field, field->name() + " élément deux");
        }
      } else if (r->GetString(v, field).empty()) {
        r->SetString(&v, field,
                     field->name() == "horaires" ? "Mo-Fr 09:00-12:00,14:00-17:30" : text);
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM && field->is_repeated() &&
               r->FieldSize(v, field) == 0 && field->enum_type()->value_count() > 2) {
      r->AddEnumValue(&v, field, field->enum_type()->value(1)->number());
      r->AddEnumValue(&v, field, field->enum_type()->value(2)->number());
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !field->is_repeated() &&
               field->message_type()->full_name() == "google.protobuf.Timestamp") {
      google::protobuf::Message* t = r->MutableMessage(&v, field);
      t->GetReflection()->SetInt64(t, t->GetDescriptor()->field(0), 1764000000 + i);
    }
  }
  return v;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int answers = argc > 1 ? std::atoi(argv[1]) : 20000;
  if (answers <= 0) {
    std::fprintf(stderr, "usage: json_print_bench [answers > 0]\n");
    return 2;
  }
  auto schema = passerelle::gateway::ApiSchema::LoadEmbedded();
  if (!schema.ok()) {
    std::fprintf(stderr, "schema: %s\n", std::string(schema.status().message()).c_str());
    return 1;
  }
  const passerelle::gateway::ApiSchema& api = **schema;
  const google::protobuf::Descriptor* type =
      api.pool().FindMessageTypeByName("passerelle.venues.v1.SearchVenuesResponse");
  if (type == nullptr) return 1;
  SearchVenuesResponse response;
  for (int i = 0; i < 20; ++i) {
    auto* match = response.add_results();
    *match->mutable_venue() = FullVenue(i);
    match->set_distance_meters(120.5 * i);
  }
  response.set_next_page_token("CgQIARAB_opaque-token");
  response.set_total_size(1100);
  const std::string bytes = response.SerializeAsString();

  // The same JSON from both, or the figures mean nothing.
  std::optional<std::string> ours = api.printer().Print(type, bytes);
  std::string reference;
  const auto status = google::protobuf::util::BinaryToJsonString(
      api.resolver(), passerelle::gateway::ApiSchema::TypeUrl(type), bytes, &reference);
  if (!ours || !status.ok() || nlohmann::json::parse(*ours) != nlohmann::json::parse(reference)) {
    std::fprintf(stderr, "the printers disagree (or one refused the answer)\n");
    return 1;
  }
  // A backend's answer is canonical: the printer's wire walk takes it (json_print.hpp).
  if (api.printer().PrintWire(type, bytes) != ours) {
    std::fprintf(stderr, "the wire walk did not answer, or answered otherwise\n");
    return 1;
  }

  // Ten rounds, each printer in turn: what else runs on the machine weighs on both alike.
  size_t sink = 0;
  double ours_s = 0, reference_s = 0;
  const int rounds = 10;
  const int ours_per_round = std::max(1, answers / rounds);
  const int reference_per_round = std::max(1, ours_per_round / 4);
  for (int round = 0; round < rounds; ++round) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < ours_per_round; ++i) sink += api.printer().Print(type, bytes)->size();
    ours_s += Seconds(start);
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < reference_per_round; ++i) {
      std::string out;
      (void)google::protobuf::util::BinaryToJsonString(
          api.resolver(), passerelle::gateway::ApiSchema::TypeUrl(type), bytes, &out);
      sink += out.size();
    }
    reference_s += Seconds(start);
  }
  const int ours_answers = ours_per_round * rounds;
  const int reference_answers = reference_per_round * rounds;
  const double ours_us = ours_s * 1e6 / ours_answers;
  const double reference_us = reference_s * 1e6 / reference_answers;
  std::printf("gateway JSON of a search answer (20 venues, every field): %zu bytes in, %zu out\n",
              bytes.size(), ours->size());
  std::printf("  gateway printer        %8.1f us/answer  %7.1f MB/s of JSON  (%d answers)\n",
              ours_us, static_cast<double>(ours->size()) / ours_us, ours_answers);
  std::printf("  protobuf's converter   %8.1f us/answer  %7.1f MB/s of JSON  (%d answers)\n",
              reference_us, static_cast<double>(reference.size()) / reference_us,
              reference_answers);
  std::printf("  -> %.1fx protobuf's converter (checksum %zu)\n", reference_us / ours_us, sink);
  return 0;
}
