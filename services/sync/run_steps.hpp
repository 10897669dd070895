// The pure steps of a sync run (Syncer::Work calls them between its fetch and its writes): read
// the file, diff it against what the registry last received, and guard the withdrawals. No I/O,
// so their unit tests need no fake.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/standard/exchange.hpp"
#include "services/sync/sync.hpp"

namespace passerelle::sync {

/// OK, or INVALID_ARGUMENT saying what the body is instead of a CSV file: empty, binary (an image,
/// a PDF, an archive, a NUL byte), blank, an HTML or XML page, a JSON document, a header line
/// that is not UTF-8.
absl::Status CheckCsvBody(std::string_view body);
/// The binary part of CheckCsvBody (magic numbers, a NUL byte), for the bytes as fetched: a
/// single-byte encoding would turn them into text.
absl::Status CheckNotBinary(std::string_view body);

/// Read: the rows of a source's file, or INVALID_ARGUMENT whose message is the run's error when
/// the file must fail the run whole, nothing applied: not the standard's CSV (empty, binary,
/// HTML, JSON, a header that is not UTF-8), unreadable by the standard, no row, or cut in transit.
absl::StatusOr<standard::ParsedFile> ReadFile(const standard::Standard& standard,
                                              std::string_view file, const std::string& source_id);

/// What a run does with a file's rows, given the fingerprints the registry last accepted.
struct RowPlan {
  struct Pending {
    const standard::ParsedFile::Row* row;  // in the ParsedFile given to DiffRows
    std::string fingerprint;
  };
  /// Rows the registry has not had from this source (new, or back after leaving the file):
  /// sent with `reinstate`.
  std::vector<Pending> fresh;
  /// Rows sent before whose fingerprint changed: sent without `reinstate`.
  std::vector<Pending> changed;
  /// Valid rows unchanged since last sent: not sent.
  int skipped = 0;
  /// Every row id of the file, valid or rejected (a rejected row has not left the file).
  std::set<std::string> in_file;
  /// The violations of the rows the standard rejected, bounded for storage.
  std::vector<RowError> errors;
};

/// Diff: splits `file`'s rows into new, changed and unchanged against `sent`; `file` must
/// outlive the plan.
RowPlan DiffRows(const standard::ParsedFile& file, const std::map<std::string, Sent>& sent);

/// A row sent before that is no longer in the file.
struct Departure {
  std::string row_id;
  std::string venue;  // venues/{id}
};

/// Withdrawal guard: the rows of `sent` that are not `in_file`, or FAILED_PRECONDITION whose
/// message is the run's error when more of them left than `max_fraction` of `sent` (or the
/// fraction is not a number within [0, 1]): a wrong file must not empty the registry.
absl::StatusOr<std::vector<Departure>> GuardWithdrawals(const std::map<std::string, Sent>& sent,
                                                        const std::set<std::string>& in_file,
                                                        double max_fraction);

}  // namespace passerelle::sync
