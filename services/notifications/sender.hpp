// Sends one webhook request: the destination checked by the policy on the address actually
// connected to, a short timeout, no redirect followed.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "libs/net/destination.hpp"
#include "libs/net/http.hpp"

namespace passerelle::notifications {

struct SendResult {
  enum class Outcome { kSucceeded, kFailed, kRefused };
  Outcome outcome = Outcome::kFailed;
  int http_status = 0;  // 0: no answer
  absl::Duration latency;
  std::string error;  // French, empty on success
  /// The destination said no for good (an SMTP 5xx): not retried, the delivery fails at once.
  bool permanent = false;
};

/// The one door of webhook requests (an interface so tests can count what is sent).
class Sender {
 public:
  virtual ~Sender() = default;
  virtual SendResult Post(const std::string& url,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          const std::string& body) const = 0;
};

class HttpSender final : public Sender {
 public:
  /// `timeout`: connecting, each read and write, and the whole exchange.
  HttpSender(const net::DestinationPolicy& policy, std::chrono::milliseconds timeout)
      : client_(policy), timeout_(timeout) {}
  SendResult Post(const std::string& url,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body) const override;

 private:
  net::HttpClient client_;
  std::chrono::milliseconds timeout_;
};

}  // namespace passerelle::notifications
