// Webhook requests over cpp-httplib, pinned to the address the policy checked.
#include "services/notifications/sender.hpp"

#include <memory>

#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "libs/text/utf8.hpp"

namespace passerelle::notifications {

SendResult HttpSender::Post(const std::string& url_text,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body) const {
  SendResult out;
  const absl::Time start = absl::Now();
  auto url = net::ParseUrl(url_text);
  if (!url.ok()) {
    out.outcome = SendResult::Outcome::kRefused;
    out.error = absl::StrCat("adresse invalide : ", url.status().message());
    return out;
  }
  // Resolved once, checked, and connected to by address: no DNS-rebinding gap.
  auto addresses = policy_.Resolve(*url);
  if (!addresses.ok()) {
    out.outcome = addresses.status().code() == absl::StatusCode::kPermissionDenied
                      ? SendResult::Outcome::kRefused
                      : SendResult::Outcome::kFailed;
    out.error = std::string(addresses.status().message());
    out.latency = absl::Now() - start;
    return out;
  }
  std::unique_ptr<httplib::ClientImpl> client;
  if (url->scheme == "https") {
    auto tls = std::make_unique<httplib::SSLClient>(url->host, url->port);
    tls->enable_server_certificate_verification(true);
    client = std::move(tls);
  } else {
    client = std::make_unique<httplib::ClientImpl>(url->host, url->port);
  }
  client->set_hostname_addr_map({{url->host, addresses->front().ToString()}});
  client->set_connection_timeout(timeout_);
  client->set_read_timeout(timeout_);
  client->set_write_timeout(timeout_);
  client->set_follow_location(false);
  client->set_keep_alive(false);
  client->set_decompress(false);
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  auto res = client->Post(url->target, h, body, "application/json");
  out.latency = absl::Now() - start;
  if (!res) {
    out.error = absl::StrCat("destinataire injoignable (", httplib::to_string(res.error()), ")");
    return out;
  }
  out.http_status = res->status;
  if (res->status >= 200 && res->status < 300) {
    out.outcome = SendResult::Outcome::kSucceeded;
    return out;
  }
  if (res->status >= 300 && res->status < 400) {
    out.error = absl::StrCat("redirection (HTTP ", res->status, ") vers ",
                             text::Quote(res->get_header_value("Location"), 120),
                             " non suivie : donnez l'adresse finale du webhook");
    return out;
  }
  out.error = absl::StrCat("réponse HTTP ", res->status);
  return out;
}

}  // namespace passerelle::notifications
