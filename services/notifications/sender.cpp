// Webhook requests through libs/net's client: pinned to the address the policy checked, bounded
// in time and in what is read of the answer, no redirect followed.
#include "services/notifications/sender.hpp"

#include "absl/strings/str_cat.h"
#include "libs/text/utf8.hpp"

namespace passerelle::notifications {

namespace {
// What is read of a receiver's answer: its status is all that counts.
constexpr size_t kMaxAnswerBytes = 64 << 10;
}  // namespace

SendResult HttpSender::Post(const std::string& url,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body) const {
  SendResult out;
  const absl::Time start = absl::Now();
  net::HttpOptions options;
  options.connect_timeout = timeout_;
  options.read_timeout = timeout_;
  options.total_timeout = timeout_;
  options.max_bytes = kMaxAnswerBytes;
  options.cut_long_bodies = true;
  auto res = client_.Post(url, body, "application/json", headers, options);
  out.latency = absl::Now() - start;
  if (!res.ok()) {
    // A URL or a destination the policy refuses will not get better by itself.
    const bool refused = res.status().code() == absl::StatusCode::kInvalidArgument ||
                         res.status().code() == absl::StatusCode::kPermissionDenied;
    out.outcome = refused ? SendResult::Outcome::kRefused : SendResult::Outcome::kFailed;
    out.error = refused ? std::string(res.status().message())
                        : absl::StrCat("destinataire : ", res.status().message());
    return out;
  }
  out.http_status = res->status;
  if (res->status >= 200 && res->status < 300) {
    out.outcome = SendResult::Outcome::kSucceeded;
    return out;
  }
  if (res->status >= 300 && res->status < 400) {
    out.error =
        absl::StrCat("redirection (HTTP ", res->status, ") vers ", text::Quote(res->location, 120),
                     " non suivie : donnez l'adresse finale du webhook");
    return out;
  }
  out.error = absl::StrCat("réponse HTTP ", res->status);
  return out;
}

}  // namespace passerelle::notifications
