// The notifications domain over its PostgreSQL schema: subscriptions (validated, indexed in
// memory), events matched into one delivery per (event, subscription), and the workers that
// claim due deliveries and send them signed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/clock/clock.hpp"
#include "libs/db/pool.hpp"
#include "libs/net/destination.hpp"
#include "passerelle/events/v1/event.pb.h"
#include "passerelle/notifications/v1/notifications.pb.h"
#include "services/notifications/mail.hpp"
#include "services/notifications/matcher.hpp"
#include "services/notifications/sender.hpp"

namespace passerelle::notifications {

struct Options {
  /// First retry delay, doubled per failure up to `retry_max_step`.
  absl::Duration retry_initial = absl::Seconds(5);
  absl::Duration retry_max_step = absl::Hours(4);
  /// A delivery still failing this long after it was created is given up (FAILED).
  absl::Duration retry_for = absl::Hours(24);
  /// Failed attempts in a row that disable a subscription.
  int disable_after = 20;
  /// Requests a worker has in flight at once (its batch's deliveries are sent side by side).
  size_t concurrent_sends = 4;
};

/// How e-mails go out.
struct MailSettings {
  /// The relay; null: e-mail deliveries fail (« aucun relais SMTP configuré ») until one is.
  const Mailer* mailer = nullptr;
  /// The From of every message (SmtpOptions::from).
  std::string from;
  /// The gateway's public address (`https://api.exemple.fr`), for the unsubscribe links.
  std::string public_url;
};

/// A page of a listing, and whether more follow.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_cursor;  // empty on the last page
};

class Notifier {
 public:
  Notifier(db::Pool& pool, const net::DestinationPolicy& policy, const Sender& sender,
           const clocks::Clock& clock, Options options);

  // The API (requests validated here; names parsed with ResourcePattern).
  absl::StatusOr<v1::Subscription> Create(const v1::Subscription& subscription);
  absl::StatusOr<v1::Subscription> Get(const std::string& name);
  absl::StatusOr<v1::Subscription> Update(const v1::Subscription& subscription,
                                          const std::vector<std::string>& mask);
  absl::Status Delete(const std::string& name, const std::string& etag);
  /// Oldest first; `after`: the cursor of the previous page.
  absl::StatusOr<Page<v1::Subscription>> List(const std::string& organisation,
                                              const std::string& after, int limit);
  /// Newest first; `before`: the cursor of the previous page.
  absl::StatusOr<Page<v1::Delivery>> ListDeliveries(const std::string& parent,
                                                    const std::string& before, int limit);
  absl::StatusOr<v1::Delivery> Retry(const std::string& name);
  absl::StatusOr<v1::Delivery> SendTest(const std::string& name);
  absl::StatusOr<v1::Subscription> RotateSecret(const std::string& name,
                                                std::optional<absl::Duration> grace);
  /// Ends the subscription whose unsubscribe token this is (no key: the token is the authority).
  absl::StatusOr<v1::UnsubscribeResponse> Unsubscribe(const std::string& token,
                                                      const std::string& form);
  /// Where e-mails go (before the workers start).
  void SetMail(MailSettings mail) { mail_ = std::move(mail); }
  /// The one-click unsubscribe address for `token` (List-Unsubscribe, RFC 8058).
  std::string UnsubscribeUrl(const std::string& token) const;
  /// The gateway's page for people with a button doing the same (the e-mail's footer).
  std::string UnsubscribePageUrl(const std::string& token) const;

  /// The consumer's handler: records one delivery per matching subscription, in the inbox's
  /// transaction. INVALID_ARGUMENT for a poison event (retried, then dead-lettered).
  absl::Status Consume(pqxx::work& tx, const events::v1::Event& event);

  /// Loads every subscription's filter into the index (at start).
  absl::Status LoadIndex();
  /// Picks up subscriptions other replicas wrote since the last call.
  absl::Status RefreshIndex();
  const SubscriptionIndex& index() const { return index_; }

  /// Claims up to `most` due deliveries (FOR UPDATE SKIP LOCKED: never one another worker or
  /// replica holds; never two about one subject for one subscription), sends them side by side
  /// (Options::concurrent_sends at once) and records their attempts in the same transaction;
  /// how many were attempted, 0 when none is due.
  absl::StatusOr<int> DeliverDue(int most);
  /// DeliverDue(1): false when none is due.
  absl::StatusOr<bool> DeliverOne();
  /// Closes the digests that are due: per subscription, the deliveries collected before its
  /// closing become one `notification.digest` delivery (several past 500 events), sent like any
  /// other; then the next closing is set. One transaction per subscription, the row locked
  /// SKIP LOCKED: replicas never close the same digest twice. How many digests were made.
  absl::StatusOr<int> CloseDigests();
  /// Deletes deliveries that ended (succeeded or failed) before `now - keep`, their attempts,
  /// and the events no delivery needs any more; how many deliveries went.
  absl::StatusOr<int64_t> Prune(absl::Duration keep);
  /// Called after each attempt (metrics).
  void OnAttempt(std::function<void(const SendResult&)> f) { on_attempt_ = std::move(f); }
  /// Ends the workers' loops promptly.
  void Shutdown() {
    stopping_ = true;
    Wake();
  }
  /// Tells idle workers new deliveries may be due (after the consumer committed some).
  void Wake() {
    {
      std::lock_guard lock(wake_mu_);
      ++wake_generation_;
    }
    wake_cv_.notify_all();
  }
  /// An idle worker's pause: until Wake, Shutdown or `most` passed.
  void WaitForWork(std::chrono::milliseconds most) {
    std::unique_lock lock(wake_mu_);
    const uint64_t seen = wake_generation_;
    wake_cv_.wait_for(lock, most, [&] { return wake_generation_ != seen || stopping_; });
  }
  bool stopping() const { return stopping_; }

 private:
  absl::Status Validate(const v1::Subscription& s, const std::vector<std::string>& mask,
                        bool create);
  absl::StatusOr<std::string> ParseName(const std::string& name, const std::string& field);

  struct Claimed;
  // Sends one claimed delivery (a signed webhook request or an e-mail); the attempt's result.
  SendResult Send(const Claimed& delivery, absl::Time now) const;
  SendResult SendMail(const Claimed& delivery, absl::Time now) const;

  db::Pool& pool_;
  const net::DestinationPolicy& policy_;
  const Sender& sender_;
  const clocks::Clock& clock_;
  Options options_;
  MailSettings mail_;
  SubscriptionIndex index_;
  std::atomic<int64_t> seen_change_{0};
  std::atomic<bool> stopping_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  uint64_t wake_generation_ = 0;
  std::function<void(const SendResult&)> on_attempt_;
};

}  // namespace passerelle::notifications
