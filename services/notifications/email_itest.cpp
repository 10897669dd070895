// E-mail notifications end to end: passerelle-notifications and passerelle-venues against the
// real PostgreSQL and NATS, sending through a real SMTP server (Debian's aiosmtpd, storing each
// message in a Maildir), the messages read back with Python's own e-mail parser
// (tools/notifications_read_maildir.py): a venue write becomes one French e-mail with a text
// and an HTML part and a one-click unsubscribe link that works once; a relay down then back
// loses nothing; hostile addresses, names and tokens change nothing; a disabled endpoint's
// contact is told. Digests through the same relay with the clock in the test's hands: the
// service's domain (Notifier, its SmtpMailer) on PostgreSQL with a manual clock.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "libs/clock/clock.hpp"
#include "libs/db/transaction.hpp"
#include "libs/events/event.hpp"
#include "libs/testing/grpc_status.hpp"
#include "libs/testing/testing.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/notifications/v1/notifications.grpc.pb.h"
#include "passerelle/venues/v1/events.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/notifications/mail.hpp"
#include "services/notifications/notifier.hpp"
#include "services/notifications/sender.hpp"
#include "services/venues/sample_venue.hpp"

namespace passerelle::notifications {
std::vector<db::Migration> Migrations();
namespace {

using testing::Violations;

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

// The SMTP server a member's mailbox stands behind: aiosmtpd with its Maildir handler, refusing
// addresses that start with `inconnu` (tools/notifications_smtp_server.py).
class SmtpServer {
 public:
  SmtpServer()
      : port_(testing::FreePort()),
        dir_(std::filesystem::temp_directory_path() / testing::UniqueName("maildir")) {
    Up();
  }
  ~SmtpServer() {
    Down();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Up() {
    process_ = testing::Process::Start(
        {"/usr/bin/python3",
         absl::StrCat(PASSERELLE_SOURCE_DIR, "/tools/notifications_smtp_server.py"),
         absl::StrCat(port_), dir_.string()});
    ASSERT_TRUE(testing::WaitFor([&] { return Accepts(); }, 20s)) << process_->Output();
  }
  void Down() {
    if (!process_) return;
    process_->Signal(SIGTERM);
    process_->Wait(10s);
    process_.reset();
  }
  std::string url() const { return absl::StrCat("smtp://127.0.0.1:", port_); }
  // Every message received, oldest first, as Python's e-mail parser reads it.
  json Messages() const {
    if (!std::filesystem::exists(dir_)) return json::array();
    const std::string cmd =
        absl::StrCat("/usr/bin/python3 ", PASSERELLE_SOURCE_DIR,
                     "/tools/notifications_read_maildir.py '", dir_.string(), "'");
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return json::array();
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    json parsed = json::parse(out, nullptr, false);
    return parsed.is_discarded() ? json::array() : parsed;
  }
  std::vector<json> To(const std::string& address) const {
    std::vector<json> out;
    for (const auto& m : Messages()) {
      if (m["to"] == address) out.push_back(m);
    }
    return out;
  }

 private:
  bool Accepts() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
  }
  int port_;
  std::filesystem::path dir_;
  std::unique_ptr<testing::Process> process_;
};

class EmailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    venues_ = std::make_unique<testing::ServiceBinary>(
        "services/venues/passerelle-venues",
        std::map<std::string, std::string>{{"PASSERELLE_NATS_PREFIX", prefix_}});
    venues_process_ = venues_->Start();
    std::map<std::string, std::string> env{
        {"PASSERELLE_NATS_PREFIX", prefix_},
        {"PASSERELLE_NOTIFICATIONS_SMTP_URL", smtp_.url()},
        {"PASSERELLE_NOTIFICATIONS_MAIL_FROM",
         "Réseau numérique de Roubaix <reseau@passerelle.example>"},
        {"PASSERELLE_GATEWAY_PUBLIC_URL", "https://api.passerelle.example/"},
        {"PASSERELLE_NOTIFICATIONS_TIMEOUT", "2s"},
        {"PASSERELLE_NOTIFICATIONS_POLL", "50ms"},
        {"PASSERELLE_NOTIFICATIONS_RETRY_INITIAL", "200ms"},
        {"PASSERELLE_NOTIFICATIONS_RETRY_MAX_STEP", "1s"},
        {"PASSERELLE_PAGE_TOKEN_KEY", "email-itest"}};
    for (const auto& [k, v] : ExtraEnv()) env[k] = v;
    notifications_ = std::make_unique<testing::ServiceBinary>(
        "services/notifications/passerelle-notifications", env);
    process_ = notifications_->Start();
    stub_ = v1::NotificationService::NewStub(
        grpc::CreateChannel(notifications_->grpc_address(), grpc::InsecureChannelCredentials()));
    venues_stub_ = venues::v1::VenueService::NewStub(
        grpc::CreateChannel(venues_->grpc_address(), grpc::InsecureChannelCredentials()));
  }
  // What a fixture adds to the notifications service's environment.
  virtual std::map<std::string, std::string> ExtraEnv() const { return {}; }
  void TearDown() override {
    process_->Signal(SIGTERM);
    EXPECT_EQ(process_->Wait(20s), 0) << process_->Output();
    venues_process_->Signal(SIGTERM);
    EXPECT_EQ(venues_process_->Wait(20s), 0);
  }

  grpc::Status TrySubscribe(const std::string& address, const std::string& display_name,
                            v1::Subscription* out) {
    grpc::ClientContext ctx;
    v1::CreateSubscriptionRequest req;
    req.mutable_subscription()->set_organisation("organisations/mediatheque-roubaix");
    req.mutable_subscription()->set_display_name(display_name);
    req.mutable_subscription()->mutable_email()->set_address(address);
    req.mutable_subscription()->mutable_filter()->add_event_types("venue.*");
    return stub_->CreateSubscription(&ctx, req, out);
  }
  v1::Subscription Subscribe(const std::string& address) {
    v1::Subscription out;
    grpc::Status st = TrySubscribe(address, "Veille des lieux", &out);
    EXPECT_TRUE(st.ok()) << st.error_message() << Violations(st);
    return out;
  }
  grpc::Status Unsubscribe(const std::string& token, const std::string& form,
                           v1::UnsubscribeResponse* out) {
    grpc::ClientContext ctx;
    v1::UnsubscribeRequest req;
    req.set_token(token);
    req.set_form(form);
    return stub_->Unsubscribe(&ctx, req, out);
  }
  venues::v1::Venue CreateVenue(const std::string& id, const std::string& nom) {
    grpc::ClientContext ctx;
    venues::v1::CreateVenueRequest req;
    *req.mutable_venue() = venues::itest::Valid(id, nom);
    req.mutable_venue()->set_horaires("Mo-Fr 09:00-12:00");
    venues::v1::Venue out;
    grpc::Status st = venues_stub_->CreateVenue(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }
  void SetHours(const std::string& name, const std::string& horaires) {
    grpc::ClientContext ctx;
    venues::v1::UpdateVenueRequest req;
    req.mutable_venue()->set_name(name);
    req.mutable_venue()->set_horaires(horaires);
    req.mutable_update_mask()->add_paths("horaires");
    venues::v1::Venue out;
    grpc::Status st = venues_stub_->UpdateVenue(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
  }
  // Asks for a test delivery to `subscription`.
  void SendTest(const std::string& subscription) {
    grpc::ClientContext ctx;
    v1::SendTestRequest req;
    req.set_name(subscription);
    v1::Delivery d;
    grpc::Status st = stub_->SendTest(&ctx, req, &d);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  std::vector<v1::Delivery> Deliveries(const std::string& subscription) {
    grpc::ClientContext ctx;
    v1::ListDeliveriesRequest req;
    req.set_parent(subscription);
    req.set_page_size(100);
    v1::ListDeliveriesResponse resp;
    grpc::Status st = stub_->ListDeliveries(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return {resp.deliveries().begin(), resp.deliveries().end()};
  }

  SmtpServer smtp_;
  std::string prefix_ = testing::UniqueName("mail");
  std::unique_ptr<testing::ServiceBinary> venues_, notifications_;
  std::unique_ptr<testing::Process> venues_process_, process_;
  std::unique_ptr<v1::NotificationService::Stub> stub_;
  std::unique_ptr<venues::v1::VenueService::Stub> venues_stub_;
};

// The token of a List-Unsubscribe header `<https://…?token=…>`.
std::string TokenOf(const std::string& header) {
  const size_t at = header.find("token=");
  if (at == std::string::npos) return "";
  return header.substr(at + 6, header.find('>', at) - at - 6);
}

TEST_F(EmailTest, AVenueChangeBecomesOneFrenchEmailWithAWorkingUnsubscribeLink) {
  const std::string address = "veille@mediatheque-roubaix.example";
  const std::string witness = "temoin@mediatheque-roubaix.example";
  v1::Subscription sub = Subscribe(address);
  Subscribe(witness);
  EXPECT_FALSE(sub.has_webhook());
  EXPECT_EQ(sub.email().address(), address);
  venues::v1::Venue venue = CreateVenue("mail-1", "Médiathèque Jean Lévy");
  SetHours(venue.name(), "Mo-Fr 09:00-12:00,14:00-17:00");
  ASSERT_TRUE(testing::WaitFor([&] { return smtp_.To(address).size() == 2; }, 30s))
      << process_->Output();
  const std::vector<json> mails = smtp_.To(address);
  for (const auto& m : mails) {
    EXPECT_EQ(m["defects"], json::array()) << m.dump();
    EXPECT_EQ(m["content_type"], "multipart/alternative");
    EXPECT_EQ(m["from"], "Réseau numérique de Roubaix <reseau@passerelle.example>");
    EXPECT_EQ(m["auto_submitted"], "auto-generated");
    EXPECT_THAT(m["message_id"].get<std::string>(), HasSubstr("@passerelle.example>"));
    EXPECT_THAT(m["list_unsubscribe"].get<std::string>(),
                ::testing::StartsWith(
                    "<https://api.passerelle.example/v1/subscriptions:unsubscribe?token="));
    EXPECT_EQ(m["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
    ASSERT_TRUE(m["text"].is_string());
    ASSERT_TRUE(m["html"].is_string());
    EXPECT_THAT(m["text"].get<std::string>(), HasSubstr("Médiathèque Jean Lévy"));
    EXPECT_THAT(
        m["text"].get<std::string>(),
        HasSubstr(
            "Pour ne plus le recevoir : https://api.passerelle.example/desabonnement?token="));
    EXPECT_THAT(m["html"].get<std::string>(), HasSubstr("Médiathèque Jean Lévy"));
    EXPECT_THAT(m["html"].get<std::string>(), HasSubstr("Ne plus recevoir ces messages"));
  }
  // The change, in words: the hours before and after.
  EXPECT_THAT(mails[1]["subject"].get<std::string>(), HasSubstr("Médiathèque Jean Lévy"));
  EXPECT_THAT(mails[1]["text"].get<std::string>(), HasSubstr("devient"));
  EXPECT_THAT(mails[1]["text"].get<std::string>(), HasSubstr("14 h"));
  // Each delivery's log says the relay took it.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto log = Deliveries(sub.name());
        return log.size() == 2 && log[0].state() == v1::Delivery::SUCCEEDED &&
               log[1].state() == v1::Delivery::SUCCEEDED;
      },
      20s));
  EXPECT_EQ(Deliveries(sub.name())[0].attempts(0).http_status(), 250);

  // One click (the mail client's POST): the subscription ends; the same link again says so.
  const std::string token = TokenOf(mails[0]["list_unsubscribe"]);
  ASSERT_EQ(token.size(), 64u);
  v1::UnsubscribeResponse out;
  grpc::Status st = Unsubscribe(token, "List-Unsubscribe=One-Click", &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.address(), address);
  EXPECT_EQ(out.display_name(), "Veille des lieux");
  EXPECT_THAT(out.message(), HasSubstr("C'est fait"));
  st = Unsubscribe(token, "", &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(out.message(), HasSubstr("déjà"));
  {
    grpc::ClientContext ctx;
    v1::GetSubscriptionRequest req;
    req.set_name(sub.name());
    v1::Subscription got;
    EXPECT_EQ(stub_->GetSubscription(&ctx, req, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // The next change reaches the witness only.
  SetHours(venue.name(), "Mo-Sa 09:00-12:00");
  ASSERT_TRUE(testing::WaitFor([&] { return smtp_.To(witness).size() == 3; }, 30s));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(smtp_.To(address).size(), 2u);
}

TEST_F(EmailTest, ARelayDownThenBackLosesNothingAndSendsOnce) {
  const std::string address = "relais@centre-social.example";
  v1::Subscription sub = Subscribe(address);
  smtp_.Down();
  CreateVenue("mail-2", "Centre social Carpeaux");
  // The attempts fail and say why, in French.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto log = Deliveries(sub.name());
        return log.size() == 1 && log[0].attempts_size() >= 2;
      },
      30s))
      << process_->Output();
  auto log = Deliveries(sub.name());
  EXPECT_EQ(log[0].state(), v1::Delivery::PENDING);
  EXPECT_THAT(log[0].attempts(0).error(), HasSubstr("relais SMTP"));
  EXPECT_EQ(log[0].attempts(0).outcome(), v1::Attempt::FAILED);
  smtp_.Up();
  ASSERT_TRUE(testing::WaitFor([&] { return smtp_.To(address).size() == 1; }, 30s))
      << process_->Output();
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Deliveries(sub.name())[0].state() == v1::Delivery::SUCCEEDED; }, 20s));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(smtp_.To(address).size(), 1u);
}

TEST_F(EmailTest, HostileAddressesNamesAndTokensChangeNothing) {
  // Addresses that would smuggle a header or a second recipient are refused, with the rule.
  for (const std::string& bad :
       {std::string("a@b.fr\r\nBcc: espion@example.org"), std::string("a@b.fr,espion@x.org"),
        std::string("<a@b.fr>"), std::string("a@b"), std::string("a b@c.fr"),
        std::string("a\0b@c.fr", 8), std::string("\xff@c.fr"), std::string(300, 'a') + "@b.fr",
        std::string("élise@exemple.fr")}) {
    v1::Subscription out;
    grpc::Status st = TrySubscribe(bad, "x", &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    // (Invalid UTF-8 is refused by protobuf's parser before the service sees it.)
    if (bad[0] != '\xff') {
      EXPECT_THAT(Violations(st), HasSubstr("subscription.email.address")) << bad;
    }
  }
  // A venue name and a display name full of HTML and header look-alikes stay inside the
  // subject and the body: no header appears, the HTML part is escaped. (Line breaks and invalid
  // UTF-8 never get this far: both services refuse them.)
  const std::string address = "robuste@exemple.example";
  v1::Subscription sub = Subscribe(address);
  {
    v1::Subscription out;
    EXPECT_EQ(
        TrySubscribe("nom@exemple.example", "Ligne\r\nBcc: espion@example.org", &out).error_code(),
        grpc::StatusCode::INVALID_ARGUMENT);
    ASSERT_TRUE(TrySubscribe("nom@exemple.example", "<b>Veille</b> \"&\" 'x'", &out).ok());
  }
  CreateVenue("mail-3", "Lieu <script>alert(1)</script> & « Bcc: espion@example.org »");
  ASSERT_TRUE(testing::WaitFor([&] { return smtp_.To(address).size() == 1; }, 30s))
      << process_->Output();
  ASSERT_TRUE(testing::WaitFor([&] { return smtp_.To("nom@exemple.example").size() == 1; }, 30s));
  for (const auto& m : smtp_.Messages()) {
    EXPECT_EQ(m["defects"], json::array()) << m.dump();
    for (const auto& h : m["header_names"]) EXPECT_NE(h, "Bcc") << m.dump();
    EXPECT_THAT(m["subject"].get<std::string>(), Not(HasSubstr("\n")));
    EXPECT_THAT(m["html"].get<std::string>(), Not(HasSubstr("<script>")));
  }
  // Tokens: malformed, unknown, oversized forms.
  v1::UnsubscribeResponse out;
  EXPECT_EQ(Unsubscribe("", "", &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Unsubscribe("../../etc/passwd", "", &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Unsubscribe(std::string(64, 'A'), "", &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Unsubscribe(std::string(63, 'a') + std::string(1, '\0'), "", &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Unsubscribe(std::string(100000, 'a'), "", &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Unsubscribe(std::string(64, 'a'), "", &out).error_code(), grpc::StatusCode::NOT_FOUND);
  const std::string token = TokenOf(smtp_.To(address)[0]["list_unsubscribe"]);
  EXPECT_EQ(Unsubscribe(token, std::string(2000, 'x'), &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // None of it ended the subscription.
  grpc::ClientContext ctx;
  v1::GetSubscriptionRequest req;
  req.set_name(sub.name());
  v1::Subscription got;
  EXPECT_TRUE(stub_->GetSubscription(&ctx, req, &got).ok());
}

TEST_F(EmailTest, AMailboxRefusedForGoodIsNotRetriedAndSaysWhy) {
  v1::Subscription sub = Subscribe("inconnu@mediatheque-roubaix.example");
  SendTest(sub.name());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto log = Deliveries(sub.name());
        return log.size() == 1 && log[0].state() == v1::Delivery::FAILED;
      },
      30s))
      << process_->Output();
  auto log = Deliveries(sub.name());
  ASSERT_EQ(log[0].attempts_size(), 1) << "a permanent refusal is not retried";
  EXPECT_EQ(log[0].attempts(0).http_status(), 550);
  EXPECT_EQ(log[0].attempts(0).outcome(), v1::Attempt::REFUSED);
  EXPECT_THAT(log[0].attempts(0).error(), HasSubstr("a refusé définitivement"));
  EXPECT_THAT(log[0].attempts(0).error(), HasSubstr("Utilisateur inconnu"));
}

TEST_F(EmailTest, ANewAddressGetsANewUnsubscribeLink) {
  const std::string before = "ancien@centre-social.example";
  const std::string after = "nouvelle@centre-social.example";
  v1::Subscription sub = Subscribe(before);
  auto test = [&] { SendTest(sub.name()); };
  test();
  ASSERT_TRUE(testing::WaitFor([&] { return smtp_.To(before).size() == 1; }, 30s));
  {
    grpc::ClientContext ctx;
    v1::UpdateSubscriptionRequest req;
    req.mutable_subscription()->set_name(sub.name());
    req.mutable_subscription()->mutable_email()->set_address(after);
    req.mutable_update_mask()->add_paths("email.address");
    v1::Subscription out;
    ASSERT_TRUE(stub_->UpdateSubscription(&ctx, req, &out).ok());
  }
  test();
  ASSERT_TRUE(testing::WaitFor([&] { return smtp_.To(after).size() == 1; }, 30s));
  const std::string old_token = TokenOf(smtp_.To(before)[0]["list_unsubscribe"]);
  const std::string new_token = TokenOf(smtp_.To(after)[0]["list_unsubscribe"]);
  ASSERT_EQ(new_token.size(), 64u);
  EXPECT_NE(old_token, new_token);
  // The former recipient's link no longer ends what now goes to someone else.
  v1::UnsubscribeResponse out;
  EXPECT_EQ(Unsubscribe(old_token, "", &out).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Unsubscribe(new_token, "List-Unsubscribe=One-Click", &out).ok());
  EXPECT_EQ(out.address(), after);
}

// A webhook endpoint that keeps failing, and a contact to tell.
class ContactTest : public EmailTest {
 protected:
  std::map<std::string, std::string> ExtraEnv() const override {
    return {{"PASSERELLE_NOTIFICATIONS_DISABLE_AFTER", "3"},
            {"PASSERELLE_NOTIFICATIONS_ALLOWED_NETWORKS", "127.0.0.0/8"},
            {"PASSERELLE_NOTIFICATIONS_ALLOWED_PORTS", absl::StrCat(closed_port_)}};
  }
  int closed_port_ = testing::FreePort();  // nothing listens there
};

TEST_F(ContactTest, TheOrganisationsContactIsToldByEmailWhenItsEndpointIsDisabled) {
  const std::string contact = "informatique@centre-social.example";
  grpc::ClientContext ctx;
  v1::CreateSubscriptionRequest req;
  req.mutable_subscription()->set_organisation("organisations/centre-social-epeule");
  req.mutable_subscription()->set_display_name("Lieux de l'Épeule");
  req.mutable_subscription()->mutable_webhook()->set_url(
      absl::StrCat("http://127.0.0.1:", closed_port_, "/hook"));
  req.mutable_subscription()->set_contact_email(contact);
  v1::Subscription sub;
  grpc::Status st = stub_->CreateSubscription(&ctx, req, &sub);
  ASSERT_TRUE(st.ok()) << st.error_message() << Violations(st);
  EXPECT_EQ(sub.contact_email(), contact);
  SendTest(sub.name());
  ASSERT_TRUE(testing::WaitFor([&] { return smtp_.To(contact).size() == 1; }, 30s))
      << process_->Output();
  const json m = smtp_.To(contact)[0];
  EXPECT_EQ(m["defects"], json::array()) << m.dump();
  EXPECT_EQ(m["list_unsubscribe"], "") << "a notice, not a subscription's message";
  EXPECT_THAT(m["subject"].get<std::string>(), HasSubstr("désactivé"));
  const std::string text = m["text"].get<std::string>();
  EXPECT_THAT(text, HasSubstr("Passerelle a désactivé l'abonnement « Lieux de l'Épeule »"));
  EXPECT_THAT(text, HasSubstr("3 échecs consécutifs"));
  EXPECT_THAT(text, HasSubstr("Rien n'est perdu"));
  EXPECT_THAT(m["html"].get<std::string>(), HasSubstr("désactivé"));
  // The subscription says so, and its log holds the notice beside the waiting test delivery.
  grpc::ClientContext get_ctx;
  v1::GetSubscriptionRequest get;
  get.set_name(sub.name());
  v1::Subscription now;
  ASSERT_TRUE(stub_->GetSubscription(&get_ctx, get, &now).ok());
  EXPECT_EQ(now.state(), v1::Subscription::DISABLED);
  EXPECT_THAT(now.disabled_reason(), HasSubstr("3 échecs consécutifs"));
  auto log = Deliveries(sub.name());
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].event_type(), "notification.disabled");
  EXPECT_EQ(log[1].event_type(), "notification.test");
  EXPECT_EQ(log[1].state(), v1::Delivery::PENDING) << "waits for the subscription to be on";
}

// Digests with a controllable clock: the service's own domain and SmtpMailer, a manual clock,
// the real PostgreSQL and aiosmtpd.
class DigestMailTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(MigrateSchema({{"notifications", Migrations()}}).ok());
    notifier_ = std::make_unique<Notifier>(pool(), policy_, sender_, clock_, Options{});
    notifier_->SetMail({.mailer = &mailer_,
                        .from = "Réseau numérique de Roubaix <reseau@passerelle.example>",
                        .public_url = "https://api.passerelle.example"});
  }
  static absl::Time Utc(int y, int mo, int d, int h, int mi) {
    return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi), absl::UTCTimeZone());
  }
  static venues::v1::Venue Venue(const std::string& id, const std::string& nom,
                                 const std::string& horaires) {
    venues::v1::Venue v;
    v.set_name("venues/" + id);
    v.set_nom(nom);
    v.set_horaires(horaires);
    return v;
  }
  void Publish(const events::v1::Event& e) {
    ASSERT_TRUE(db::RunInTransaction(pool(), [&](pqxx::work& tx) {
                  return notifier_->Consume(tx, e);
                }).ok());
  }

  SmtpServer smtp_;
  clocks::ManualClock clock_{Utc(2026, 3, 28, 9, 0)};  // the day before the clock change
  net::DestinationPolicy policy_ = *net::DestinationPolicy::FromStrings("127.0.0.0/8", "1-65535");
  HttpSender sender_{policy_, 2000ms};
  SmtpMailer mailer_{SmtpOptions{.url = smtp_.url(),
                                 .from = "Réseau numérique de Roubaix <reseau@passerelle.example>",
                                 .timeout = 10000ms}};
  std::unique_ptr<Notifier> notifier_;
};

TEST_F(DigestMailTest, ADailyDigestLeavesAtEightParisTimeAsOneFrenchEmail) {
  const std::string address = "veille@centre-social.example";
  v1::Subscription s;
  s.set_organisation("organisations/centre-social-epeule");
  s.set_display_name("Veille de l'Épeule");
  s.mutable_email()->set_address(address);
  s.mutable_filter()->add_event_types("venue.*");
  s.set_rhythm(v1::Subscription::DAILY_DIGEST);
  auto sub = notifier_->Create(s);
  ASSERT_TRUE(sub.ok()) << sub.status();
  const venues::v1::Venue before = Venue("mediatheque", "Médiathèque Jean Lévy", "Mo 09:00-12:00");
  venues::v1::Venue after = before;
  after.set_horaires("Mo 09:00-12:00,14:00-17:00");
  venues::v1::VenueUpdated updated;
  *updated.mutable_venue() = after;
  *updated.mutable_previous_venue() = before;
  updated.add_changed_fields("horaires");
  venues::v1::VenueCreated created;
  *created.mutable_venue() = Venue("epeule", "Centre social de l'Épeule", "Tu 14:00-18:00");
  Publish(events::MakeEvent("venue.updated", "venues", after.name(), updated, clock_.Now()));
  clock_.Advance(absl::Hours(1));
  Publish(
      events::MakeEvent("venue.created", "venues", created.venue().name(), created, clock_.Now()));
  // Summer time starts in the night: 08:00 in Paris is 06:00 UTC on the 29th.
  clock_.Set(Utc(2026, 3, 29, 5, 59));
  EXPECT_EQ(*notifier_->CloseDigests(), 0);
  EXPECT_EQ(*notifier_->DeliverDue(32), 0) << "collected events wait for their digest";
  clock_.Set(Utc(2026, 3, 29, 6, 0));
  EXPECT_EQ(*notifier_->CloseDigests(), 1);
  EXPECT_EQ(*notifier_->DeliverDue(32), 1);
  ASSERT_TRUE(testing::WaitFor([&] { return smtp_.To(address).size() == 1; }, 20s));
  const json m = smtp_.To(address)[0];
  EXPECT_EQ(m["defects"], json::array()) << m.dump();
  EXPECT_THAT(m["subject"].get<std::string>(), HasSubstr("Veille de l'Épeule : 2 changements"));
  EXPECT_THAT(
      m["list_unsubscribe"].get<std::string>(),
      ::testing::StartsWith("<https://api.passerelle.example/v1/subscriptions:unsubscribe?token="));
  const std::string text = m["text"].get<std::string>();
  EXPECT_THAT(text, HasSubstr("Médiathèque Jean Lévy"));
  EXPECT_THAT(text, HasSubstr("Centre social de l'Épeule"));
  EXPECT_THAT(text, HasSubstr("devient"));
  EXPECT_THAT(text, HasSubstr("28 mars 2026"));
  EXPECT_THAT(m["html"].get<std::string>(), HasSubstr("Médiathèque Jean Lévy"));
  // The next day had no event: no digest, no e-mail.
  clock_.Set(Utc(2026, 3, 30, 6, 0));
  EXPECT_EQ(*notifier_->CloseDigests(), 0);
  EXPECT_EQ(*notifier_->DeliverDue(32), 0);
  EXPECT_EQ(smtp_.To(address).size(), 1u);
}

}  // namespace
}  // namespace passerelle::notifications
