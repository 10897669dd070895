// gzip and the questions asked before compressing: whole buffers, streams, bombs, q-values.
#include "libs/http/gzip.hpp"

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace passerelle::http {
namespace {

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(7);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(Gzip, CompressesAndDecompresses) {
  for (const std::string& in :
       {std::string(), std::string("a"), RandomBytes(200000), std::string(300000, 'x')}) {
    auto gz = GzipCompress(in);
    ASSERT_TRUE(gz.ok());
    EXPECT_EQ(static_cast<unsigned char>((*gz)[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>((*gz)[1]), 0x8b);
    auto out = GzipDecompress(*gz, in.size());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, in);
  }
}

TEST(Gzip, DecompressRefusesBombsAndBrokenInput) {
  auto bomb = GzipCompress(std::string(10 << 20, '\0'));
  ASSERT_TRUE(bomb.ok());
  EXPECT_LT(bomb->size(), size_t{20000});
  EXPECT_EQ(GzipDecompress(*bomb, 1 << 20).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(GzipDecompress("not gzip", 100).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GzipDecompress(bomb->substr(0, bomb->size() / 2), 20 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);  // cut
  EXPECT_EQ(GzipDecompress(*bomb + "x", 20 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);  // trailing bytes
}

TEST(Gzip, StreamPiecesAreDecodableAsTheyCome) {
  GzipStream gz;
  ASSERT_TRUE(gz.ok());
  std::string all, sent;
  for (int i = 0; i < 5; ++i) {
    const std::string piece = absl::StrCat("morceau ", i, "\n");
    all += piece;
    auto out = gz.Compress(piece);
    ASSERT_TRUE(out.ok());
    EXPECT_FALSE(out->empty());  // flushed: nothing held back
    sent += *out;
  }
  auto end = gz.Finish();
  ASSERT_TRUE(end.ok());
  sent += *end;
  EXPECT_EQ(*GzipDecompress(sent, 1 << 20), all);
  EXPECT_FALSE(gz.Compress("late").ok());
}

TEST(Gzip, AcceptEncodingIsReadWithQValues) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, GZIP"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
  EXPECT_TRUE(AcceptsGzip("x-gzip"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("br, deflate"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.000"));
  EXPECT_FALSE(AcceptsGzip("*, gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("*;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=nan-ish"));
  EXPECT_FALSE(AcceptsGzip("gzipx"));
}

TEST(Gzip, TextualTypesAreCompressible) {
  for (const char* yes : {"text/csv", "text/turtle; charset=utf-8", "application/json",
                          "Application/JSON", "application/geo+json", "application/problem+json",
                          "application/xml", "application/x-ndjson", "image/svg+xml"}) {
    EXPECT_TRUE(IsCompressible(yes)) << yes;
  }
  for (const char* no : {"", "image/png", "application/octet-stream", "application/zip",
                         "application/jsonx", "font/woff2"}) {
    EXPECT_FALSE(IsCompressible(no)) << no;
  }
}

}  // namespace
}  // namespace passerelle::http
