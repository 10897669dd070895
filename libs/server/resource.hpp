// What resource-oriented gRPC handlers need besides libs/api/resource.hpp: streamed exports.
#pragma once

#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/api/resource.hpp"

namespace passerelle::server {

// Handlers name these as server:: as well; they live in libs/api, free of gRPC.
using api::RevisionFromETag;
using api::ToTimestamp;
using api::WeakETag;

/// Streams a document made piece by piece as 64 KiB chunks of a message with `content_type`
/// (first chunk) and `data` fields: memory holds one chunk, not the document. At least one chunk
/// is sent, even for an empty document.
template <typename Chunk>
class ChunkStream {
 public:
  static constexpr size_t kChunk = 64 * 1024;

  /// `write` sends one chunk; false when the client is gone.
  ChunkStream(std::function<bool(const Chunk&)> write, std::string content_type)
      : write_(std::move(write)), content_type_(std::move(content_type)) {}
  ChunkStream(grpc::ServerWriter<Chunk>* writer, std::string content_type)
      : ChunkStream([writer](const Chunk& c) { return writer->Write(c); },
                    std::move(content_type)) {}

  /// Adds a piece; false once the client is gone (stop producing).
  bool Append(std::string_view piece) {
    while (!gone_ && !piece.empty()) {
      const size_t n = std::min(piece.size(), kChunk - buffer_.size());
      buffer_.append(piece.data(), n);
      piece.remove_prefix(n);
      if (buffer_.size() == kChunk) Flush();
    }
    return !gone_;
  }
  /// Sends what is left; CANCELLED when the client went away.
  grpc::Status Finish() {
    if (!gone_ && (!buffer_.empty() || !sent_)) Flush();
    return gone_ ? grpc::Status(grpc::StatusCode::CANCELLED, "client gone") : grpc::Status::OK;
  }

 private:
  void Flush() {
    Chunk chunk;
    if (!sent_) chunk.set_content_type(content_type_);
    chunk.set_data(std::move(buffer_));
    buffer_.clear();
    sent_ = true;
    if (!write_(chunk)) gone_ = true;
  }

  std::function<bool(const Chunk&)> write_;
  std::string content_type_;
  std::string buffer_;
  bool sent_ = false;
  bool gone_ = false;
};

/// Streams a whole `doc` (see ChunkStream).
template <typename Chunk>
grpc::Status WriteChunks(grpc::ServerWriter<Chunk>* writer, const std::string& doc,
                         const std::string& content_type) {
  ChunkStream<Chunk> stream(writer, content_type);
  stream.Append(doc);
  return stream.Finish();
}

}  // namespace passerelle::server
