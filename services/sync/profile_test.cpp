// Source profiles without any service: the fixtures read through ReadSource.
#include "services/sync/profile.hpp"

#include <fstream>
#include <iterator>
#include <map>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passerelle::sync {
namespace {

using ::testing::HasSubstr;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(PASSERELLE_SOURCE_DIR) + "/services/sync/testdata/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

v1::FieldMapping* Map(v1::SourceProfile* p, const std::string& field, const std::string& column) {
  v1::FieldMapping* m = p->add_mapping();
  m->set_field(field);
  m->add_parts()->set_column(column);
  return m;
}

const standard::Standard& Std() { return standard::Standard::V102(); }

v1::SourceProfile Regional() {
  v1::SourceProfile p;
  p.set_format(v1::SourceProfile::MAPPED_CSV);
  Map(&p, "id", "Identifiant");
  Map(&p, "nom", "Nom de la structure");
  Map(&p, "adresse", "N° et voie");
  Map(&p, "code_postal", "Code postal");
  Map(&p, "commune", "Ville");
  Map(&p, "pivot", "SIRET");
  Map(&p, "date_maj", "Date de mise à jour");
  v1::FieldMapping* programmes = Map(&p, "dispositif_programmes_nationaux", "Labels");
  programmes->set_split("-");
  (*programmes->mutable_values())["CNFS"] = "Conseillers numériques";
  (*programmes->mutable_values())["FS"] = "France Services";
  programmes->set_drop_unmapped(true);
  v1::FieldMapping* pass = Map(&p, "accepts_aptic_pass", "Labels");
  pass->set_split("-");
  (*pass->mutable_values())["APTIC"] = "oui";
  pass->set_drop_unmapped(true);
  return p;
}

TEST(ProfileTest, MappedLatin1FileWithCodesAndAFilter) {
  v1::SourceProfile p = Regional();
  p.mutable_filter()->set_column("Code INSEE");
  p.mutable_filter()->add_prefixes("59");
  auto read = ReadSource(Std(), p, Fixture("regional_latin1.csv"), "region");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->encoding, text::Encoding::kWindows1252);
  EXPECT_EQ(read->filtered, 1);
  EXPECT_EQ(read->parsed.rows, 5);
  ASSERT_EQ(read->parsed.valid.size(), 4u);
  ASSERT_EQ(read->parsed.rejected.size(), 1u);
  const standard::Venue& first = read->parsed.valid[0].venue;
  EXPECT_EQ(first.source_id, "R59-001");
  EXPECT_EQ(first.standard.at("nom"), std::vector<std::string>{"Médiathèque de l'Épeule"});
  EXPECT_EQ(first.standard.at("dispositif_programmes_nationaux"),
            std::vector<std::string>{"Conseillers numériques"});
  EXPECT_TRUE(first.accepts_aptic_pass);
  const standard::Venue& second = read->parsed.valid[1].venue;
  EXPECT_EQ(second.standard.at("dispositif_programmes_nationaux"),
            (std::vector<std::string>{"Conseillers numériques", "France Services"}));
  EXPECT_FALSE(second.accepts_aptic_pass);
  EXPECT_EQ(read->parsed.rejected[0].line, 6);
  EXPECT_EQ(read->parsed.rejected[0].violations[0].field, "code_postal");
}

// A file large enough to be read by several threads gives, in the file's order, what its rows
// give one block at a time; an id repeated across the file is refused at its second line.
TEST(ProfileTest, LargeFileReadInOrderAcrossThreads) {
  const std::string fixture = Fixture("regional_latin1.csv");
  const size_t header_end = fixture.find('\n') + 1;
  const std::string header = fixture.substr(0, header_end);
  const std::string rows = fixture.substr(header_end);
  constexpr int kBlocks = 1500;  // 9,000 rows: several reading threads
  std::string file = header;
  for (int b = 0; b < kBlocks; ++b) {
    // Ids unique per block: "R59-001" becomes "R59-17-001".
    std::string block = rows;
    for (size_t at = 0; (at = block.find("-00", at)) != std::string::npos; at += 4) {
      block.insert(at, "-" + std::to_string(b));
      at += 1 + std::to_string(b).size();
    }
    file += block;
  }
  // The first block's first row again, after the last block.
  file += rows.substr(0, rows.find('\n') + 1).replace(3, 4, "-0-001");
  v1::SourceProfile p = Regional();
  p.mutable_filter()->set_column("Code INSEE");
  p.mutable_filter()->add_prefixes("59");
  auto read = ReadSource(Std(), p, file, "region");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->filtered, kBlocks);
  EXPECT_EQ(read->parsed.rows, 5 * kBlocks + 1);
  ASSERT_EQ(read->parsed.valid.size(), 4u * kBlocks);
  ASSERT_EQ(read->parsed.rejected.size(), kBlocks + 1u);
  const int lines[] = {2, 3, 4, 7};
  const char* ids[] = {"001", "002", "003", "006"};
  for (int b = 0; b < kBlocks; ++b) {
    for (int k = 0; k < 4; ++k) {
      const auto& row = read->parsed.valid[4 * b + k];
      ASSERT_EQ(row.line, lines[k] + 6 * b) << b << " " << k;
      ASSERT_EQ(row.venue.source_id, "R59-" + std::to_string(b) + "-" + ids[k]);
      ASSERT_EQ(row.venue.source, "region");
    }
    ASSERT_EQ(read->parsed.rejected[b].line, 6 + 6 * b);
    ASSERT_EQ(read->parsed.rejected[b].violations[0].field, "code_postal");
  }
  const auto& repeated = read->parsed.rejected.back();
  EXPECT_EQ(repeated.line, 2 + 6 * kBlocks);
  ASSERT_EQ(repeated.violations.size(), 1u);
  EXPECT_EQ(repeated.violations[0].rule, "unique");
  EXPECT_EQ(read->parsed.valid[0].venue.standard.at("nom"),
            std::vector<std::string>{"Médiathèque de l'Épeule"});
}

// Hostile rows spread over the threads of a large read: each is judged exactly as when its
// slice of the file is read alone on one thread (same acceptance, lines, ids, fields, rules).
TEST(ProfileTest, HostileRowsAcrossThreadsAreJudgedAsOnOneThread) {
  const std::string header =
      "Identifiant;Nom de la structure;N° et voie;Code postal;Ville;Code INSEE;SIRET;Labels;"
      "Date de mise à jour\n";
  // Valid UTF-8 throughout: a NUL byte or invalid UTF-8 fails the whole file (tested apart),
  // which would say nothing of the rows.
  const std::vector<std::string> names = {"Médiathèque",
                                          "Nom\x7f\x1b[31mcaché",
                                          "\xe2\x80\xae\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a",
                                          "=HYPERLINK(\"x\")",
                                          "\x01\x02bip",
                                          "😀 Espace",
                                          "",
                                          "\"guillemets\" ; point-virgule"};
  const std::vector<std::string> dates = {"2026-11-02", "NaN", "+2024-04-2", "2026-02-30",
                                          "1e308",      "",    "0x10",       "2026-11-02 "};
  constexpr int kSlices = 6;
  constexpr int kRowsPerSlice = 1500;  // 9,000 rows in all: several threads
  std::vector<std::string> slices(kSlices);
  for (int i = 0; i < kSlices * kRowsPerSlice; ++i) {
    std::string row =
        absl::StrCat("R59-", i, ";", names[i % names.size()], ";", i, " rue Pierre Motte;",
                     i % 11 == 0 ? "5910" : "59100", ";Roubaix;59512;21590512800016;APTIC;",
                     dates[(i / names.size()) % dates.size()]);
    if (i % 13 == 0) row += ";colonne en trop";      // a ragged row
    if (i % 17 == 0) row = absl::StrCat("R59-", i);  // a cut row
    slices[i / kRowsPerSlice] += row + "\n";
  }
  slices.back() += "R59-7;repris;1 rue;59100;Roubaix;59512;21590512800016;;2026-11-02\n";
  const v1::SourceProfile p = Regional();
  std::string whole = header;
  for (const std::string& slice : slices) whole += slice;
  auto read = ReadSource(Std(), p, whole, "region");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->parsed.rows, kSlices * kRowsPerSlice + 1);
  // The reference: each slice alone (under 2,000 rows: one thread), lines shifted to the whole.
  std::vector<std::string> expected_valid, got_valid, expected_rejected, got_rejected;
  for (int k = 0; k < kSlices; ++k) {
    auto alone = ReadSource(Std(), p, header + slices[k], "region");
    ASSERT_TRUE(alone.ok()) << alone.status();
    for (const auto& row : alone->parsed.valid) {
      if (row.venue.source_id == "R59-7" && k == kSlices - 1) continue;  // repeated: below
      expected_valid.push_back(absl::StrCat(row.line + k * kRowsPerSlice, " ", row.venue.source_id,
                                            " ", row.venue.standard.at("date_maj").front()));
    }
    for (const auto& rejected : alone->parsed.rejected) {
      std::string r = absl::StrCat(rejected.line + k * kRowsPerSlice, " ", rejected.source_id);
      for (const auto& v : rejected.violations) absl::StrAppend(&r, " ", v.field, ":", v.rule);
      expected_rejected.push_back(r);
    }
  }
  for (const auto& row : read->parsed.valid) {
    got_valid.push_back(absl::StrCat(row.line, " ", row.venue.source_id, " ",
                                     row.venue.standard.at("date_maj").front()));
  }
  for (const auto& rejected : read->parsed.rejected) {
    std::string r = absl::StrCat(rejected.line, " ", rejected.source_id);
    for (const auto& v : rejected.violations) absl::StrAppend(&r, " ", v.field, ":", v.rule);
    got_rejected.push_back(r);
  }
  // The id repeated at the very end is refused in the whole file only.
  ASSERT_FALSE(got_rejected.empty());
  EXPECT_EQ(got_rejected.back(), absl::StrCat(kSlices * kRowsPerSlice + 2, " R59-7 id:unique"));
  got_rejected.pop_back();
  EXPECT_EQ(got_valid, expected_valid);
  EXPECT_EQ(got_rejected, expected_rejected);
  // Both kinds are there: the test would not pass on a file the reader refuses or takes whole.
  EXPECT_GT(got_valid.size(), 1000u);
  EXPECT_GT(got_rejected.size(), 1000u);
}

TEST(ProfileTest, HalfDayColumnsAndFreeTextBecomeHorairesOrStayInWords) {
  v1::SourceProfile p = Regional();
  const char* days[] = {"Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi"};
  for (int d = 0; d < 6; ++d) {
    for (const auto part : {v1::HoursColumn::MORNING, v1::HoursColumn::AFTERNOON}) {
      v1::HoursColumn* c = p.mutable_hours()->add_columns();
      c->set_column(std::string(days[d]) +
                    (part == v1::HoursColumn::MORNING ? " matin" : " après-midi"));
      c->set_weekday(d);
      c->set_part(part);
    }
  }
  auto read = ReadSource(Std(), p, Fixture("regional_latin1.csv"), "region");
  ASSERT_TRUE(read.ok()) << read.status();
  std::map<std::string, const standard::Venue*> by_id;
  for (const auto& row : read->parsed.valid) by_id[row.venue.source_id] = &row.venue;
  ASSERT_TRUE(by_id.contains("R59-001"));
  EXPECT_EQ(by_id["R59-001"]->standard.at("horaires"),
            std::vector<std::string>{"Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:30-12:00"});
  ASSERT_TRUE(by_id.contains("R59-006"));
  EXPECT_FALSE(by_id["R59-006"]->standard.contains("horaires"));
  EXPECT_THAT(by_id["R59-006"]->standard.at("presentation_detail")[0],
              HasSubstr("Horaires : mardi matin : selon les permanences du CCAS"));
  int warnings = 0;
  for (const auto& w : read->parsed.warnings) {
    if (w.issue.rule != "horaires") continue;
    ++warnings;
    EXPECT_EQ(w.source_id, "R59-006");
    EXPECT_THAT(w.issue.value, HasSubstr("selon les permanences du CCAS"));
  }
  EXPECT_EQ(warnings, 1);

  // One free-text column.
  v1::SourceProfile text;
  text.set_format(v1::SourceProfile::MAPPED_CSV);
  for (const char* f : {"id", "nom", "adresse", "code_postal", "commune", "pivot", "date_maj"}) {
    Map(&text, f, f);
  }
  text.mutable_hours()->set_text_column("horaires libres");
  const std::string file =
      "id;nom;adresse;code_postal;commune;pivot;date_maj;horaires libres\n"
      "a;Espace A;1 rue A;59100;Roubaix;21590512800016;2026-11-02;du lundi au vendredi de 9h à "
      "12h\n"
      "b;Espace B;2 rue B;59100;Roubaix;21590512800024;2026-11-02;quand il fait beau\n";
  read = ReadSource(Std(), text, file, "t");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->parsed.valid.size(), 2u);
  EXPECT_EQ(read->parsed.valid[0].venue.standard.at("horaires"),
            std::vector<std::string>{"Mo-Fr 09:00-12:00"});
  EXPECT_FALSE(read->parsed.valid[1].venue.standard.contains("horaires"));
  EXPECT_EQ(read->parsed.valid[1].venue.standard.at("presentation_detail"),
            std::vector<std::string>{"Horaires : quand il fait beau"});
}

TEST(ProfileTest, DeclaredEncodingsAndDelimiters) {
  v1::SourceProfile p = Regional();
  p.set_encoding(v1::SourceProfile::LATIN_1);
  p.set_delimiter(v1::SourceProfile::SEMICOLON);
  auto read = ReadSource(Std(), p, Fixture("regional_latin1.csv"), "region");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->encoding, text::Encoding::kLatin1);
  EXPECT_EQ(read->parsed.rows, 6);
  // Declared UTF-8, the Latin-1 header cannot be read: the file fails whole.
  p.set_encoding(v1::SourceProfile::UTF_8);
  read = ReadSource(Std(), p, Fixture("regional_latin1.csv"), "region");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr("en-tête illisible"));
  // The wrong delimiter: the mapped columns are not in the header.
  p.set_encoding(v1::SourceProfile::ENCODING_AUTO);
  p.set_delimiter(v1::SourceProfile::TAB);
  read = ReadSource(Std(), p, Fixture("regional_latin1.csv"), "region");
  EXPECT_THAT(read.status().message(), HasSubstr("colonnes du profil absentes du fichier"));
  // Tab-separated, with a BOM.
  v1::SourceProfile tab;
  tab.set_format(v1::SourceProfile::MAPPED_CSV);
  Map(&tab, "id", "ref");
  Map(&tab, "nom", "libellé");
  read = ReadSource(Std(), tab, "\xEF\xBB\xBFref\tlibellé\r\nA1\tEspace\r\n", "t");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->parsed.rejected.size(), 1u);  // required fields missing, but read
  EXPECT_EQ(read->columns, (std::vector<std::string>{"ref", "libellé"}));
}

TEST(ProfileTest, GoGoCartoDefaultsAndBounds) {
  v1::SourceProfile p;
  p.set_format(v1::SourceProfile::GOGOCARTO_JSON);
  v1::FieldMapping* pivot = p.add_mapping();
  pivot->set_field("pivot");
  pivot->add_parts()->set_constant("43493312300052");
  Map(&p, "date_maj", "updatedAt");
  auto read = ReadSource(Std(), p, Fixture("gogocarto_elements.json"), "carte");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->parsed.rows, 3);
  ASSERT_EQ(read->parsed.valid.size(), 2u);
  const auto& repair = read->parsed.valid[0].venue.standard;
  EXPECT_EQ(repair.at("code_postal"), std::vector<std::string>{"59100"});
  EXPECT_EQ(repair.at("horaires"),
            std::vector<std::string>{"Tu 14:00-18:00; Th 14:00-18:00; Sa 09:30-12:30"});
  EXPECT_EQ(read->parsed.valid[0].line, 1);

  EXPECT_THAT(
      ReadSource(Std(), p, std::string(100, '[') + std::string(100, ']'), "c").status().message(),
      HasSubstr("trop imbriqué"));
  // Brackets inside strings do not count.
  auto strings =
      ReadSource(Std(), p, "{\"data\": [{\"id\": \"" + std::string(100, '[') + "\"}]}", "c");
  ASSERT_TRUE(strings.ok()) << strings.status();
  EXPECT_EQ(strings->parsed.rows, 1);
  EXPECT_THAT(ReadSource(Std(), p, "[1, 2", "c").status().message(), HasSubstr("JSON illisible"));
  EXPECT_THAT(ReadSource(Std(), p, "<html>", "c").status().message(), HasSubstr("HTML"));
  // A bare array of elements, and elements that are not objects, are rows without fields.
  auto bare = ReadSource(Std(), p, "[{\"id\": \"a\"}, 3]", "c");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->parsed.rejected.size(), 2u);
}

// Hostile cells (robustness.md "strings"): a 5 MB value, invalid UTF-8 with UTF-8 declared, a
// control character are the row's problems with their rule; a NUL byte refuses the file whole.
TEST(ProfileTest, HostileCellsAreTheRowsProblemsNotTheRuns) {
  v1::SourceProfile p;
  p.set_format(v1::SourceProfile::MAPPED_CSV);
  p.set_encoding(v1::SourceProfile::UTF_8);
  for (const char* f : {"id", "nom", "adresse", "code_postal", "commune", "pivot", "date_maj"}) {
    Map(&p, f, f);
  }
  const std::string head = "id;nom;adresse;code_postal;commune;pivot;date_maj\n";
  const std::string tail = ";1 rue A;59100;Roubaix;21590512800016;2026-11-02\n";
  const std::string file = head + "a;" + std::string(5 << 20, 'x') + tail + "b;Espace \xFF\xFE" +
                           tail + "c;Espace \x01" + tail + "d;Espace D" + tail;
  auto read = ReadSource(Std(), p, file, "h");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->parsed.valid.size(), 1u);
  ASSERT_EQ(read->parsed.rejected.size(), 3u);
  std::vector<std::string> rules;
  for (const auto& r : read->parsed.rejected) {
    EXPECT_EQ(r.violations[0].field, "nom");
    EXPECT_LE(r.violations[0].value.size(), 1000u);  // quoted, never the whole value
    rules.push_back(r.violations[0].rule);
  }
  EXPECT_EQ(rules, (std::vector<std::string>{"maxLength", "utf8", "control"}));
  auto nul = ReadSource(Std(), p, head + std::string("a;E\0", 4) + tail, "h");
  EXPECT_THAT(nul.status().message(), HasSubstr("octet nul"));
}

TEST(ProfileTest, CheckProfileNamesEveryBrokenRule) {
  v1::SourceProfile p;
  p.set_format(v1::SourceProfile::STANDARD_CSV);
  Map(&p, "nom", "Nom");
  std::vector<api::FieldViolation> bad;
  CheckProfile(Std(), p, "profile", &bad);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].field, "profile.format");
  EXPECT_THAT(bad[0].description, HasSubstr("[format]"));

  v1::SourceProfile hours;
  hours.set_format(v1::SourceProfile::MAPPED_CSV);
  Map(&hours, "horaires", "Horaires");
  v1::HoursColumn* c = hours.mutable_hours()->add_columns();
  c->set_column("Lundi");
  c->set_weekday(7);
  bad.clear();
  CheckProfile(Std(), hours, "profile", &bad);
  std::map<std::string, std::string> by_field;
  for (const auto& v : bad) by_field[v.field] += v.description;
  EXPECT_THAT(by_field["profile.hours.columns[0].weekday"], HasSubstr("[range]"));
  EXPECT_THAT(by_field["profile.hours"], HasSubstr("[unique]"));

  v1::SourceProfile many;
  many.set_format(v1::SourceProfile::MAPPED_CSV);
  for (int i = 0; i < kMaxMappings + 1; ++i) Map(&many, "nom", "x");
  bad.clear();
  CheckProfile(Std(), many, "profile", &bad);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_THAT(bad[0].description, HasSubstr("[maxItems]"));

  EXPECT_FALSE(IsCustomProfile(v1::SourceProfile()));
  EXPECT_TRUE(IsCustomProfile(hours));
}

}  // namespace
}  // namespace passerelle::sync
