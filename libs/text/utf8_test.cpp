// Unit tests of the untrusted-text helpers.
#include "libs/text/utf8.hpp"

#include <gtest/gtest.h>

namespace passerelle::text {
namespace {

TEST(Utf8, FindsTheFirstIllFormedByte) {
  EXPECT_FALSE(FirstInvalidUtf8("Médiathèque 🙂 عربى").has_value());
  EXPECT_EQ(FirstInvalidUtf8("ab\xFF\xFE"), 2u);
  EXPECT_EQ(FirstInvalidUtf8("caf\xC3"), 3u);                               // cut 2-byte sequence
  EXPECT_EQ(FirstInvalidUtf8("\xC0\xAF"), 0u);                              // overlong '/'
  EXPECT_EQ(FirstInvalidUtf8("x\xED\xA0\x80"), 1u);                         // surrogate
  EXPECT_EQ(FirstInvalidUtf8("\xF4\x90\x80\x80"), 0u);                      // above U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8("\xE2\x82"), 0u);                              // cut 3-byte sequence
  EXPECT_FALSE(FirstInvalidUtf8(std::string_view("a\0b", 3)).has_value());  // NUL is UTF-8
}

TEST(Utf8, RepairsAndDropsNul) {
  EXPECT_EQ(ToValidUtf8("a\xFF"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ToValidUtf8(std::string_view("a\0b", 3)), "ab");
  EXPECT_TRUE(IsValidUtf8(ToValidUtf8("\xC3\x28\xA0\xA1\xE2\x28\xA1")));
}

TEST(Utf8, FindsBidiControls) {
  EXPECT_FALSE(FirstBidiControl("Médiathèque « Jean Lévy »").has_value());
  EXPECT_EQ(FirstBidiControl("abc\u202Egnp.exe"), 3u);
  EXPECT_EQ(FirstBidiControl("\u2066x\u2069"), 0u);
  EXPECT_FALSE(FirstBidiControl("\u200E").has_value());  // a mark, not an override
}

TEST(Utf8, BlankIsWhatShowsNothing) {
  EXPECT_TRUE(IsBlank(""));
  EXPECT_TRUE(IsBlank("\u200B\u200B"));
  EXPECT_TRUE(IsBlank(" \u00A0\uFEFF\u3000\u2060"));
  EXPECT_TRUE(IsBlank("\u3164\u115F\u1160\uFFA0\u2800\u034F\u180E\uFE0F\u17B4\u061C\uFFFC"));
  EXPECT_TRUE(IsBlank("\U000E0020\U000E0041"));
  EXPECT_FALSE(IsBlank("\u200Ba"));
  EXPECT_FALSE(IsBlank("."));
  EXPECT_FALSE(IsBlank("\xff"));
}

TEST(Utf8, FindsControlCharacters) {
  EXPECT_FALSE(FirstControl("tab\tnewline\n ok").has_value());
  EXPECT_EQ(FirstControl(std::string_view("ab\0", 3)), 2u);
  EXPECT_EQ(FirstControl("a\x1b[31m"), 1u);
  EXPECT_EQ(FirstControl("é\xC2\x85"), 2u);  // U+0085, a C1 control
  // Noncharacters: U+FFFF, U+FFFE, U+FDD0, U+1FFFF; U+FFFD (replacement) and U+FEFF are text.
  EXPECT_EQ(FirstControl("ab\xEF\xBF\xBF"), 2u);
  EXPECT_EQ(FirstControl("\xEF\xBF\xBE"), 0u);
  EXPECT_EQ(FirstControl("a\xEF\xB7\x90"), 1u);
  EXPECT_EQ(FirstControl("a\xF0\x9F\xBF\xBF"), 1u);
  EXPECT_FALSE(FirstControl("\xEF\xBF\xBD \xEF\xBB\xBF \xEF\xB7\xB0").has_value());
}

TEST(Utf8, TruncatesOnCodePoints) {
  const std::string s = "éàü€🙂";
  EXPECT_EQ(CodePoints(s), 5u);
  EXPECT_EQ(TruncateCodePoints(s, 2), "éà");
  EXPECT_EQ(TruncateCodePoints(s, 10), s);
  EXPECT_EQ(Ellipsize(s, 3), "éà…");
  EXPECT_EQ(Ellipsize(s, 5), s);
  EXPECT_TRUE(IsValidUtf8(Ellipsize(std::string(277, 'a') + "ééé", 278)));
}

// Review finding F10: a subject cut on code points split a flag or left an « e » without its
// accent. Each case: where a code-point cut would fall inside a cluster, the cut is before it.
TEST(Utf8, CutsOnGraphemeClusters) {
  const std::string e_acute = "e\u0301";  // « é » decomposed: e + combining acute accent
  EXPECT_EQ(CutGraphemes("caf" + e_acute + "s", 4), "caf");
  EXPECT_EQ(CutGraphemes("caf" + e_acute + "s", 5), "caf" + e_acute);
  EXPECT_EQ(CutGraphemes("xa\u0323\u0302b", 3), "x");  // two marks on one letter
  // Regional-indicator pairs: 🇫🇷🇧🇪 is two flags, cut between them and never inside one.
  const std::string fr = "\U0001F1EB\U0001F1F7", be = "\U0001F1E7\U0001F1EA";
  EXPECT_EQ(CutGraphemes("x" + fr + be, 2), "x");
  EXPECT_EQ(CutGraphemes("x" + fr + be, 3), "x" + fr);
  EXPECT_EQ(CutGraphemes("x" + fr + be, 4), "x" + fr);
  EXPECT_EQ(CutGraphemes("x" + fr + be, 5), "x" + fr + be);
  // A ZWJ sequence (👩‍👩‍👧: woman ZWJ woman ZWJ girl) stays whole.
  const std::string family = "\U0001F469\u200D\U0001F469\u200D\U0001F467";
  for (size_t n = 1; n < 5; ++n) EXPECT_EQ(CutGraphemes("a" + family + "b", 1 + n), "a") << n;
  EXPECT_EQ(CutGraphemes("a" + family + "b", 6), "a" + family);
  // A variation selector (❤️), a skin tone (👍🏽) and a keycap (1️⃣) stay with their
  // base.
  EXPECT_EQ(CutGraphemes("a\u2764\uFE0F", 2), "a");
  EXPECT_EQ(CutGraphemes("a\U0001F44D\U0001F3FD", 2), "a");
  EXPECT_EQ(CutGraphemes("a1\uFE0F\u20E3", 3), "a");
  // Plain text and a short enough text are unchanged; a first cluster longer than the limit
  // is cut on code points rather than to nothing.
  EXPECT_EQ(CutGraphemes("abcdef", 3), "abc");
  EXPECT_EQ(CutGraphemes("caf" + e_acute, 10), "caf" + e_acute);
  EXPECT_EQ(CutGraphemes("e\u0301\u0301\u0301", 2), "e\u0301");
  EXPECT_EQ(EllipsizeGraphemes("caf" + e_acute + "s", 5), "caf\u2026");
  EXPECT_EQ(EllipsizeGraphemes("x" + fr + be, 3), "x\u2026");
  EXPECT_EQ(EllipsizeGraphemes("x" + fr, 3), "x" + fr);
}

TEST(Utf8, QuotesAShortSafePrefix) {
  EXPECT_EQ(Quote(std::string(1000000, 'x'), 5), "xxxxx…");
  EXPECT_EQ(Quote(std::string_view("a\0b\xFF", 4)),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  EXPECT_EQ(Quote("court"), "court");
  // Tab and line breaks, which a text may hold, never reach a one-line message as they are.
  EXPECT_EQ(Quote("a\tb\nc\rd"), "a\uFFFDb\uFFFDc\uFFFDd");
  // What would reorder the message or hide a difference: bidi controls, separators, ZWSP, BOM.
  EXPECT_EQ(Quote("a\u202Eb\u2066c\u200Fd\u2028e\u200Bf\uFEFFg"),
            "a\uFFFDb\uFFFDc\uFFFDd\uFFFDe\uFFFDf\uFFFDg");
  EXPECT_EQ(Quote("\u0645\u200C\u0646 \U0001F469\u200D\U0001F4BB"),
            "\u0645\u200C\u0646 \U0001F469\u200D\U0001F4BB");  // ZWNJ and ZWJ kept
}

TEST(ParseDecimal, AcceptsPlainDecimalsOnly) {
  EXPECT_EQ(ParseDecimal("50.69"), 50.69);
  EXPECT_EQ(ParseDecimal(" -3.17 "), -3.17);
  EXPECT_EQ(ParseDecimal("+2"), 2.0);
  EXPECT_EQ(ParseDecimal("50,69", true), 50.69);
  EXPECT_FALSE(ParseDecimal("50,69").has_value());
  for (const char* bad : {"", "nan", "NaN", "inf", "-inf", "0x10", "1e3", "1E3", ".5", "5.",
                          "1.2.3", "1 000", "--1", "١٢", "12abc"}) {
    EXPECT_FALSE(ParseDecimal(bad, true).has_value()) << bad;
  }
  EXPECT_FALSE(ParseDecimal(std::string(401, '9')).has_value());  // too long to be a number here
}

// What a reader cannot see at either end is not part of a name: the same characters IsBlank
// knows, except, at the end, those that change the character before them (tester 26, F1).
TEST(Utf8Test, TrimInvisibleTakesTheEndsIsBlankWouldCallEmpty) {
  EXPECT_EQ(TrimInvisible("\uFEFF\u00AD Nom\u00A0\u200B\u2060\u2028\u3000\u180E\u200D"), "Nom");
  EXPECT_EQ(TrimInvisible("Rou\uFEFFbaix"), "Rou\uFEFFbaix");  // inside: kept
  EXPECT_EQ(TrimInvisible("\u2764\uFE0F"), "\u2764\uFE0F");    // the selector makes the emoji
  const std::string scotland =
      "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F";
  EXPECT_EQ(TrimInvisible(scotland + " "), scotland);
  EXPECT_EQ(TrimInvisible("\u200B\u00A0"), "");
  EXPECT_EQ(TrimInvisible(""), "");
  // Bytes that are not UTF-8 stay for the UTF-8 check to report.
  EXPECT_EQ(TrimInvisible("a \xE2\x80"), "a \xE2\x80");
  EXPECT_EQ(TrimInvisible("\xFF a"), "\xFF a");
}

}  // namespace
}  // namespace passerelle::text
