// What French producers write in their opening-hours columns ("9h-12h / 14h-17h", "fermé",
// "sur rendez-vous", one column per day or per half day), turned into the OpenStreetMap
// `opening_hours` string the national standard's `horaires` holds. What is not understood is
// never guessed: the conversion says so, with the value, and gives no string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace passerelle::standard {

/// Which part of a day a producer's cell describes.
enum class DayPart { kWholeDay, kMorning, kAfternoon };

/// One producer cell: a day of the week (0 = Monday … 6 = Sunday), the part of that day, and
/// the producer's text as read from the file.
struct HoursCell {
  int weekday = 0;
  DayPart part = DayPart::kWholeDay;
  std::string text;
};

/// A cell the converter did not understand, with its value.
struct HoursNotUnderstoodCell {
  int weekday = 0;
  DayPart part = DayPart::kWholeDay;
  std::string value;
};

/// The result of a conversion.
struct HoursConversion {
  /// The OSM `opening_hours` string (`Mo-Fr 08:30-12:00,13:30-17:00; Sa 09:00-12:00`), days
  /// with equal hours merged into ranges; empty when any cell was not understood or when no
  /// cell says anything (all empty).
  std::string opening_hours;
  /// Every cell (or the free text) that was not understood, with its value.
  std::vector<HoursNotUnderstoodCell> not_understood;
  /// What the producer said beside the hours that the registry keeps in words
  /// ("sur rendez-vous", "le 1er lundi du mois"), French, for the venue's description of hours.
  /// Empty when nothing was written.
  std::string remarks;
};

/// Converts one column per day, or one per half day (`lundi matin`, `lundi après-midi`…), or a
/// mix: cells of the same day are combined.
HoursConversion ConvertHoursCells(const std::vector<HoursCell>& cells);

/// Converts one free-text column covering the week ("du lundi au vendredi de 9h à 12h et de
/// 14h à 17h, le samedi 9h-12h"); a text that names no day is not understood. What is not
/// understood is the whole text: one entry (weekday 0, kWholeDay) with its value. The forms
/// read and what is never guessed: docs/sync.md "Free-text hours".
HoursConversion ConvertHoursText(std::string_view text);

}  // namespace passerelle::standard
