// Page tokens (AIP-158): opaque to clients, authenticated, and bound to the list and the
// request's parameters. One helper serves every List and Search method of every service.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/api/status.hpp"

namespace passerelle::api {

/// Seals a cursor (any bytes the store needs to resume) into a token with AES-256-GCM under a
/// per-deployment key: the client can neither read it nor forge, truncate or replay it with
/// other parameters. The associated data is the list's name and the request's parameters
/// (filter, order, parent...), so a token from another list or another filter is refused.
class PageTokens {
 public:
  /// `secret`: the deployment's key (PASSERELLE_PAGE_TOKEN_KEY); every replica of every
  /// service shares it so a token issued by one is read by another. Any length; it is hashed.
  explicit PageTokens(std::string_view secret);

  /// A token for `cursor`, valid only for the same `list` and `parameters`. Deterministic: the
  /// same three give the same token, so a page that has not changed is answered with the same
  /// bytes (the gateway's ETag and 304 hold for every page of a list, not just the last).
  std::string Seal(std::string_view list, std::string_view parameters,
                   std::string_view cursor) const;
  /// The cursor of a token issued by Seal with the same `list` and `parameters`;
  /// INVALID_ARGUMENT with a violation on `page_token` otherwise.
  absl::StatusOr<std::string> Open(std::string_view list, std::string_view parameters,
                                   std::string_view token) const;

 private:
  /// HMAC-SHA256 of `sealed` under the nonces' key, cut to the nonce's 12 bytes.
  void Nonce(std::string_view sealed, unsigned char* nonce) const;

  std::array<unsigned char, 32> key_;  // AES-256-GCM's
  // The nonces' HMAC key (its own, from the same secret) padded as RFC 2104 says.
  std::array<unsigned char, 64> inner_pad_;
  std::array<unsigned char, 64> outer_pad_;
};

/// SHA-256 of `bytes` in hex: the fingerprint of a request's content (AIP-155 request ids).
std::string ContentDigest(std::string_view bytes);

/// The parameters of a request as one string for Seal/Open: the parts joined with a separator
/// that cannot be confused with their contents (each part is length-prefixed).
std::string BindParameters(std::initializer_list<std::string_view> parts);

/// A request's page size (AIP-158): `default_size` when 0, capped at `max_size` (a larger one is
/// served, not refused); a negative one is appended to `bad` on `page_size` ([range]) and
/// `default_size` returned. The one reading of page_size in every List and Search method.
int PageSize(std::vector<FieldViolation>* bad, int requested, int default_size, int max_size);

/// PageSize where the page size is the only thing checked: INVALID_ARGUMENT on `page_size`.
absl::StatusOr<int> PageSize(int requested, int default_size, int max_size);

}  // namespace passerelle::api
