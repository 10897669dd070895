// A plain, non-durable subscription to events, for views kept in memory beside them (the
// gateway's answer cache). Unlike a Consumer it keeps no position and acks nothing: it sees the
// events published while it is connected, and says when it may have missed some, so the view
// can drop what it can no longer trust instead of serving it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "libs/events/nats.hpp"
#include "passerelle/events/v1/event.pb.h"

namespace passerelle::events {

struct WatchHandlers {
  /// Each event that arrives, in the order the server sent them (one at a time).
  std::function<void(const v1::Event&)> on_event;
  /// Events may have been missed or could not be read: what the view derived from them, it
  /// should forget. Called with `live` false when the link to the server is lost (nothing more
  /// can be trusted until it is back) and true when the watch sees events again; `why` is
  /// `disconnected`, `reconnected`, `dropped` (the client dropped messages it could not hand
  /// over in time) or `unreadable` (a message that is not an event).
  std::function<void(bool live, std::string_view why)> on_gap;
};

class EventWatch {
 public:
  /// Subscribes to `subject` (wildcards allowed, e.g. Topology::AllEvents()). The watch is live
  /// when this returns OK and the client was connected.
  static absl::StatusOr<std::unique_ptr<EventWatch>> Start(NatsClient& nats,
                                                           const std::string& subject,
                                                           WatchHandlers handlers);
  /// Unsubscribes and waits until no handler runs or will run.
  ~EventWatch();
  EventWatch(const EventWatch&) = delete;
  EventWatch& operator=(const EventWatch&) = delete;

  /// Whether events are arriving: connected since the last gap.
  bool live() const { return live_.load(std::memory_order_acquire); }
  /// Messages that were not an event (each one also reported as a gap).
  int64_t unreadable() const { return unreadable_.load(std::memory_order_relaxed); }

 private:
  EventWatch(NatsClient& nats, WatchHandlers handlers);
  static void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* self);
  static void OnComplete(void* self);
  void Changed(ConnectionChange change);

  NatsClient& nats_;
  WatchHandlers handlers_;
  natsSubscription* sub_ = nullptr;
  int listener_ = -1;
  std::atomic<bool> live_{false};
  std::atomic<int64_t> unreadable_{0};
  std::mutex handler_mu_;  // one handler at a time: events and gaps do not interleave
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool done_ = false;  // the subscription delivers nothing more
};

}  // namespace passerelle::events
