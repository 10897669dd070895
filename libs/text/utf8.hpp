// Untrusted text: UTF-8 validity, code-point truncation, short quotes for error messages and
// strict decimal numbers. Every reader of client or file input uses these, so a NUL byte, a cut
// multi-byte sequence or "0x10" is handled the same way everywhere.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace passerelle::text {

/// Byte offset of the first byte that does not start a well-formed UTF-8 sequence (overlong
/// forms, surrogates and code points above U+10FFFF are ill-formed), or nullopt when `s` is
/// valid UTF-8.
std::optional<size_t> FirstInvalidUtf8(std::string_view s);
inline bool IsValidUtf8(std::string_view s) { return !FirstInvalidUtf8(s).has_value(); }

/// Length of the well-formed UTF-8 sequence starting at byte `i` of `s` (1 to 4, Unicode's
/// table 3-7), 0 when ill-formed. `i` must be below `s.size()`.
size_t SequenceLength(std::string_view s, size_t i);

/// `s` with every ill-formed sequence replaced by U+FFFD and NUL bytes removed.
std::string ToValidUtf8(std::string_view s);

/// Byte offset of the first control character (C0 except tab, LF and CR; DEL; C1 controls
/// when encoded in valid UTF-8) or noncharacter (U+FDD0 to U+FDEF, U+FFFE and U+FFFF of every
/// plane), or nullopt. NUL is a control character.
std::optional<size_t> FirstControl(std::string_view s);

/// Byte offset of the first bidirectional embedding, override or isolate control (U+202A to
/// U+202E, U+2066 to U+2069): characters that make text display in another order than it reads
/// ("Trojan Source"), never needed in a venue's name or address. nullopt when none.
std::optional<size_t> FirstBidiControl(std::string_view s);

/// True when valid UTF-8 text shows nothing: only spaces (including no-break and ideographic
/// ones), invisible format characters (zero-width space, joiners, word joiner, BOM, soft
/// hyphen), fillers (Hangul, braille blank), variation selectors and tags. A name made of
/// U+200B or U+3164 is empty to the reader. (A combining mark alone is not caught.)
bool IsBlank(std::string_view s);

/// `s` without the characters IsBlank reads as showing nothing at its start and end (spaces,
/// no-break spaces, byte order marks, zero-width characters...), except, at the end, those
/// that change the character before them (a variation selector, the tags ending an emoji flag).
/// Two names that differ only there are one name to a reader.
std::string_view TrimInvisible(std::string_view s);

/// Number of code points of valid UTF-8 text.
size_t CodePoints(std::string_view s);

/// At most `max_code_points` code points of valid UTF-8 text, cut on a code-point boundary.
std::string_view TruncateCodePoints(std::string_view s, size_t max_code_points);

/// `s` cut to `max_code_points` with "…" appended when it was longer (the ellipsis counts).
std::string Ellipsize(std::string_view s, size_t max_code_points);

/// At most `max_code_points` code points of valid UTF-8 text, cut where a reader sees a
/// character end (a grapheme-cluster boundary, as far as simple rules tell): never before a
/// combining mark (U+0300–U+036F and the other common nonspacing-mark blocks), a variation
/// selector, a zero-width joiner or non-joiner, an emoji skin tone or a tag; never after a
/// zero-width joiner (emoji sequences); never between the two regional indicators of a flag.
/// A first cluster longer than the limit is cut on code points (bounded output all the same).
std::string_view CutGraphemes(std::string_view s, size_t max_code_points);

/// Ellipsize, cut with CutGraphemes: no half flag or accent-less letter before the "…".
std::string EllipsizeGraphemes(std::string_view s, size_t max_code_points);

/// What an error message may quote of untrusted input: valid UTF-8, every control character
/// (tab, LF and CR included), bidi override, isolate or mark, line or paragraph separator,
/// zero-width space, word joiner and BOM shown as U+FFFD, at most `max_code_points` code points
/// with "…" when cut. Never the whole of a huge value.
std::string Quote(std::string_view s, size_t max_code_points = 40);

/// A decimal number as people and files write it: optional sign, digits, optional decimal part
/// with '.' (or ',' when `decimal_comma`), surrounding spaces. No exponent, no hex, no
/// "nan"/"inf", no thousands separators; at most 400 characters. nullopt otherwise.
std::optional<double> ParseDecimal(std::string_view s, bool decimal_comma = false);

}  // namespace passerelle::text
