// Outgoing HTTP(S) requests under the destination policy: each hop resolved once, checked, and
// connected to by address (no DNS-rebinding gap), redirects checked the same way, bodies
// bounded, and every request cancellable from another thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/net/destination.hpp"

namespace passerelle::net {

/// Set once from any thread (shutdown, a run that is no longer ours); requests in flight and
/// waits end promptly.
class Cancellation {
 public:
  void Cancel();
  bool cancelled() const;
  /// Waits `d` or until cancelled; true when cancelled.
  bool WaitFor(std::chrono::milliseconds d) const;
  /// Calls `f` on cancellation (at once if already cancelled) until the returned id is removed.
  int Subscribe(std::function<void()> f);
  void Unsubscribe(int id);

 private:
  std::mutex calls_mu_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool cancelled_ = false;
  int next_ = 0;
  std::map<int, std::function<void()>> subscribers_;
};

struct HttpOptions {
  /// Connecting (and the TLS handshake), each read, and the whole request.
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds read_timeout{60000};
  std::chrono::milliseconds total_timeout{600000};
  /// Bodies over this (after decompression) are refused.
  size_t max_bytes = size_t{64} << 20;
  /// Redirects followed, each checked by the policy. 0: none is followed and a redirect is
  /// answered as it is (its status and `location`).
  int max_redirects = 5;
  /// Bodies over `max_bytes` are cut there and the transfer ended, not refused: for callers
  /// that need only the status (a webhook's receiver may answer anything).
  bool cut_long_bodies = false;
  /// Sent as the Authorization header to the first origin only (never after a redirect to
  /// another origin), never logged.
  std::string authorization;
  /// Conditional request (RFC 9110 §13): the validators of the copy the caller holds, sent as
  /// If-None-Match and If-Modified-Since when they are header-safe (printable ASCII, at most
  /// kMaxValidatorBytes); a server whose copy is the same answers 304 with no body.
  std::string if_none_match;
  std::string if_modified_since;
};

/// Validators longer than this (or not printable ASCII) are neither sent nor kept.
inline constexpr size_t kMaxValidatorBytes = 512;

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  /// A redirect's Location, when redirects are not followed (`max_redirects` 0).
  std::string location;
  /// The response's ETag and Last-Modified, empty when absent or not header-safe.
  std::string etag;
  std::string last_modified;
  Url url;  // after redirects
};

class HttpClient {
 public:
  explicit HttpClient(DestinationPolicy policy) : policy_(std::move(policy)) {}

  /// GET `url`. Any final status is returned with its body (a 2xx body is checked against its
  /// Content-Length). Errors, with a French message: INVALID_ARGUMENT (URL), PERMISSION_DENIED
  /// (destination refused by the policy, here or after a redirect), UNAVAILABLE (unreachable,
  /// connection lost), DATA_LOSS (body shorter than announced), RESOURCE_EXHAUSTED (too large),
  /// FAILED_PRECONDITION (invalid response, too many redirects), CANCELLED, DEADLINE_EXCEEDED.
  absl::StatusOr<HttpResponse> Get(std::string_view url, const HttpOptions& options,
                                   Cancellation* cancel = nullptr) const;

  /// POST `body` (`content_type`) with `headers` (the caller's own, never from the network) to
  /// `url`, under the same policy, limits and errors as Get; redirects are never followed
  /// (`options.max_redirects` is ignored): a 3xx is answered as it is with its `location`.
  absl::StatusOr<HttpResponse> Post(std::string_view url, const std::string& body,
                                    const std::string& content_type,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const HttpOptions& options,
                                    Cancellation* cancel = nullptr) const;

  const DestinationPolicy& policy() const { return policy_; }

 private:
  absl::StatusOr<HttpResponse> Send(std::string_view method, std::string_view url,
                                    const std::string& body, const std::string& content_type,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const HttpOptions& options, Cancellation* cancel) const;
  DestinationPolicy policy_;
};

}  // namespace passerelle::net
