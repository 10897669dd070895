#include "services/sync/clients.hpp"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "libs/standard/venue.hpp"

namespace passerelle::sync {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

GrpcRegistry::GrpcRegistry(const standard::Standard& standard, const std::string& address,
                           std::chrono::milliseconds timeout)
    : standard_(standard),
      stub_(venues::v1::VenueService::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
      timeout_(timeout) {}

absl::StatusOr<std::vector<UpsertedRow>> GrpcRegistry::BatchUpsert(
    const std::string& source, const std::vector<standard::Venue>& rows, bool reinstate) {
  venues::v1::BatchUpsertVenuesRequest req;
  req.set_source(source);
  req.set_reinstate_withdrawn(reinstate);
  for (const auto& row : rows) {
    venues::v1::Venue* v = req.add_venues();
    standard::ToProto(standard_, row, v);
    v->clear_name();  // a row of a source is named by its source id
    v->set_id(row.source_id);
  }
  // A batch is idempotent (unchanged rows write nothing): a lost connection is retried. The
  // registry writes only into registered sources: a sync source registers itself there the
  // first time the registry says it does not know it.
  grpc::Status st;
  venues::v1::BatchUpsertVenuesResponse resp;
  bool registered = false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    ctx.set_wait_for_ready(true);
    resp.Clear();
    st = stub_->BatchUpsertVenues(&ctx, req, &resp);
    if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION && !registered) {
      if (absl::Status s = RegisterSource(source); !s.ok()) return s;
      registered = true;
      continue;
    }
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE) break;
  }
  if (!st.ok()) return FromGrpc(st);
  std::vector<UpsertedRow> out;
  for (const auto& r : resp.results()) {
    if (r.index() < 0 || static_cast<size_t>(r.index()) >= rows.size()) continue;
    UpsertedRow row;
    row.index = static_cast<size_t>(r.index());
    row.source_id = r.source_id();
    row.venue = r.name();
    switch (r.outcome()) {
      case venues::v1::CREATED:
        row.outcome = UpsertedRow::Outcome::kCreated;
        break;
      case venues::v1::UPDATED:
        row.outcome = UpsertedRow::Outcome::kUpdated;
        break;
      case venues::v1::UNCHANGED:
        row.outcome = UpsertedRow::Outcome::kUnchanged;
        break;
      default:
        row.outcome = UpsertedRow::Outcome::kRejected;
        break;
    }
    for (const auto& v : r.violations()) {
      row.violations.push_back({v.field(), v.value(), v.rule(), v.description()});
    }
    out.push_back(std::move(row));
  }
  return out;
}

absl::Status GrpcRegistry::RegisterSource(const std::string& source) {
  venues::v1::CreateSourceRequest req;
  req.set_source_id(source);
  req.mutable_source()->set_display_name(absl::StrCat("Synchronisation « ", source, " »"));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  venues::v1::Source out;
  grpc::Status st = stub_->CreateSource(&ctx, req, &out);
  if (st.ok() || st.error_code() == grpc::StatusCode::ALREADY_EXISTS) return absl::OkStatus();
  return FromGrpc(st);
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

HttpFetcher::HttpFetcher(net::DestinationPolicy destinations, std::chrono::milliseconds timeout,
                         size_t max_bytes, int attempts, std::chrono::milliseconds backoff)
    : client_(std::move(destinations)),
      timeout_(timeout),
      max_bytes_(max_bytes),
      attempts_(attempts),
      backoff_(backoff) {}

absl::StatusOr<FetchedFile> HttpFetcher::Get(const std::string& url,
                                             const std::string& authorization,
                                             const FileValidators& since,
                                             net::Cancellation& cancel) {
  // A server restarting or briefly overloaded (no answer, 5xx, a cut transfer) is tried again;
  // the wait between tries ends at once on cancellation.
  auto wait = backoff_;
  absl::StatusOr<FetchedFile> body = GetOnce(url, authorization, since, cancel);
  for (int attempt = 1; attempt < attempts_ && !body.ok() &&
                        (body.status().code() == absl::StatusCode::kUnavailable ||
                         body.status().code() == absl::StatusCode::kDataLoss);
       ++attempt) {
    if (cancel.WaitFor(wait)) return absl::CancelledError("interrompu");
    wait *= 2;
    body = GetOnce(url, authorization, since, cancel);
  }
  return body;
}

absl::StatusOr<FetchedFile> HttpFetcher::GetOnce(const std::string& url,
                                                 const std::string& authorization,
                                                 const FileValidators& since,
                                                 net::Cancellation& cancel) {
  net::HttpOptions options;
  // Connecting holds a shutdown (it cannot be interrupted): at most 10 s of it.
  options.connect_timeout = std::min<std::chrono::milliseconds>(timeout_, std::chrono::seconds(10));
  options.read_timeout = timeout_;
  // A server trickling bytes defeats a read timeout: the whole transfer has a limit too.
  options.total_timeout = timeout_ * 10;
  options.max_bytes = max_bytes_;
  options.authorization = authorization;
  options.if_none_match = since.etag;
  options.if_modified_since = since.last_modified;
  auto res = client_.Get(url, options, &cancel);
  if (!res.ok()) return res.status();
  if (res->status >= 500) return absl::UnavailableError(absl::StrCat("réponse HTTP ", res->status));
  if (res->status == 204) {
    return absl::FailedPreconditionError(
        "réponse HTTP 204 sans contenu : le serveur n'a envoyé aucun fichier");
  }
  if (res->status == 304) {
    if (since.etag.empty() && since.last_modified.empty()) {
      return absl::FailedPreconditionError(
          "réponse HTTP 304 à une requête qui n'était pas conditionnelle");
    }
    return FetchedFile{
        .not_modified = true, .etag = res->etag, .last_modified = res->last_modified};
  }
  if (res->status != 200) {
    return absl::FailedPreconditionError(absl::StrCat("réponse HTTP ", res->status));
  }
  return FetchedFile{.body = std::move(res->body),
                     .etag = std::move(res->etag),
                     .last_modified = std::move(res->last_modified)};
}

}  // namespace passerelle::sync
