#include "services/gateway/errors.hpp"

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "libs/logging/logging.hpp"
#include "libs/server/errors.hpp"
#include "libs/text/utf8.hpp"
#include "nlohmann/json.hpp"
#include "services/gateway/transcode.hpp"

namespace passerelle::gateway {

int HttpStatusOf(grpc::StatusCode code, bool conditional) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return 400;
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return conditional ? 412 : 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ABORTED:
      return conditional ? 412 : 409;
    case grpc::StatusCode::ALREADY_EXISTS:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
    default:
      return 500;
  }
}

std::string_view CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

std::optional<std::string> ReasonOf(const grpc::Status& status) {
  google::rpc::Status rich;
  if (status.error_details().empty() || !rich.ParseFromString(status.error_details())) {
    return std::nullopt;
  }
  for (const google::protobuf::Any& detail : rich.details()) {
    google::rpc::ErrorInfo info;
    if (detail.UnpackTo(&info) && !info.reason().empty()) return info.reason();
  }
  return std::nullopt;
}

grpc::Status Outward(const grpc::Status& status, std::string_view request_id) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
  logging::Warn("backend unavailable", {{"error", text::ToValidUtf8(status.error_message())},
                                        {"request_id", std::string(request_id)}});
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "service momentanément indisponible : réessayez dans un instant",
                      status.error_details());
}

std::string ErrorJson(const ApiSchema& schema, int http_status, const grpc::Status& raw,
                      std::string_view request_id) {
  const grpc::Status status = Outward(raw, request_id);
  nlohmann::json error = {
      {"code", http_status},
      {"message", text::Ellipsize(text::ToValidUtf8(status.error_message()), 1000)},
      {"status", std::string(CodeName(status.error_code()))},
  };
  nlohmann::json details = nlohmann::json::array();
  google::rpc::Status rich;
  if (!status.error_details().empty() && rich.ParseFromString(status.error_details())) {
    const google::protobuf::Descriptor* type =
        schema.pool().FindMessageTypeByName("google.rpc.Status");
    google::rpc::Status only_details;
    *only_details.mutable_details() = rich.details();
    absl::StatusOr<std::string> printed =
        MessageToJson(schema, type, only_details.SerializeAsString());
    if (printed.ok()) {
      nlohmann::json parsed = nlohmann::json::parse(*printed, nullptr, false);
      if (parsed.is_object() && parsed.contains("details")) details = parsed["details"];
    }
  }
  if (!request_id.empty()) {
    details.push_back({{"@type", "type.googleapis.com/google.rpc.RequestInfo"},
                       {"requestId", std::string(request_id)}});
  }
  if (!details.empty()) error["details"] = std::move(details);
  return nlohmann::json{{"error", std::move(error)}}.dump();
}

grpc::Status FromAbsl(const absl::Status& status) { return server::ToGrpc(status); }

}  // namespace passerelle::gateway
