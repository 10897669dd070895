// What resource-oriented gRPC handlers need besides libs/api/resource.hpp: streamed exports.
#pragma once

#include <string>

#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/api/resource.hpp"

namespace passerelle::server {

// Handlers name these as server:: as well; they live in libs/api, free of gRPC.
using api::RevisionFromETag;
using api::ToTimestamp;
using api::WeakETag;

/// Streams `doc` as 64 KiB chunks of a message with `content_type` (first chunk) and `data`
/// fields; at least one chunk even for an empty document.
template <typename Chunk>
grpc::Status WriteChunks(grpc::ServerWriter<Chunk>* writer, const std::string& doc,
                         const std::string& content_type) {
  constexpr size_t kChunk = 64 * 1024;
  for (size_t off = 0; off == 0 || off < doc.size(); off += kChunk) {
    Chunk chunk;
    if (off == 0) chunk.set_content_type(content_type);
    chunk.set_data(doc.substr(off, kChunk));
    if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
  }
  return grpc::Status::OK;
}

}  // namespace passerelle::server
