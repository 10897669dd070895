// Unit tests of the free-text hours converter: tables of what producers write with the OSM
// string expected, what is never guessed, bounds; every expected string parses with the
// registry's own OpeningHours and is in the differential fixture, where the reference accepts it.
#include "libs/standard/hours_text.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "libs/standard/opening_hours.hpp"

namespace passerelle::standard {
namespace {

struct Case {
  std::string in;
  std::string out;
};

// One cell, Monday, whole day.
const std::vector<Case>& CellCases() {
  static const auto* cases = new std::vector<Case>{
      {"9h-12h", "Mo 09:00-12:00"},
      {"8h30-12h", "Mo 08:30-12:00"},
      {"9h00 - 12h00", "Mo 09:00-12:00"},
      {"9h00-12h00", "Mo 09:00-12:00"},
      {"9H-12H", "Mo 09:00-12:00"},
      {"9H00-12H00", "Mo 09:00-12:00"},
      {"9:00-12:00", "Mo 09:00-12:00"},
      {"09:00 - 12:00", "Mo 09:00-12:00"},
      {"9h-12h30", "Mo 09:00-12:30"},
      {"8h45-11h15", "Mo 08:45-11:15"},
      {"9h\u201312h", "Mo 09:00-12:00"},              // en dash
      {"9h \u2014 12h", "Mo 09:00-12:00"},            // em dash
      {"9h\u00a0-\u00a012h", "Mo 09:00-12:00"},       // no-break spaces
      {"9h\u202f\u2013\u202f12h", "Mo 09:00-12:00"},  // narrow no-break spaces
      {"  9h-12h  ", "Mo 09:00-12:00"},
      {"9h-12h / 14h-17h", "Mo 09:00-12:00,14:00-17:00"},
      {"9h-12h/14h-17h", "Mo 09:00-12:00,14:00-17:00"},
      {"9h-12h, 14h-17h", "Mo 09:00-12:00,14:00-17:00"},
      {"9h-12h ; 14h-17h", "Mo 09:00-12:00,14:00-17:00"},
      {"9h-12h et 14h-17h", "Mo 09:00-12:00,14:00-17:00"},
      {"9h-12h + 14h-17h", "Mo 09:00-12:00,14:00-17:00"},
      {"9h à 12h et 14h à 17h", "Mo 09:00-12:00,14:00-17:00"},
      {"9h a 12h et 14h a 17h", "Mo 09:00-12:00,14:00-17:00"},
      {"de 9h à 12h et de 14h à 17h", "Mo 09:00-12:00,14:00-17:00"},
      {"De 9h À 12h Et De 14h À 17h", "Mo 09:00-12:00,14:00-17:00"},
      {"DE 9H À 17H", "Mo 09:00-17:00"},
      {"de 9h à 17h", "Mo 09:00-17:00"},
      {"de 9h jusqu'à 17h", "Mo 09:00-17:00"},
      {"de 9h jusqu\u2019à 17h", "Mo 09:00-17:00"},
      {"entre 9h et 17h", "Mo 09:00-17:00"},
      {"8h30-12h / 13h30-17h", "Mo 08:30-12:00,13:30-17:00"},
      {"8h30 - 12h00 / 13h30 - 17h00", "Mo 08:30-12:00,13:30-17:00"},
      {"9h-12h / 13h-15h / 16h-18h", "Mo 09:00-12:00,13:00-15:00,16:00-18:00"},
      {"9h-12h 14h-17h", "Mo 09:00-12:00,14:00-17:00"},
      {"8h-18h non-stop", "Mo 08:00-18:00"},
      {"8h-18h (journée continue)", "Mo 08:00-18:00"},
      {"14h-17h / 9h-12h", "Mo 09:00-12:00,14:00-17:00"},  // sorted
      {"9h-midi", "Mo 09:00-12:00"},
      {"9h à midi", "Mo 09:00-12:00"},
      {"midi-14h", "Mo 12:00-14:00"},
      {"12h-14h", "Mo 12:00-14:00"},
      {"12h30-13h30", "Mo 12:30-13:30"},
      {"18h-minuit", "Mo 18:00-24:00"},
      {"18h-0h", "Mo 18:00-24:00"},
      {"9h-12h.", "Mo 09:00-12:00"},
      {"9heures-12heures", "Mo 09:00-12:00"},
      {"24h/24", "Mo 00:00-24:00"},
      {"24h/24h", "Mo 00:00-24:00"},
      {"24H/24", "Mo 00:00-24:00"},
      {"14h-18h (sur RDV)", "Mo 14:00-18:00 \"sur rendez-vous\""},
      {"14h-18h sur rendez-vous", "Mo 14:00-18:00 \"sur rendez-vous\""},
      {"14h-18h, sur rendez-vous", "Mo 14:00-18:00 \"sur rendez-vous\""},
      {"14h-18h - sur rdv", "Mo 14:00-18:00 \"sur rendez-vous\""},
      {"14h-18h (uniquement sur rendez-vous)", "Mo 14:00-18:00 \"sur rendez-vous\""},
      {"sur RDV 14h-18h", "Mo 14:00-18:00 \"sur rendez-vous\""},
      {"14h-18h (sur rendez vous)", "Mo 14:00-18:00 \"sur rendez-vous\""},
      {"9h-12h / 14h-17h (sur RDV)", "Mo 09:00-12:00,14:00-17:00 \"sur rendez-vous\""},
      {"sur rendez-vous", "Mo \"sur rendez-vous\""},
      {"Sur rendez-vous", "Mo \"sur rendez-vous\""},
      {"sur RDV", "Mo \"sur rendez-vous\""},
      {"Uniquement sur rendez-vous", "Mo \"sur rendez-vous\""},
      {"(sur rendez-vous)", "Mo \"sur rendez-vous\""},
      {"9h-12h le 1er lundi du mois", "Mo[1] 09:00-12:00"},
      {"9h-12h (le 1er lundi du mois)", "Mo[1] 09:00-12:00"},
      {"le 1er lundi du mois de 9h à 12h", "Mo[1] 09:00-12:00"},
      {"le 2e lundi du mois 14h-17h", "Mo[2] 14:00-17:00"},
      {"le dernier lundi du mois 14h-17h", "Mo[-1] 14:00-17:00"},
      {"9h-12h semaine paire", "week 02-52/2 Mo 09:00-12:00"},
      {"9h-12h (semaines paires)", "week 02-52/2 Mo 09:00-12:00"},
      {"9h-12h semaine impaire", "week 01-53/2 Mo 09:00-12:00"},
      {"les semaines paires 9h-12h", "week 02-52/2 Mo 09:00-12:00"},
      {"14h-17h semaine paire sur rdv", "week 02-52/2 Mo 14:00-17:00 \"sur rendez-vous\""},
      {"fermé", "off"},
      {"Fermé", "off"},
      {"FERMÉ", "off"},
      {"ferme", "off"},
      {"fermée", "off"},
      {"Fermé.", "off"},
      {"fermeture", "off"},
      {"-", "off"},
      {"\u2013", "off"},
      {"--", "off"},
      {"/", "off"},
      {"", ""},
      {"   ", ""},
  };
  return *cases;
}

TEST(HoursTextTest, OneCellOnMonday) {
  for (const auto& c : CellCases()) {
    const auto r = ConvertHoursCells({{0, DayPart::kWholeDay, c.in}});
    EXPECT_TRUE(r.not_understood.empty()) << c.in;
    EXPECT_EQ(r.opening_hours, c.out) << c.in;
  }
}

HoursCell Day(int weekday, std::string text) { return {weekday, DayPart::kWholeDay, text}; }
HoursCell Morning(int weekday, std::string text) { return {weekday, DayPart::kMorning, text}; }
HoursCell Afternoon(int weekday, std::string text) { return {weekday, DayPart::kAfternoon, text}; }

struct WeekCase {
  std::vector<HoursCell> cells;
  std::string out;
};

const std::vector<WeekCase>& WeekCases() {
  static const auto* cases = new std::vector<WeekCase>{
      {{Day(0, "8h30-12h / 13h30-17h"), Day(1, "8h30-12h / 13h30-17h"),
        Day(2, "8h30-12h / 13h30-17h"), Day(3, "8h30-12h / 13h30-17h"),
        Day(4, "8h30-12h / 13h30-17h"), Day(5, "9h-12h"), Day(6, "fermé")},
       "Mo-Fr 08:30-12:00,13:30-17:00; Sa 09:00-12:00"},
      // Half days combined into one string.
      {{Morning(0, "8h30-12h"), Afternoon(0, "13h30-17h"), Morning(1, "8h30-12h"),
        Afternoon(1, "13h30-17h"), Morning(2, "8h30-12h"), Afternoon(2, "13h30-17h"),
        Morning(3, "8h30-12h"), Afternoon(3, "13h30-17h"), Morning(4, "8h30-12h"),
        Afternoon(4, "13h30-17h"), Morning(5, "9h-12h"), Afternoon(5, "fermé"), Morning(6, "-"),
        Afternoon(6, "-")},
       "Mo-Fr 08:30-12:00,13:30-17:00; Sa 09:00-12:00"},
      // Non-contiguous days as a list.
      {{Day(0, "9h-12h"), Day(1, "fermé"), Day(2, "9h-12h"), Day(3, ""), Day(4, "9h-12h")},
       "Mo,We,Fr 09:00-12:00"},
      {{Day(0, "9h-12h"), Day(1, "9h-12h"), Day(3, "9h-12h"), Day(4, "9h-12h")},
       "Mo,Tu,Th,Fr 09:00-12:00"},
      {{Day(0, "9h-17h"), Day(1, "9h-17h"), Day(2, "9h-17h"), Day(4, "9h-17h")},
       "Mo-We,Fr 09:00-17:00"},
      {{Day(5, "10h-12h"), Day(6, "10h-12h")}, "Sa,Su 10:00-12:00"},
      {{Day(0, "24h/24"), Day(1, "24h/24"), Day(2, "24h/24"), Day(3, "24h/24"), Day(4, "24h/24"),
        Day(5, "24h/24"), Day(6, "24h/24")},
       "Mo-Su 00:00-24:00"},
      // A morning open to all, an afternoon on appointment: one rule and an additional one.
      {{Morning(1, "9h-12h"), Afternoon(1, "14h-17h (sur RDV)")},
       "Tu 09:00-12:00, Tu 14:00-17:00 \"sur rendez-vous\""},
      {{Morning(0, "9h-12h"), Afternoon(0, "14h-17h sur rdv"), Morning(1, "9h-12h"),
        Afternoon(1, "14h-17h sur rdv"), Day(2, "9h-12h")},
       "Mo,Tu 09:00-12:00, Mo,Tu 14:00-17:00 \"sur rendez-vous\"; We 09:00-12:00"},
      {{Day(0, "14h-17h"), Day(1, "sur rendez-vous"), Day(3, "sur rendez-vous")},
       "Mo 14:00-17:00; Tu,Th \"sur rendez-vous\""},
      {{Morning(0, "9h-12h le 1er lundi du mois"), Afternoon(0, "14h-17h"), Day(2, "14h-17h")},
       "Mo 14:00-17:00, Mo[1] 09:00-12:00; We 14:00-17:00"},
      {{Day(0, "9h-12h (semaine paire)"), Day(1, "9h-12h (semaine paire)"), Day(4, "9h-12h")},
       "week 02-52/2 Mo,Tu 09:00-12:00; Fr 09:00-12:00"},
      {{Day(0, "fermé"), Day(1, "-"), Day(2, ""), Day(3, "ferme"), Day(4, "Fermé"), Day(5, "fermé"),
        Day(6, "fermé")},
       "off"},
      {{Day(0, ""), Day(1, " "), Morning(2, ""), Afternoon(2, "")}, ""},
      {{Morning(0, "9h-12h"), Day(0, "14h-17h")}, "Mo 09:00-12:00,14:00-17:00"},
      {{Morning(6, "10h-12h")}, "Su 10:00-12:00"},
      // A closed morning closes only the morning.
      {{Morning(2, "fermé"), Afternoon(2, "14h-17h")}, "We 14:00-17:00"},
      // Both half days on appointment: said once.
      {{Morning(3, "sur rendez-vous"), Afternoon(3, "Sur RDV")}, "Th \"sur rendez-vous\""},
  };
  return *cases;
}

TEST(HoursTextTest, CellsOfAWeek) {
  for (const auto& c : WeekCases()) {
    const auto r = ConvertHoursCells(c.cells);
    EXPECT_TRUE(r.not_understood.empty()) << c.out;
    EXPECT_EQ(r.opening_hours, c.out);
  }
}

const std::vector<Case>& TextCases() {
  static const auto* cases = new std::vector<Case>{
      {"du lundi au vendredi de 9h à 12h et de 14h à 17h, le samedi 9h-12h",
       "Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00"},
      {"Du lundi au vendredi : 8h30-12h / 13h30-17h", "Mo-Fr 08:30-12:00,13:30-17:00"},
      {"lundi-vendredi 9h-17h", "Mo-Fr 09:00-17:00"},
      {"lundi, mardi et jeudi 9h-12h", "Mo,Tu,Th 09:00-12:00"},
      {"lundi, mercredi et vendredi de 14h à 18h", "Mo,We,Fr 14:00-18:00"},
      {"le samedi matin 9h-12h", "Sa 09:00-12:00"},
      {"le samedi matin de 9h à 12h, le mercredi après-midi de 14h à 17h",
       "We 14:00-17:00; Sa 09:00-12:00"},
      {"Lundi : 9h-12h\nMardi : 14h-17h\nMercredi : fermé", "Mo 09:00-12:00; Tu 14:00-17:00"},
      {"lundi 9h-12h; lundi 14h-17h", "Mo 09:00-12:00,14:00-17:00"},
      {"tous les jours 24h/24", "Mo-Su 00:00-24:00"},
      {"7j/7 24h/24", "Mo-Su 00:00-24:00"},
      {"du lundi au dimanche de 8h à 20h", "Mo-Su 08:00-20:00"},
      {"le 1er lundi du mois de 9h à 12h", "Mo[1] 09:00-12:00"},
      {"le mardi 14h-18h (sur RDV)", "Tu 14:00-18:00 \"sur rendez-vous\""},
      {"le mardi 14h-18h, sur rendez-vous", "Tu 14:00-18:00 \"sur rendez-vous\""},
      {"lundi 9h-12h sur RDV, mardi 14h-17h", "Mo 09:00-12:00 \"sur rendez-vous\"; Tu 14:00-17:00"},
      {"du lundi au vendredi sur rendez-vous", "Mo-Fr \"sur rendez-vous\""},
      {"les lundis des semaines paires 9h-12h", "week 02-52/2 Mo 09:00-12:00"},
      {"lun-ven 9h-12h", "Mo-Fr 09:00-12:00"},
      {"LUNDI AU VENDREDI 9H-12H", "Mo-Fr 09:00-12:00"},
      {"du lundi au vendredi de 9h à 17h. Le samedi fermé.", "Mo-Fr 09:00-17:00"},
      {"du mardi au samedi 10h-12h et 14h-18h", "Tu-Sa 10:00-12:00,14:00-18:00"},
      {"lun. au ven. : 9h-12h", "Mo-Fr 09:00-12:00"},
      {"du lundi au vendredi, 9h-12h - samedi 10h-12h", "Mo-Fr 09:00-12:00; Sa 10:00-12:00"},
      {"lundi 9h-12h, le 1er mardi du mois 14h-17h", "Mo 09:00-12:00; Tu[1] 14:00-17:00"},
      {"le dimanche : 10h-12h (semaines impaires)", "week 01-53/2 Su 10:00-12:00"},
      // Exceptions: a day closed in another clause, or `sauf`.
      {"du lundi au vendredi 9h-17h, mercredi fermé", "Mo,Tu,Th,Fr 09:00-17:00"},
      {"Mercredi : fermé. Du lundi au vendredi : 9h-17h", "Mo,Tu,Th,Fr 09:00-17:00"},
      {"du lundi au samedi sauf le mercredi 9h-12h", "Mo,Tu,Th-Sa 09:00-12:00"},
      {"du lundi au vendredi sauf mercredi et jeudi, 14h-17h", "Mo,Tu,Fr 14:00-17:00"},
  };
  return *cases;
}

TEST(HoursTextTest, FreeTextNamingDays) {
  for (const auto& c : TextCases()) {
    const auto r = ConvertHoursText(c.in);
    EXPECT_TRUE(r.not_understood.empty()) << c.in;
    EXPECT_EQ(r.opening_hours, c.out) << c.in;
  }
}

// What is never guessed: these cells are not understood, reported with their value.
TEST(HoursTextTest, NotUnderstoodCellsAreReportedWithTheirValue) {
  const std::vector<std::string> values = {
      "matin",  // a half day without hours: which hours is not said
      "après-midi",
      "Matin et après-midi",
      "ouvert",
      "9-12",  // bare numbers
      "9h",    // a point in time
      "9h-",
      "à partir de 9h",
      "12h-9h",            // reversed
      "9h-9h",             // empty
      "9h-12h / 11h-14h",  // overlapping
      "9h et 12h",         // two points in time
      "9h, 12h",
      "9h-12h 14h",
      "non-stop",  // no hours
      "25h-26h",
      "9h61-10h",
      "9h5-10h",
      "9am-5pm",
      "09:00-12:00 Mo",
      "le 1er lundi du mois",         // which hours?
      "9h-12h le 1er mardi du mois",  // another weekday than the cell's
      "semaine paire",
      "9h-12h sur rdv / 14h-17h",  // which hours the appointment is for
      "fermé 9h-12h",
      "9h-12h semaine paire semaine impaire",
      "9 h - 12 h",
      "9h-12h (sur RDV",
      "sur",
      "Mo-Fr 09:00-12:00",
      "lundi 9h-12h",  // a day in a day's cell
      "9h-12h ???",
      std::string("9h-12h\0", 7),
      "9h-12h\x01",
      "\xff\xfe",
      "9h-12h \xc3",
  };
  for (const auto& v : values) {
    const auto r =
        ConvertHoursCells({{2, DayPart::kMorning, v}, {3, DayPart::kWholeDay, "9h-12h"}});
    EXPECT_EQ(r.opening_hours, "") << v;
    EXPECT_EQ(r.remarks, "") << v;
    ASSERT_EQ(r.not_understood.size(), 1u) << v;
    EXPECT_EQ(r.not_understood[0].weekday, 2);
    EXPECT_EQ(r.not_understood[0].part, DayPart::kMorning);
    if (v.find('\0') == std::string::npos && v.find('\xff') == std::string::npos &&
        v.find('\xc3') == std::string::npos) {
      EXPECT_EQ(r.not_understood[0].value, v);
    }
  }
}

TEST(HoursTextTest, OverlappingHalfDaysAreNotUnderstoodWithBothValues) {
  const auto r =
      ConvertHoursCells({Morning(0, "9h-13h"), Afternoon(0, "12h-17h"), Day(1, "9h-12h")});
  EXPECT_EQ(r.opening_hours, "");
  ASSERT_EQ(r.not_understood.size(), 2u);
  EXPECT_EQ(r.not_understood[0].value, "9h-13h");
  EXPECT_EQ(r.not_understood[1].value, "12h-17h");
  // A whole-day appointment beside hours the same day: which applies is not guessed.
  EXPECT_EQ(ConvertHoursCells({Morning(0, "9h-12h"), Afternoon(0, "sur rendez-vous")})
                .not_understood.size(),
            2u);
  // A whole day closed in one cell and open in another.
  const auto closed = ConvertHoursCells({Day(0, "fermé"), Afternoon(0, "14h-17h")});
  EXPECT_EQ(closed.opening_hours, "");
  EXPECT_EQ(closed.not_understood.size(), 2u);
  // A weekday outside 0..6.
  const auto bad = ConvertHoursCells({Day(7, "9h-12h"), Day(0, "9h-12h")});
  ASSERT_EQ(bad.not_understood.size(), 1u);
  EXPECT_EQ(bad.not_understood[0].weekday, 7);
}

TEST(HoursTextTest, FreeTextNotUnderstood) {
  for (const std::string v : {
           "9h-12h",  // names no day
           "sur rendez-vous",
           "le samedi matin",  // a half day without hours
           "du lundi au vendredi",
           "9h-12h du lundi au vendredi",  // hours before days
           "du samedi au lundi 9h-12h",
           "lundi 9h-12h, lundi 11h-14h",  // overlapping
           "lundi 12h-9h", "lundi 9h-12h et plus", "Mo-Fr 09:00-12:00",
           "du lundi au vendredi 9h-12h, le 1er lundi du mois fermé",  // which Mondays?
           "lundi 9h-12h, lundi semaine paire fermé",
           "du lundi au mardi sauf lundi et mardi 9h-12h",
           "lundi 9h-12h, sur RDV mardi 14h-17h",   // for Monday or for Tuesday?
           "lundi 9h-12h, mardi 14h-17h, sur RDV",  // for both or for Tuesday?
       }) {
    const auto r = ConvertHoursText(v);
    EXPECT_EQ(r.opening_hours, "") << v;
    ASSERT_EQ(r.not_understood.size(), 1u) << v;
    EXPECT_EQ(r.not_understood[0].value, v);
  }
  EXPECT_TRUE(ConvertHoursText("").not_understood.empty());
  EXPECT_EQ(ConvertHoursText("  ").opening_hours, "");
}

TEST(HoursTextTest, RemarksKeepWhatIsSaidInWords) {
  EXPECT_EQ(ConvertHoursCells({Day(0, "14h-18h (sur RDV)"), Day(1, "14h-18h (sur RDV)")}).remarks,
            "lundi, mardi, 14h00-18h00 : sur rendez-vous");
  EXPECT_EQ(ConvertHoursCells({Day(0, "9h-12h le 1er lundi du mois")}).remarks,
            "le 1er lundi du mois, 9h00-12h00");
  EXPECT_EQ(ConvertHoursText("du lundi au vendredi sur rendez-vous").remarks,
            "du lundi au vendredi : sur rendez-vous");
  EXPECT_EQ(ConvertHoursCells({Day(0, "9h-12h")}).remarks, "");
}

TEST(HoursTextTest, HugeAndHostileInputsAreRefusedQuickly) {
  const auto start = std::chrono::steady_clock::now();
  const std::string huge(1 << 20, '9');
  EXPECT_EQ(ConvertHoursCells({Day(0, huge)}).not_understood.size(), 1u);
  EXPECT_LE(ConvertHoursCells({Day(0, huge)}).not_understood[0].value.size(), 4 * 200u);
  EXPECT_EQ(ConvertHoursText(huge).not_understood.size(), 1u);
  std::string many;
  for (int i = 0; i < 150; ++i) many += "lundi 9h-12h, ";
  EXPECT_EQ(ConvertHoursText(many).not_understood.size(), 1u);  // overlapping anyway
  std::string intervals = "lundi ";
  for (int h = 0; h < 23; ++h) intervals += std::to_string(h) + "h-" + std::to_string(h) + "h30 ";
  EXPECT_EQ(ConvertHoursText(intervals).not_understood.size(), 1u);  // too many in a day
  std::vector<HoursCell> cells(10000, Day(0, "9h-12h"));
  EXPECT_FALSE(ConvertHoursCells(cells).not_understood.empty());
  std::string parens(1500, '(');
  EXPECT_EQ(ConvertHoursText("lundi " + parens).not_understood.size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string JsonQuoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::vector<std::string> Expected() {
  std::vector<std::string> all;
  for (const auto& c : CellCases()) all.push_back(c.out);
  for (const auto& c : WeekCases()) all.push_back(c.out);
  for (const auto& c : TextCases()) all.push_back(c.out);
  return all;
}

TEST(HoursTextTest, TheTableIsLargeEnough) {
  EXPECT_GE(CellCases().size() + WeekCases().size() + TextCases().size(), 80u);
}

// Every string the converter writes is read by the registry's own parser, and is in the
// differential corpus, whose fixture the reference made (standard_opening_hours_interop_test
// then compares both on it; a string the reference refused would be in the one-side list).
TEST(HoursTextTest, EveryExpectedStringParsesAndIsInTheDifferentialCorpus) {
  const std::string dir = std::string(PASSERELLE_SOURCE_DIR) + "/tests/interop/";
  std::set<std::string> corpus;
  std::istringstream lines(Read(dir + "opening_hours_corpus.txt"));
  for (std::string line; std::getline(lines, line);) corpus.insert(line);
  const std::string fixture = Read(dir + "opening_hours_reference.json");
  const std::string one_side = Read(dir + "opening_hours_one_side.txt");
  // PASSERELLE_PRINT_HOURS_TEXT=1 prints the corpus lines of the table (docs/sync.md).
  const bool print = getenv("PASSERELLE_PRINT_HOURS_TEXT") != nullptr;
  std::set<std::string> printed;
  for (const auto& s : Expected()) {
    if (s.empty()) continue;
    if (print && printed.insert(s).second) std::cout << JsonQuoted(s) << "\n";
    EXPECT_TRUE(OpeningHours::Parse(s).has_value()) << s;
    EXPECT_TRUE(corpus.count(JsonQuoted(s))) << "not in opening_hours_corpus.txt: " << s;
    EXPECT_NE(fixture.find("\"value\": " + JsonQuoted(s)), std::string::npos)
        << "not in the fixture (run tools/opening_hours_reference.sh): " << s;
    EXPECT_EQ(one_side.find(JsonQuoted(s)), std::string::npos)
        << "accepted by one side only: " << s;
  }
}

}  // namespace
}  // namespace passerelle::standard
