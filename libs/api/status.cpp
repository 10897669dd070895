// google.rpc details on absl::Status, and the checks of client numbers and text.
#include "libs/api/status.hpp"

#include <cmath>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
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
    // never echoes a huge value back.
    fv->set_field(text::Ellipsize(text::ToValidUtf8(v.field), 200));
    fv->set_description(text::Ellipsize(text::ToValidUtf8(v.description), 200));
  }
  if (violations.size() > listed) {
    auto* more = br.add_field_violations();
    more->set_field("(more)");
    more->set_description(absl::StrCat(violations.size() - listed,
                                       " more problems not listed; fix these and send again"));
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

bool CheckNumber(std::vector<FieldViolation>* bad, std::string_view field, double value, double min,
                 double max) {
  if (std::isfinite(value) && value >= min && value <= max) return true;
  bad->push_back({std::string(field),
                  std::isnan(value)
                      ? absl::StrCat("must be a number within [", min, ", ", max, "], got NaN")
                      : absl::StrCat("must be within [", min, ", ", max, "], got ", value)});
  return false;
}

bool CheckText(std::vector<FieldViolation>* bad, std::string_view field, std::string_view value,
               size_t max_code_points, bool multiline) {
  std::string problem;
  if (auto at = text::FirstInvalidUtf8(value)) {
    problem = absl::StrCat("is not valid UTF-8 (byte ", *at, ")");
  } else if (auto c = text::FirstControl(value)) {
    problem = absl::StrCat("contains a control character at byte ", *c);
  } else if (auto b = text::FirstBidiControl(value)) {
    problem = absl::StrCat(
        "contains a bidirectional override or isolate (U+202A-U+202E, U+2066-U+2069) at byte ", *b,
        ": the text would display in another order than it reads");
  } else if (!multiline && (value.find_first_of("\n\r") != std::string_view::npos ||
                            value.find("\u2028") != std::string_view::npos ||
                            value.find("\u2029") != std::string_view::npos)) {
    // U+2028 and U+2029 break lines too, in browsers and JSON-as-JavaScript.
    problem = "must fit on one line";
  } else if (text::CodePoints(value) > max_code_points) {
    problem = absl::StrCat("is longer than ", max_code_points, " characters (",
                           text::CodePoints(value), ")");
  }
  if (problem.empty()) return true;
  bad->push_back({std::string(field), absl::StrCat(problem, ": \"", text::Quote(value), "\"")});
  return false;
}

}  // namespace passerelle::api
