// Reading a request's bytes so that text that is not UTF-8 is the client's error, not ours.
//
// protobuf refuses to parse a proto3 `string` field holding invalid UTF-8, and gRPC then answers
// INTERNAL before any handler runs (and protobuf prints a line outside the JSON logs). The
// handler reads the raw bytes instead and, when a string field is not valid UTF-8, answers
// INVALID_ARGUMENT naming the field (`operations[2].keywords[0]`). Nothing here is specific to
// the referential: it belongs in libs/server once another service wants it.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"

namespace passerelle::referential {

/// Parses `buffer` into `out`. INVALID_ARGUMENT with a violation on the field path when a string
/// field (at any depth) is not valid UTF-8, or on `request` when the bytes are not a message of
/// that type.
absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* out);

}  // namespace passerelle::referential
