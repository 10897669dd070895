// The national open-data standard for digital-mediation venues (schema v1.0.2, a Frictionless
// TableSchema): its fields, their rules as the schema states them, and the validation and
// normalisation of one row. Pure: no I/O, no gRPC, no SQL.
#pragma once

#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/api/status.hpp"

namespace passerelle::standard {

enum class FieldKind { kText, kList, kNumber, kDate };

struct FieldSpec {
  std::string name;
  FieldKind kind = FieldKind::kText;
  bool required = false;
  /// The schema's pattern as written (empty when none).
  std::string pattern;
  /// Compiled pattern, for fields whose pattern is not an enumeration.
  std::optional<std::regex> regex;
  /// For enumerated fields: the allowed values, in the schema's order and spelling.
  std::vector<std::string> values;
  /// Most code points of one value: the schema's maxLength where it gives one
  /// (presentation_resume: 280), otherwise Passerelle's documented limit (docs/venues.md).
  size_t max_length = 0;
  /// Most values of a list field.
  size_t max_items = 1;
};

/// A `typologie` value as a write stores it: data·inclusion's codes in upper case (`asso` is
/// ASSO), so a search names them in any case as a write does.
std::string TypologieAsStored(std::string_view value);

/// Passerelle's limits where the schema gives none (docs/venues.md, "Limits").
inline constexpr size_t kMaxTextLength = 500;        // names, addresses, one list value
inline constexpr size_t kMaxLongTextLength = 10000;  // presentation_detail, horaires
inline constexpr size_t kMaxListItems = 50;          // values of one list field

/// The standard's fields in the schema's order (which is the CSV column order).
class Standard {
 public:
  /// Reads a TableSchema. Enumerations are recovered from patterns of the form
  /// `(?:(?:^|\|)(A|B|C))+$`; a field is a list when its pattern or description uses `|`.
  static absl::StatusOr<Standard> FromJson(std::string_view json);
  /// Schema v1.0.2, embedded in the binary.
  static const Standard& V102();

  const std::vector<FieldSpec>& fields() const { return fields_; }
  const FieldSpec* Find(std::string_view name) const;
  /// The schema's spelling of an enumerated value written another way (case, accents, spaces,
  /// typographic apostrophes, `Étapes numériques (La Poste)`), or nullopt when it is not one.
  std::optional<std::string> Canonical(const FieldSpec& field, std::string_view value) const;

 private:
  std::vector<FieldSpec> fields_;
  std::map<std::string, std::map<std::string, std::string>> canonical_;  // field -> key -> value
};

/// A venue as the standard sees it: field name -> values (one value for scalar fields).
using Record = std::map<std::string, std::vector<std::string>>;

/// One broken rule, precise enough to fix the source: the field, the value as received, the
/// rule's name (required, pattern, enum, number, range, date) and a French explanation.
struct Violation {
  std::string field;
  std::string value;
  std::string rule;
  std::string message;
};

struct Validated {
  Record record;
  std::vector<Violation> violations;
  /// What was rewritten to the standard's form, e.g. `telephone: "03 20 …" -> "+3320…"`.
  std::vector<std::string> normalisations;
};

/// Validates and normalises one row given as raw strings per field (lists joined by
/// `list_separator`: `|` in v1.0.2, `;` in v0.1). Unknown fields are ignored by the caller.
Validated ValidateRow(const Standard& standard, const std::map<std::string, std::string>& raw,
                      char list_separator = '|');

/// Keeps a row's report readable and bounded: the first 30 violations, then one (rule `more`)
/// saying how many were left out.
void CapViolations(std::vector<Violation>* violations);

/// Joins a record's values back into standard strings (lists with `|`).
std::map<std::string, std::string> ToRaw(const Standard& standard, const Record& record);

/// An http(s) address as written; "www.exemple.fr" (no scheme, a dotted host) becomes
/// "https://www.exemple.fr"; any other scheme (javascript:, data:, mailto:, ftp:) or a value
/// with spaces is not an address to open: nullopt. The rule of the standard's URL fields
/// (`site_web`, `prise_rdv`, `fiche_acces_libre`) and of an organisation's `website`.
std::optional<std::string> NormaliseWebAddress(const std::string& address);

/// The id of a source that writes venues in batches (a sync source such as `siilab`): 1 to 40
/// lower-case letters, digits or inner dashes; `passerelle` is reserved for venues created one
/// by one. Appends a violation on `field` and returns false otherwise.
bool CheckSourceId(std::vector<api::FieldViolation>* bad, std::string_view field,
                   std::string_view id);

}  // namespace passerelle::standard
