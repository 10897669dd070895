// gzip over zlib: deflate/inflate with windowBits 15+16 (gzip wrapper), chunked output.
#include "libs/http/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace passerelle::http {
namespace {

constexpr int kGzipWindow = 15 + 16;  // 32 KB window, gzip header and trailer
constexpr int kLevel = 6;
constexpr int kMemLevel = 8;

// Debian's Abseil has its own string_view type.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Runs deflate over `in` with `flush` until zlib has consumed it and produced everything it
// can for that flush, appending to `out`.
int DeflateAll(z_stream* z, std::string_view in, int flush, std::string* out) {
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z->avail_in = static_cast<uInt>(in.size());
  char buf[16384];
  int rc = Z_OK;
  do {
    z->next_out = reinterpret_cast<Bytef*>(buf);
    z->avail_out = sizeof buf;
    rc = deflate(z, flush);
    if (rc == Z_STREAM_ERROR) return rc;
    out->append(buf, sizeof buf - z->avail_out);
  } while (z->avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  return rc;
}

}  // namespace

absl::StatusOr<std::string> GzipCompress(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, kLevel, Z_DEFLATED, kGzipWindow, kMemLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::ResourceExhaustedError("zlib: deflateInit2 failed");
  }
  std::string out;
  out.reserve(deflateBound(&z, static_cast<uLong>(data.size())));
  // Inputs over 4 GB would overflow avail_in: feed them in slices.
  int rc = Z_OK;
  constexpr size_t kSlice = size_t{1} << 30;
  while (data.size() > kSlice && rc != Z_STREAM_ERROR) {
    rc = DeflateAll(&z, data.substr(0, kSlice), Z_NO_FLUSH, &out);
    data.remove_prefix(kSlice);
  }
  if (rc != Z_STREAM_ERROR) rc = DeflateAll(&z, data, Z_FINISH, &out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return absl::InternalError(absl::StrCat("zlib: deflate returned ", rc));
  return out;
}

absl::StatusOr<std::string> GzipDecompress(std::string_view data, size_t max_bytes) {
  z_stream z{};
  if (inflateInit2(&z, kGzipWindow) != Z_OK) {
    return absl::ResourceExhaustedError("zlib: inflateInit2 failed");
  }
  std::string out;
  char buf[16384];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(std::min<size_t>(data.size(), UINT32_MAX));
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&z);
      return absl::ResourceExhaustedError(
          absl::StrCat("gzip: more than ", max_bytes, " bytes once decompressed"));
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // input ended before the trailer
    if (rc == Z_BUF_ERROR) rc = Z_OK;                 // output full: go on
  }
  const bool whole = rc == Z_STREAM_END && z.avail_in == 0;
  inflateEnd(&z);
  if (!whole) return absl::InvalidArgumentError("gzip: not one whole gzip stream");
  return out;
}

struct GzipStream::State {
  z_stream z{};
  bool ok = false;
  bool finished = false;
};

GzipStream::GzipStream() : state_(std::make_unique<State>()) {
  state_->ok = deflateInit2(&state_->z, kLevel, Z_DEFLATED, kGzipWindow, kMemLevel,
                            Z_DEFAULT_STRATEGY) == Z_OK;
}

GzipStream::~GzipStream() {
  if (state_->ok) deflateEnd(&state_->z);
}

bool GzipStream::ok() const { return state_->ok; }

absl::StatusOr<std::string> GzipStream::Compress(std::string_view data) {
  if (!state_->ok || state_->finished) return absl::FailedPreconditionError("gzip stream closed");
  std::string out;
  while (data.size() > (size_t{1} << 30)) {
    if (DeflateAll(&state_->z, data.substr(0, size_t{1} << 30), Z_NO_FLUSH, &out) ==
        Z_STREAM_ERROR) {
      return absl::InternalError("zlib: deflate failed");
    }
    data.remove_prefix(size_t{1} << 30);
  }
  if (DeflateAll(&state_->z, data, Z_SYNC_FLUSH, &out) == Z_STREAM_ERROR) {
    return absl::InternalError("zlib: deflate failed");
  }
  return out;
}

absl::StatusOr<std::string> GzipStream::Finish() {
  if (!state_->ok || state_->finished) return absl::FailedPreconditionError("gzip stream closed");
  state_->finished = true;
  std::string out;
  if (DeflateAll(&state_->z, {}, Z_FINISH, &out) != Z_STREAM_END) {
    return absl::InternalError("zlib: deflate did not finish");
  }
  return out;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  // Accept-Encoding = #( codings [ ";" "q=" qvalue ] ), RFC 9110 section 12.5.3.
  std::optional<bool> gzip, star;
  for (absl::string_view item : absl::StrSplit(Absl(accept_encoding), ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(item, ';');
    const std::string coding = absl::AsciiStrToLower(absl::StripAsciiWhitespace(parts[0]));
    bool accepted = true;
    for (size_t i = 1; i < parts.size(); ++i) {
      absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
      if (p.size() < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=') continue;
      double q = 0;
      // A q-value that does not parse counts as 0: refuse rather than guess.
      accepted = absl::SimpleAtod(p.substr(2), &q) && q > 0;
    }
    if (coding == "gzip" || coding == "x-gzip") {
      gzip = accepted;
    } else if (coding == "*") {
      star = accepted;
    }
  }
  if (gzip.has_value()) return *gzip;
  return star.value_or(false);
}

bool IsCompressible(std::string_view content_type) {
  const std::string lower = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(Absl(content_type.substr(0, content_type.find(';')))));
  absl::string_view type = lower;
  if (absl::StartsWith(type, "text/")) return true;
  if (!absl::ConsumePrefix(&type, "application/")) return type == "image/svg+xml";
  return type == "json" || type == "xml" || type == "javascript" || type == "x-ndjson" ||
         absl::EndsWith(type, "+json") || absl::EndsWith(type, "+xml");
}

}  // namespace passerelle::http
