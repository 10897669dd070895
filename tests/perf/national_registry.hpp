// A synthetic national registry for benchmarks: venues around 32 French cities weighted by
// population (most within 15 km of the centre), with realistic values of the national standard.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/csv/csv.hpp"
#include "libs/standard/standard.hpp"
#include "passerelle/venues/v1/venues.grpc.pb.h"

namespace passerelle::perf {

struct City {
  const char* name;
  double lat, lon;
  int weight;
};
// Where venues are in France: population-weighted city centres, mainland and Corsica.
inline const std::vector<City> kCities = {
    {"Paris", 48.8566, 2.3522, 30},
    {"Marseille", 43.2965, 5.3698, 9},
    {"Lyon", 45.7640, 4.8357, 9},
    {"Toulouse", 43.6047, 1.4442, 7},
    {"Nice", 43.7102, 7.2620, 5},
    {"Nantes", 47.2184, -1.5536, 5},
    {"Strasbourg", 48.5734, 7.7521, 5},
    {"Montpellier", 43.6108, 3.8767, 5},
    {"Bordeaux", 44.8378, -0.5792, 6},
    {"Lille", 50.6292, 3.0573, 7},
    {"Roubaix", 50.6942, 3.1746, 3},
    {"Rennes", 48.1173, -1.6778, 4},
    {"Reims", 49.2583, 4.0317, 3},
    {"Le Havre", 49.4944, 0.1079, 3},
    {"Saint-Étienne", 45.4397, 4.3872, 3},
    {"Toulon", 43.1242, 5.9280, 3},
    {"Grenoble", 45.1885, 5.7245, 3},
    {"Dijon", 47.3220, 5.0415, 3},
    {"Angers", 47.4784, -0.5632, 2},
    {"Nîmes", 43.8367, 4.3601, 2},
    {"Clermont-Ferrand", 45.7772, 3.0870, 2},
    {"Limoges", 45.8336, 1.2611, 2},
    {"Tours", 47.3941, 0.6848, 2},
    {"Amiens", 49.8941, 2.2958, 2},
    {"Metz", 49.1193, 6.1757, 2},
    {"Besançon", 47.2378, 6.0241, 2},
    {"Perpignan", 42.6887, 2.8948, 2},
    {"Orléans", 47.9030, 1.9093, 2},
    {"Rouen", 49.4432, 1.0999, 2},
    {"Caen", 49.1829, -0.3707, 2},
    {"Brest", 48.3904, -4.4861, 2},
    {"Ajaccio", 41.9192, 8.7386, 1},
};

/// The national CSV (v1.0.2) of `n` venues, ids bench-0 to bench-(n-1).
inline std::string GenerateRegistry(int n, std::mt19937& rng) {
  const auto& standard = standard::Standard::V102();
  std::vector<std::string> header;
  for (const auto& f : standard.fields()) header.push_back(f.name);
  std::string out = csv::Line(header, ',', true);
  std::vector<int> weights;
  for (const auto& c : kCities) weights.push_back(c.weight);
  std::discrete_distribution<int> city(weights.begin(), weights.end());
  std::normal_distribution<double> spread(0, 0.07);
  const char* kinds[] = {
      "Médiathèque", "Centre social", "France Services",   "Association", "Mairie",
      "Tiers-lieu",  "CCAS",          "Maison de quartier"};
  const auto& services = standard.Find("services")->values;
  for (int i = 0; i < n; ++i) {
    const City& c = kCities[city(rng)];
    std::map<std::string, std::string> row = {
        {"id", absl::StrCat("bench-", i)},
        {"pivot", absl::StrCat(10000000000000LL + i)},
        {"nom", absl::StrCat(kinds[rng() % 8], " ", c.name, " ", i)},
        {"commune", c.name},
        {"code_postal", absl::StrCat(10000 + rng() % 85000)},
        {"adresse", absl::StrCat(1 + rng() % 200, " rue de la République")},
        {"latitude", absl::StrCat(c.lat + spread(rng))},
        {"longitude", absl::StrCat(c.lon + spread(rng) * 1.4)},
        {"typologie", "ASSO"},
        {"horaires", "Mo-Fr 09:00-12:00,14:00-18:00"},
        {"presentation_resume", "Accompagnement au numérique et aux démarches en ligne."},
        {"date_maj", "2026-10-01"},
        {"services",
         absl::StrCat(services[rng() % services.size()], "|", services[rng() % services.size()])},
        {"frais_a_charge", "Gratuit"}};
    std::vector<std::string> cells;
    for (const auto& h : header) cells.push_back(row.count(h) ? row[h] : "");
    out += csv::Line(cells, ',', true);
  }
  return out;
}

/// Streams `csv` to ImportVenues as `source`, in 1 MiB chunks; the call's status.
/// Registers `source` (if new) and imports `csv` into it, in 1 MiB chunks.
inline grpc::Status ImportFile(venues::v1::VenueService::Stub& stub, const std::string& source,
                               const std::string& csv, venues::v1::ImportVenuesResponse* report) {
  {
    grpc::ClientContext ctx;
    venues::v1::CreateSourceRequest req;
    req.set_source_id(source);
    venues::v1::Source created;
    grpc::Status st = stub.CreateSource(&ctx, req, &created);
    if (!st.ok() && st.error_code() != grpc::StatusCode::ALREADY_EXISTS) return st;
  }
  grpc::ClientContext ctx;
  auto writer = stub.ImportVenues(&ctx, report);
  for (size_t off = 0; off < csv.size(); off += 1 << 20) {
    venues::v1::ImportVenuesChunk chunk;
    if (off == 0) chunk.set_source(source);
    chunk.set_data(csv.substr(off, 1 << 20));
    writer->Write(chunk);
  }
  writer->WritesDone();
  return writer->Finish();
}

}  // namespace passerelle::perf
