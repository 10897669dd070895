// Rich error details for gRPC.
#include "libs/server/errors.hpp"

#include <cmath>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "libs/text/utf8.hpp"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace passerelle::server {
namespace {

constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";
constexpr char kErrorInfoUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
constexpr char kDomain[] = "passerelle";

}  // namespace

absl::Status InvalidArgument(const std::string& message,
                             const std::vector<FieldViolation>& violations) {
  absl::Status s = absl::InvalidArgumentError(message);
  google::rpc::BadRequest br;
  for (const auto& v : violations) {
    auto* fv = br.add_field_violations();
    // Descriptions may quote client input: proto strings must stay valid UTF-8, and an error
    // never echoes a huge value back.
    fv->set_field(text::Ellipsize(text::ToValidUtf8(v.field), 200));
    fv->set_description(text::Ellipsize(text::ToValidUtf8(v.description), 500));
  }
  s.SetPayload(kBadRequestUrl, absl::Cord(br.SerializeAsString()));
  return s;
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

bool CheckNumber(std::vector<FieldViolation>* bad, std::string_view field, double value,
                 double min, double max) {
  if (std::isfinite(value) && value >= min && value <= max) return true;
  bad->push_back({std::string(field),
                  std::isnan(value) ? absl::StrCat("must be a number within [", min, ", ", max,
                                                   "], got NaN")
                                    : absl::StrCat("must be within [", min, ", ", max, "], got ",
                                                   value)});
  return false;
}

bool CheckText(std::vector<FieldViolation>* bad, std::string_view field, std::string_view value,
               size_t max_code_points, bool multiline) {
  std::string problem;
  if (auto at = text::FirstInvalidUtf8(value)) {
    problem = absl::StrCat("is not valid UTF-8 (byte ", *at, ")");
  } else if (auto c = text::FirstControl(value)) {
    problem = absl::StrCat("contains a control character at byte ", *c);
  } else if (!multiline && value.find_first_of("\n\r") != std::string_view::npos) {
    problem = "must fit on one line";
  } else if (text::CodePoints(value) > max_code_points) {
    problem = absl::StrCat("is longer than ", max_code_points, " characters (",
                           text::CodePoints(value), ")");
  }
  if (problem.empty()) return true;
  bad->push_back({std::string(field), absl::StrCat(problem, ": \"", text::Quote(value), "\"")});
  return false;
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(text::Ellipsize(text::ToValidUtf8(std::string_view(status.message().data(), status.message().size())), 1000));
  bool has_info = false;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    auto* any = rpc.add_details();
    any->set_type_url(std::string(url));
    any->set_value(std::string(payload));
    if (url == kErrorInfoUrl) has_info = true;
  });
  if (!has_info) {  // every error carries a machine-readable reason (AIP-193)
    google::rpc::ErrorInfo info;
    info.set_reason(std::string(absl::StatusCodeToString(status.code())));
    info.set_domain(kDomain);
    rpc.add_details()->PackFrom(info);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), rpc.message(),
                      rpc.SerializeAsString());
}

}  // namespace passerelle::server
