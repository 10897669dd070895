// passerelle-notifications and passerelle-venues against the real PostgreSQL and NATS, with the
// member's endpoint played by a webhook receiver in this process that verifies every request's
// signature as the Standard Webhooks specification says (and deduplicates on webhook-id, as it
// recommends): a venue write becomes one signed webhook; a wrong secret is refused by the
// receiver; a receiver down then back gets each delivery once; a SIGKILLed service and two
// replicas lose and duplicate nothing; a quartier subscription hears of a venue that left it;
// request forgery is refused; hostile input and poison events change nothing.
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <openssl/hmac.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "libs/events/event.hpp"
#include "libs/events/nats.hpp"
#include "libs/testing/grpc_status.hpp"
#include "libs/testing/testing.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/notifications/v1/notifications.grpc.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"

namespace passerelle::notifications {
namespace {

using testing::Reason;
using testing::Violations;

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// A member's webhook endpoint. Verifies the signature with its own HMAC (not the service's
// code): 401 when no signature in `webhook-signature` is valid for `secret`, or the timestamp
// is more than 5 minutes away. Can be down (not listening), answer an error, hold requests, or
// redirect.
class Receiver {
 public:
  struct Request {
    std::string id, timestamp, signature, body;
    bool verified = false;
  };
  explicit Receiver(std::string secret) : secret_(std::move(secret)) { Up(); }
  ~Receiver() { Down(); }

  void Up() {
    std::lock_guard lock(life_);
    if (server_) return;
    server_ = std::make_unique<httplib::Server>();
    server_->Post(
        "/hook", [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); });
    server_->Post("/moved", [this](const httplib::Request&, httplib::Response& res) {
      res.set_redirect(absl::StrCat("http://127.0.0.1:", port_, "/hook"));
    });
    if (port_ == 0) {
      port_ = server_->bind_to_any_port("127.0.0.1");
    } else {
      // The same port again, as a restarted endpoint would.
      ASSERT_TRUE(testing::WaitFor([&] { return server_->bind_to_port("127.0.0.1", port_); }, 10s));
    }
    thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
  }
  void Down() {
    std::lock_guard lock(life_);
    if (!server_) return;
    testing::StopServer(*server_, thread_);
    server_.reset();
  }
  std::string url(const std::string& path = "/hook") const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  void SetSecret(std::string s) {
    std::lock_guard lock(mu_);
    secret_ = std::move(s);
  }
  void SetStatus(int status) { status_ = status; }
  void Hold(std::chrono::milliseconds d) { hold_ = d; }
  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  /// Verified requests by webhook-id: what the member acted on (each id once).
  std::map<std::string, nlohmann::json> accepted() {
    std::lock_guard lock(mu_);
    std::map<std::string, nlohmann::json> out;
    for (const auto& r : requests_) {
      if (r.verified) out.emplace(r.id, nlohmann::json::parse(r.body));
    }
    return out;
  }
  int in_flight() const { return in_flight_; }

  static bool Verify(const std::string& secret, const std::string& id, const std::string& ts,
                     const std::string& body, const std::string& header) {
    std::string key;
    if (!secret.starts_with("whsec_") || !absl::Base64Unescape(secret.substr(6), &key)) {
      return false;
    }
    const std::string content = id + "." + ts + "." + body;
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &len);
    const std::string expected =
        "v1," + absl::Base64Escape(absl::string_view(reinterpret_cast<char*>(mac), len));
    for (absl::string_view part : absl::StrSplit(header, ' ', absl::SkipEmpty())) {
      if (part == expected) return true;
    }
    return false;
  }

 private:
  void Handle(const httplib::Request& req, httplib::Response& res) {
    ++in_flight_;
    Request r{req.get_header_value("webhook-id"), req.get_header_value("webhook-timestamp"),
              req.get_header_value("webhook-signature"), req.body};
    int64_t ts = 0;
    const bool fresh = absl::SimpleAtoi(r.timestamp, &ts) &&
                       std::abs(absl::ToUnixSeconds(absl::Now()) - ts) <= 300;
    {
      std::lock_guard lock(mu_);
      r.verified = fresh && Verify(secret_, r.id, r.timestamp, r.body, r.signature);
      requests_.push_back(r);
    }
    std::this_thread::sleep_for(hold_.load());
    --in_flight_;
    if (!r.verified) {
      res.status = 401;
      res.set_content("signature invalide", "text/plain");
      return;
    }
    res.status = status_;
  }

  std::mutex life_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::string secret_;
  std::vector<Request> requests_;
  std::atomic<int> status_{204};
  std::atomic<std::chrono::milliseconds> hold_{0ms};
  std::atomic<int> in_flight_{0};
};

venues::v1::Venue At(const std::string& id, const std::string& nom, double lat, double lon) {
  venues::v1::Venue v;
  v.set_id(id);
  v.set_pivot("21590512800017");
  v.set_nom(nom);
  v.set_commune("Roubaix");
  v.set_code_postal("59100");
  v.set_adresse("2 rue Pierre Motte");
  v.set_date_maj("2024-04-02");
  v.set_latitude(lat);
  v.set_longitude(lon);
  v.add_services(venues::v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  v.add_frais_a_charge(venues::v1::FRAIS_GRATUIT);
  v.add_typologie("BIB");
  return v;
}

class NotificationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    venues_ = std::make_unique<testing::ServiceBinary>(
        "services/venues/passerelle-venues",
        std::map<std::string, std::string>{{"PASSERELLE_NATS_PREFIX", prefix_}});
    venues_process_ = venues_->Start();
    notifications_ = std::make_unique<testing::ServiceBinary>(
        "services/notifications/passerelle-notifications", NotificationsEnv());
    process_ = notifications_->Start();
    stub_ = v1::NotificationService::NewStub(
        grpc::CreateChannel(notifications_->grpc_address(), grpc::InsecureChannelCredentials()));
    venues_stub_ = venues::v1::VenueService::NewStub(
        grpc::CreateChannel(venues_->grpc_address(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (process_) {
      process_->Signal(SIGTERM);
      EXPECT_EQ(process_->Wait(20s), 0) << process_->Output();
    }
    venues_process_->Signal(SIGTERM);
    EXPECT_EQ(venues_process_->Wait(20s), 0);
  }
  // Loopback is allowed explicitly (the receiver runs there); nothing else private is.
  virtual std::map<std::string, std::string> NotificationsEnv() {
    return {{"PASSERELLE_NATS_PREFIX", prefix_},
            {"PASSERELLE_NOTIFICATIONS_ALLOWED_NETWORKS", "127.0.0.0/8"},
            {"PASSERELLE_NOTIFICATIONS_ALLOWED_PORTS", "80,443,1024-65535"},
            {"PASSERELLE_NOTIFICATIONS_TIMEOUT", "2s"},
            {"PASSERELLE_NOTIFICATIONS_POLL", "50ms"},
            {"PASSERELLE_NOTIFICATIONS_RETRY_INITIAL", "200ms"},
            {"PASSERELLE_NOTIFICATIONS_RETRY_MAX_STEP", "1s"},
            {"PASSERELLE_NOTIFICATIONS_DISABLE_AFTER", "1000"},
            {"PASSERELLE_PAGE_TOKEN_KEY", "notifications-itest"}};
  }

  v1::Subscription Subscribe(const std::string& url, const v1::Filter& filter = {}) {
    grpc::ClientContext ctx;
    v1::CreateSubscriptionRequest req;
    req.mutable_subscription()->set_organisation("organisations/centre-social-epeule");
    req.mutable_subscription()->set_display_name("Centre social de l'Épeule");
    req.mutable_subscription()->mutable_webhook()->set_url(url);
    *req.mutable_subscription()->mutable_filter() = filter;
    v1::Subscription out;
    grpc::Status st = stub_->CreateSubscription(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message() << Violations(st);
    return out;
  }
  static v1::Filter Types(const std::string& type) {
    v1::Filter f;
    f.add_event_types(type);
    return f;
  }

  venues::v1::Venue CreateVenue(const std::string& id, double lat = 50.6909, double lon = 3.1746) {
    grpc::ClientContext ctx;
    venues::v1::CreateVenueRequest req;
    *req.mutable_venue() = At(id, "Médiathèque « " + id + " »", lat, lon);
    venues::v1::Venue out;
    grpc::Status st = venues_stub_->CreateVenue(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }
  venues::v1::Venue MoveVenue(const std::string& name, double lat, double lon) {
    grpc::ClientContext ctx;
    venues::v1::UpdateVenueRequest req;
    req.mutable_venue()->set_name(name);
    req.mutable_venue()->set_latitude(lat);
    req.mutable_venue()->set_longitude(lon);
    req.mutable_update_mask()->add_paths("latitude");
    req.mutable_update_mask()->add_paths("longitude");
    venues::v1::Venue out;
    grpc::Status st = venues_stub_->UpdateVenue(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  std::vector<v1::Delivery> Deliveries(const std::string& subscription) {
    std::vector<v1::Delivery> out;
    std::string token;
    do {
      grpc::ClientContext ctx;
      v1::ListDeliveriesRequest req;
      req.set_parent(subscription);
      req.set_page_size(7);
      req.set_page_token(token);
      v1::ListDeliveriesResponse resp;
      grpc::Status st = stub_->ListDeliveries(&ctx, req, &resp);
      EXPECT_TRUE(st.ok()) << st.error_message();
      if (!st.ok()) break;
      out.insert(out.end(), resp.deliveries().begin(), resp.deliveries().end());
      token = resp.next_page_token();
    } while (!token.empty());
    return out;
  }
  int Succeeded(const std::string& subscription) {
    int n = 0;
    for (const auto& d : Deliveries(subscription)) n += d.state() == v1::Delivery::SUCCEEDED;
    return n;
  }

  std::string prefix_ = testing::UniqueName("ntf");
  std::unique_ptr<testing::ServiceBinary> venues_, notifications_;
  std::unique_ptr<testing::Process> venues_process_, process_;
  std::unique_ptr<v1::NotificationService::Stub> stub_;
  std::unique_ptr<venues::v1::VenueService::Stub> venues_stub_;
};

TEST_F(NotificationsTest, AVenueWriteBecomesOneSignedWebhook) {
  Receiver receiver("");
  v1::Subscription sub = Subscribe(receiver.url(), Types("venue.*"));
  ASSERT_THAT(sub.webhook().secret(), ::testing::StartsWith("whsec_"));
  receiver.SetSecret(sub.webhook().secret());
  venues::v1::Venue venue = CreateVenue("lieu-1");
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.accepted().size() == 1; }, 20s))
      << process_->Output();
  const auto [id, body] = *receiver.accepted().begin();
  EXPECT_EQ(body["type"], "venue.created");
  EXPECT_EQ(body["data"]["subject"], venue.name());
  EXPECT_EQ(body["data"]["payload"]["venue"]["nom"], venue.nom());
  EXPECT_TRUE(body["timestamp"].is_string());
  // The log: one delivery, its id the webhook-id, one successful attempt (recorded once the
  // answer is in, just after the receiver saw the request).
  ASSERT_TRUE(testing::WaitFor([&] { return Succeeded(sub.name()) == 1; }, 20s));
  auto log = Deliveries(sub.name());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].name(), sub.name() + "/deliveries/" + id);
  EXPECT_EQ(log[0].state(), v1::Delivery::SUCCEEDED);
  ASSERT_EQ(log[0].attempts_size(), 1);
  EXPECT_EQ(log[0].attempts(0).http_status(), 204);
  EXPECT_EQ(log[0].attempts(0).outcome(), v1::Attempt::SUCCEEDED);
  // The secret is shown on creation only.
  {
    grpc::ClientContext ctx;
    v1::GetSubscriptionRequest req;
    req.set_name(sub.name());
    v1::Subscription got;
    ASSERT_TRUE(stub_->GetSubscription(&ctx, req, &got).ok());
    EXPECT_EQ(got.webhook().secret(), "");
    EXPECT_EQ(got.webhook().url(), receiver.url());
  }
  // A test event goes to this subscription, signed the same way.
  {
    grpc::ClientContext ctx;
    v1::SendTestRequest req;
    req.set_name(sub.name());
    v1::Delivery d;
    ASSERT_TRUE(stub_->SendTest(&ctx, req, &d).ok());
    EXPECT_EQ(d.event_type(), "notification.test");
  }
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.accepted().size() == 2; }, 20s));
  // Replaying a delivery sends it again with the same webhook-id.
  {
    grpc::ClientContext ctx;
    v1::RetryDeliveryRequest req;
    req.set_name(log[0].name());
    v1::Delivery d;
    ASSERT_TRUE(stub_->RetryDelivery(&ctx, req, &d).ok());
    EXPECT_EQ(d.state(), v1::Delivery::PENDING);
  }
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.requests().size() == 3; }, 20s));
  EXPECT_EQ(receiver.requests()[2].id, id);
  EXPECT_EQ(receiver.accepted().size(), 2u);
}

TEST_F(NotificationsTest, RotatedSecretSignsWithBothDuringTheGracePeriod) {
  Receiver receiver("");
  v1::Subscription sub = Subscribe(receiver.url(), Types("notification.test"));
  const std::string old_secret = sub.webhook().secret();
  v1::Subscription rotated;
  {
    grpc::ClientContext ctx;
    v1::RotateSecretRequest req;
    req.set_name(sub.name());
    req.mutable_grace_period()->set_seconds(3600);
    ASSERT_TRUE(stub_->RotateSecret(&ctx, req, &rotated).ok());
  }
  ASSERT_THAT(rotated.webhook().secret(), ::testing::StartsWith("whsec_"));
  ASSERT_NE(rotated.webhook().secret(), old_secret);
  EXPECT_TRUE(rotated.webhook().has_previous_secret_expire_time());
  receiver.SetSecret(old_secret);  // a receiver not yet switched still accepts
  grpc::ClientContext ctx;
  v1::SendTestRequest req;
  req.set_name(sub.name());
  v1::Delivery d;
  ASSERT_TRUE(stub_->SendTest(&ctx, req, &d).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.accepted().size() == 1; }, 20s));
  const auto r = receiver.requests()[0];
  EXPECT_EQ(std::count(r.signature.begin(), r.signature.end(), ' '), 1) << r.signature;
  EXPECT_TRUE(Receiver::Verify(rotated.webhook().secret(), r.id, r.timestamp, r.body, r.signature));
  // A bad grace period is refused.
  grpc::ClientContext bad_ctx;
  v1::RotateSecretRequest bad;
  bad.set_name(sub.name());
  bad.mutable_grace_period()->set_seconds(8 * 24 * 3600);
  v1::Subscription ignored;
  EXPECT_EQ(stub_->RotateSecret(&bad_ctx, bad, &ignored).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// What a careless member sends is refused with the reason, not stored as something else.
TEST_F(NotificationsTest, CarelessRequestsAreRefusedWithAReason) {
  Receiver receiver("");
  v1::Subscription sub = Subscribe(receiver.url(), Types("venue.created"));
  receiver.SetSecret(sub.webhook().secret());
  auto create = [&](const std::function<void(v1::Subscription*)>& edit) {
    grpc::ClientContext ctx;
    v1::CreateSubscriptionRequest req;
    req.mutable_subscription()->set_organisation("organisations/centre-social-epeule");
    req.mutable_subscription()->mutable_webhook()->set_url(receiver.url());
    edit(req.mutable_subscription());
    v1::Subscription out;
    grpc::Status st = stub_->CreateSubscription(&ctx, req, &out);
    return std::make_pair(st, out);
  };
  // Unknown enum values.
  auto [rhythm, _1] =
      create([](v1::Subscription* s) { s->set_rhythm(v1::Subscription::Rhythm(99)); });
  EXPECT_EQ(rhythm.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(rhythm), HasSubstr("subscription.rhythm"));
  auto [state, _2] = create([](v1::Subscription* s) { s->set_state(v1::Subscription::State(77)); });
  EXPECT_EQ(state.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(state), HasSubstr("subscription.state"));
  // A second rotation during the first one's grace period would drop the oldest secret.
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    v1::RotateSecretRequest req;
    req.set_name(sub.name());
    v1::Subscription out;
    grpc::Status st = stub_->RotateSecret(&ctx, req, &out);
    if (i == 0) {
      EXPECT_TRUE(st.ok()) << st.error_message();
    } else {
      EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
      EXPECT_THAT(st.error_message(), HasSubstr("rotation est déjà en cours"));
    }
  }
  // Without an SMTP relay (none is configured here) an e-mail delivery waits, saying why.
  auto [made, by_email] =
      create([](v1::Subscription* s) { s->mutable_email()->set_address("contact@exemple.fr"); });
  ASSERT_TRUE(made.ok()) << made.error_message();
  CreateVenue("lieu-courriel");
  ASSERT_TRUE(testing::WaitFor([&] { return Succeeded(sub.name()) == 1; }, 20s));
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto log = Deliveries(by_email.name());
        return log.size() == 1 && log[0].attempts_size() >= 1;
      },
      20s));
  {
    auto log = Deliveries(by_email.name());
    EXPECT_EQ(log[0].state(), v1::Delivery::PENDING);
    EXPECT_THAT(log[0].attempts(0).error(), HasSubstr("aucun relais SMTP"));
  }
  // A disabled subscription gets no test either, with the way out in the message.
  {
    grpc::ClientContext ctx;
    v1::UpdateSubscriptionRequest req;
    req.mutable_subscription()->set_name(sub.name());
    req.mutable_subscription()->set_state(v1::Subscription::DISABLED);
    req.mutable_update_mask()->add_paths("state");
    v1::Subscription out;
    ASSERT_TRUE(stub_->UpdateSubscription(&ctx, req, &out).ok());
  }
  grpc::ClientContext ctx;
  v1::SendTestRequest req;
  req.set_name(sub.name());
  v1::Delivery d;
  grpc::Status st = stub_->SendTest(&ctx, req, &d);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("réactivez"));
}

TEST_F(NotificationsTest, AWrongSecretIsRejectedByTheReceiver) {
  Receiver receiver("whsec_" + absl::Base64Escape(std::string(24, 'x')));
  v1::Subscription sub = Subscribe(receiver.url(), Types("venue.created"));
  CreateVenue("lieu-secret");
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.requests().size() >= 2; }, 20s));
  EXPECT_TRUE(receiver.accepted().empty());
  auto log = Deliveries(sub.name());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].state(), v1::Delivery::PENDING);
  ASSERT_GE(log[0].attempts_size(), 1);
  EXPECT_EQ(log[0].attempts(0).http_status(), 401);
  EXPECT_EQ(log[0].attempts(0).outcome(), v1::Attempt::FAILED);
  EXPECT_THAT(log[0].attempts(0).error(), HasSubstr("401"));
  // With the right secret the next retry goes through, same webhook-id.
  receiver.SetSecret(sub.webhook().secret());
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.accepted().size() == 1; }, 20s));
  EXPECT_EQ(receiver.accepted().begin()->first, log[0].name().substr(log[0].name().rfind('/') + 1));
}

TEST_F(NotificationsTest, AReceiverDownThenBackGetsEachDeliveryOnceInOrder) {
  Receiver receiver("");
  v1::Subscription sub = Subscribe(receiver.url(), Types("venue.*"));
  receiver.SetSecret(sub.webhook().secret());
  receiver.Down();
  venues::v1::Venue v = CreateVenue("lieu-down");
  MoveVenue(v.name(), 50.6920, 3.1750);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto log = Deliveries(sub.name());
        return log.size() == 2 && log[1].attempts_size() >= 2;  // the oldest is last
      },
      20s));
  auto log = Deliveries(sub.name());
  EXPECT_EQ(log[1].attempts(0).http_status(), 0);
  EXPECT_THAT(log[1].attempts(0).error(),
              HasSubstr("destinataire : serveur injoignable (connexion impossible)"));
  // Deliveries about one venue go in order: the second waits for the first.
  EXPECT_EQ(log[0].attempts_size(), 0);
  receiver.Up();
  ASSERT_TRUE(testing::WaitFor([&] { return Succeeded(sub.name()) == 2; }, 20s))
      << process_->Output();
  const auto got = receiver.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(got[0].body)["type"], "venue.created");
  EXPECT_EQ(nlohmann::json::parse(got[1].body)["type"], "venue.updated");
}

TEST_F(NotificationsTest, ASigkilledServiceLosesAndDuplicatesNothing) {
  Receiver receiver("");
  v1::Subscription sub = Subscribe(receiver.url(), Types("venue.created"));
  receiver.SetSecret(sub.webhook().secret());
  receiver.Hold(1500ms);
  constexpr int kVenues = 6;
  for (int i = 0; i < kVenues; ++i) CreateVenue(absl::StrCat("lieu-kill-", i));
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.in_flight() > 0; }, 20s));
  process_->Signal(SIGKILL);
  process_->Wait(10s);
  receiver.Hold(0ms);
  // What the killed process sent: a request it wrote just before dying is read a moment later.
  std::this_thread::sleep_for(200ms);
  std::set<std::string> sent_before_kill;
  for (const auto& r : receiver.requests()) sent_before_kill.insert(r.id);
  process_ = notifications_->Start();
  stub_ = v1::NotificationService::NewStub(
      grpc::CreateChannel(notifications_->grpc_address(), grpc::InsecureChannelCredentials()));
  // Events the killed process had fetched but not acked come back after JetStream's 30-s ack
  // wait.
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.accepted().size() == kVenues; }, 60s))
      << process_->Output();
  // Every venue once in what the member acted on. A request in flight at the kill is sent
  // again with the same webhook-id (the receiver drops it, as the specification says).
  std::set<std::string> subjects;
  for (const auto& [id, body] : receiver.accepted()) subjects.insert(body["data"]["subject"]);
  EXPECT_EQ(subjects.size(), static_cast<size_t>(kVenues));
  std::map<std::string, int> per_id;
  for (const auto& r : receiver.requests()) ++per_id[r.id];
  // Only a request the killed process had sent may come again, and once: the new process
  // sends what it finds pending, every worker at once, and nothing twice.
  for (const auto& [id, n] : per_id) {
    EXPECT_LE(n, sent_before_kill.contains(id) ? 2 : 1) << "webhook-id " << id;
  }
  ASSERT_TRUE(testing::WaitFor([&] { return Succeeded(sub.name()) == kVenues; }, 20s));
}

TEST_F(NotificationsTest, TwoReplicasNeverSendTwice) {
  Receiver receiver("");
  v1::Subscription sub = Subscribe(receiver.url(), Types("venue.created"));
  receiver.SetSecret(sub.webhook().secret());
  // A second replica: same schema and NATS names, its own ports.
  auto env = notifications_->Env();
  env["PASSERELLE_GRPC_ADDRESS"] = "127.0.0.1:0";
  env["PASSERELLE_METRICS_ADDRESS"] = "127.0.0.1:0";
  auto replica = testing::Process::Start({notifications_->path()}, env);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return replica->Output().find("\"message\":\"ready\"") != std::string::npos; }, 20s))
      << replica->Output();
  // (The replica loaded the subscription into its index at start.)
  constexpr int kVenues = 20;
  for (int i = 0; i < kVenues; ++i) CreateVenue(absl::StrCat("lieu-replica-", i));
  ASSERT_TRUE(testing::WaitFor([&] { return Succeeded(sub.name()) == kVenues; }, 40s))
      << process_->Output() << replica->Output();
  EXPECT_EQ(receiver.requests().size(), static_cast<size_t>(kVenues));
  EXPECT_EQ(receiver.accepted().size(), static_cast<size_t>(kVenues));
  replica->Signal(SIGTERM);
  EXPECT_EQ(replica->Wait(20s), 0) << replica->Output();
}

TEST_F(NotificationsTest, AQuartierSubscriptionHearsOfAVenueThatMovedOut) {
  {
    grpc::ClientContext ctx;
    venues::v1::ImportAreaLayerRequest req;
    req.set_layer("quartiers");
    req.set_title("Quartiers de Roubaix (exemple)");
    req.set_geojson(R"({"type": "FeatureCollection", "features": [
      {"type": "Feature", "properties": {"code": "epeule", "name": "Épeule"},
       "geometry": {"type": "Polygon", "coordinates": [[[3.16, 50.69], [3.17, 50.69],
                    [3.17, 50.70], [3.16, 50.70], [3.16, 50.69]]]}}]})");
    venues::v1::AreaLayer layer;
    grpc::Status st = venues_stub_->ImportAreaLayer(&ctx, req, &layer);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  venues::v1::Venue inside = CreateVenue("lieu-epeule", 50.695, 3.165);
  venues::v1::Venue elsewhere = CreateVenue("lieu-ailleurs", 50.60, 3.00);
  ASSERT_THAT(inside.areas(), ::testing::ElementsAre("quartiers:epeule"));
  Receiver receiver("");
  v1::Filter filter = Types("venue.updated");
  filter.add_areas("quartiers:epeule");
  v1::Subscription sub = Subscribe(receiver.url(), filter);
  receiver.SetSecret(sub.webhook().secret());
  MoveVenue(elsewhere.name(), 50.61, 3.01);  // never in the quartier: not for this member
  venues::v1::Venue moved = MoveVenue(inside.name(), 50.60, 3.00);
  EXPECT_TRUE(moved.areas().empty());
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.accepted().size() == 1; }, 20s))
      << process_->Output();
  const auto body = receiver.accepted().begin()->second;
  EXPECT_EQ(body["data"]["subject"], inside.name());
  EXPECT_EQ(body["data"]["payload"]["previousAreas"][0], "quartiers:epeule");
  EXPECT_FALSE(body["data"]["payload"]["venue"].contains("areas"));
  // The other venue's update, published and consumed before, made no delivery.
  EXPECT_EQ(Deliveries(sub.name()).size(), 1u);
  EXPECT_EQ(receiver.requests().size(), 1u);
}

TEST_F(NotificationsTest, RequestForgeryIsRefusedWithAPreciseError) {
  auto create = [&](const std::string& url) {
    grpc::ClientContext ctx;
    v1::CreateSubscriptionRequest req;
    req.mutable_subscription()->set_organisation("organisations/centre-social-epeule");
    req.mutable_subscription()->mutable_webhook()->set_url(url);
    v1::Subscription out;
    return stub_->CreateSubscription(&ctx, req, &out);
  };
  grpc::Status metadata = create("http://169.254.169.254/latest/meta-data/");
  EXPECT_EQ(metadata.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(metadata), HasSubstr("subscription.webhook.url"));
  EXPECT_THAT(Violations(metadata), HasSubstr("169.254.169.254 refusée : adresse lien local"));
  grpc::Status internal = create("http://10.0.0.1/hook");
  EXPECT_EQ(internal.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(internal), HasSubstr("10.0.0.1 refusée : adresse privée"));
  grpc::Status scheme = create("file:///etc/passwd");
  EXPECT_EQ(scheme.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(scheme), HasSubstr("seuls http et https"));
  grpc::Status credentials = create("http://user:pw@example.org/hook");
  EXPECT_EQ(credentials.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // A redirect (here to loopback) is never followed: the attempt fails and says why.
  Receiver receiver("");
  v1::Subscription sub = Subscribe(receiver.url("/moved"), Types("notification.test"));
  receiver.SetSecret(sub.webhook().secret());
  grpc::ClientContext ctx;
  v1::SendTestRequest req;
  req.set_name(sub.name());
  v1::Delivery d;
  ASSERT_TRUE(stub_->SendTest(&ctx, req, &d).ok());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto log = Deliveries(sub.name());
        return !log.empty() && log[0].attempts_size() >= 1;
      },
      20s));
  auto log = Deliveries(sub.name());
  EXPECT_EQ(log[0].attempts(0).http_status(), 302);
  EXPECT_THAT(log[0].attempts(0).error(), HasSubstr("non suivie"));
  EXPECT_TRUE(receiver.requests().empty()) << "the redirect's target was requested";
}

class DisablingTest : public NotificationsTest {
  std::map<std::string, std::string> NotificationsEnv() override {
    auto env = NotificationsTest::NotificationsEnv();
    env["PASSERELLE_NOTIFICATIONS_DISABLE_AFTER"] = "3";
    return env;
  }
};

TEST_F(DisablingTest, AnEndpointFailingTooOftenIsDisabledThenEnabledAgain) {
  Receiver receiver("");
  v1::Subscription sub = Subscribe(receiver.url(), Types("venue.created"));
  receiver.SetSecret(sub.webhook().secret());
  receiver.SetStatus(500);
  CreateVenue("lieu-panne");
  v1::Subscription got;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        grpc::ClientContext ctx;
        v1::GetSubscriptionRequest req;
        req.set_name(sub.name());
        return stub_->GetSubscription(&ctx, req, &got).ok() &&
               got.state() == v1::Subscription::DISABLED;
      },
      20s));
  EXPECT_THAT(got.disabled_reason(), HasSubstr("3 échecs consécutifs"));
  EXPECT_THAT(got.disabled_reason(), HasSubstr("HTTP 500"));
  EXPECT_EQ(receiver.requests().size(), 3u);
  // Re-enabled (with its etag) once the endpoint is mended: the pending delivery goes out.
  receiver.SetStatus(200);
  grpc::ClientContext ctx;
  v1::UpdateSubscriptionRequest req;
  req.mutable_subscription()->set_name(sub.name());
  req.mutable_subscription()->set_state(v1::Subscription::ACTIVE);
  req.mutable_subscription()->set_etag(got.etag());
  req.mutable_update_mask()->add_paths("state");
  v1::Subscription enabled;
  grpc::Status st = stub_->UpdateSubscription(&ctx, req, &enabled);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(enabled.consecutive_failures(), 0);
  ASSERT_TRUE(testing::WaitFor([&] { return Succeeded(sub.name()) == 1; }, 20s));
}

// A filter value that could never match is refused with its field and what it should be: a
// typo in an event type, a venue's id without `venues/`, an area without its layer.
TEST_F(NotificationsTest, FilterValuesThatCanNeverMatchAreRefused) {
  struct Case {
    std::function<void(v1::Filter*)> set;
    std::string field, says;
  };
  std::vector<Case> cases = {
      {[](v1::Filter* f) { f->add_event_types("venue.update"); }, "filter.event_types[0]",
       "venue.created"},
      {[](v1::Filter* f) { f->add_event_types("venues.*"); }, "filter.event_types[0]", "préfixe"},
      {[](v1::Filter* f) { f->add_event_types("*"); }, "filter.event_types[0]", "préfixe"},
      {[](v1::Filter* f) { f->add_areas("epeule"); }, "filter.areas[0]", "<couche>:<code>"},
      {[](v1::Filter* f) { f->add_areas("quartiers:a/b"); }, "filter.areas[0]", "<couche>"},
      {[](v1::Filter* f) { f->add_referential_items("42"); }, "filter.referential_items[0]",
       "items/{item}"},
      {[](v1::Filter* f) { f->add_owner_organisations("organisations/x"); },
       "filter.owner_organisations[0]", "sans"},
      {[](v1::Filter* f) { f->add_venues("abc"); }, "filter.venues[0]", "venues/{venue}"},
      {[](v1::Filter* f) { f->add_sync_sources("siilab"); }, "filter.sync_sources[0]",
       "sources/{source}"},
  };
  for (const Case& c : cases) {
    grpc::ClientContext ctx;
    v1::CreateSubscriptionRequest req;
    req.mutable_subscription()->set_organisation("organisations/centre-social-epeule");
    req.mutable_subscription()->mutable_webhook()->set_url("https://example.org/hook");
    c.set(req.mutable_subscription()->mutable_filter());
    v1::Subscription out;
    grpc::Status st = stub_->CreateSubscription(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(Violations(st), HasSubstr("subscription." + c.field));
    EXPECT_THAT(Violations(st), HasSubstr(c.says)) << c.field;
  }
  // What can match is accepted: published types, prefixes, names of the right kind.
  v1::Filter ok;
  ok.add_event_types("venue.*");
  ok.add_event_types("sync.run.completed");
  ok.add_event_types("indicators.*");
  ok.add_areas("qpv:QN05902M");
  ok.add_referential_items("items/42");
  ok.add_owner_organisations("centre-social-epeule");
  ok.add_venues("venues/0b7f3a55-8c51-4c7e-9d0c-3f2b6a1e9c11");
  ok.add_sync_sources("sources/siilab");
  Receiver receiver("");
  Subscribe(receiver.url(), ok);
}

TEST_F(NotificationsTest, HostileInputIsRefusedAndChangesNothing) {
  Receiver receiver("");
  v1::Subscription sub = Subscribe(receiver.url(), Types("venue.created"));
  receiver.SetSecret(sub.webhook().secret());
  const std::string nul("a\0b", 3), bad_utf8 = "\xc3\x28", huge(100000, 'x');
  for (const std::string& hostile : {nul, bad_utf8, huge}) {
    {
      grpc::ClientContext ctx;
      v1::CreateSubscriptionRequest req;
      req.mutable_subscription()->set_organisation("organisations/centre-social-epeule");
      req.mutable_subscription()->set_display_name(hostile);
      req.mutable_subscription()->mutable_webhook()->set_url(receiver.url());
      req.mutable_subscription()->mutable_filter()->add_areas(hostile);
      req.mutable_subscription()->set_contact_email(hostile + "@centre.example");
      v1::Subscription out;
      grpc::Status st = stub_->CreateSubscription(&ctx, req, &out);
      EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << hostile.size();
      if (hostile == bad_utf8) {
        // Refused before the handler: the request does not parse as proto3.
        EXPECT_THAT(st.error_message(), HasSubstr("UTF-8"));
      } else {
        EXPECT_THAT(Violations(st), HasSubstr("subscription.display_name"));
        EXPECT_THAT(Violations(st), HasSubstr("subscription.filter.areas[0]"));
        EXPECT_THAT(Violations(st), HasSubstr("subscription.contact_email"));
        EXPECT_LT(st.error_details().size() + st.error_message().size(), 4000u);
      }
    }
    {
      // The contact on update, alone in the mask.
      grpc::ClientContext ctx;
      v1::UpdateSubscriptionRequest req;
      req.mutable_subscription()->set_name(sub.name());
      req.mutable_subscription()->set_contact_email("contact" + hostile + "@centre.example");
      req.mutable_update_mask()->add_paths("contact_email");
      v1::Subscription out;
      grpc::Status st = stub_->UpdateSubscription(&ctx, req, &out);
      EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << hostile.size();
      if (hostile != bad_utf8) {
        EXPECT_THAT(Violations(st), HasSubstr("subscription.contact_email"));
        EXPECT_LT(st.error_details().size() + st.error_message().size(), 4000u);
      }
    }
    {
      grpc::ClientContext ctx;
      v1::CreateSubscriptionRequest req;
      req.mutable_subscription()->set_organisation(hostile);
      req.mutable_subscription()->mutable_webhook()->set_url(receiver.url() + hostile);
      v1::Subscription out;
      EXPECT_EQ(stub_->CreateSubscription(&ctx, req, &out).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      v1::GetSubscriptionRequest req;
      req.set_name("subscriptions/" + hostile);
      v1::Subscription out;
      EXPECT_EQ(stub_->GetSubscription(&ctx, req, &out).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      v1::UpdateSubscriptionRequest req;
      req.mutable_subscription()->set_name(sub.name());
      req.mutable_subscription()->set_display_name(hostile);
      req.mutable_update_mask()->add_paths("display_name");
      v1::Subscription out;
      EXPECT_EQ(stub_->UpdateSubscription(&ctx, req, &out).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      v1::DeleteSubscriptionRequest req;
      req.set_name(sub.name() + hostile);
      google::protobuf::Empty out;
      EXPECT_EQ(stub_->DeleteSubscription(&ctx, req, &out).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      v1::ListSubscriptionsRequest req;
      req.set_organisation(hostile);
      v1::ListSubscriptionsResponse out;
      EXPECT_EQ(stub_->ListSubscriptions(&ctx, req, &out).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      v1::ListDeliveriesRequest req;
      req.set_parent(sub.name());
      req.set_page_token(hostile);
      v1::ListDeliveriesResponse out;
      EXPECT_EQ(stub_->ListDeliveries(&ctx, req, &out).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      v1::RetryDeliveryRequest req;
      req.set_name(sub.name() + "/deliveries/" + hostile);
      v1::Delivery out;
      EXPECT_EQ(stub_->RetryDelivery(&ctx, req, &out).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      v1::SendTestRequest req;
      req.set_name(hostile);
      v1::Delivery out;
      EXPECT_EQ(stub_->SendTest(&ctx, req, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      v1::RotateSecretRequest req;
      req.set_name(sub.name() + hostile);
      v1::Subscription out;
      EXPECT_EQ(stub_->RotateSecret(&ctx, req, &out).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
  }
  // Unknown names, stale etags, digests not done yet, bad masks and forged page tokens.
  const std::string unknown = "subscriptions/00000000-0000-4000-8000-000000000000";
  {
    grpc::ClientContext ctx;
    v1::GetSubscriptionRequest req;
    req.set_name(unknown);
    v1::Subscription out;
    grpc::Status st = stub_->GetSubscription(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(Reason(st), "SUBSCRIPTION_NOT_FOUND");
  }
  {
    grpc::ClientContext ctx;
    v1::RetryDeliveryRequest req;
    req.set_name(sub.name() + "/deliveries/00000000-0000-4000-8000-000000000000");
    v1::Delivery out;
    EXPECT_EQ(stub_->RetryDelivery(&ctx, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::UpdateSubscriptionRequest req;
    req.mutable_subscription()->set_name(sub.name());
    req.mutable_subscription()->set_display_name("Nouveau nom");
    req.mutable_subscription()->set_etag("W/\"99\"");
    req.mutable_update_mask()->add_paths("display_name");
    v1::Subscription out;
    grpc::Status st = stub_->UpdateSubscription(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);
    EXPECT_EQ(Reason(st), "ETAG_MISMATCH");
  }
  {
    grpc::ClientContext ctx;
    v1::UpdateSubscriptionRequest req;
    req.mutable_subscription()->set_name(sub.name());
    req.mutable_update_mask()->add_paths("secret");
    v1::Subscription out;
    EXPECT_EQ(stub_->UpdateSubscription(&ctx, req, &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::UpdateSubscriptionRequest req;
    req.mutable_subscription()->set_name(sub.name());
    req.mutable_subscription()->set_rhythm(v1::Subscription::DAILY_DIGEST);
    req.mutable_subscription()->set_digest_time(std::string("08:00\0\n", 7));
    req.mutable_update_mask()->add_paths("rhythm");
    req.mutable_update_mask()->add_paths("digest_time");
    v1::Subscription out;
    grpc::Status st = stub_->UpdateSubscription(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(Violations(st), HasSubstr("subscription.digest_time"));
  }
  {  // A digest: accepted, with its next closing.
    grpc::ClientContext ctx;
    v1::UpdateSubscriptionRequest req;
    req.mutable_subscription()->set_name(sub.name());
    req.mutable_subscription()->set_rhythm(v1::Subscription::WEEKLY_DIGEST);
    req.mutable_update_mask()->add_paths("rhythm");
    v1::Subscription out;
    grpc::Status st = stub_->UpdateSubscription(&ctx, req, &out);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(out.digest_time(), "08:00");
    EXPECT_EQ(out.digest_weekday(), v1::Subscription::MONDAY);
    EXPECT_GT(out.next_digest_time().seconds(), absl::ToUnixSeconds(absl::Now()));
    grpc::ClientContext back;
    req.mutable_subscription()->set_rhythm(v1::Subscription::IMMEDIATE);
    ASSERT_TRUE(stub_->UpdateSubscription(&back, req, &out).ok());
    EXPECT_FALSE(out.has_next_digest_time());
  }
  {
    grpc::ClientContext ctx;
    v1::DeleteSubscriptionRequest req;
    req.set_name(sub.name());
    req.set_etag("W/\"42\"");
    google::protobuf::Empty out;
    EXPECT_EQ(stub_->DeleteSubscription(&ctx, req, &out).error_code(), grpc::StatusCode::ABORTED);
  }
  {
    grpc::ClientContext ctx;
    v1::ListSubscriptionsRequest req;
    req.set_page_token("Zm9yZ2Vk");
    v1::ListSubscriptionsResponse out;
    EXPECT_EQ(stub_->ListSubscriptions(&ctx, req, &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    // A real token of another listing (ListSubscriptions) is refused by ListDeliveries.
    for (int i = 0; i < 2; ++i) Subscribe(receiver.url(), Types("sync.*"));
    grpc::ClientContext ctx;
    v1::ListSubscriptionsRequest req;
    req.set_page_size(1);
    v1::ListSubscriptionsResponse page;
    ASSERT_TRUE(stub_->ListSubscriptions(&ctx, req, &page).ok());
    ASSERT_FALSE(page.next_page_token().empty());
    grpc::ClientContext ctx2;
    v1::ListDeliveriesRequest other;
    other.set_parent(sub.name());
    other.set_page_token(page.next_page_token());
    v1::ListDeliveriesResponse out;
    EXPECT_EQ(stub_->ListDeliveries(&ctx2, other, &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    grpc::ClientContext ctx3;
    v1::ListSubscriptionsRequest negative;
    negative.set_page_size(-1);
    EXPECT_EQ(stub_->ListSubscriptions(&ctx3, negative, &page).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::SendTestRequest req;
    req.set_name(unknown);
    v1::Delivery out;
    EXPECT_EQ(stub_->SendTest(&ctx, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::RotateSecretRequest req;
    req.set_name(unknown);
    v1::Subscription out;
    EXPECT_EQ(stub_->RotateSecret(&ctx, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // Poison on the stream: bytes that are no event, and an event whose payload is not what its
  // type says. Dead-lettered, no crash; the next real event is delivered.
  auto nats = events::NatsClient::Connect({.url = testing::NatsUrl()});
  ASSERT_TRUE(nats.ok()) << nats.status();
  events::Topology topology{.subject_prefix = prefix_,
                            .events_stream = absl::AsciiStrToUpper(prefix_) + "_EVENTS",
                            .dead_letter_stream = absl::AsciiStrToUpper(prefix_) + "_DEADLETTER"};
  ASSERT_TRUE((*nats)
                  ->Publish(topology.EventSubject("venue.created"),
                            std::string("\xff\x00garbage", 9), "poison-1")
                  .ok());
  events::v1::Event wrong;
  wrong.set_id("poison-2");
  wrong.set_type("venue.created");
  wrong.set_subject("venues/poison");
  wrong.mutable_payload()->PackFrom(google::protobuf::Empty());
  ASSERT_TRUE(
      (*nats)
          ->Publish(topology.EventSubject("venue.created"), wrong.SerializeAsString(), "poison-2")
          .ok());
  // The dead-letter stream holds both, the wrong payload at its first delivery (a permanent
  // failure: no 5 retries with back-off).
  natsSubscription* dead = nullptr;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = topology.dead_letter_stream.c_str();
  jsErrCode jerr = jsErrCode(0);
  ASSERT_EQ(js_PullSubscribe(&dead, (*nats)->jetstream(), topology.AllDeadLetters().c_str(),
                             nullptr, nullptr, &so, &jerr),
            NATS_OK);
  natsMsgList list{};
  const auto fetch_start = std::chrono::steady_clock::now();
  int dead_letters = 0;
  while (dead_letters < 2 && std::chrono::steady_clock::now() - fetch_start < 10s) {
    if (natsSubscription_Fetch(&list, dead, 10, 2000, &jerr) == NATS_OK) {
      dead_letters += list.Count;
      for (int i = 0; i < list.Count; ++i) natsMsg_Ack(list.Msgs[i], nullptr);
      natsMsgList_Destroy(&list);
    }
  }
  EXPECT_EQ(dead_letters, 2);
  natsSubscription_Destroy(dead);
  CreateVenue("lieu-apres-poison");
  ASSERT_TRUE(testing::WaitFor([&] { return receiver.accepted().size() == 1; }, 20s))
      << process_->Output();
  EXPECT_FALSE(process_->Wait(0ms).has_value()) << "the service died";
  // Deleting works, and the subscription is gone.
  {
    grpc::ClientContext ctx;
    v1::DeleteSubscriptionRequest req;
    req.set_name(sub.name());
    google::protobuf::Empty out;
    ASSERT_TRUE(stub_->DeleteSubscription(&ctx, req, &out).ok());
    grpc::ClientContext ctx2;
    v1::ListDeliveriesRequest list_req;
    list_req.set_parent(sub.name());
    v1::ListDeliveriesResponse list_out;
    EXPECT_EQ(stub_->ListDeliveries(&ctx2, list_req, &list_out).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

}  // namespace
}  // namespace passerelle::notifications
