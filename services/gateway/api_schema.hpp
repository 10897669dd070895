// The public API as the gateway knows it: the descriptor set embedded at build time (with the
// protos' comments), built into the gateway's own pool, and one JSON type resolver over it.
// Routes, JSON transcoding, the OpenAPI document and reflection all read this one schema.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/util/type_resolver.h"
#include "services/gateway/json_print.hpp"

namespace passerelle::gateway {

class ApiSchema {
 public:
  /// Builds the pool from a serialized FileDescriptorSet (files in dependency order, as protoc's
  /// `--include_imports` writes them). Any file that does not build stops the start.
  static absl::StatusOr<std::unique_ptr<ApiSchema>> Load(std::string_view descriptor_set);
  /// The set compiled into this binary (proto/CMakeLists.txt, passerelle_api_descriptors).
  static absl::StatusOr<std::unique_ptr<ApiSchema>> LoadEmbedded();

  const google::protobuf::DescriptorPool& pool() const { return pool_; }
  google::protobuf::util::TypeResolver* resolver() const { return resolver_.get(); }
  /// Proto3 JSON of the pool's messages, fast (json_print.hpp).
  const JsonPrinter& printer() const { return *printer_; }
  const google::protobuf::FileDescriptorSet& files() const { return files_; }
  /// `type.googleapis.com/<full name>`, the URL the resolver knows a message by.
  static std::string TypeUrl(const google::protobuf::Descriptor* message);
  /// The leading comment of an element, trimmed (empty when none).
  template <typename D>
  static std::string Comment(const D* element) {
    google::protobuf::SourceLocation where;
    if (!element->GetSourceLocation(&where)) return "";
    return Trim(where.leading_comments);
  }

 private:
  ApiSchema() = default;
  static std::string Trim(const std::string& comment);
  google::protobuf::FileDescriptorSet files_;
  google::protobuf::DescriptorPool pool_;
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver_;
  std::unique_ptr<JsonPrinter> printer_;
};

}  // namespace passerelle::gateway
