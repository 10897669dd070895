// The exports as the national tools read them, without a server: ids unique across sources,
// import warnings that agree with ANCT's library (its recorded verdicts), data·inclusion
// structures and services valid under data·inclusion's published JSON Schemas (both revisions),
// and GeoJSON valid under RFC 7946 (the geojson.org schema and ogrinfo).
#include "libs/standard/exchange.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/csv/csv.hpp"
#include "libs/standard/csv_rows.hpp"
#include "libs/standard/venue.hpp"
#include "libs/testing/testing.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::standard {

namespace v1 = ::passerelle::venues::v1;
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Interop(const std::string& path) {
  return testing::SourceDir() + "/tests/interop/" + path;
}

// A file read into `source` the way ImportVenues stores it, as API messages.
std::vector<v1::Venue> Load(const std::string& csv, const std::string& source) {
  auto parsed = ParseNationalCsv(Standard::V102(), csv, source);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  EXPECT_TRUE(parsed->rejected.empty())
      << parsed->rejected[0].source_id << " " << parsed->rejected[0].violations[0].field << ": "
      << parsed->rejected[0].violations[0].message;
  std::vector<v1::Venue> out;
  for (const auto& row : parsed->valid) {
    v1::Venue v;
    ToProto(Standard::V102(), row.venue, &v);
    v.set_name(absl::StrCat("venues/", source, "-", out.size()));
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<const v1::Venue*> Pointers(const std::vector<v1::Venue>& venues) {
  std::vector<const v1::Venue*> out;
  for (const auto& v : venues) out.push_back(&v);
  return out;
}

std::vector<v1::Venue> Demo() {
  return Load(Read(testing::SourceDir() + "/services/venues/seed/demo-roubaix.csv"),
              "passerelle-demo");
}

std::vector<v1::Venue> Cases() { return Load(Read(Interop("anct/cases.csv")), "cas"); }

std::map<std::string, std::map<std::string, std::string>> Rows(const std::string& text) {
  return testing_support::RowsById(text);
}

// Writes `text` to a fresh file and returns its path.
std::string Temp(const std::string& name, const std::string& text) {
  const std::string path = "/tmp/" + testing::UniqueName("exports") + "-" + name;
  std::ofstream(path) << text;
  return path;
}

// Runs Debian's python3-jsonschema on `doc` (each element with `items`); "" when valid.
std::string SchemaErrors(const std::string& schema, const std::string& doc, bool items) {
  std::vector<std::string> argv = {"/usr/bin/python3", Interop("validate_json.py"), schema, doc};
  if (items) argv.push_back("--items");
  auto p = testing::Process::Start(argv);
  const auto code = p->Wait(120s);
  return code == 0 ? "" : absl::StrCat("exit ", code.value_or(-1), "\n", p->Output());
}

TEST(AnctTest, ImportWarningsAgreeWithTheLibrarysRecordedVerdicts) {
  // tools/anct_verdicts.py ran these exports through ANCT's library; our warnings must say
  // the same of every row: none when it accepts, the field it names first when it refuses.
  const auto fixture = nlohmann::json::parse(Read(Interop("anct/verdicts.json")));
  const std::map<std::string, std::string> exports = {
      {"demo-export.csv", WriteNationalCsv(Standard::V102(), Pointers(Demo()))},
      {"cases-export.csv", WriteNationalCsv(Standard::V102(), Pointers(Cases()))}};
  if (const char* dir = std::getenv("PASSERELLE_INTEROP_WRITE_DIR")) {
    for (const auto& [name, text] : exports) std::ofstream(std::string(dir) + "/" + name) << text;
  }
  // The library names the address `voie`, typologies `typologies` and URLs `url`.
  const std::map<std::string, std::string> key_of = {{"adresse", "voie"},
                                                     {"typologie", "typologies"},
                                                     {"fiche_acces_libre", "url"},
                                                     {"prise_rdv", "url"}};
  int accepted = 0, refused = 0;
  for (const auto& [name, text] : exports) {
    SCOPED_TRACE(name);
    const auto& verdicts = fixture.at("files").at(name);
    const auto rows = Rows(text);
    ASSERT_EQ(verdicts.size(), rows.size())
        << "tests/interop/anct/verdicts.json is stale: run tools/anct_verdicts.py";
    // Read back into another source, so the qualified ids stay as written.
    auto parsed = ParseNationalCsv(Standard::V102(), text, "relecture");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_TRUE(parsed->rejected.empty());
    std::map<int, std::string> id_of_line;
    for (const auto& row : parsed->valid) id_of_line[row.line] = row.venue.source_id;
    std::map<std::string, std::vector<Violation>> warnings;
    for (const auto& w : parsed->warnings) warnings[id_of_line[w.line]].push_back(w.issue);
    for (const auto& verdict : verdicts) {
      const std::string id = verdict.at("id");
      ASSERT_TRUE(rows.count(id)) << id << " is not exported any more: run tools/anct_verdicts.py";
      using Row = std::map<std::string, std::string>;
      EXPECT_EQ(verdict.at("row").get<Row>(), rows.at(id))
          << id << " changed since the verdicts were recorded: run tools/anct_verdicts.py";
      const auto& ours = warnings[id];
      if (verdict.at("accepted").get<bool>()) {
        ++accepted;
        EXPECT_TRUE(ours.empty()) << id << ": the library accepts it, we warn on " << ours[0].field
                                  << ": " << ours[0].message;
        continue;
      }
      ++refused;
      ASSERT_FALSE(ours.empty()) << id << ": the library refuses it ("
                                 << verdict.at("message").get<std::string>() << "), we do not warn";
      const std::string field = ours[0].field;
      const std::string key = key_of.count(field) ? key_of.at(field) : field;
      EXPECT_EQ(key, verdict.at("key").get<std::string>())
          << id << ": " << verdict.at("message").get<std::string>();
      EXPECT_EQ(ours[0].rule, "anct");
      EXPECT_THAT(ours[0].message, HasSubstr("cartographie nationale"));
    }
  }
  // The fixture holds both kinds, so neither side can pass by always agreeing one way.
  EXPECT_GE(accepted, 60);
  EXPECT_GE(refused, 5);
}

TEST(AnctTest, TheImportReportsTheWarningWithTheRowStored) {
  const std::string file = Read(Interop("anct/cases.csv"));
  auto parsed = ParseNationalCsv(Standard::V102(), file, "cas");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->valid.size(), static_cast<size_t>(parsed->rows));
  bool found = false;
  for (const auto& w : parsed->warnings) {
    if (w.source_id != "case-adresse-diese") continue;
    found = true;
    EXPECT_EQ(w.line, 3);
    EXPECT_EQ(w.issue.field, "adresse");
    EXPECT_EQ(w.issue.value, "12 rue du Moulin #2");
    EXPECT_THAT(w.issue.message, HasSubstr("« # »"));
  }
  EXPECT_TRUE(found);
}

TEST(AnctTest, HostileValuesAreJudgedInLinearTime) {
  // Values as long as the standard allows, built to make a backtracking matcher of the
  // library's URL pattern try every split (std::regex took about 4 s for one of them).
  std::string file = Read(Interop("anct/cases.csv"));
  const std::string header = file.substr(0, file.find('\n') + 1);
  std::string hostile = header;
  auto t = csv::Parse(file, ',');
  ASSERT_TRUE(t.ok());
  size_t prise_rdv = 0;
  while (t->header[prise_rdv] != "prise_rdv") ++prise_rdv;
  for (int i = 0; i < 50; ++i) {
    std::vector<std::string> cells = t->rows[0].cells;
    cells[0] = absl::StrCat("long-", i);
    cells[prise_rdv] = "https://" + std::string(480, i % 2 ? 'a' : '.') + ",x";
    hostile += csv::Line(cells, ',', true);
  }
  const absl::Time start = absl::Now();
  auto parsed = ParseNationalCsv(Standard::V102(), hostile, "cas");
  ASSERT_TRUE(parsed.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(parsed->valid.size(), 50u);
  ASSERT_EQ(parsed->warnings.size(), 50u);
  EXPECT_EQ(parsed->warnings[0].issue.field, "prise_rdv");
}

TEST(ExportIdTest, IdsAreUniqueInAFileWhenTwoSourcesShareALocalId) {
  const std::string file = Read(Interop("anct/cases.csv"));
  std::vector<v1::Venue> venues = Load(file, "siilab");
  std::vector<v1::Venue> other = Load(file, "assembleurs");
  venues.insert(venues.end(), other.begin(), other.end());
  const std::string exported = WriteNationalCsv(Standard::V102(), Pointers(venues));
  const auto rows = Rows(exported);
  EXPECT_EQ(rows.size(), venues.size()) << "an id is written twice";
  EXPECT_TRUE(rows.count("siilab:case-accepted"));
  EXPECT_TRUE(rows.count("assembleurs:case-accepted"));
  // Read back into a source, its own rows get their local id again; the other's stay qualified.
  auto back = ParseNationalCsv(Standard::V102(), exported, "siilab");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->rejected.empty());
  std::set<std::string> ids;
  for (const auto& row : back->valid) ids.insert(row.venue.source_id);
  EXPECT_TRUE(ids.count("case-accepted"));
  EXPECT_TRUE(ids.count("assembleurs:case-accepted"));
  EXPECT_FALSE(ids.count("siilab:case-accepted"));
  // The same qualified id in the JSON exports and the GeoJSON.
  auto structures =
      nlohmann::json::parse(WriteDataInclusionStructures(Standard::V102(), Pointers(venues)));
  std::set<std::string> structure_ids;
  for (const auto& s : structures) structure_ids.insert(s.at("id").get<std::string>());
  EXPECT_EQ(structure_ids.size(), venues.size());
  auto geojson = nlohmann::json::parse(WriteGeoJson(Standard::V102(), Pointers(venues)));
  EXPECT_EQ(geojson["features"][0]["properties"]["id"], "siilab:case-accepted");
}

// A file saved by a spreadsheet in Windows-1252 is read as such, every row alike (tester 25,
// M8: rows without an accent were stored, those with one refused); a field named by two columns
// fails the whole file, naming both (M6: the last column won silently).
TEST(ImportFileTest, ASingleByteFileIsConvertedAndATwiceNamedColumnRefused) {
  const std::string header = "id,pivot,nom,commune,code_postal,adresse,date_maj\r\n";
  const std::string latin1 = header +
                             "a,21590512800017,M\xE9"
                             "diath\xE8"
                             "que,Roubaix,59100,2 rue "
                             "Pierre Motte,2024-04-02\r\n"
                             "b,21590512800017,Mairie,Roubaix,59100,1 place,2024-04-02\r\n";
  auto parsed = ParseNationalCsv(Standard::V102(), latin1, "s");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->rejected.empty());
  ASSERT_EQ(parsed->valid.size(), 2u);
  EXPECT_EQ(parsed->valid[0].venue.standard.at("nom").front(), "Médiathèque");
  ASSERT_FALSE(parsed->normalisations.empty());
  EXPECT_THAT(parsed->normalisations.front(), HasSubstr("Windows-1252"));
  // UTF-8 with one bad byte stays UTF-8: that row alone is refused, where it is.
  auto mixed =
      ParseNationalCsv(Standard::V102(),
                       header +
                           "a,21590512800017,Médiathèque,Roubaix,59100,2 rue,2024-04-02\r\n"
                           "b,21590512800017,M\xE9"
                           "diath\xE8"
                           "que,Roubaix,59100,1 place,2024-04-02\r\n",
                       "s");
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ(mixed->valid.size(), 1u);
  EXPECT_EQ(mixed->rejected.size(), 1u);
  auto twice = ParseNationalCsv(Standard::V102(),
                                "id,pivot,nom,commune,code_postal,adresse,date_maj,nom\r\n"
                                "a,21590512800017,Nom A,Roubaix,59100,2 rue,2024-04-02,Nom B\r\n",
                                "s");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(std::string(twice.status().message()), StartsWith("[unique] "));
  EXPECT_THAT(twice.status().message(), HasSubstr("« nom »"));
  EXPECT_THAT(twice.status().message(), HasSubstr("colonnes 3 et 8"));
  // Each file-level refusal names its rule first; blank first lines are said to be no header.
  for (const auto& [file, rule] : std::vector<std::pair<std::string, std::string>>{
           {"\n\n\n", "[header] la première ligne est vide"},
           {" , \r\na,b\r\n", "[header] la première ligne est vide"},
           {"\xC2\xA0\r\na,b\r\n", "[header] la première ligne est vide"},
           {"\f;\v\r\na;b\r\n", "[header] la première ligne est vide"},
           {"name,city\r\nEspace,Roubaix\r\n", "[required] "}}) {
    auto refused = ParseNationalCsv(Standard::V102(), file, "s");
    ASSERT_FALSE(refused.ok()) << file;
    EXPECT_THAT(std::string(refused.status().message()), StartsWith(rule)) << file;
  }
  // A UTF-16 file is refused as such, as sync and the needs reader refuse it, not as a header
  // "not in UTF-8".
  std::string utf16 = "\xFF\xFE";
  for (char c : header) utf16.append({c, '\0'});
  auto wide = ParseNationalCsv(Standard::V102(), utf16, "s");
  ASSERT_FALSE(wide.ok());
  EXPECT_THAT(std::string(wide.status().message()), StartsWith("[encoding] "));
  EXPECT_THAT(wide.status().message(), HasSubstr("UTF-16"));
}

// Every structure and service of the demo and the crafted cases, in both revisions, against the
// schema files copied from data·inclusion (tests/interop/datainclusion, with their licence).
TEST(DataInclusionTest, ExportsValidateAgainstThePublishedSchemas) {
  std::vector<v1::Venue> venues = Demo();
  std::vector<v1::Venue> cases = Cases();
  venues.insert(venues.end(), cases.begin(), cases.end());
  for (auto [schema, revision] : {std::pair{v1::DATA_INCLUSION_SCHEMA_V1, "v1"},
                                  std::pair{v1::DATA_INCLUSION_SCHEMA_V0, "v0"}}) {
    SCOPED_TRACE(revision);
    for (auto [format, kind] : {std::pair{v1::DATA_INCLUSION_STRUCTURES, "structure"},
                                std::pair{v1::DATA_INCLUSION_SERVICES, "service"}}) {
      auto exporter = NewExporter(Standard::V102(), format, schema);
      ASSERT_NE(exporter, nullptr);
      const std::string doc = WriteAll(*exporter, Pointers(venues));
      ASSERT_EQ(nlohmann::json::parse(doc).size(), venues.size());
      const std::string path = Temp(absl::StrCat(revision, "-", kind, ".json"), doc);
      EXPECT_EQ(SchemaErrors(Interop(absl::StrCat("datainclusion/", revision, "/", kind, ".json")),
                             path, /*items=*/true),
                "")
          << kind;
      std::remove(path.c_str());
    }
  }
}

TEST(DataInclusionTest, ASchemaErrorIsCaughtByTheValidation) {
  // The check can fail: a v1 service without its required description, and a v0 label that
  // data·inclusion never enumerated.
  const std::string path = Temp("bad.json", R"([{"source":"s","id":"a","structure_id":"a",
      "nom":"Médiation numérique","date_maj":"2026-01-01"}])");
  EXPECT_THAT(SchemaErrors(Interop("datainclusion/v1/service.json"), path, true),
              HasSubstr("description"));
  const std::string labels = Temp("bad-labels.json", R"([{"source":"s","id":"a","nom":"Lieu",
      "date_maj":"2026-01-01","labels_nationaux":["point-numerique-caf"]}])");
  EXPECT_THAT(SchemaErrors(Interop("datainclusion/v0/structure.json"), labels, true),
              HasSubstr("point-numerique-caf"));
  std::remove(path.c_str());
  std::remove(labels.c_str());
}

std::map<std::string, nlohmann::json> ById(const std::string& doc) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& s : nlohmann::json::parse(doc)) out[s.at("id").get<std::string>()] = s;
  return out;
}

TEST(DataInclusionTest, PivotsLabelsSourcesAndServicesAreMapped) {
  const auto venues = Cases();
  auto v1_structures = ById(
      WriteAll(*NewExporter(Standard::V102(), v1::DATA_INCLUSION_STRUCTURES), Pointers(venues)));
  auto v0_structures = ById(WriteAll(
      *NewExporter(Standard::V102(), v1::DATA_INCLUSION_STRUCTURES, v1::DATA_INCLUSION_SCHEMA_V0),
      Pointers(venues)));
  auto v1_services =
      ById(WriteAll(*NewExporter(Standard::V102(), v1::DATA_INCLUSION_SERVICES), Pointers(venues)));
  auto v0_services = ById(WriteAll(
      *NewExporter(Standard::V102(), v1::DATA_INCLUSION_SERVICES, v1::DATA_INCLUSION_SCHEMA_V0),
      Pointers(venues)));
  // An RNA number is never a SIRET: `rna` in v0 (v1 has no such field).
  const auto& rna_v0 = v0_structures.at("cas:case-pivot-rna");
  EXPECT_EQ(rna_v0.value("rna", ""), "W595001234");
  EXPECT_FALSE(rna_v0.contains("siret"));
  EXPECT_FALSE(v1_structures.at("cas:case-pivot-rna").contains("siret"));
  EXPECT_FALSE(v1_structures.at("cas:case-pivot-rna").contains("rna"));
  EXPECT_EQ(v1_structures.at("cas:case-accepted")["siret"], "43493312300029");
  // National labels as their slugs.
  const auto& labels = v0_structures.at("cas:case-labels")["labels_nationaux"];
  EXPECT_THAT(labels.get<std::vector<std::string>>(),
              ::testing::UnorderedElementsAre("caf", "conseiller-numerique", "emmaus",
                                              "fabrique-de-territoire"));
  EXPECT_THAT(
      v1_structures.at("cas:case-labels")["reseaux_porteurs"].get<std::vector<std::string>>(),
      ::testing::ElementsAre("conseillers-numeriques", "emmaus", "fabrique-de-territoire"));
  // `source`: the standard's field when set, else the registry's source.
  EXPECT_EQ(v1_structures.at("cas:case-accepted")["source"], "Cas de test d'interopérabilité");
  // Services: how people reach it and are received, and the date.
  const auto& remote = v1_services.at("cas:case-a-distance-mediation-numerique");
  EXPECT_EQ(remote["modes_accueil"], nlohmann::json::array({"a-distance"}));
  EXPECT_EQ(remote["modes_mobilisation"],
            nlohmann::json::array({"envoyer-un-courriel", "utiliser-lien-mobilisation"}));
  EXPECT_EQ(remote["lien_mobilisation"], "https://rdv.exemple.fr/mediation");
  EXPECT_EQ(remote["date_maj"], "2026-11-01");
  const auto& remote_v0 = v0_services.at("cas:case-a-distance-mediation-numerique");
  EXPECT_EQ(remote_v0["modes_orientation_beneficiaire"],
            nlohmann::json::array({"prendre-rdv", "envoyer-un-mail"}));
  EXPECT_EQ(remote_v0["modes_accueil"], nlohmann::json::array({"a-distance"}));
  EXPECT_EQ(v1_services.at("cas:case-accepted-mediation-numerique")["thematiques"],
            nlohmann::json::array(
                {"difficultes-administratives-ou-juridiques--accompagnement-aux-demarches-"
                 "administratives",
                 "numerique--acceder-a-des-services-en-ligne"}));
  EXPECT_EQ(v1_services.at("cas:case-accepted-mediation-numerique")["frais"], "gratuit");
  const auto& publics = v1_services.at("cas:case-labels-mediation-numerique");
  EXPECT_EQ(publics["publics"],
            nlohmann::json::array({"jeunes", "personnes-en-situation-de-handicap", "seniors"}));
  EXPECT_EQ(publics["publics_precisions"], "Seniors, Jeunes, Illettrisme, Surdité");
}

TEST(DataInclusionTest, AnUnknownRevisionHasNoExporter) {
  EXPECT_EQ(NewExporter(Standard::V102(), v1::DATA_INCLUSION_STRUCTURES,
                        static_cast<v1::DataInclusionSchema>(99)),
            nullptr);
}

TEST(GeoJsonTest, EveryFeatureIsValidUnderRfc7946) {
  std::vector<v1::Venue> venues = Demo();
  std::vector<v1::Venue> cases = Cases();
  venues.insert(venues.end(), cases.begin(), cases.end());
  // A stored point that would not be a position any more is left out rather than written
  // as null or out of range.
  v1::Venue broken = venues[0];
  broken.set_latitude(std::numeric_limits<double>::quiet_NaN());
  venues.push_back(broken);
  broken.set_latitude(91);
  venues.push_back(broken);
  const std::string doc = WriteGeoJson(Standard::V102(), Pointers(venues));
  const auto json = nlohmann::json::parse(doc);
  EXPECT_FALSE(json.contains("crs"));  // RFC 7946 §4: WGS 84 only, no crs member
  ASSERT_EQ(json["features"].size(), venues.size() - 2);
  for (const auto& f : json["features"]) {
    const auto& c = f["geometry"]["coordinates"];
    ASSERT_EQ(c.size(), 2u);
    ASSERT_TRUE(c[0].is_number() && c[1].is_number());
    EXPECT_LE(std::abs(c[0].get<double>()), 180);
    EXPECT_LE(std::abs(c[1].get<double>()), 90);
    EXPECT_GT(c[1].get<double>(), 40) << "[longitude, latitude], not [latitude, longitude]";
  }
  const std::string path = Temp("venues.geojson", doc);
  EXPECT_EQ(SchemaErrors(Interop("geojson/FeatureCollection.json"), path, false), "");
  auto ogr = testing::Process::Start({"/usr/bin/ogrinfo", "-ro", "-al", "-so", path});
  ASSERT_EQ(ogr->Wait(60s), 0) << ogr->Output();
  EXPECT_THAT(ogr->Output(), HasSubstr(absl::StrCat("Feature Count: ", venues.size() - 2)));
  EXPECT_THAT(ogr->Output(), HasSubstr("Geometry: Point"));
  EXPECT_THAT(ogr->Output(), ::testing::Not(HasSubstr("Warning")));
  std::remove(path.c_str());
}

TEST(GeoJsonTest, TheSchemaCheckFailsOnAnInvalidFeature) {
  const std::string path = Temp("bad.geojson", R"({"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[3.17]}}]})");
  EXPECT_NE(SchemaErrors(Interop("geojson/FeatureCollection.json"), path, false), "");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace passerelle::standard
