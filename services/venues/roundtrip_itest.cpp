// Property test through the API of the passerelle-venues binary: random valid venues sent with
// BatchUpsertVenues come back unchanged from GetVenue and from ExportVenues (national CSV and
// GeoJSON), and sending them again changes nothing. A failure prints its seed;
// PASSERELLE_ROUNDTRIP_SEED=<seed> replays it.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>
#include <map>

#include "gtest/gtest.h"
#include "libs/standard/exchange.hpp"
#include "libs/standard/roundtrip_generator.hpp"
#include "libs/standard/venue.hpp"
#include "libs/testing/testing.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/itest_support.hpp"

namespace passerelle::venues {
namespace {

using namespace std::chrono_literals;

constexpr int kVenues = 300;

class RoundTripApiTest : public itest::VenuesServiceTest {};

TEST_F(RoundTripApiTest, UpsertedVenuesComeBackUnchangedFromGetAndExports) {
  const standard::Standard& standard = standard::Standard::V102();
  const uint64_t seed = standard::roundtrip::Seed();
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE(absl::StrCat("seed ", seed, " (replay: PASSERELLE_ROUNDTRIP_SEED=", seed, ")"));
  standard::roundtrip::Generator gen(standard, seed);
  ASSERT_TRUE(CreateOrganisation("ville-de-roubaix-dsi").ok());
  std::vector<v1::Venue> sent;
  std::map<std::string, const v1::Venue*> by_id;
  for (int i = 0; i < kVenues; ++i) {
    sent.push_back(gen.Venue(i));
    // Local fields the API keeps beside the standard's.
    sent.back().set_owner_organisation(gen.Chance(0.5) ? "ville-de-roubaix-dsi" : "");
    sent.back().set_accepts_aptic_pass(gen.Chance(0.5));
  }
  for (const auto& v : sent) by_id[v.id()] = &v;

  v1::BatchUpsertVenuesResponse created;
  ASSERT_TRUE(Batch("roundtrip", sent, &created).ok());
  ASSERT_EQ(created.results_size(), kVenues);
  for (int i = 0; i < kVenues; ++i) {
    const auto& r = created.results(i);
    ASSERT_EQ(r.outcome(), v1::CREATED)
        << sent[i].id() << ": "
        << (r.violations_size() > 0 ? r.violations(0).field() + " " + r.violations(0).rule() + " " +
                                          r.violations(0).description()
                                    : "");
  }

  // GetVenue: every standard field and the local ones, as sent.
  for (int i = 0; i < kVenues; ++i) {
    grpc::ClientContext ctx;
    v1::GetVenueRequest req;
    req.set_name(created.results(i).name());
    v1::Venue got;
    ASSERT_TRUE(stub_->GetVenue(&ctx, req, &got).ok());
    EXPECT_EQ(standard::roundtrip::Differences(standard::roundtrip::StandardOnly(standard, sent[i]),
                                               standard::roundtrip::StandardOnly(standard, got)),
              "")
        << "GetVenue " << sent[i].id();
    EXPECT_EQ(got.owner_organisation(), sent[i].owner_organisation());
    EXPECT_EQ(got.accepts_aptic_pass(), sent[i].accepts_aptic_pass());
  }

  // ExportVenues, national CSV: read back as a file, the same venues.
  auto parsed = standard::ParseNationalCsv(standard, Export(v1::NATIONAL_CSV), "roundtrip");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->rejected.empty())
      << parsed->rejected[0].source_id << ": " << parsed->rejected[0].violations[0].field << " "
      << parsed->rejected[0].violations[0].rule;
  EXPECT_TRUE(parsed->normalisations.empty()) << parsed->normalisations[0];
  ASSERT_EQ(parsed->valid.size(), sent.size());
  for (const auto& row : parsed->valid) {
    v1::Venue back;
    ToProto(standard, row.venue, &back);
    ASSERT_TRUE(by_id.count(back.id())) << "unknown id in the export: " << back.id();
    EXPECT_EQ(standard::roundtrip::Differences(
                  standard::roundtrip::StandardOnly(standard, *by_id[back.id()]),
                  standard::roundtrip::StandardOnly(standard, back)),
              "")
        << "CSV export " << back.id();
  }

  // ExportVenues, GeoJSON: the standard's text of every field and the same coordinates.
  const auto doc = nlohmann::json::parse(Export(v1::GEOJSON));
  size_t located = 0;
  for (const auto& v : sent) located += v.has_latitude() && v.has_longitude();
  ASSERT_EQ(doc.at("features").size(), located);
  for (const auto& feature : doc.at("features")) {
    const auto& props = feature.at("properties");
    // Exported ids are qualified with their source (QualifiedId).
    const std::string qualified = props.at("id").get<std::string>();
    ASSERT_TRUE(qualified.starts_with("roundtrip:")) << qualified;
    const std::string id = qualified.substr(10);
    ASSERT_TRUE(by_id.count(id)) << "unknown id in the GeoJSON: " << id;
    const v1::Venue& v = *by_id[id];
    auto raw = standard::RawFromProto(standard, v);
    raw["id"] = qualified;
    for (const standard::FieldSpec& f : standard.fields()) {
      if (f.kind == standard::FieldKind::kNumber) continue;
      EXPECT_EQ(props.at(f.name).get<std::string>(), raw[f.name]) << id << " " << f.name;
    }
    EXPECT_EQ(feature.at("geometry").at("coordinates").at(0).get<double>(), v.longitude()) << id;
    EXPECT_EQ(feature.at("geometry").at("coordinates").at(1).get<double>(), v.latitude()) << id;
    EXPECT_EQ(props.at("accepts_aptic_pass").get<bool>(), v.accepts_aptic_pass()) << id;
    EXPECT_EQ(props.at("owner_organisation").get<std::string>(), v.owner_organisation()) << id;
  }

  // The same rows again: what was stored is what was sent, so nothing changes.
  v1::BatchUpsertVenuesResponse again;
  ASSERT_TRUE(Batch("roundtrip", sent, &again).ok());
  for (int i = 0; i < again.results_size(); ++i) {
    EXPECT_EQ(again.results(i).outcome(), v1::UNCHANGED)
        << sent[i].id() << " changed: "
        << (again.results(i).changed_fields_size() > 0 ? again.results(i).changed_fields(0) : "");
  }
  // And with the ids the exports wrote (`roundtrip:x`), as a partner writing an export back
  // through the batch API would: the same venues, unchanged, none created (tester 25, H2).
  std::vector<v1::Venue> exported = sent;
  for (auto& v : exported) v.set_id("roundtrip:" + v.id());
  v1::BatchUpsertVenuesResponse back;
  ASSERT_TRUE(Batch("roundtrip", exported, &back).ok());
  for (int i = 0; i < back.results_size(); ++i) {
    EXPECT_EQ(back.results(i).outcome(), v1::UNCHANGED) << exported[i].id();
    EXPECT_EQ(back.results(i).source_id(), sent[i].id());
  }
}

// GetVenue answers an active venue from the search index, a withdrawn one from the store: for
// the same revision, both must be the bytes the store's read gives (ListVenues reads the store).
TEST_F(RoundTripApiTest, GetVenueFromTheIndexIsByteIdenticalToTheStore) {
  const uint64_t seed = standard::roundtrip::Seed();
  SCOPED_TRACE(absl::StrCat("seed ", seed, " (replay: PASSERELLE_ROUNDTRIP_SEED=", seed, ")"));
  standard::roundtrip::Generator gen(standard::Standard::V102(), seed);
  ASSERT_TRUE(CreateOrganisation("ville-de-roubaix-dsi").ok());
  std::vector<v1::Venue> sent;
  for (int i = 0; i < 100; ++i) {
    sent.push_back(gen.Venue(i));
    sent.back().set_owner_organisation(gen.Chance(0.5) ? "ville-de-roubaix-dsi" : "");
    sent.back().set_accepts_aptic_pass(gen.Chance(0.5));
  }
  v1::BatchUpsertVenuesResponse created;
  ASSERT_TRUE(Batch("roundtrip", sent, &created).ok());
  for (int i = 0; i < 100; i += 10) {  // every tenth is withdrawn: the store answers for it
    grpc::ClientContext ctx;
    v1::WithdrawVenueRequest req;
    req.set_name(created.results(i).name());
    req.set_reason("Fermé");
    v1::Venue out;
    ASSERT_TRUE(stub_->WithdrawVenue(&ctx, req, &out).ok());
  }
  grpc::GenericStub generic(
      grpc::CreateChannel(binary_.grpc_address(), grpc::InsecureChannelCredentials()));
  auto get_bytes = [&](const std::string& name) {
    v1::GetVenueRequest req;
    req.set_name(name);
    grpc::Slice slice(req.SerializeAsString());
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::ClientContext ctx;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, "/passerelle.venues.v1.VenueService/GetVenue", grpc::StubOptions(),
                      &request, &response, [&](grpc::Status st) { done.set_value(st); });
    grpc::Status st = done.get_future().get();
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (response.Dump(&slices).ok()) {
      for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return bytes;
  };
  grpc::ClientContext ctx;
  v1::ListVenuesRequest list;
  list.set_page_size(1000);
  list.set_show_withdrawn(true);
  v1::ListVenuesResponse stored;
  ASSERT_TRUE(stub_->ListVenues(&ctx, list, &stored).ok());
  ASSERT_EQ(stored.venues_size(), 100);
  int withdrawn = 0;
  for (const v1::Venue& v : stored.venues()) {
    withdrawn += v.state() == v1::WITHDRAWN;
    EXPECT_EQ(get_bytes(v.name()), v.SerializeAsString()) << v.name() << " " << v.state();
  }
  EXPECT_EQ(withdrawn, 10);
  // An unknown venue is the store's NOT_FOUND, a malformed name its INVALID_ARGUMENT.
  for (const auto& [name, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
           {"venues/00000000-0000-4000-8000-000000000000", grpc::StatusCode::NOT_FOUND},
           {"venues/NOT-A-UUID", grpc::StatusCode::INVALID_ARGUMENT},
           {"", grpc::StatusCode::INVALID_ARGUMENT}}) {
    grpc::ClientContext c;
    v1::GetVenueRequest req;
    req.set_name(name);
    v1::Venue out;
    EXPECT_EQ(stub_->GetVenue(&c, req, &out).error_code(), code) << name;
  }
}

}  // namespace
}  // namespace passerelle::venues
