// Files that are not UTF-8: the single-byte encodings French producers' spreadsheets write
// (ISO-8859-1, Windows-1252), their detection, and the conversion to UTF-8 that every reader
// applies before looking at a byte.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace passerelle::text {

enum class Encoding { kUtf8, kLatin1, kWindows1252 };

/// `UTF-8`, `ISO-8859-1` or `Windows-1252`.
std::string_view EncodingName(Encoding encoding);

/// `s` without a leading UTF-8 byte order mark.
std::string_view StripUtf8Bom(std::string_view s);

/// True when `s` starts with a UTF-16 or UTF-32 byte order mark (a file no reader here takes).
bool HasUtf16Bom(std::string_view s);

/// True when `s` reads as UTF-16 or UTF-32 without a byte order mark: in its first 512 bytes, the
/// bytes at one position in two (UTF-16) or three positions in four (UTF-32) are nearly all NUL
/// and the others nearly never, as Latin text in those encodings is. A binary file's NULs do
/// not fall so.
bool LooksLikeWideText(std::string_view s);

/// The encoding of `bytes`: UTF-8 when they are valid UTF-8 or hold at least one well-formed
/// multi-byte sequence (a UTF-8 file with a few bad bytes: those are reported where they are),
/// Windows-1252 otherwise (a single-byte file: Latin-1 text reads the same in both, except for
/// 0x80-0x9F, which Windows-1252 gives printable characters).
Encoding DetectEncoding(std::string_view bytes);

/// `bytes` read as `encoding` in UTF-8: single-byte encodings are converted byte by byte (the five
/// bytes Windows-1252 leaves undefined are read as Latin-1's C1 controls, which readers refuse as
/// control characters); UTF-8 is returned as it is (invalid bytes kept for the reader to report).
/// A leading UTF-8 byte order mark is dropped in every case.
std::string ToUtf8(std::string_view bytes, Encoding encoding);

/// A file's text as every reader takes it: in UTF-8, with the encoding it was read in. A file
/// read as UTF-8 is not copied: `utf8()` is then a view of the bytes given to `DecodeFile`, valid
/// as long as they are.
class DecodedText {
 public:
  DecodedText(Encoding encoding, std::string_view borrowed, std::string converted)
      : encoding_(encoding), borrowed_(borrowed), converted_(std::move(converted)) {}
  /// The text in UTF-8, without a leading byte order mark.
  std::string_view utf8() const {
    return encoding_ == Encoding::kUtf8 ? borrowed_ : std::string_view(converted_);
  }
  /// The encoding the bytes were read in.
  Encoding encoding() const { return encoding_; }

 private:
  Encoding encoding_;
  std::string_view borrowed_;
  std::string converted_;
};

/// What a reader says of a file `DecodeFile` refuses, to the person who saved it.
inline constexpr char kUtf16Refusal[] = "fichier en UTF-16 ou UTF-32 ; enregistrez-le en UTF-8";

/// `bytes` read in `declared` or, when nothing is declared, in the encoding `DetectEncoding`
/// finds, and converted by `ToUtf8`: the one way the readers of files (imports, sync, needs) turn
/// bytes into text. Nullopt when they are UTF-16 or UTF-32 (a byte order mark, or
/// LooksLikeWideText).
std::optional<DecodedText> DecodeFile(std::string_view bytes,
                                      std::optional<Encoding> declared = std::nullopt);

}  // namespace passerelle::text
