// A small client of the referential service shared by the indicators' domains: the items of a
// published version with their labels, read with GetVersion.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "passerelle/referential/v1/referential.grpc.pb.h"

namespace passerelle::indicators {

/// One item offered by a published version (retired items are left out).
struct PublishedItem {
  /// `items/{item}`.
  std::string name;
  std::string code;
  /// The professional label.
  std::string label;
  /// The plain-language label; empty when the referential has none.
  std::string plain_label;
};

/// A published version: its name, publish time and items in the tree's order.
struct PublishedVersion {
  std::string name;
  absl::Time publish_time;
  std::vector<PublishedItem> items;
};

class ReferentialClient {
 public:
  /// `address`: the referential service, host:port; each call waits at most `timeout`.
  ReferentialClient(const std::string& address, std::chrono::milliseconds timeout);

  /// The version `version` (`nomenclatures/{n}/versions/{v}`, `…/versions/-` for the current
  /// one); the call's status (message prefixed) when the referential does not answer.
  absl::StatusOr<PublishedVersion> Version(const std::string& version);

 private:
  std::unique_ptr<referential::v1::ReferentialService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace passerelle::indicators
