// HTTP/JSON ⇄ gRPC messages for one route, by Google's HTTP mapping rules: path variables and
// query parameters and the body become the request (proto3 JSON, lowerCamel or snake_case names
// accepted), and a backend response becomes proto3 JSON. Every refusal is INVALID_ARGUMENT with a
// BadRequest naming the parameter or field (French descriptions), or an ErrorInfo reason the HTTP
// layer maps to its own status (UNSUPPORTED_MEDIA_TYPE → 415).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/routes.hpp"

namespace passerelle::gateway {

// A repeated filter takes up to 100 values, each its own parameter, beside the others (tester 27,
// L7: a cap of 100 made that unreachable); the 4 KiB request target bounds them anyway.
inline constexpr size_t kMaxQueryParameters = 500;
inline constexpr size_t kMaxQueryValueBytes = 8 * 1024;
inline constexpr int kMaxJsonDepth = 32;

struct HttpInput {
  std::vector<std::pair<std::string, std::string>> bindings;  ///< from RouteTable::Find
  std::string_view query;                                     ///< raw query string, without '?'
  std::string_view body;                       ///< the whole body (empty for raw-stream routes)
  std::string_view content_type;               ///< Content-Type header ("" when absent)
  std::optional<std::string> if_match;         ///< → the request's `etag`
  std::optional<std::string> idempotency_key;  ///< → the request's `request_id`
};

/// Stage 1: the request as a proto3 JSON object, before the access rules adjust it.
absl::StatusOr<nlohmann::json> RequestJson(const Route& route, const HttpInput& input);

/// Stage 2: the JSON object as the request's binary message.
absl::StatusOr<std::string> JsonToRequest(const ApiSchema& schema, const Route& route,
                                          const nlohmann::json& request);

/// A backend message (binary) as proto3 JSON: lowerCamel names, enums by name, zero values left
/// out, int64 as strings.
absl::StatusOr<std::string> MessageToJson(const ApiSchema& schema,
                                          const google::protobuf::Descriptor* type,
                                          std::string_view bytes);

/// The string at a dotted field path of a request object (proto or JSON names), if set.
std::optional<std::string> GetStringField(const nlohmann::json& request,
                                          const google::protobuf::Descriptor* type,
                                          std::string_view dotted);
/// Sets the string at a dotted field path (JSON names), replacing either spelling.
void SetStringField(nlohmann::json* request, const google::protobuf::Descriptor* type,
                    std::string_view dotted, const std::string& value);

/// Syntax check of a JSON text with the byte position of the first error, UTF-8 checked and
/// nesting capped at kMaxJsonDepth; then the parsed value.
absl::StatusOr<nlohmann::json> ParseJsonBody(std::string_view body);

/// A top-level string or bytes field of a serialized message, read from the wire without
/// parsing the whole message (ETag, name, next_page_token, export chunks); null when the type
/// has no such field, the message does not hold it, or the bytes do not parse.
std::optional<std::string> WireString(const google::protobuf::Descriptor* type,
                                      std::string_view bytes, std::string_view field_name);

/// Whether a top-level field of a serialized message holds anything but its default value on
/// the wire (a message, even empty; a list element; a non-empty string; a non-zero number):
/// false when every occurrence is a default, so that parsing gives the default. nullopt when the
/// bytes are not a well-formed message.
std::optional<bool> WireFieldSet(std::string_view bytes, int number);

/// Decodes one query-string component (`+` is a space). nullopt on a bad %-escape.
std::optional<std::string> DecodeQueryComponent(std::string_view raw);

/// The first charset a Content-Type declares other than UTF-8, if any ("text/csv; charset=utf-16"
/// gives "utf-16"); quotes removed. Every body the gateway reads is read as UTF-8.
std::optional<std::string> ForeignCharset(std::string_view content_type);

/// The 415 of every door: reason UNSUPPORTED_MEDIA_TYPE, `message` on top and `violation` (its
/// rule tag first) on the Content-Type field.
absl::Status UnsupportedMediaType(std::string_view message, std::string violation);

}  // namespace passerelle::gateway
