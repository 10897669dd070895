// gzip (RFC 1952) over zlib for HTTP bodies: whole buffers, streams cut into chunks, and the
// two questions the server asks before compressing (does the client take gzip, is the type
// worth it).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace passerelle::http {

/// The whole of `data` gzipped (zlib level 6). An error only when zlib cannot allocate.
absl::StatusOr<std::string> GzipCompress(std::string_view data);

/// `data` gunzipped; INVALID_ARGUMENT when it is not one whole gzip member, RESOURCE_EXHAUSTED
/// when the result would pass `max_bytes` (a small bomb expands a thousand times).
absl::StatusOr<std::string> GzipDecompress(std::string_view data, size_t max_bytes);

/// A gzip stream written piece by piece: each Compress() returns bytes the receiver can
/// decode at once (sync flush), so a streamed export is never held back in zlib's window;
/// Finish() returns the end of the stream. Memory: zlib's state (about 270 KB), whatever the
/// stream's length.
class GzipStream {
 public:
  GzipStream();
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  /// False when zlib could not allocate its state; Compress/Finish then fail too.
  bool ok() const;
  absl::StatusOr<std::string> Compress(std::string_view data);
  absl::StatusOr<std::string> Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Whether an `Accept-Encoding` value allows gzip: `gzip` (or `x-gzip`) with a non-zero
/// q-value, or `*` with a non-zero q-value and gzip not refused by name.
bool AcceptsGzip(std::string_view accept_encoding);

/// Whether a `Content-Type` is text worth compressing: text/*, application/json and
/// application/*+json (geo+json, problem+json...), application/xml and *+xml,
/// application/javascript, application/x-ndjson. Parameters (`; charset=utf-8`) are ignored.
bool IsCompressible(std::string_view content_type);

}  // namespace passerelle::http
