// E-mail messages and their SMTP relay.
#include "services/notifications/mail.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/text/utf8.hpp"

namespace passerelle::notifications {
namespace {

// Bytes of UTF-8 per RFC 2047 word: 39 bytes are 52 base64 characters, 64 with `=?UTF-8?B??=`
// (a word is at most 75), so that `Subject: ` and a word hold in 78 characters.
constexpr size_t kWordBytes = 39;

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// One header line's value: valid UTF-8, every control character (CR and LF first) a space.
std::string HeaderValue(std::string_view s) {
  std::string out = text::ToValidUtf8(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// `s` as RFC 2047 encoded words (folded on several lines when long), or as it is when it is
// short printable ASCII that a reader cannot decode into something else (no `=?`).
std::string EncodedWords(std::string_view raw) {
  const std::string s = HeaderValue(raw);
  if (IsAscii(s) && s.size() <= 70 && s.find("=?") == std::string::npos) return s;
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = std::min(s.size(), i + kWordBytes);
    // Never cut a character in two: each word decodes alone.
    while (end < s.size() && end > i && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!out.empty()) out += "\r\n ";
    absl::StrAppend(&out, "=?UTF-8?B?", absl::Base64Escape(s.substr(i, end - i)), "?=");
    i = end;
  }
  return out;
}

// A body part in base64, lines of 76 characters.
std::string Base64Lines(std::string_view raw) {
  const std::string b64 = absl::Base64Escape(text::ToValidUtf8(raw));
  std::string out;
  for (size_t i = 0; i < b64.size(); i += 76) {
    absl::StrAppend(&out, b64.substr(i, 76), "\r\n");
  }
  return out;
}

// `Nom <adresse>` with the name encoded when it needs to be.
std::string Mailbox(std::string_view from) {
  const std::string address = AddressOf(from);
  const size_t lt = from.rfind('<');
  if (lt == std::string_view::npos) return address;
  std::string name(from.substr(0, lt));
  while (!name.empty() && name.back() == ' ') name.pop_back();
  if (name.empty()) return address;
  return absl::StrCat(EncodedWords(name), "\r\n <", address, ">");
}

// The relay's reply lines, kept from libcurl's trace (at most the last 20).
int KeepReply(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  auto* lines = static_cast<std::vector<std::string>*>(user);
  std::string line(data, std::min<size_t>(size, 512));
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (!line.empty()) lines->push_back(std::move(line));
  if (lines->size() > 20) lines->erase(lines->begin());
  return 0;
}

// What went wrong before the relay answered, in French.
std::string Transport(CURLcode rc, const char* detail) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
      return "connexion impossible";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "nom d'hôte inconnu";
    case CURLE_OPERATION_TIMEDOUT:
      return "pas de réponse dans le délai";
    case CURLE_LOGIN_DENIED:
      return "identifiants refusés";
    case CURLE_USE_SSL_FAILED:
      return "STARTTLS non proposé alors qu'il est exigé";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return "échec TLS";
    default:
      return detail[0] != 0 ? detail : curl_easy_strerror(rc);
  }
}

struct Upload {
  std::string_view data;
  size_t at = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* up = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, up->data.size() - up->at);
  std::copy_n(up->data.data() + up->at, n, buffer);
  up->at += n;
  return n;
}

}  // namespace

bool IsMailAddress(std::string_view a) {
  if (a.size() > 254) return false;
  const size_t at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || at + 1 >= a.size()) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  // The local part: letters, digits and . _ + - (no % ! or quotes, which relays may route on),
  // dots only between other characters.
  const std::string_view local = a.substr(0, at);
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : local) {
    if (!alnum(c) && c != '.' && c != '_' && c != '+' && c != '-') return false;
  }
  // The domain: dotted labels of letters, digits and inner hyphens, a top-level label of two
  // letters at least (no address literal, no bare IP).
  const std::string_view domain = a.substr(at + 1);
  size_t labels = 0;
  std::string_view last;
  for (size_t from = 0; from <= domain.size();) {
    size_t end = domain.find('.', from);
    if (end == std::string_view::npos) end = domain.size();
    const std::string_view label = domain.substr(from, end - from);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!alnum(c) && c != '-') return false;
    }
    ++labels;
    last = label;
    from = end + 1;
  }
  return labels >= 2 && last.size() >= 2 && std::all_of(last.begin(), last.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
         });
}

std::string AddressOf(std::string_view from) {
  const size_t lt = from.rfind('<');
  const size_t gt = from.rfind('>');
  if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt) {
    return std::string(from.substr(lt + 1, gt - lt - 1));
  }
  return std::string(from);
}

std::string ComposeMail(const Mail& m) {
  // base64 never holds "=_": a boundary starting with it cannot occur inside a part.
  // (RFC 2046: at most 70 characters, from a restricted set.)
  std::string boundary = "=_passerelle_";
  for (char c : m.message_id) {
    if (boundary.size() >= 60 || c == '@') break;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
      boundary += c;
    }
  }
  std::string out;
  absl::StrAppend(&out, "From: ", Mailbox(m.from), "\r\n");
  absl::StrAppend(&out, "To: ", AddressOf(HeaderValue(m.to)), "\r\n");
  absl::StrAppend(&out, "Subject: ", EncodedWords(m.subject), "\r\n");
  absl::StrAppend(
      &out, "Date: ", absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", m.date, absl::UTCTimeZone()),
      "\r\n");
  absl::StrAppend(&out, "Message-ID: <", HeaderValue(m.message_id), ">\r\n");
  absl::StrAppend(&out, "MIME-Version: 1.0\r\n");
  // Automatic messages: no out-of-office reply should answer them (RFC 3834).
  absl::StrAppend(&out, "Auto-Submitted: auto-generated\r\n");
  if (!m.unsubscribe.empty()) {
    absl::StrAppend(&out, "List-Unsubscribe: <", HeaderValue(m.unsubscribe), ">\r\n");
    absl::StrAppend(&out, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
  }
  absl::StrAppend(&out, "Content-Type: multipart/alternative;\r\n boundary=\"", boundary, "\"\r\n");
  absl::StrAppend(&out, "\r\n");
  absl::StrAppend(&out, "--", boundary, "\r\n",
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\n",
                  Base64Lines(m.text));
  absl::StrAppend(&out, "--", boundary, "\r\n",
                  "Content-Type: text/html; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\n",
                  Base64Lines(m.html));
  absl::StrAppend(&out, "--", boundary, "--\r\n");
  return out;
}

absl::Status CheckSmtpOptions(const SmtpOptions& o) {
  if (!o.url.starts_with("smtp://") && !o.url.starts_with("smtps://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("PASSERELLE_NOTIFICATIONS_SMTP_URL: ", text::Quote(o.url, 80),
                     " is not smtp://host:port or smtps://host:port"));
  }
  if (text::FirstControl(o.url) || o.url.find_first_of("\r\n ") != std::string::npos) {
    return absl::InvalidArgumentError("PASSERELLE_NOTIFICATIONS_SMTP_URL: a control character");
  }
  if (!IsMailAddress(AddressOf(o.from)) || text::FirstControl(o.from) ||
      o.from.find_first_of("\r\n") != std::string::npos || !text::IsValidUtf8(o.from)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PASSERELLE_NOTIFICATIONS_MAIL_FROM: ", text::Quote(o.from, 80),
                     " is not an address or `Name <address>`"));
  }
  return absl::OkStatus();
}

SmtpMailer::SmtpMailer(SmtpOptions options) : options_(std::move(options)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

SendResult SmtpMailer::Send(const std::string& to, const std::string& message) const {
  SendResult out;
  if (!IsMailAddress(to)) {
    out.outcome = SendResult::Outcome::kRefused;
    out.error = absl::StrCat("adresse électronique invalide : ", text::Quote(to, 80));
    return out;
  }
  const absl::Time start = absl::Now();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    out.error = "relais SMTP : libcurl n'a pas pu démarrer";
    return out;
  }
  const std::string from = AddressOf(options_.from);
  curl_slist* rcpt = curl_slist_append(nullptr, to.c_str());
  Upload upload{message};
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadUpload);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(
      curl, CURLOPT_USE_SSL,
      options_.require_tls ? static_cast<long>(CURLUSESSL_ALL) : static_cast<long>(CURLUSESSL_TRY));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  std::vector<std::string> replies;
  curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, KeepReply);
  curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &replies);
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
  // Only SMTP: a relay URL can never make this client speak another protocol.
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  if (!options_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
  }
  const CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(curl);
  out.latency = absl::Now() - start;
  out.http_status = static_cast<int>(code);
  if (rc == CURLE_OK) {
    out.outcome = SendResult::Outcome::kSucceeded;
    return out;
  }
  // The relay's own words for the code it answered (the last line with that code).
  std::string reply;
  for (const std::string& line : replies) {
    if (code != 0 && line.starts_with(std::to_string(code))) reply = line;
  }
  if (code >= 400 && !reply.empty()) {
    // The relay answered no: say what it said. A 5xx will not change by itself.
    out.permanent = code >= 500;
    if (out.permanent) out.outcome = SendResult::Outcome::kRefused;
    out.error = absl::StrCat("le relais SMTP a refusé", out.permanent ? " définitivement" : "",
                             " : ", text::Quote(reply, 160));
    return out;
  }
  out.http_status = 0;  // no answer of the relay explains it: none is recorded
  out.error = absl::StrCat("relais SMTP : ", Transport(rc, error));
  return out;
}

}  // namespace passerelle::notifications
