// google.rpc details on absl::Status, and the checks of client numbers and text.
#include "libs/api/status.hpp"

#include <cmath>
#include <cstdlib>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/rpc/error_details.pb.h"
#include "libs/text/utf8.hpp"

namespace passerelle::api {

namespace {

constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";
constexpr char kErrorInfoUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
constexpr char kPreconditionFailureUrl[] = "type.googleapis.com/google.rpc.PreconditionFailure";
constexpr char kDomain[] = "passerelle";

}  // namespace

absl::Status InvalidArgument(const std::string& message,
                             const std::vector<FieldViolation>& violations) {
  absl::Status s = absl::InvalidArgumentError(message);
  google::rpc::BadRequest br;
  // Clients refuse trailers over gRPC's metadata limit (8 KB by default): violations are
  // listed while they fit in 4 KB (30 at most), then one says how many more there were.
  constexpr size_t kMaxListed = 30;
  constexpr size_t kMaxBytes = 4000;
  size_t listed = 0;
  for (; listed < violations.size() && listed < kMaxListed && br.ByteSizeLong() < kMaxBytes;
       ++listed) {
    const FieldViolation& v = violations[listed];
    auto* fv = br.add_field_violations();
    // Descriptions may quote client input: proto strings must stay valid UTF-8, and an error
    // never echoes a huge value back (quotes are cut at a few dozen characters; a description may
    // name a dozen cells of a sum with their values, hence its larger bound).
    fv->set_field(text::Ellipsize(text::ToValidUtf8(v.field), 200));
    fv->set_description(text::Ellipsize(text::ToValidUtf8(v.description), 800));
  }
  if (violations.size() > listed) {
    auto* more = br.add_field_violations();
    more->set_field("(more)");
    more->set_description(
        absl::StrCat(violations.size() - listed,
                     " autres problèmes non listés : corrigez ceux-ci et renvoyez la demande"));
  }
  s.SetPayload(kBadRequestUrl, absl::Cord(br.SerializeAsString()));
  return s;
}

absl::Status FailedPrecondition(const std::string& message, const std::string& type,
                                const std::string& subject, const std::string& reason) {
  google::rpc::PreconditionFailure failure;
  auto* v = failure.add_violations();
  v->set_type(type);
  v->set_subject(subject);
  v->set_description(message);
  absl::Status s = absl::FailedPreconditionError(message);
  s.SetPayload(kPreconditionFailureUrl, absl::Cord(failure.SerializeAsString()));
  return WithReason(std::move(s), reason);
}

absl::Status NotFound(std::string_view name, const std::string& reason) {
  absl::Status s = absl::NotFoundError(absl::StrCat(text::Quote(name, 120), " n'existe pas"));
  return reason.empty() ? s : WithReason(std::move(s), reason);
}

absl::Status AlreadyExists(std::string_view name, const std::string& reason) {
  absl::Status s = absl::AlreadyExistsError(absl::StrCat(text::Quote(name, 120), " existe déjà"));
  return reason.empty() ? s : WithReason(std::move(s), reason);
}

absl::Status WithReason(absl::Status status, const std::string& reason) {
  google::rpc::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain(kDomain);
  status.SetPayload(kErrorInfoUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

std::vector<FieldViolation> Violations(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kBadRequestUrl);
  if (!payload) return out;
  google::rpc::BadRequest br;
  if (!br.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : br.field_violations()) out.push_back({v.field(), v.description()});
  return out;
}

namespace {

// The shortest text that reads back as `v`: 90.00000000000001 stays so (StrCat's six digits
// wrote 90, and "de -90 à 90, reçu 90" said nothing).
std::string Exact(double v) {
  std::string out;
  for (int digits = 6; digits <= 17; ++digits) {
    out = absl::StrFormat("%.*g", digits, v);
    if (std::strtod(out.c_str(), nullptr) == v) break;
  }
  return out;
}

}  // namespace

bool CheckNumber(std::vector<FieldViolation>* bad, std::string_view field, double value, double min,
                 double max) {
  if (std::isfinite(value) && value >= min && value <= max) return true;
  bad->push_back({std::string(field),
                  std::isnan(value)
                      ? absl::StrCat("[number] un nombre de ", min, " à ", max, ", reçu NaN")
                      : absl::StrCat("[range] de ", min, " à ", max, ", reçu ", Exact(value))});
  return false;
}

namespace {

// What CheckText refuses in `value`, with its rule; empty when nothing.
std::string TextProblem(std::string_view value, size_t max_code_points, bool multiline) {
  std::string problem;
  if (auto at = text::FirstInvalidUtf8(value)) {
    problem = absl::StrCat("[utf8] texte UTF-8 invalide (octet ", *at, ")");
  } else if (auto c = text::FirstControl(value)) {
    problem =
        absl::StrCat("[control] caractère de contrôle ou non-caractère Unicode à l'octet ", *c);
  } else if (auto b = text::FirstBidiControl(value)) {
    problem = absl::StrCat(
        "[bidi] caractère de forçage ou d'isolement bidirectionnel (U+202A-U+202E, "
        "U+2066-U+2069) à l'octet ",
        *b, " : le texte s'afficherait dans un autre ordre que celui où il se lit");
  } else if (!multiline && (value.find_first_of("\n\r") != std::string_view::npos ||
                            value.find("\u2028") != std::string_view::npos ||
                            value.find("\u2029") != std::string_view::npos)) {
    // U+2028 and U+2029 break lines too, in browsers and JSON-as-JavaScript.
    problem = "[line] doit tenir sur une seule ligne";
  } else if (text::CodePoints(value) > max_code_points) {
    problem = absl::StrCat("[length] plus de ", max_code_points, " caractères (",
                           text::CodePoints(value), ")");
  }
  return problem;
}

}  // namespace

bool CheckText(std::vector<FieldViolation>* bad, std::string_view field, std::string_view value,
               size_t max_code_points, bool multiline) {
  const std::string problem = TextProblem(value, max_code_points, multiline);
  if (problem.empty()) return true;
  bad->push_back({std::string(field), absl::StrCat(problem, " : « ", text::Quote(value), " »")});
  return false;
}

bool CheckSecretText(std::vector<FieldViolation>* bad, std::string_view field,
                     std::string_view value, size_t max_code_points) {
  const std::string problem = TextProblem(value, max_code_points, /*multiline=*/false);
  if (problem.empty()) return true;
  bad->push_back({std::string(field), absl::StrCat(problem, " (valeur secrète, non répétée)")});
  return false;
}

}  // namespace passerelle::api
