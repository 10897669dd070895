// Unit tests of the e-mail message: its headers stay headers whatever the text, its words
// decode back to the text, and only plain addresses reach SMTP.
#include "services/notifications/mail.hpp"

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passerelle::notifications {
namespace {

using ::testing::HasSubstr;

Mail Sample() {
  Mail m;
  m.from = "Réseau numérique de Roubaix <reseau@passerelle.example>";
  m.to = "veille@mediatheque.example";
  m.subject = "Les horaires de la Médiathèque Jean Lévy ont changé : lundi 9 h – 12 h";
  m.text = "Les horaires ont changé.\nlundi 9 h – 12 h devient lundi 9 h – 17 h";
  m.html = "<p>Les horaires ont changé.</p>";
  m.message_id = "3f6c1d2e-0000-4000-8000-000000000001@passerelle.example";
  m.unsubscribe = "https://api.passerelle.example/v1/subscriptions:unsubscribe?token=ab";
  m.date = absl::FromUnixSeconds(1764547200);
  return m;
}

// The header block, unfolded: one entry per header.
std::vector<std::string> Headers(const std::string& message) {
  const std::string head = message.substr(0, message.find("\r\n\r\n"));
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !out.empty()) {
      out.back() += std::string(line);
    } else {
      out.emplace_back(line);
    }
  }
  return out;
}

// The text of a Subject made of RFC 2047 words.
std::string DecodeWords(std::string_view value) {
  std::string out;
  size_t at = 0;
  while ((at = value.find("=?UTF-8?B?", at)) != std::string_view::npos) {
    const size_t end = value.find("?=", at + 10);
    std::string part;
    EXPECT_TRUE(absl::Base64Unescape(std::string(value.substr(at + 10, end - at - 10)), &part));
    out += part;
    at = end + 2;
  }
  return out;
}

TEST(Mail, HeadersOneClickUnsubscribeAndTwoBase64Parts) {
  const std::string message = ComposeMail(Sample());
  const auto headers = Headers(message);
  auto header = [&](std::string_view name) -> std::string {
    for (const auto& h : headers) {
      if (h.starts_with(std::string(name) + ": ")) return h.substr(name.size() + 2);
    }
    return "";
  };
  EXPECT_EQ(header("To"), "veille@mediatheque.example");
  EXPECT_THAT(header("From"), HasSubstr(" <reseau@passerelle.example>"));
  EXPECT_EQ(DecodeWords(header("From")), "Réseau numérique de Roubaix");
  EXPECT_EQ(DecodeWords(header("Subject")), Sample().subject);
  EXPECT_EQ(header("Date"), "Mon, 01 Dec 2025 00:00:00 +0000");
  EXPECT_EQ(header("List-Unsubscribe"), "<" + Sample().unsubscribe + ">");
  EXPECT_EQ(header("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  EXPECT_EQ(header("Auto-Submitted"), "auto-generated");
  EXPECT_THAT(header("Content-Type"), HasSubstr("multipart/alternative"));
  // 7-bit, lines within RFC 5322's limits: every relay takes it. Only the unsubscribe address
  // and the Message-ID (never folded inside) may pass 78 characters.
  const std::vector<std::string> lines = absl::StrSplit(message, "\r\n");
  for (const std::string& line : lines) {
    const bool unfoldable =
        line.starts_with("List-Unsubscribe: ") || line.starts_with("Message-ID: ");
    EXPECT_LE(line.size(), unfoldable ? 998u : 78u) << line;
    for (char c : line) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << line;
  }
  // The parts decode back to the texts.
  const size_t text_at = message.find("text/plain; charset=utf-8");
  ASSERT_NE(text_at, std::string::npos);
  const size_t body = message.find("\r\n\r\n", text_at) + 4;
  std::string b64 = message.substr(body, message.find("--=_passerelle", body) - body);
  b64.erase(std::remove(b64.begin(), b64.end(), '\r'), b64.end());
  b64.erase(std::remove(b64.begin(), b64.end(), '\n'), b64.end());
  std::string text;
  ASSERT_TRUE(absl::Base64Unescape(b64, &text));
  EXPECT_EQ(text, Sample().text);
}

TEST(Mail, NothingInATextBecomesAHeader) {
  Mail m = Sample();
  m.subject = "Lieu\r\nBcc: espion@example.org\nX-Injected: 1\0fin";
  m.subject += std::string("\xff\xfe", 2);
  m.to = "veille@mediatheque.example\r\nBcc: espion@example.org";
  m.message_id = "id\r\nBcc: espion@example.org";
  m.unsubscribe = "https://x.example/\r\nBcc: espion@example.org";
  const auto headers = Headers(ComposeMail(m));
  for (const auto& h : headers) {
    EXPECT_FALSE(h.starts_with("Bcc")) << h;
    EXPECT_FALSE(h.starts_with("X-Injected")) << h;
  }
  EXPECT_EQ(headers.size(), Headers(ComposeMail(Sample())).size());
}

TEST(Mail, AnEncodedWordLookAlikeInATextIsEncodedItself) {
  // A short ASCII subject holding `=?…?=` would be decoded by the reader into a line break, a
  // header look-alike and a bidi override: such a text is always encoded.
  Mail m = Sample();
  m.subject = "Nouveau lieu : =?utf-8?q?a=0D=0ABcc=3A_x=40evil=2Efr_=E2=80=AE?=";
  const auto headers = Headers(ComposeMail(m));
  for (const auto& h : headers) {
    if (!h.starts_with("Subject: ")) continue;
    EXPECT_EQ(h.find("=?utf-8?q?"), std::string::npos) << h;
    EXPECT_EQ(DecodeWords(h), m.subject);
  }
}

TEST(Mail, AWordNeverCutsACharacterInTwo) {
  Mail m = Sample();
  m.subject = std::string(200, 'x');
  for (int i = 0; i < 60; ++i) m.subject += "é€";
  const auto headers = Headers(ComposeMail(m));
  for (const auto& h : headers) {
    if (!h.starts_with("Subject: ")) continue;
    // Each word alone is valid UTF-8 and the words together are the subject.
    size_t at = 0;
    while ((at = h.find("=?UTF-8?B?", at)) != std::string::npos) {
      const size_t end = h.find("?=", at + 10);
      std::string part;
      ASSERT_TRUE(absl::Base64Unescape(h.substr(at + 10, end - at - 10), &part));
      EXPECT_NE(static_cast<unsigned char>(part[0]) & 0xC0, 0x80u);
      at = end + 2;
    }
    EXPECT_EQ(DecodeWords(h), m.subject);
  }
}

TEST(Mail, OnlyPlainAddressesAreMailAddresses) {
  for (const char* good : {"a@b.fr", "prenom.nom+notif@mairie-roubaix.fr", "x_y@sub.d-1.example"}) {
    EXPECT_TRUE(IsMailAddress(good)) << good;
  }
  for (const std::string& bad : {std::string(""),
                                 std::string("a"),
                                 std::string("@b.fr"),
                                 std::string("a@"),
                                 std::string("a@b"),
                                 std::string("a@b..fr"),
                                 std::string("a@.b.fr"),
                                 std::string("a@b.fr."),
                                 std::string("a b@c.fr"),
                                 std::string("a@b.fr\r\nBcc: x@y.fr"),
                                 std::string("<a@b.fr>"),
                                 std::string("a@b.fr,c@d.fr"),
                                 std::string("a@b@c.fr"),
                                 std::string("a\"b@c.fr"),
                                 std::string("élise@exemple.fr"),
                                 std::string("a@exemple_.fr"),
                                 std::string("a\0b@c.fr", 8),
                                 std::string(65, 'a') + "@b.fr",
                                 "a@" + std::string(260, 'b') + ".fr",
                                 std::string("a%evil.fr@b.fr"),
                                 std::string("a!evil.fr@b.fr"),
                                 std::string("'a'@b.fr"),
                                 std::string("a{b}|~@b.fr"),
                                 std::string("a=?utf-8?q?x?=@b.fr"),
                                 std::string("a&b@c.fr"),
                                 std::string(".a@b.fr"),
                                 std::string("a.@b.fr"),
                                 std::string("user/../x@b.fr"),
                                 std::string("a@-b.fr"),
                                 std::string("a@b-.fr"),
                                 std::string("a@b.f"),
                                 std::string("a@1.2.3.4"),
                                 std::string("a@b.fr1")}) {
    EXPECT_FALSE(IsMailAddress(bad)) << bad;
  }
}

TEST(Mail, SmtpOptionsAreCheckedAtStart) {
  SmtpOptions o{.url = "smtp://127.0.0.1:25", .from = "Passerelle <n@passerelle.example>"};
  EXPECT_TRUE(CheckSmtpOptions(o).ok());
  o.url = "http://127.0.0.1:25";
  EXPECT_THAT(CheckSmtpOptions(o).message(), HasSubstr("PASSERELLE_NOTIFICATIONS_SMTP_URL"));
  o.url = "smtps://relay.example:465";
  o.from = "Passerelle <pas une adresse>";
  EXPECT_THAT(CheckSmtpOptions(o).message(), HasSubstr("PASSERELLE_NOTIFICATIONS_MAIL_FROM"));
  o.from = "Passerelle\r\nBcc: x@y.fr <n@passerelle.example>";
  EXPECT_FALSE(CheckSmtpOptions(o).ok());
}

TEST(Mail, AnInvalidRecipientIsRefusedBeforeAnyConnection) {
  SmtpMailer mailer({.url = "smtp://127.0.0.1:1", .from = "n@passerelle.example"});
  SendResult r = mailer.Send("a@b.fr\r\nRCPT TO:<x@y.fr>", "x");
  EXPECT_EQ(r.outcome, SendResult::Outcome::kRefused);
  EXPECT_THAT(r.error, HasSubstr("adresse électronique invalide"));
  // A relay that is not there: a failure to retry, saying which relay step failed.
  r = mailer.Send("a@b.fr", ComposeMail(Sample()));
  EXPECT_EQ(r.outcome, SendResult::Outcome::kFailed);
  EXPECT_THAT(r.error, HasSubstr("relais SMTP"));
}

}  // namespace
}  // namespace passerelle::notifications
