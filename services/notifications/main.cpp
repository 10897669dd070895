// passerelle-notifications: wires the notifications' layers and runs it.
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "libs/clock/clock.hpp"
#include "libs/events/consumer.hpp"
#include "libs/logging/logging.hpp"
#include "libs/net/destination.hpp"
#include "libs/outbox/outbox.hpp"
#include "libs/service/service.hpp"
#include "services/notifications/handler.hpp"
#include "services/notifications/notifier.hpp"
#include "services/notifications/sender.hpp"

namespace passerelle::notifications {
std::vector<db::Migration> Migrations();
}

int main(int argc, char** argv) {
  using namespace passerelle;
  // Settings live in main's frame, which outlives Run; objects live in rt.components.
  std::string allowed_networks, allowed_ports, public_url;
  notifications::SmtpOptions smtp;
  std::chrono::milliseconds timeout{0}, poll{0}, retry_initial{0}, retry_max_step{0}, retry_for{0},
      refresh{0}, keep_log{0};
  int workers = 0, disable_after = 0, batch = 0, concurrent_sends = 0;
  return service::Run(
      argc, argv,
      {.name = "notifications",
       .components = {outbox::OutboxComponent(),
                      events::InboxComponent(),
                      {"notifications", notifications::Migrations()}},
       .read_config =
           [&](config::Reader& r) {
             allowed_networks =
                 r.String("PASSERELLE_NOTIFICATIONS_ALLOWED_NETWORKS", "",
                          "Networks webhooks may be sent to besides public addresses, CIDR, comma "
                          "separated (e.g. 127.0.0.0/8 for a local receiver); empty: none");
             allowed_ports = r.String("PASSERELLE_NOTIFICATIONS_ALLOWED_PORTS", "80,443",
                                      "Ports webhooks may be sent to: ports or ranges, comma "
                                      "separated (e.g. 80,443,8000-8999)");
             timeout = r.Duration("PASSERELLE_NOTIFICATIONS_TIMEOUT", std::chrono::seconds(5),
                                  "Connection and answer timeout of a webhook request");
             workers = static_cast<int>(
                 r.Int("PASSERELLE_NOTIFICATIONS_WORKERS", 4, 1, 64,
                       "Workers of this replica, each claiming a batch of due deliveries"));
             batch = static_cast<int>(
                 r.Int("PASSERELLE_NOTIFICATIONS_BATCH", 32, 1, 500,
                       "Deliveries a worker claims, sends and records in one transaction"));
             concurrent_sends =
                 static_cast<int>(r.Int("PASSERELLE_NOTIFICATIONS_CONCURRENT_SENDS", 4, 1, 64,
                                        "Requests (or e-mails) a worker has in flight at once"));
             poll = r.Duration("PASSERELLE_NOTIFICATIONS_POLL", std::chrono::milliseconds(200),
                               "How often an idle worker looks for due deliveries");
             retry_initial =
                 r.Duration("PASSERELLE_NOTIFICATIONS_RETRY_INITIAL", std::chrono::seconds(5),
                            "Delay before the first retry, doubled for each next one (±20 %)");
             retry_max_step =
                 r.Duration("PASSERELLE_NOTIFICATIONS_RETRY_MAX_STEP", std::chrono::hours(4),
                            "Longest delay between two attempts");
             retry_for = r.Duration("PASSERELLE_NOTIFICATIONS_RETRY_FOR", std::chrono::hours(24),
                                    "A delivery failing this long after its event is given up");
             disable_after =
                 static_cast<int>(r.Int("PASSERELLE_NOTIFICATIONS_DISABLE_AFTER", 20, 1, 100000,
                                        "Failed attempts in a row that disable a subscription"));
             keep_log = r.Duration("PASSERELLE_NOTIFICATIONS_KEEP_LOG", std::chrono::hours(24 * 30),
                                   "How long ended deliveries and their attempts stay listed");
             smtp.url = r.String("PASSERELLE_NOTIFICATIONS_SMTP_URL", "",
                                 "SMTP relay of e-mail notifications, smtp://host:port (STARTTLS "
                                 "when offered) or smtps://host:port; empty: e-mails wait");
             smtp.from = r.String("PASSERELLE_NOTIFICATIONS_MAIL_FROM",
                                  "Passerelle Roubaix <notifications@passerelle.localhost>",
                                  "Sender of e-mail notifications: `Name <address>` or an address");
             smtp.username = r.String("PASSERELLE_NOTIFICATIONS_SMTP_USER", "",
                                      "User name at the SMTP relay; empty: no authentication");
             smtp.password = r.String("PASSERELLE_NOTIFICATIONS_SMTP_PASSWORD", "",
                                      "Password at the SMTP relay");
             smtp.timeout = r.Duration(
                 "PASSERELLE_NOTIFICATIONS_SMTP_TIMEOUT", std::chrono::seconds(60),
                 "Connecting to the SMTP relay and the whole exchange of one e-mail (longer than "
                 "a webhook's: a relay slow to accept a message would otherwise get it twice)");
             smtp.require_tls =
                 r.Bool("PASSERELLE_NOTIFICATIONS_SMTP_REQUIRE_TLS", false,
                        "Refuse to send e-mails in clear to a relay without STARTTLS");
             public_url = r.String("PASSERELLE_GATEWAY_PUBLIC_URL", "",
                                   "The gateway's public address, for the unsubscribe links of "
                                   "e-mails (https://api.exemple.fr)");
             refresh = r.Duration("PASSERELLE_NOTIFICATIONS_INDEX_REFRESH", std::chrono::seconds(1),
                                  "How often subscriptions other replicas wrote are read");
           },
       .wire = [&](service::Runtime& rt) -> absl::Status {
         auto policy = net::DestinationPolicy::FromStrings(allowed_networks, allowed_ports);
         if (!policy.ok()) {
           return absl::InvalidArgumentError(
               absl::StrCat("PASSERELLE_NOTIFICATIONS_ALLOWED_NETWORKS / "
                            "PASSERELLE_NOTIFICATIONS_ALLOWED_PORTS: ",
                            policy.status().message()));
         }
         auto& destinations = rt.components.Emplace<net::DestinationPolicy>(*std::move(policy));
         auto& sender = rt.components.Emplace<notifications::HttpSender>(destinations, timeout);
         auto& notifier = rt.components.Emplace<notifications::Notifier>(
             *rt.pool, destinations, sender, clocks::System(),
             notifications::Options{.retry_initial = absl::FromChrono(retry_initial),
                                    .retry_max_step = absl::FromChrono(retry_max_step),
                                    .retry_for = absl::FromChrono(retry_for),
                                    .disable_after = disable_after,
                                    .concurrent_sends = static_cast<size_t>(concurrent_sends)});
         notifications::MailSettings mail{.from = smtp.from, .public_url = public_url};
         if (!smtp.url.empty()) {
           if (absl::Status s = notifications::CheckSmtpOptions(smtp); !s.ok()) return s;
           if (public_url.empty()) {
             return absl::InvalidArgumentError(
                 "PASSERELLE_GATEWAY_PUBLIC_URL is needed with PASSERELLE_NOTIFICATIONS_SMTP_URL: "
                 "every e-mail carries an unsubscribe link to the gateway");
           }
           mail.mailer = &rt.components.Emplace<notifications::SmtpMailer>(smtp);
         } else {
           logging::Warn(
               "PASSERELLE_NOTIFICATIONS_SMTP_URL not set: e-mail deliveries wait for a relay");
         }
         notifier.SetMail(std::move(mail));
         // Attempts by outcome and their latency: a receiver failing shows here first.
         auto& attempts = prometheus::BuildCounter()
                              .Name("passerelle_notifications_attempts_total")
                              .Help(
                                  "Deliveries attempted (webhook requests, e-mails), by outcome "
                                  "(succeeded, failed, refused)")
                              .Register(rt.metrics->registry());
         auto& latency = prometheus::BuildHistogram()
                             .Name("passerelle_notifications_attempt_seconds")
                             .Help(
                                 "Time from connection to answer of a webhook request or an "
                                 "e-mail's relay")
                             .Register(rt.metrics->registry());
         auto& succeeded = attempts.Add({{"outcome", "succeeded"}});
         auto& failed = attempts.Add({{"outcome", "failed"}});
         auto& refused = attempts.Add({{"outcome", "refused"}});
         auto& seconds = latency.Add(
             {}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10});
         notifier.OnAttempt([&](const notifications::SendResult& r) {
           switch (r.outcome) {
             case notifications::SendResult::Outcome::kSucceeded:
               succeeded.Increment();
               break;
             case notifications::SendResult::Outcome::kFailed:
               failed.Increment();
               break;
             case notifications::SendResult::Outcome::kRefused:
               refused.Increment();
               break;
           }
           seconds.Observe(absl::ToDoubleSeconds(r.latency));
         });
         if (absl::Status s = notifier.LoadIndex(); !s.ok()) return s;
         logging::Info("subscription index loaded", {{"subscriptions", notifier.index().size()}});
         auto& handler = rt.components.Emplace<notifications::Handler>(notifier, *rt.page_tokens);
         rt.server->AddService(&handler);
         // Every event of every service, each matched once (inbox) into deliveries.
         auto& consumer = rt.components.Emplace<events::Consumer>(
             *rt.nats, *rt.pool,
             events::ConsumerOptions{.topology = rt.topology,
                                     .durable = "notifications",
                                     .filter_subject = rt.topology.AllEvents(),
                                     .after_commit = [&notifier] { notifier.Wake(); }},
             [&notifier](pqxx::work& tx, const events::v1::Event& e) {
               return notifier.Consume(tx, e);
             },
             &rt.metrics->registry());
         if (absl::Status s = consumer.Init(); !s.ok()) return s;
         consumer.Start();
         rt.server->OnShutdown([&consumer] { consumer.Stop(); });
         service::RunEvery(rt, refresh, [&notifier] {
           if (absl::Status s = notifier.RefreshIndex(); !s.ok()) {
             logging::Warn("subscription index refresh failed",
                           {{"error", std::string(s.message())}});
           }
         });
         // Digests close at their local time: each becomes a delivery the workers send.
         service::RunEvery(rt, poll, [&notifier] {
           auto made = notifier.CloseDigests();
           if (!made.ok()) {
             logging::Warn("closing digests failed",
                           {{"error", std::string(made.status().message())}});
           } else if (*made > 0) {
             logging::Info("digests closed", {{"digests", *made}});
           }
         });
         // The delivery log is kept for a while, then pruned (hourly).
         service::RunEvery(rt, std::chrono::hours(1), [&notifier, &keep_log] {
           auto pruned = notifier.Prune(absl::FromChrono(keep_log));
           if (!pruned.ok()) {
             logging::Warn("delivery log pruning failed",
                           {{"error", std::string(pruned.status().message())}});
           } else if (*pruned > 0) {
             logging::Info("delivery log pruned", {{"deliveries", *pruned}});
           }
         });
         // Workers send what is due, then wait for the consumer's wake (or `poll`, for retries
         // coming due and other replicas' deliveries).
         for (int i = 0; i < workers; ++i) {
           service::RunEvery(rt, std::chrono::milliseconds(1), [&notifier, &poll, &batch] {
             while (!notifier.stopping()) {
               auto sent = notifier.DeliverDue(batch);
               if (!sent.ok()) {
                 // Its deliveries stay pending and go again later, under the same ids.
                 logging::Error("delivery batch failed",
                                {{"error", std::string(sent.status().message())}});
                 notifier.WaitForWork(poll);
                 return;
               }
               if (!*sent) {
                 notifier.WaitForWork(poll);
                 return;
               }
             }
           });
         }
         // Hooks run in reverse: workers stop taking deliveries before their loops are joined.
         rt.server->OnShutdown([&notifier] { notifier.Shutdown(); });
         return absl::OkStatus();
       }});
}
