// E-mail notifications: the message (RFC 5322 headers, a MIME multipart/alternative body with a
// plain-text and an HTML part, RFC 8058 one-click unsubscribe) and the SMTP relay it goes
// through (libcurl, STARTTLS where the relay offers it).
#pragma once

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/notifications/sender.hpp"

namespace passerelle::notifications {

/// One e-mail, before encoding. Text fields are UTF-8 (invalid bytes are replaced); control
/// characters never reach a header.
struct Mail {
  std::string from;         // the relay's sender: `Nom <adresse>` or a bare address
  std::string to;           // one address (see IsMailAddress)
  std::string subject;      // one line
  std::string text;         // text/plain
  std::string html;         // a whole HTML document
  std::string message_id;   // the id part of Message-ID, without <>
  std::string unsubscribe;  // https URL of List-Unsubscribe (one-click); empty: no header
  absl::Time date = absl::UnixEpoch();
};

/// The message as sent over SMTP (CRLF line ends, 7-bit: headers in RFC 2047 words, parts in
/// base64).
std::string ComposeMail(const Mail& mail);

/// Whether `address` is a plain `local@domain` address (ASCII, no space, quote, angle bracket,
/// comma or control character, a dotted domain): what SMTP's RCPT TO and the To header accept
/// without quoting, so nothing can be smuggled into either.
bool IsMailAddress(std::string_view address);

/// The address inside `Nom <adresse>`, or `from` itself.
std::string AddressOf(std::string_view from);

/// The door of e-mails (an interface so tests can count what is sent).
class Mailer {
 public:
  virtual ~Mailer() = default;
  /// Sends `message` (ComposeMail's) to `to`. `http_status` of the result holds the relay's
  /// last SMTP reply code (250 on success).
  virtual SendResult Send(const std::string& to, const std::string& message) const = 0;
};

struct SmtpOptions {
  /// `smtp://host:port` (STARTTLS when offered) or `smtps://host:port`.
  std::string url;
  /// The envelope sender and From header: `Nom <adresse>` or an address.
  std::string from;
  std::string username;
  std::string password;
  /// Refuse to send in clear when the relay offers no STARTTLS.
  bool require_tls = false;
  /// Connecting, and the whole exchange.
  std::chrono::milliseconds timeout{10000};
};

/// Checks an SmtpOptions at start: INVALID_ARGUMENT naming the variable at fault.
absl::Status CheckSmtpOptions(const SmtpOptions& options);

class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpOptions options);
  SendResult Send(const std::string& to, const std::string& message) const override;

 private:
  SmtpOptions options_;
};

}  // namespace passerelle::notifications
