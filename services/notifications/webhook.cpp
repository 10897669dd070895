// Standard Webhooks signatures and bodies.
#include "services/notifications/webhook.hpp"

#include <google/protobuf/util/json_util.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/api/resource.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::notifications {

std::string NewSecret() {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no entropy: nothing is safe
  return absl::StrCat("whsec_",
                      absl::Base64Escape(absl::string_view(reinterpret_cast<char*>(bytes), 24)));
}

absl::StatusOr<std::string> SecretKey(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (!secret.starts_with(kPrefix)) {
    return absl::InvalidArgumentError("secret must start with whsec_");
  }
  std::string key;
  const std::string encoded(secret.substr(kPrefix.size()));
  if (encoded.empty() || !absl::Base64Unescape(encoded, &key) || key.empty()) {
    return absl::InvalidArgumentError("secret is not whsec_ followed by base64");
  }
  return key;
}

absl::StatusOr<std::string> Sign(std::string_view secret, std::string_view id, int64_t timestamp,
                                 std::string_view body) {
  auto key = SecretKey(secret);
  if (!key.ok()) return key.status();
  const std::string content = absl::StrCat(std::string(id), ".", timestamp, ".", std::string(body));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &len);
  return absl::StrCat("v1,",
                      absl::Base64Escape(absl::string_view(reinterpret_cast<char*>(mac), len)));
}

absl::StatusOr<std::string> SignatureHeader(const std::vector<std::string>& secrets,
                                            std::string_view id, int64_t timestamp,
                                            std::string_view body) {
  std::vector<std::string> parts;
  for (const auto& s : secrets) {
    auto sig = Sign(s, id, timestamp, body);
    if (!sig.ok()) return sig.status();
    parts.push_back(*std::move(sig));
  }
  return absl::StrJoin(parts, " ");
}

absl::StatusOr<std::string> Body(const events::v1::Event& event) {
  std::string data;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  auto st = google::protobuf::util::MessageToJsonString(event, &data, options);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("event ", event.id(), " (", event.type(),
                     ") cannot be written as JSON: ", std::string(st.message())));
  }
  const absl::Time occurred = api::FromTimestamp(event.occurred_time());
  // The envelope's two strings through a JSON writer (a hostile type cannot break out); the
  // data as protobuf wrote it.
  const std::string type =
      nlohmann::json(event.type()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string timestamp =
      nlohmann::json(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", occurred, absl::UTCTimeZone()))
          .dump();
  return absl::StrCat("{\"type\":", type, ",\"timestamp\":", timestamp, ",\"data\":", data, "}");
}

absl::Duration Backoff(int failed, absl::Duration initial, absl::Duration max_step, double jitter) {
  absl::Duration d = initial;
  for (int i = 1; i < failed && d < max_step; ++i) d *= 2;
  d = std::min(d, max_step);
  const double spread = 0.8 + 0.4 * std::clamp(jitter, 0.0, 1.0);
  return d * spread;
}

}  // namespace passerelle::notifications
