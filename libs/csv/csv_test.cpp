// Unit tests of the CSV reader and writer.
#include "libs/csv/csv.hpp"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passerelle::csv {
namespace {

using ::testing::ElementsAre;

TEST(CsvTest, ParsesQuotesNewlinesAndBom) {
  auto t = Parse(
      "\xEF\xBB\xBF"
      "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n2,\"multi\nline\",z\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->header, ElementsAre("a", "b", "c"));
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_THAT(t->rows[0].cells, ElementsAre("1", "x, y", "say \"hi\""));
  EXPECT_EQ(t->rows[0].line, 2);
  EXPECT_THAT(t->rows[1].cells, ElementsAre("2", "multi\nline", "z"));
  EXPECT_EQ(t->rows[1].line, 3);
}

TEST(CsvTest, SemicolonsAndSniffing) {
  EXPECT_EQ(SniffDelimiter("a;b;c\n"), ';');
  EXPECT_EQ(SniffDelimiter("\"a;b\",c\n"), ',');
  auto t = Parse("a;b\n1;2\n", ';');
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(t->rows[0].cells, ElementsAre("1", "2"));
}

TEST(CsvTest, ARowOfMillionsOfCellsIsRefusedEarly) {
  const std::string wide = "id,nom" + std::string(5'000'000, ',') + "\nx,y\n";
  auto t = Parse(wide);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), ::testing::HasSubstr("plus de 1000 colonnes"));
  EXPECT_TRUE(Parse("a" + std::string(kMaxColumns - 1, ',') + "\n").ok());  // at the limit
}

TEST(CsvTest, TruncatedQuotedFieldNamesItsLine) {
  auto t = Parse("a,b\n1,2\n3,\"never closed\n");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()),
              ::testing::HasSubstr("ligne 3 : un guillemet ouvert ligne 3 n'est jamais fermé"));
}

TEST(CsvTest, RaggedRowsAreKeptForTheCallerToReport) {
  auto t = Parse("a,b,c\n1,2\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->rows[0].cells.size(), 2u);
}

TEST(CsvTest, WritesAndReadsBack) {
  std::vector<std::string> fields = {"plain", "with,comma", "with \"quote\"", "multi\nline", ""};
  auto t = Parse("h1,h2,h3,h4,h5\r\n" + Line(fields));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->rows[0].cells, fields);
  EXPECT_EQ(Line({"a", "b"}, ',', true), "\"a\",\"b\"\r\n");
}

TEST(CsvFormula, NeutralisesWhatASpreadsheetWouldRunAndRoundTrips) {
  EXPECT_EQ(NeutraliseFormula("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
  EXPECT_EQ(NeutraliseFormula("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(NeutraliseFormula("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
  EXPECT_EQ(NeutraliseFormula("-2+3+cmd"), "'-2+3+cmd");
  EXPECT_EQ(NeutraliseFormula("\t=1+1"), "'\t=1+1");
  EXPECT_EQ(NeutraliseFormula("\r=1"), "'\r=1");
  // What the standard holds stays readable by national tools.
  EXPECT_EQ(NeutraliseFormula("+33320123456"), "+33320123456");
  EXPECT_EQ(NeutraliseFormula("-3.1742"), "-3.1742");
  EXPECT_EQ(NeutraliseFormula("Médiathèque"), "Médiathèque");
  EXPECT_EQ(NeutraliseFormula("'quoted"), "'quoted");
  EXPECT_EQ(NeutraliseFormula("'=1"), "''=1");
  for (const char* v : {"=1+1", "@x", "+cmd", "\t=1", "'=1", "''=1", "'plain", "+33320123456",
                        "-3.5", "plain", "", "'", "=", "-"}) {
    EXPECT_EQ(UnneutraliseFormula(NeutraliseFormula(v)), v) << v;
  }
}

}  // namespace
}  // namespace passerelle::csv
