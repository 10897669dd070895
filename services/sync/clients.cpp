#include "services/sync/clients.hpp"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace passerelle::sync {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

GrpcRegistry::GrpcRegistry(const std::string& address, std::chrono::milliseconds timeout)
    : stub_(venues::v1::VenueService::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
      timeout_(timeout) {}

absl::StatusOr<venues::v1::BatchUpsertVenuesResponse> GrpcRegistry::BatchUpsert(
    const std::string& source, const std::vector<venues::v1::Venue>& rows, bool reinstate) {
  venues::v1::BatchUpsertVenuesRequest req;
  req.set_source(source);
  req.set_reinstate_withdrawn(reinstate);
  for (const auto& v : rows) *req.add_venues() = v;
  // A batch is idempotent (unchanged rows write nothing): a lost connection is retried.
  grpc::Status st;
  venues::v1::BatchUpsertVenuesResponse resp;
  for (int attempt = 0; attempt < 3; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    ctx.set_wait_for_ready(true);
    resp.Clear();
    st = stub_->BatchUpsertVenues(&ctx, req, &resp);
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE) break;
  }
  if (!st.ok()) return FromGrpc(st);
  return resp;
}

absl::Status GrpcRegistry::Withdraw(const std::string& name, const std::string& reason) {
  venues::v1::WithdrawVenueRequest req;
  req.set_name(name);
  req.set_reason(reason);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  ctx.set_wait_for_ready(true);
  venues::v1::Venue out;
  grpc::Status st = stub_->WithdrawVenue(&ctx, req, &out);
  return st.ok() ? absl::OkStatus() : FromGrpc(st);
}

HttpFetcher::HttpFetcher(std::chrono::milliseconds timeout, size_t max_bytes, int attempts,
                         std::chrono::milliseconds backoff)
    : timeout_(timeout), max_bytes_(max_bytes), attempts_(attempts), backoff_(backoff) {}

absl::StatusOr<std::string> HttpFetcher::Get(const std::string& url) {
  // A server restarting or briefly overloaded (no answer, 5xx, a cut transfer) is tried again.
  auto wait = backoff_;
  absl::StatusOr<std::string> body = GetOnce(url);
  for (int attempt = 1; attempt < attempts_ && !body.ok() &&
                        (body.status().code() == absl::StatusCode::kUnavailable ||
                         body.status().code() == absl::StatusCode::kDataLoss);
       ++attempt) {
    std::this_thread::sleep_for(wait);
    wait *= 2;
    body = GetOnce(url);
  }
  return body;
}

absl::StatusOr<std::string> HttpFetcher::GetOnce(const std::string& url) {
  // scheme://host[:port]/path
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return absl::InvalidArgumentError("adresse invalide");
  const size_t path_start = url.find('/', scheme_end + 3);
  const std::string origin = url.substr(0, path_start);
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client client(origin);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout_).count();
  client.set_connection_timeout(seconds);
  client.set_read_timeout(seconds);
  client.set_follow_location(true);
  std::string body;
  bool too_large = false;
  auto res = client.Get(path, [&](const char* data, size_t n) {
    if (body.size() + n > max_bytes_) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (too_large) {
    return absl::ResourceExhaustedError(
        absl::StrCat("fichier de plus de ", max_bytes_ >> 20, " Mo"));
  }
  if (!res) {
    return absl::UnavailableError(
        absl::StrCat("serveur injoignable (", httplib::to_string(res.error()), ")"));
  }
  if (res->status >= 500) return absl::UnavailableError(absl::StrCat("réponse HTTP ", res->status));
  if (res->status != 200) {
    return absl::FailedPreconditionError(absl::StrCat("réponse HTTP ", res->status));
  }
  // A body shorter than announced was cut in transit.
  // (A compressed body is decompressed by the client: its length is not the header's.)
  if (res->has_header("Content-Length") && !res->has_header("Content-Encoding") &&
      std::stoull(res->get_header_value("Content-Length")) != body.size()) {
    return absl::DataLossError(absl::StrCat("fichier tronqué : ", body.size(), " octets reçus sur ",
                                            res->get_header_value("Content-Length")));
  }
  return body;
}

}  // namespace passerelle::sync
