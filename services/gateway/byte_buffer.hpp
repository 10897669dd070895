// Bytes in and out of gRPC's ByteBuffer, for the generic (untyped) calls both doors make.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "grpcpp/support/byte_buffer.h"

namespace passerelle::gateway {

/// A buffer holding `bytes` (one slice; the string is moved, not copied, when gRPC can).
inline grpc::ByteBuffer ToBuffer(std::string bytes) {
  grpc::Slice slice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

/// The bytes of a buffer; empty when it cannot be read.
inline std::string ToString(const grpc::ByteBuffer& buffer) {
  std::string out;
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

}  // namespace passerelle::gateway
