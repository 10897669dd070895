#include "libs/text/encoding.hpp"

#include "gtest/gtest.h"
#include "libs/text/utf8.hpp"

namespace passerelle::text {
namespace {

TEST(EncodingTest, DetectsUtf8Latin1AndMixedFiles) {
  EXPECT_EQ(DetectEncoding("id;nom\r\n1;Médiathèque\r\n"), Encoding::kUtf8);
  EXPECT_EQ(DetectEncoding("\xEF\xBB\xBFid;nom\r\n"), Encoding::kUtf8);
  EXPECT_EQ(DetectEncoding("plain ascii"), Encoding::kUtf8);
  EXPECT_EQ(DetectEncoding("1;M\xE9"
                           "diath\xE8que\r\n"),
            Encoding::kWindows1252);
  EXPECT_EQ(DetectEncoding("\x93quoted\x94 \x80"), Encoding::kWindows1252);
  // A UTF-8 file with one stray byte stays UTF-8: the bad byte is the row's problem.
  EXPECT_EQ(DetectEncoding("num\xC3\xA9rique \xFF"), Encoding::kUtf8);
  // A cut sequence at the end is not a multi-byte sequence.
  EXPECT_EQ(DetectEncoding("abc \xC3"), Encoding::kWindows1252);
}

TEST(EncodingTest, ConvertsSingleByteEncodingsToValidUtf8) {
  EXPECT_EQ(ToUtf8("M\xE9"
                   "diath\xE8que",
                   Encoding::kLatin1),
            "Médiathèque");
  EXPECT_EQ(ToUtf8("M\xE9"
                   "diath\xE8que",
                   Encoding::kWindows1252),
            "Médiathèque");
  EXPECT_EQ(ToUtf8("\x80 \x9C\x93x\x94", Encoding::kWindows1252), "€ œ“x”");
  EXPECT_EQ(ToUtf8("\xFF", Encoding::kLatin1), "ÿ");
  // Latin-1's 0x80-0x9F are C1 controls: valid UTF-8 that readers refuse as control characters.
  const std::string c1 = ToUtf8("a\x85", Encoding::kLatin1);
  EXPECT_TRUE(IsValidUtf8(c1));
  EXPECT_TRUE(FirstControl(c1).has_value());
  // Windows-1252's undefined bytes read as Latin-1.
  EXPECT_TRUE(FirstControl(ToUtf8("\x81", Encoding::kWindows1252)).has_value());
  // Every byte gives valid UTF-8.
  std::string all;
  for (int b = 1; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_TRUE(IsValidUtf8(ToUtf8(all, Encoding::kLatin1)));
  EXPECT_TRUE(IsValidUtf8(ToUtf8(all, Encoding::kWindows1252)));
  EXPECT_EQ(CodePoints(ToUtf8(all, Encoding::kWindows1252)), 255u);
}

TEST(EncodingTest, ByteOrderMarks) {
  EXPECT_EQ(ToUtf8("\xEF\xBB\xBFid", Encoding::kUtf8), "id");
  EXPECT_EQ(ToUtf8("\xEF\xBB\xBFid", Encoding::kWindows1252), "id");
  EXPECT_EQ(StripUtf8Bom("id"), "id");
  EXPECT_TRUE(HasUtf16Bom("\xFF\xFEi\0d"));
  EXPECT_TRUE(HasUtf16Bom("\xFE\xFF\0i"));
  EXPECT_FALSE(HasUtf16Bom("id"));
}

TEST(EncodingTest, DecodeFileDetectsOrTakesTheDeclaredEncoding) {
  auto detected = DecodeFile(
      "\xEF\xBB\xBFnom\nM\xE9"
      "diath\xE8que\n");
  ASSERT_TRUE(detected.has_value());
  EXPECT_EQ(detected->encoding(), Encoding::kWindows1252);
  EXPECT_EQ(detected->utf8(), "nom\nMédiathèque\n");
  auto utf8 = DecodeFile("nom\nMédiathèque\n");
  ASSERT_TRUE(utf8.has_value());
  EXPECT_EQ(utf8->encoding(), Encoding::kUtf8);
  EXPECT_EQ(utf8->utf8(), "nom\nMédiathèque\n");
  // A declared encoding wins over detection: these bytes are valid UTF-8, read here as Latin-1.
  auto declared = DecodeFile("é", Encoding::kLatin1);
  ASSERT_TRUE(declared.has_value());
  EXPECT_EQ(declared->encoding(), Encoding::kLatin1);
  EXPECT_EQ(declared->utf8(), "Ã©");
  // UTF-16 and UTF-32 are refused, declared or not.
  EXPECT_FALSE(DecodeFile(std::string_view("\xFF\xFEn\0o\0m\0", 8)).has_value());
  EXPECT_FALSE(DecodeFile(std::string_view("\0\0\xFE\xFF", 4), Encoding::kUtf8).has_value());
}

std::string Wide(std::string_view ascii, int width, bool big_endian) {
  std::string out;
  for (char c : ascii) {
    std::string unit(width, '\0');
    unit[big_endian ? width - 1 : 0] = c;
    out += unit;
  }
  return out;
}

TEST(EncodingTest, WideTextWithoutByteOrderMarkIsRecognised) {
  const std::string text = "id;pivot;nom\r\nx;1;Médiathèque\r\n";
  for (int width : {2, 4}) {
    for (bool big_endian : {false, true}) {
      EXPECT_TRUE(LooksLikeWideText(Wide(text, width, big_endian))) << width << big_endian;
      EXPECT_FALSE(DecodeFile(Wide(text, width, big_endian)).has_value());
    }
  }
  // Text, a UTF-8 file with a few NULs, a short one and binary data are not.
  EXPECT_FALSE(LooksLikeWideText(text));
  EXPECT_FALSE(LooksLikeWideText(std::string("a\0b\0c\0d\0", 8).substr(0, 6)));
  EXPECT_FALSE(LooksLikeWideText("id;nom\r\n" + std::string(3, '\0') + "x;y\r\n"));
  std::string binary;
  for (int i = 0; i < 600; ++i) binary += static_cast<char>((i * 7919) % 251 < 60 ? 0 : i % 251);
  EXPECT_FALSE(LooksLikeWideText(binary));
  EXPECT_FALSE(LooksLikeWideText(std::string(600, '\0')));
}

}  // namespace
}  // namespace passerelle::text
