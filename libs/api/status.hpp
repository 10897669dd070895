// What every service's domain needs to refuse a request precisely, without gRPC: absl::Status
// with google.rpc details (BadRequest field violations, ErrorInfo reasons), and the one check of
// client numbers and text. The mapping to grpc::Status is libs/server's (server::ToGrpc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace passerelle::api {

/// What a service answers when a request's bytes do not parse as its method's message (most
/// often invalid UTF-8 in a string field, which proto3 refuses before any handler).
inline constexpr char kUnreadableRequest[] =
    "[utf8] la requête ne se lit pas comme le message de cette méthode : un champ texte "
    "n'est-il pas en UTF-8 valide ?";

struct FieldViolation {
  /// Path of the field, e.g. `venue.code_postal` or `rows[12].telephone`.
  std::string field;
  /// What is wrong and which rule it breaks.
  std::string description;
};

/// INVALID_ARGUMENT carrying a google.rpc.BadRequest with one violation per problem.
absl::Status InvalidArgument(const std::string& message,
                             const std::vector<FieldViolation>& violations);
/// Adds a google.rpc.ErrorInfo (machine-readable reason, e.g. ETAG_MISMATCH) to a status.
absl::Status WithReason(absl::Status status, const std::string& reason);
/// NOT_FOUND for a resource name: "{name} n'existe pas", the name quoted as text::Quote does
/// (at most 120 code points), with an ErrorInfo when `reason` is given (e.g. VENUE_NOT_FOUND).
absl::Status NotFound(std::string_view name, const std::string& reason = "");
/// ALREADY_EXISTS for a resource name: "{name} existe déjà", quoted and with a reason as NotFound.
absl::Status AlreadyExists(std::string_view name, const std::string& reason = "");
/// FAILED_PRECONDITION carrying a google.rpc.PreconditionFailure (what is missing: `type`, e.g.
/// ORGANISATION; `subject`, e.g. `organisations/x`) and an ErrorInfo with `reason` (AIP-193).
absl::Status FailedPrecondition(const std::string& message, const std::string& type,
                                const std::string& subject, const std::string& reason);
/// The violations carried by a status (empty when none).
std::vector<FieldViolation> Violations(const absl::Status& status);

/// The one check of every floating-point number a client sends (coordinates, radius, box,
/// thresholds): appends a violation on `field` unless `value` is finite and within
/// [min, max]; true when it is. NaN, infinities and out-of-range values are named with the bounds.
bool CheckNumber(std::vector<FieldViolation>* bad, std::string_view field, double value, double min,
                 double max);

/// The one check of a client's free text: valid UTF-8, no NUL or other control character
/// (tab and line breaks allowed when `multiline`), no bidirectional override or isolate, at most
/// `max_code_points` code points.
/// Appends a violation on `field` (quoting at most a short prefix); true when it passes.
bool CheckText(std::vector<FieldViolation>* bad, std::string_view field, std::string_view value,
               size_t max_code_points, bool multiline = false);

/// CheckText for a credential (a password, an Authorization header): the same rules, and the
/// violation names the rule and the byte but never quotes the value, which an error response
/// would carry to proxies and logs.
bool CheckSecretText(std::vector<FieldViolation>* bad, std::string_view field,
                     std::string_view value, size_t max_code_points);

}  // namespace passerelle::api
