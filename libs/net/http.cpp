// Outgoing HTTP(S) GET under the destination policy, over cpp-httplib.
#include "libs/net/http.hpp"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "libs/text/utf8.hpp"

namespace passerelle::net {

void Cancellation::Cancel() {
  // Held while subscribers run, so that once Unsubscribe returns none is running.
  std::lock_guard calls(calls_mu_);
  std::map<int, std::function<void()>> subscribers;
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    subscribers = subscribers_;
  }
  cv_.notify_all();
  for (auto& [id, f] : subscribers) f();
}

bool Cancellation::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

bool Cancellation::WaitFor(std::chrono::milliseconds d) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, d, [this] { return cancelled_; });
}

int Cancellation::Subscribe(std::function<void()> f) {
  std::unique_lock lock(mu_);
  if (cancelled_) {
    lock.unlock();
    f();
    return -1;
  }
  subscribers_[next_] = std::move(f);
  return next_++;
}

void Cancellation::Unsubscribe(int id) {
  std::lock_guard calls(calls_mu_);
  std::lock_guard lock(mu_);
  subscribers_.erase(id);
}

namespace {

// What went wrong on the wire, in French: connecting is not the same failure as a connection
// cut before the answer.
std::string TransportError(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "serveur injoignable (connexion impossible)";
    case httplib::Error::ConnectionTimeout:
      return "serveur injoignable (délai de connexion dépassé)";
    case httplib::Error::Read:
      return "connexion coupée par le serveur avant la fin de sa réponse";
    case httplib::Error::Write:
      return "connexion coupée par le serveur pendant l'envoi de la requête";
    case httplib::Error::SSLConnection:
      return "échec de la négociation TLS avec le serveur";
    case httplib::Error::SSLServerVerification:
      return "certificat TLS du serveur non vérifié";
    default:
      return absl::StrCat("échange avec le serveur impossible (", httplib::to_string(e), ")");
  }
}

using Clock = std::chrono::steady_clock;

// Stops a request from another thread when it is cancelled or its deadline passes:
// httplib's stop() shuts the socket down, so a blocked read or a trickling body ends at once.
class Watchdog {
 public:
  Watchdog(httplib::ClientImpl& client, Cancellation* cancel, Clock::time_point deadline)
      : client_(client), cancel_(cancel), deadline_(deadline) {
    if (cancel_ != nullptr) {
      subscription_ = cancel_->Subscribe([this] {
        std::lock_guard lock(mu_);
        cv_.notify_all();
      });
    }
    thread_ = std::thread([this] { Loop(); });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (cancel_ != nullptr && subscription_ >= 0) cancel_->Unsubscribe(subscription_);
  }
  bool fired() const { return fired_; }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (!done_) {
      const bool stop = (cancel_ != nullptr && cancel_->cancelled()) || Clock::now() >= deadline_;
      if (stop) {
        fired_ = true;
        lock.unlock();
        client_.stop();  // blocks while connecting (bounded by the connect timeout)
        lock.lock();
        cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return done_; });
        continue;
      }
      cv_.wait_until(lock, std::min(deadline_, Clock::now() + std::chrono::seconds(1)));
    }
  }

  httplib::ClientImpl& client_;
  Cancellation* cancel_;
  Clock::time_point deadline_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> fired_{false};
  int subscription_ = -1;
  std::thread thread_;
};

// A validator a server sent that can be sent back as it is: printable ASCII, bounded.
bool IsHeaderSafe(std::string_view value) {
  if (value.empty() || value.size() > kMaxValidatorBytes) return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string Validator(const httplib::Response& res, const char* name) {
  if (res.get_header_value_count(name) != 1) return "";
  std::string value = res.get_header_value(name);
  return IsHeaderSafe(value) ? value : "";
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpClient::Get(std::string_view url, const HttpOptions& options,
                                             Cancellation* cancel) const {
  return Send("GET", url, "", "", {}, options, cancel);
}

absl::StatusOr<HttpResponse> HttpClient::Post(
    std::string_view url, const std::string& body, const std::string& content_type,
    const std::vector<std::pair<std::string, std::string>>& headers, const HttpOptions& options,
    Cancellation* cancel) const {
  HttpOptions once = options;
  once.max_redirects = 0;
  return Send("POST", url, body, content_type, headers, once, cancel);
}

absl::StatusOr<HttpResponse> HttpClient::Send(
    std::string_view method, std::string_view url_text, const std::string& body,
    const std::string& content_type,
    const std::vector<std::pair<std::string, std::string>>& extra_headers,
    const HttpOptions& options, Cancellation* cancel) const {
  auto url = ParseUrl(url_text);
  if (!url.ok()) return url.status();
  const Clock::time_point deadline = Clock::now() + options.total_timeout;
  const std::string first_origin = url->Origin();
  for (int hop = 0;; ++hop) {
    if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("interrompu");
    // The address connected to is the one checked: resolved once here, pinned below.
    auto addresses = policy_.Resolve(*url);
    if (!addresses.ok()) return addresses.status();
    std::unique_ptr<httplib::ClientImpl> client;
    if (url->scheme == "https") {
      auto tls = std::make_unique<httplib::SSLClient>(url->host, url->port);
      tls->enable_server_certificate_verification(true);
      client = std::move(tls);
    } else {
      client = std::make_unique<httplib::ClientImpl>(url->host, url->port);
    }
    client->set_hostname_addr_map({{url->host, addresses->front().ToString()}});
    client->set_connection_timeout(options.connect_timeout);
    client->set_read_timeout(options.read_timeout);
    client->set_write_timeout(options.read_timeout);
    client->set_follow_location(false);
    client->set_keep_alive(false);
    // A compressed body is not unpacked: 300 KB of gzip would grow into the whole size limit.
    // We never ask for compression; a server that sends it anyway gets its bytes refused as
    // not being the expected file.
    client->set_decompress(false);
    httplib::Headers headers(extra_headers.begin(), extra_headers.end());
    if (!options.authorization.empty() && url->Origin() == first_origin) {
      headers.emplace("Authorization", options.authorization);
    }
    if (IsHeaderSafe(options.if_none_match)) {
      headers.emplace("If-None-Match", options.if_none_match);
    }
    if (IsHeaderSafe(options.if_modified_since)) {
      headers.emplace("If-Modified-Since", options.if_modified_since);
    }

    HttpResponse out;
    out.url = *url;
    absl::Status refused = absl::OkStatus();  // why the handlers stopped the transfer
    std::optional<uint64_t> length;
    std::string location;
    auto on_response = [&](const httplib::Response& res) {
      out.status = res.status;
      out.content_type = res.get_header_value("Content-Type");
      out.etag = Validator(res, "ETag");
      out.last_modified = Validator(res, "Last-Modified");
      if (IsRedirect(res.status)) {
        location = res.get_header_value("Location");
        return false;  // the body of a redirect is not wanted
      }
      if (res.get_header_value_count("Content-Length") > 1) {
        refused = absl::FailedPreconditionError(
            "réponse invalide : plusieurs en-têtes Content-Length (RFC 9112)");
        return false;
      }
      if (res.has_header("Content-Length")) {
        uint64_t n = 0;
        const std::string value(absl::StripAsciiWhitespace(res.get_header_value("Content-Length")));
        if (value.empty() || value.size() > 19 || !absl::SimpleAtoi(value, &n)) {
          refused = absl::FailedPreconditionError(absl::StrCat("réponse invalide : Content-Length ",
                                                               text::Quote(value, 30),
                                                               " n'est pas un nombre"));
          return false;
        }
        if (n > options.max_bytes && !options.cut_long_bodies) {
          refused = absl::ResourceExhaustedError(absl::StrCat("fichier annoncé de ", n,
                                                              " octets, plus que la limite de ",
                                                              options.max_bytes, " octets"));
          return false;
        }
        length = n;
      }
      return true;
    };
    bool cut = false;
    auto on_data = [&](const char* data, size_t n) {
      if (out.body.size() + n > options.max_bytes && options.cut_long_bodies) {
        out.body.append(data, options.max_bytes - out.body.size());
        cut = true;
        return false;
      }
      if (out.body.size() + n > options.max_bytes) {
        refused = absl::ResourceExhaustedError(
            absl::StrCat("fichier de plus de ", options.max_bytes, " octets"));
        return false;
      }
      if (cancel != nullptr && cancel->cancelled()) return false;
      if (Clock::now() >= deadline) return false;
      out.body.append(data, n);
      return true;
    };
    bool stopped = false;
    httplib::Result res = [&] {
      Watchdog watchdog(*client, cancel, deadline);
      httplib::Request req;
      req.method = std::string(method);
      req.path = url->target;
      req.headers = headers;
      if (method != "GET") {
        req.body = body;
        req.set_header("Content-Type", content_type);
      }
      req.response_handler = on_response;
      req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        return on_data(data, n);
      };
      httplib::Result r = client->send(req);
      stopped = watchdog.fired();
      return r;
    }();
    if (!refused.ok()) return refused;
    if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("interrompu");
    if (stopped || Clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("pas de réponse complète en ", options.total_timeout.count() / 1000, " s"));
    }
    if (IsRedirect(out.status) && location.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("redirection (HTTP ", out.status, ") sans en-tête Location"));
    }
    if (IsRedirect(out.status) && options.max_redirects == 0) {
      out.location = text::ToValidUtf8(location.substr(0, 2000));
      return out;
    }
    if (IsRedirect(out.status)) {
      if (hop >= options.max_redirects) {
        return absl::FailedPreconditionError(
            absl::StrCat("plus de ", options.max_redirects, " redirections"));
      }
      auto next = ResolveLocation(*url, location);
      if (!next.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("redirection vers une adresse invalide : ", next.status().message()));
      }
      if (url->scheme == "https" && next->scheme != "https") {
        return absl::PermissionDeniedError("redirection de https vers http refusée");
      }
      url = *std::move(next);
      continue;
    }
    // A body shorter than its Content-Length is a cut transfer, whether the connection closed
    // early (the client reports a read error) or not: say so, not "unreachable".
    if (out.status >= 200 && out.status < 300 && length && *length != out.body.size() && !cut) {
      return absl::DataLossError(
          absl::StrCat("fichier tronqué : ", out.body.size(), " octets reçus sur ", *length));
    }
    if (cut) return out;  // stopped on purpose, status and headers read
    if (!res) return absl::UnavailableError(TransportError(res.error()));
    // Answers without a body (204, 304) may skip the response handler: the status is the
    // result's.
    if (out.status == 0) {
      out.status = res->status;
      out.etag = Validator(*res, "ETag");
      out.last_modified = Validator(*res, "Last-Modified");
    }
    return out;
  }
}

}  // namespace passerelle::net
