// Sealed page tokens with OpenSSL's AES-256-GCM.
#include "libs/api/page_token.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/api/status.hpp"

namespace passerelle::api {
namespace {

constexpr unsigned char kVersion = 1;
constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;
constexpr size_t kMaxToken = 4096;  // a cursor is a key and an id: far less than this

using Ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// AES-256-GCM fetched once: OpenSSL 3 otherwise looks the algorithm up by name in its provider
// tables at every initialisation (a tenth of a search's cost in the dense benchmark's profile).
const EVP_CIPHER* Cipher() {
  static EVP_CIPHER* const cipher = [] {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (c == nullptr) std::abort();  // no AES-GCM: nothing is safe to issue
    return c;
  }();
  return cipher;
}

// One cipher context per thread, initialised again for every token.
EVP_CIPHER_CTX* ThreadContext() {
  thread_local Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (ctx == nullptr) std::abort();
  return ctx.get();
}

// SHA-256 fetched once, for the same reason.
const EVP_MD* Sha256() {
  static EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) std::abort();
    return m;
  }();
  return md;
}

std::string Associated(std::string_view list, std::string_view parameters) {
  return BindParameters({list, parameters});
}

absl::Status Refused(std::string_view why) {
  return InvalidArgument("jeton de page invalide",
                         {{"page_token", absl::StrCat("[token] ", std::string(why),
                                                      " ; recommencez la liste sans jeton")}});
}

}  // namespace

std::string BindParameters(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) absl::StrAppend(&out, p.size(), ":", std::string(p), ";");
  return out;
}

std::string ContentDigest(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

PageTokens::PageTokens(std::string_view secret) {
  // Two keys from the one secret, for two uses: AES-GCM's and the nonces' HMAC.
  const std::string salted = absl::StrCat("passerelle page tokens v1\n", std::string(secret));
  SHA256(reinterpret_cast<const unsigned char*>(salted.data()), salted.size(), key_.data());
  const std::string nonce_salted =
      absl::StrCat("passerelle page token nonces v1\n", std::string(secret));
  std::array<unsigned char, 32> nonce_key;
  SHA256(reinterpret_cast<const unsigned char*>(nonce_salted.data()), nonce_salted.size(),
         nonce_key.data());
  // HMAC's padded keys (RFC 2104), kept: OpenSSL 3's HMAC() builds a MAC context by name at each
  // call, 5.7 K instructions of a 90 K search (callgrind, venues_search_bench's queries).
  inner_pad_.fill(0x36);
  outer_pad_.fill(0x5c);
  for (size_t i = 0; i < nonce_key.size(); ++i) {
    inner_pad_[i] ^= nonce_key[i];
    outer_pad_[i] ^= nonce_key[i];
  }
}

void PageTokens::Nonce(std::string_view sealed, unsigned char* nonce) const {
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> owned(EVP_MD_CTX_new(),
                                                                             EVP_MD_CTX_free);
  EVP_MD_CTX* ctx = owned.get();
  unsigned char inner[SHA256_DIGEST_LENGTH];
  unsigned char mac[SHA256_DIGEST_LENGTH];
  unsigned int n = 0;
  const bool ok =
      ctx != nullptr && EVP_DigestInit_ex2(ctx, Sha256(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx, inner_pad_.data(), inner_pad_.size()) == 1 &&
      EVP_DigestUpdate(ctx, sealed.data(), sealed.size()) == 1 &&
      EVP_DigestFinal_ex(ctx, inner, &n) == 1 && EVP_DigestInit_ex2(ctx, Sha256(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx, outer_pad_.data(), outer_pad_.size()) == 1 &&
      EVP_DigestUpdate(ctx, inner, sizeof inner) == 1 && EVP_DigestFinal_ex(ctx, mac, &n) == 1;
  if (!ok) std::abort();  // no MAC: nothing is safe to issue
  std::memcpy(nonce, mac, kNonce);
}

std::string PageTokens::Seal(std::string_view list, std::string_view parameters,
                             std::string_view cursor) const {
  const std::string aad = Associated(list, parameters);
  std::string out(1 + kNonce + cursor.size() + kTag, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  bytes[0] = kVersion;
  // The nonce is a MAC of everything sealed (a synthetic nonce, as in SIV): the same cursor for
  // the same list and parameters gives the same token, so an unchanged page is the same bytes
  // (and keeps its ETag); two different plaintexts share a nonce only by a 96-bit collision.
  unsigned char* nonce = bytes + 1;
  Nonce(BindParameters({aad, cursor}), nonce);
  EVP_CIPHER_CTX* ctx = ThreadContext();
  int len = 0;
  EVP_EncryptInit_ex2(ctx, Cipher(), key_.data(), nonce, nullptr);
  EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                    static_cast<int>(aad.size()));
  EVP_EncryptUpdate(ctx, bytes + 1 + kNonce, &len,
                    reinterpret_cast<const unsigned char*>(cursor.data()),
                    static_cast<int>(cursor.size()));
  EVP_EncryptFinal_ex(ctx, bytes + 1 + kNonce + len, &len);
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTag, bytes + 1 + kNonce + cursor.size());
  return absl::WebSafeBase64Escape(out);
}

absl::StatusOr<std::string> PageTokens::Open(std::string_view list, std::string_view parameters,
                                             std::string_view token) const {
  if (token.size() > kMaxToken) return Refused("trop long pour être un jeton de ce service");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &raw) ||
      raw.size() < 1 + kNonce + kTag || static_cast<unsigned char>(raw[0]) != kVersion) {
    return Refused("ce n'est pas un jeton de ce service");
  }
  const std::string aad = Associated(list, parameters);
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  const size_t n = raw.size() - 1 - kNonce - kTag;
  std::string cursor(n, '\0');
  EVP_CIPHER_CTX* ctx = ThreadContext();
  int len = 0;
  EVP_DecryptInit_ex2(ctx, Cipher(), key_.data(), bytes + 1, nullptr);
  EVP_DecryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                    static_cast<int>(aad.size()));
  EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(cursor.data()), &len, bytes + 1 + kNonce,
                    static_cast<int>(n));
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTag,
                      const_cast<unsigned char*>(bytes + 1 + kNonce + n));
  unsigned char tail[16];
  if (EVP_DecryptFinal_ex(ctx, tail, &len) != 1) {
    return Refused(
        "ce jeton n'est pas celui de cette liste avec ces paramètres (forgé, coupé ou réutilisé)");
  }
  return cursor;
}

int PageSize(std::vector<FieldViolation>* bad, int requested, int default_size, int max_size) {
  if (requested < 0) {
    bad->push_back({"page_size", absl::StrCat("[range] une taille de page ne peut pas être "
                                              "négative (0 : la taille par défaut, ",
                                              default_size, "), reçu ", requested)});
    return default_size;
  }
  return requested == 0 ? default_size : std::min(requested, max_size);
}

absl::StatusOr<int> PageSize(int requested, int default_size, int max_size) {
  std::vector<FieldViolation> bad;
  const int size = PageSize(&bad, requested, default_size, max_size);
  if (!bad.empty()) return InvalidArgument("page_size invalide", bad);
  return size;
}

}  // namespace passerelle::api
