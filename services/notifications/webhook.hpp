// Standard Webhooks (https://www.standardwebhooks.com/): secrets, signatures and the retry
// schedule. Pure functions, shared by the service, its tests and the reference-fixture tool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "passerelle/events/v1/event.pb.h"

namespace passerelle::notifications {

/// A new secret: `whsec_` and the base64 of 24 random bytes.
std::string NewSecret();
/// The key bytes of a `whsec_<base64>` secret; INVALID_ARGUMENT when it is not one.
absl::StatusOr<std::string> SecretKey(std::string_view secret);
/// `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`.
absl::StatusOr<std::string> Sign(std::string_view secret, std::string_view id, int64_t timestamp,
                                 std::string_view body);
/// The `webhook-signature` header: one signature per secret, space separated.
absl::StatusOr<std::string> SignatureHeader(const std::vector<std::string>& secrets,
                                            std::string_view id, int64_t timestamp,
                                            std::string_view body);

/// The JSON body sent for an event: {"type", "timestamp" (RFC 3339), "data": the event in
/// proto3 JSON}. INVALID_ARGUMENT when the payload's type is unknown to this binary.
absl::StatusOr<std::string> Body(const events::v1::Event& event);

/// Delay before attempt `failed + 1` after `failed` failures: `initial` doubled per failure,
/// capped at `max_step`, then spread by `jitter` in [0, 1) over ±20 %.
absl::Duration Backoff(int failed, absl::Duration initial, absl::Duration max_step, double jitter);

}  // namespace passerelle::notifications
