// The sync's adapters to the outside: the venue registry over gRPC, source files over HTTP.
#pragma once

#include <chrono>
#include <memory>

#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/sync/sync.hpp"

namespace passerelle::sync {

class GrpcRegistry final : public Registry {
 public:
  /// `address`: the venues service, host:port. Rows are sent in `standard`'s API mapping.
  GrpcRegistry(const standard::Standard& standard, const std::string& address,
               std::chrono::milliseconds timeout);
  absl::StatusOr<std::vector<UpsertedRow>> BatchUpsert(const std::string& source,
                                                       const std::vector<standard::Venue>& rows,
                                                       bool reinstate) override;
  absl::Status Withdraw(const std::string& name, const std::string& reason) override;

 private:
  /// Registers `source` in the venues registry (already registered is fine).
  absl::Status RegisterSource(const std::string& source);

  const standard::Standard& standard_;
  std::unique_ptr<venues::v1::VenueService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

class HttpFetcher final : public Fetcher {
 public:
  /// Files over `max_bytes` are refused (a source's file is a few MB). A server that cannot be
  /// reached or answers 5xx is tried `attempts` times, waiting `backoff`, then twice as long...
  /// Every hop (redirects included) must pass `destinations`, checked on the address connected.
  HttpFetcher(net::DestinationPolicy destinations, std::chrono::milliseconds timeout,
              size_t max_bytes, int attempts, std::chrono::milliseconds backoff);
  absl::StatusOr<FetchedFile> Get(const std::string& url, const std::string& authorization,
                                  const FileValidators& since, net::Cancellation& cancel) override;

 private:
  absl::StatusOr<FetchedFile> GetOnce(const std::string& url, const std::string& authorization,
                                      const FileValidators& since, net::Cancellation& cancel);
  net::HttpClient client_;
  std::chrono::milliseconds timeout_;
  size_t max_bytes_;
  int attempts_;
  std::chrono::milliseconds backoff_;
};

}  // namespace passerelle::sync
