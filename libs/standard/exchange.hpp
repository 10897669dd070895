// The national CSV and GeoJSON: reading a file into rows for the registry, writing venues out.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/standard/standard.hpp"
#include "libs/standard/venue.hpp"

namespace passerelle::standard {

/// A file read against the standard: valid rows as venues (with their line), rejected rows with
/// every violation, columns that are not standard fields.
struct ParsedFile {
  struct Row {
    int line;
    Venue venue;
  };
  struct Rejected {
    int line;
    std::string source_id;
    std::vector<Violation> violations;
  };
  int rows = 0;
  std::vector<Row> valid;
  std::vector<Rejected> rejected;
  std::vector<std::string> ignored_columns;
  std::vector<std::string> normalisations;
  /// A stored row that a national tool would read otherwise: rule `horaires` (its opening hours
  /// are not understood, HoursNotUnderstood) or rule `anct` (ANCT's library would refuse it,
  /// AnctRefusals). The row is valid under the standard and lands all the same.
  struct Warning {
    int line;
    std::string source_id;
    Violation issue;
  };
  std::vector<Warning> warnings;
};

/// Why ANCT's library (`@gouvfr-anct/lieux-de-mediation-numerique`,
/// `fromSchemaLieuDeMediationNumerique`, with which the national cartography imports files)
/// would refuse a record that the standard accepts: each broken rule with the field, the value,
/// rule `anct` and a French reason, in the library's order (the first is the error it throws).
/// Empty when it would accept the record.
std::vector<Violation> AnctRefusals(const Record& record);

/// Reads a national CSV: v1.0.2 (`,` between columns, `|` in lists) or v0.1 (`;` columns and
/// lists), told apart by the header. Fails as a whole, applying nothing, when the file cannot be
/// read as CSV (e.g. truncated inside a quoted field: the message names the line) or when its
/// header lacks the standard's required columns (the message names them and the columns that
/// were not recognised); otherwise each bad row is reported on its own. An `id` written as our
/// exports qualify it, `<source>:<id>` with this file's `source`, is read as `<id>`.
absl::StatusOr<ParsedFile> ParseNationalCsv(const Standard& standard, std::string_view text,
                                            const std::string& source);

/// An export written one venue at a time, so that memory holds one venue and one chunk, never
/// the document: `Begin()`, then `Add()` for each venue in order, then `End()`; the pieces
/// concatenated are the document.
class Exporter {
 public:
  virtual ~Exporter() = default;
  /// The document's media type, e.g. `application/geo+json`.
  virtual std::string content_type() const = 0;
  virtual std::string Begin() = 0;
  /// The venue's piece, with its separator; empty for a venue the format leaves out (GeoJSON: a
  /// venue without coordinates).
  virtual std::string Add(const venues::v1::Venue& venue) = 0;
  virtual std::string End() = 0;
};

/// The exporter of `format` (unspecified: the national CSV); data·inclusion formats follow
/// `schema` (unspecified: the current revision, v1). nullptr for an unknown format or schema.
std::unique_ptr<Exporter> NewExporter(
    const Standard& standard, venues::v1::VenueExportFormat format,
    venues::v1::DataInclusionSchema schema = venues::v1::DATA_INCLUSION_SCHEMA_UNSPECIFIED);

/// The `id` a venue has in every export: `<source>:<id in the source>` (`siilab:lieu-1`), unique
/// in a file even when two sources use the same local id; the bare id for a venue without
/// source. ParseNationalCsv reads it back as the bare id into that same source.
std::string QualifiedId(const venues::v1::Venue& venue);

/// Reads an id written into `source` as that source's own: `S:x` (QualifiedId's) becomes `x`
/// when `source` is `S`, so an export written back where it came from, as a file or as a batch,
/// names the venues it came from rather than new ones. Other ids are left as they are.
void ReadOwnId(std::string_view source, std::string* id);

/// The whole document of `venues`, for tests and small exports.
std::string WriteAll(Exporter& exporter, const std::vector<const venues::v1::Venue*>& venues);

/// The national CSV of `venues` (API messages): header, then one row each, every field quoted.
std::string WriteNationalCsv(const Standard& standard,
                             const std::vector<const venues::v1::Venue*>& venues);

/// A GeoJSON FeatureCollection of the located venues.
std::string WriteGeoJson(const Standard& standard,
                         const std::vector<const venues::v1::Venue*>& venues);

/// data·inclusion structures and services (JSON arrays) in the current schema revision (v1),
/// the standard's values mapped to data·inclusion's vocabularies (docs/venues.md).
std::string WriteDataInclusionStructures(const Standard& standard,
                                         const std::vector<const venues::v1::Venue*>& venues);
std::string WriteDataInclusionServices(const Standard& standard,
                                       const std::vector<const venues::v1::Venue*>& venues);

}  // namespace passerelle::standard
