// Import and export of the national CSV through the real binary: the standard's own example and
// a generated 1,000-row file come back out equal field by field (apart from the documented
// normalisations), bad rows are reported by line, field, value and rule while good rows are
// stored, and a truncated file is reported, not half-imported silently.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/csv/csv.hpp"
#include "libs/standard/csv_rows.hpp"
#include "libs/standard/standard.hpp"
#include "libs/testing/testing.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/itest_support.hpp"

namespace passerelle::venues {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string ReadShared(const std::string& path) {
  std::ifstream in(testing::SourceDir() + "/../shared/data/" + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A valid national CSV of n rows with every enumeration, lists, accents, quotes and commas.
std::string Generate(int n) {
  const standard::Standard& s = standard::Standard::V102();
  std::vector<std::string> header;
  for (const auto& f : s.fields()) header.push_back(f.name);
  std::string out = csv::Line(header, ',', true);
  std::mt19937 rng(20231125);
  auto pick = [&](const std::vector<std::string>& values, int max) {
    std::vector<std::string> v = values;
    std::shuffle(v.begin(), v.end(), rng);
    v.resize(1 + rng() % std::min<size_t>(max, v.size()));
    return absl::StrJoin(v, "|");
  };
  const std::vector<std::string> communes = {"Roubaix", "Tourcoing", "Lille",         "Wattrelos",
                                             "Croix",   "Hem",       "Lys-lez-Lannoy"};
  for (int i = 0; i < n; ++i) {
    std::map<std::string, std::string> row = {
        {"id", absl::StrCat("gen-", i)},
        {"pivot", absl::StrCat(21590512800000LL + i)},
        {"nom", absl::StrCat("Lieu « numérique » n°", i, ", quartier de l'Épeule")},
        {"commune", communes[i % communes.size()]},
        {"code_postal", absl::StrCat(59100 + (i % 10) * 10)},
        {"code_insee", "59512"},
        {"adresse", absl::StrCat(i + 1, " rue de \"l'Alma\"")},
        {"latitude", absl::StrCat(50.6 + (i % 97) * 0.002)},
        {"longitude", absl::StrCat(3.1 + (i % 89) * 0.002)},
        {"typologie", i % 2 ? "ASSO|TIERS_LIEUX" : "CCAS"},
        {"telephone", absl::StrCat("+333200", 10000 + i)},
        {"courriels", absl::StrCat("contact", i, "@exemple.fr|accueil@exemple.fr")},
        {"site_web", "https://exemple.fr/lieu"},
        {"horaires", "Mo-Fr 09:00-12:00,14:00-18:00; Sa 09:00-12:00; PH off"},
        {"presentation_resume", "Accompagnement aux démarches,\nsur rendez-vous."},
        {"source", "Générateur de test"},
        {"date_maj", absl::StrCat("2024-0", 1 + i % 9, "-1", i % 10)},
        {"itinerance", pick(s.Find("itinerance")->values, 1)},
        {"services", pick(s.Find("services")->values, 4)},
        {"publics_specifiquement_adresses",
         pick(s.Find("publics_specifiquement_adresses")->values, 3)},
        {"prise_en_charge_specifique", pick(s.Find("prise_en_charge_specifique")->values, 3)},
        {"frais_a_charge", pick(s.Find("frais_a_charge")->values, 2)},
        {"dispositif_programmes_nationaux",
         pick(s.Find("dispositif_programmes_nationaux")->values, 3)},
        {"formations_labels", pick(s.Find("formations_labels")->values, 2)},
        {"modalites_acces", pick(s.Find("modalites_acces")->values, 2)},
        {"modalites_accompagnement", pick(s.Find("modalites_accompagnement")->values, 3)},
        {"prise_rdv", "https://www.rdv-solidarites.fr/"}};
    std::vector<std::string> cells;
    for (const auto& h : header) cells.push_back(row.count(h) ? row[h] : "");
    out += csv::Line(cells, ',', true);
  }
  return out;
}

class ExchangeTest : public itest::VenuesServiceTest {};

std::map<std::string, std::map<std::string, std::string>> Rows(const std::string& text) {
  return standard::testing_support::RowsById(text);
}

TEST_F(ExchangeTest, RoundTripIsExactApartFromDocumentedNormalisations) {
  const std::string example = ReadShared("standard/exemple-valide.csv");
  const std::string generated = Generate(1000);
  v1::ImportVenuesResponse a, b;
  ASSERT_TRUE(Import("standard", example, &a).ok());
  EXPECT_EQ(a.created(), 1);
  EXPECT_EQ(a.rejected_size(), 0) << a.rejected(0).violations(0).description();
  ASSERT_TRUE(Import("generator", generated, &b).ok());
  EXPECT_EQ(b.rows(), 1000);
  EXPECT_EQ(b.created(), 1000);
  EXPECT_EQ(b.rejected_size(), 0);

  const std::string exported = Export(v1::NATIONAL_CSV);
  // The header is exactly the standard's columns in its order.
  std::vector<std::string> header;
  for (const auto& f : standard::Standard::V102().fields()) header.push_back(f.name);
  EXPECT_TRUE(exported.starts_with(csv::Line(header, ',', true)));
  auto out = Rows(exported);
  ASSERT_EQ(out.size(), 1001u);
  for (auto [input, source] :
       {std::pair{&example, "standard"}, std::pair{&generated, "generator"}}) {
    for (const auto& [local_id, row] : Rows(*input)) {
      // Exported ids carry their source, so two sources' "lieu-1" stay two rows (QualifiedId).
      const std::string id = absl::StrCat(source, ":", local_id);
      ASSERT_TRUE(out.count(id)) << id;
      for (const auto& [column, value] : row) {
        if (column == "id") {
          EXPECT_EQ(out[id][column], id);
          continue;
        }
        // Documented normalisation (docs/venues.md): numbers are written in their shortest form.
        if (column == "latitude" || column == "longitude") {
          EXPECT_DOUBLE_EQ(std::stod(out[id][column]), std::stod(value)) << id << " " << column;
          continue;
        }
        EXPECT_EQ(out[id][column], value) << id << " " << column;
      }
    }
  }
  // Importing the export itself changes nothing of what it holds: the generator's 1,000 rows
  // (`generator:gen-…`, read back as `gen-…` into `generator`) come back unchanged; the
  // example's row, exported from another source, is new to this one.
  v1::ImportVenuesResponse again;
  ASSERT_TRUE(Import("generator", exported, &again).ok());
  EXPECT_EQ(again.rejected_size(), 0);
  EXPECT_EQ(again.unchanged(), 1000);
  EXPECT_EQ(again.updated(), 0);
  EXPECT_EQ(again.created(), 1);
}

TEST_F(ExchangeTest, BadRowsAreReportedByLineAndGoodRowsStored) {
  std::string file = Generate(5);
  // Generated rows span two lines (a line break inside presentation_resume): the bad row
  // starts on line 2 + 5 * 2 = 12. It breaks one rule of each kind.
  file += csv::Line({"bad-1", "12",  "",       "Roubaix", "591",        "ABCDE",   "1 rue", "",
                     "north", "500", "",       "00 11",   "",           "",        "",      "",
                     "",      "",    "Volant", "",        "2024-13-45", "Cuisine", "",      "",
                     "",      "",    "",       "",        "",           "",        "",      ""},
                    ',', true);
  v1::ImportVenuesResponse r;
  ASSERT_TRUE(Import("siilab", file, &r).ok());
  EXPECT_EQ(r.rows(), 6);
  EXPECT_EQ(r.created(), 5);
  ASSERT_EQ(r.rejected_size(), 1);
  EXPECT_EQ(r.rejected(0).line(), 12);
  EXPECT_EQ(r.rejected(0).source_id(), "bad-1");
  std::map<std::string, std::string> rules;
  for (const auto& v : r.rejected(0).violations()) rules[v.field()] = v.rule();
  EXPECT_EQ(rules["pivot"], "pattern");
  EXPECT_EQ(rules["nom"], "required");
  EXPECT_EQ(rules["code_postal"], "pattern");
  EXPECT_EQ(rules["code_insee"], "pattern");
  EXPECT_EQ(rules["latitude"], "number");
  EXPECT_EQ(rules["longitude"], "range");
  EXPECT_EQ(rules["telephone"], "pattern");
  EXPECT_EQ(rules["itinerance"], "enum");
  EXPECT_EQ(rules["date_maj"], "date");
  EXPECT_EQ(rules["services"], "enum");
  for (const auto& v : r.rejected(0).violations()) {
    EXPECT_FALSE(v.description().empty());
    if (v.field() == "code_postal") {
      EXPECT_EQ(v.value(), "591");
    }
  }
}

TEST_F(ExchangeTest, TruncatedFilesAreReportedAndKeepNothingBroken) {
  const std::string file = Generate(20);
  // Cut inside a quoted field: the whole file is refused with the line.
  v1::ImportVenuesResponse r;
  grpc::Status st = Import("siilab", file.substr(0, file.size() / 2), &r);
  if (st.ok()) {
    // The cut fell between fields: the last, incomplete row is rejected, the others stored.
    EXPECT_EQ(r.rejected_size(), 1);
    EXPECT_EQ(r.created() + 1, r.rows());
  } else {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(st.error_message(), HasSubstr("ligne"));
  }
  // A cut just before the closing quote of the last field always leaves an open quote; the last
  // row starts on line 2 + 19 * 2 = 40 (rows span two lines).
  st = Import("siilab", file.substr(0, file.size() - 3), &r);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("ligne 40 : un guillemet ouvert"));
}

TEST_F(ExchangeTest, GeoJsonIsReadByOgrinfo) {
  v1::ImportVenuesResponse r;
  ASSERT_TRUE(Import("generator", Generate(30), &r).ok());
  const std::string path = "/tmp/" + testing::UniqueName("venues") + ".geojson";
  std::ofstream(path) << Export(v1::GEOJSON);
  auto ogr = testing::Process::Start({"/usr/bin/ogrinfo", "-ro", "-so", "-al", path});
  ASSERT_EQ(ogr->Wait(60s), 0) << ogr->Output();
  EXPECT_THAT(ogr->Output(), HasSubstr("Feature Count: 30"));
  EXPECT_THAT(ogr->Output(), HasSubstr("Geometry: Point"));
  EXPECT_THAT(ogr->Output(), HasSubstr("services: String"));
  std::remove(path.c_str());
}

TEST_F(ExchangeTest, VersionZeroPointOneFilesAreTranslated) {
  // A v0.1 file: other field names, `;` between list values, `,` between sites, v0.1
  // vocabularies with explanations after a colon.
  const std::string file =
      "id,pivot,nom,commune,code_postal,adresse,latitude,longitude,cle_ban,typologie,courriel,"
      "site_web,date_maj,services,publics_accueillis,conditions_acces,labels_nationaux,"
      "labels_autres,modalites_accompagnement,accessibilite\r\n"
      "old-1,43493312300029,Espace numérique,Roubaix,59100,2 rue Pierre Motte,50.69,3.17,"
      "59512_1234_00002,TIERS_LIEUX;ASSO,contact@exemple.fr,"
      "\"https://exemple.fr/,https://facebook.com/exemple\",2022-06-02,"
      "\"Prendre en main un ordinateur;Accéder à du matériel\","
      "\"Seniors (+ 65 ans);Surdité;Adultes\","
      "\"Gratuit : Je peux accéder gratuitement au lieu et à ses services;Accepte le Pass "
      "numérique : Il est possible d'utiliser un Pass numérique pour accéder au lieu\","
      "\"France Services;CNFS;French Tech\",SudLabs,"
      "\"Seul : j'ai accès à du matériel et une connexion;Dans un atelier : j'apprends "
      "collectivement à utiliser le numérique\",https://acceslibre.beta.gouv.fr/app/x/\r\n";
  v1::ImportVenuesResponse r;
  ASSERT_TRUE(Import("ancien", file, &r).ok());
  ASSERT_EQ(r.rejected_size(), 0) << r.rejected(0).violations(0).field() << " "
                                  << r.rejected(0).violations(0).description();
  ASSERT_EQ(r.created(), 1);
  EXPECT_TRUE(r.ignored_columns().empty());
  bool noted = false;
  for (const auto& n : r.normalisations())
    noted = noted || n.find("v0.1 services") != std::string::npos;
  EXPECT_TRUE(noted);
  auto out = Rows(Export(v1::NATIONAL_CSV));
  const auto& row = out["ancien:old-1"];
  EXPECT_EQ(row.at("courriels"), "contact@exemple.fr");
  EXPECT_EQ(row.at("site_web"), "https://exemple.fr/|https://facebook.com/exemple");
  EXPECT_EQ(row.at("typologie"), "TIERS_LIEUX|ASSO");
  EXPECT_EQ(row.at("services"),
            "Maîtrise des outils numériques du quotidien|Accès internet et matériel informatique");
  EXPECT_EQ(row.at("publics_specifiquement_adresses"), "Seniors");
  EXPECT_EQ(row.at("prise_en_charge_specifique"), "Surdité");
  EXPECT_EQ(row.at("frais_a_charge"), "Gratuit");
  EXPECT_EQ(row.at("dispositif_programmes_nationaux"), "France Services|Conseillers numériques");
  EXPECT_EQ(row.at("autres_formations_labels"), "SudLabs, French Tech");
  EXPECT_EQ(row.at("modalites_accompagnement"), "En autonomie|Dans un atelier collectif");
  EXPECT_EQ(row.at("fiche_acces_libre"), "https://acceslibre.beta.gouv.fr/app/x/");
  // data·inclusion v0 names the pass among the structure's labels (v1 has no such label).
  std::string v0;
  grpc::ClientContext ctx;
  v1::ExportVenuesRequest req;
  req.set_format(v1::DATA_INCLUSION_STRUCTURES);
  req.set_data_inclusion_schema(v1::DATA_INCLUSION_SCHEMA_V0);
  auto reader = stub_->ExportVenues(&ctx, req);
  v1::ExportVenuesChunk chunk;
  while (reader->Read(&chunk)) v0 += chunk.data();
  ASSERT_TRUE(reader->Finish().ok());
  auto structures = nlohmann::json::parse(v0);
  ASSERT_EQ(structures.size(), 1u);
  EXPECT_NE(std::find(structures[0]["labels_nationaux"].begin(),
                      structures[0]["labels_nationaux"].end(), "aptic"),
            structures[0]["labels_nationaux"].end())
      << "the Pass numérique condition becomes accepts_aptic_pass";
}

// The data·inclusion exports through gRPC: the current revision by default, the previous one on
// request, an unknown revision refused (the files' full validation is standard_exchange_test's).
TEST_F(ExchangeTest, DataInclusionStructuresAndServices) {
  v1::ImportVenuesResponse r;
  ASSERT_TRUE(Import("standard", ReadShared("standard/exemple-valide.csv"), &r).ok());
  auto export_as = [&](v1::VenueExportFormat format, int schema, std::string* doc) {
    grpc::ClientContext ctx;
    v1::ExportVenuesRequest req;
    req.set_format(format);
    req.set_data_inclusion_schema(static_cast<v1::DataInclusionSchema>(schema));
    auto reader = stub_->ExportVenues(&ctx, req);
    v1::ExportVenuesChunk chunk;
    while (reader->Read(&chunk)) *doc += chunk.data();
    return reader->Finish();
  };
  std::string doc;
  ASSERT_TRUE(export_as(v1::DATA_INCLUSION_STRUCTURES, 0, &doc).ok());
  auto structures = nlohmann::json::parse(doc);
  ASSERT_EQ(structures.size(), 1u);
  const auto& s = structures[0];
  EXPECT_EQ(s["id"], "standard:structure-1");
  EXPECT_EQ(s["siret"], "43493312300029");
  EXPECT_EQ(s["courriel"], "contact@laquincaillerie.tl");
  EXPECT_FALSE(s.contains("thematiques")) << "v1 structures carry no thematiques";
  EXPECT_FALSE(s.value("source", "").empty());
  doc.clear();
  ASSERT_TRUE(export_as(v1::DATA_INCLUSION_SERVICES, 0, &doc).ok());
  auto services = nlohmann::json::parse(doc);
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0]["structure_id"], "standard:structure-1");
  EXPECT_EQ(services[0]["nom"], "Médiation numérique");
  EXPECT_FALSE(services[0]["thematiques"].empty());
  EXPECT_TRUE(services[0].contains("modes_accueil"));
  EXPECT_TRUE(services[0].contains("date_maj"));
  // The previous revision on request.
  doc.clear();
  ASSERT_TRUE(export_as(v1::DATA_INCLUSION_STRUCTURES, v1::DATA_INCLUSION_SCHEMA_V0, &doc).ok());
  auto v0 = nlohmann::json::parse(doc);
  ASSERT_EQ(v0.size(), 1u);
  EXPECT_EQ(v0[0]["thematiques"][0], "numerique");
  EXPECT_EQ(v0[0]["typologie"], "TIERS_LIEUX");
  EXPECT_LE(v0[0]["presentation_resume"].get<std::string>().size(), 280u * 2);
  // An unknown revision is refused, not defaulted.
  doc.clear();
  grpc::Status st = export_as(v1::DATA_INCLUSION_STRUCTURES, 7, &doc);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("data_inclusion_schema"));
  EXPECT_TRUE(doc.empty());
}

// A row ANCT's library would refuse is stored and reported as a warning with its reason.
TEST_F(ExchangeTest, RowsTheNationalCartographyWouldRefuseAreStoredWithAWarning) {
  std::string file = Generate(2);
  file += csv::Line({"anct-1",
                     "43493312300029",
                     "Lieu à l'adresse exotique",
                     "Roubaix",
                     "59100",
                     "59512",
                     "12 rue du Moulin #2",
                     "",
                     "50.69",
                     "3.17",
                     "ASSO",
                     "",
                     "",
                     "",
                     "",
                     "",
                     "",
                     "",
                     "",
                     "",
                     "2026-11-01",
                     "",
                     "",
                     "",
                     "",
                     "",
                     "",
                     "",
                     "",
                     "",
                     "",
                     ""},
                    ',', true);
  v1::ImportVenuesResponse r;
  ASSERT_TRUE(Import("siilab", file, &r).ok());
  EXPECT_EQ(r.created(), 3);
  EXPECT_EQ(r.rejected_size(), 0);
  // The generated rows have warnings of their own (their addresses hold quotes, which the
  // library refuses too); the one of anct-1 is what this test looks at.
  EXPECT_EQ(r.warnings_total(), r.warnings_size());
  std::vector<v1::RowWarning> ours;
  for (const auto& w : r.warnings()) {
    if (w.source_id() == "anct-1") ours.push_back(w);
  }
  ASSERT_EQ(ours.size(), 1u) << r.DebugString();
  EXPECT_EQ(ours[0].line(), 6);  // generated rows span two lines
  EXPECT_EQ(ours[0].issue().field(), "adresse");
  EXPECT_EQ(ours[0].issue().value(), "12 rue du Moulin #2");
  EXPECT_EQ(ours[0].issue().rule(), "anct");
  EXPECT_THAT(ours[0].issue().description(), HasSubstr("« # »"));
}

}  // namespace
}  // namespace passerelle::venues
