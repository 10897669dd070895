#include "libs/events/watch.hpp"

#include "libs/logging/logging.hpp"

namespace passerelle::events {

EventWatch::EventWatch(NatsClient& nats, WatchHandlers handlers)
    : nats_(nats), handlers_(std::move(handlers)) {}

absl::StatusOr<std::unique_ptr<EventWatch>> EventWatch::Start(NatsClient& nats,
                                                              const std::string& subject,
                                                              WatchHandlers handlers) {
  auto watch = std::unique_ptr<EventWatch>(new EventWatch(nats, std::move(handlers)));
  EventWatch* self = watch.get();
  self->listener_ = nats.AddListener([self](ConnectionChange change) { self->Changed(change); });
  natsStatus s =
      natsConnection_Subscribe(&self->sub_, nats.connection(), subject.c_str(), OnMessage, self);
  if (s == NATS_OK) s = natsSubscription_SetOnCompleteCB(self->sub_, OnComplete, self);
  if (s != NATS_OK) {
    nats.RemoveListener(self->listener_);
    self->listener_ = -1;
    if (self->sub_ != nullptr) {
      natsSubscription_Destroy(self->sub_);
      self->sub_ = nullptr;
    }
    self->done_ = true;
    return FromNats(s, jsErrCode(0), "subscribing to " + subject);
  }
  // The subscription is known to the server once it answers a round trip: events published
  // after Start returns are seen.
  if (natsConnection_Flush(nats.connection()) == NATS_OK) {
    self->live_.store(true, std::memory_order_release);
  }
  return watch;
}

EventWatch::~EventWatch() {
  if (listener_ >= 0) nats_.RemoveListener(listener_);
  if (sub_ != nullptr) {
    // Unsubscribing closes the subscription; its completion callback is the last one it makes.
    if (natsSubscription_Unsubscribe(sub_) == NATS_OK) {
      std::unique_lock<std::mutex> lock(done_mu_);
      done_cv_.wait(lock, [this] { return done_; });
    }
    // A message the server sent before it read the UNSUB may still be in the connection's read
    // loop, which looks the subscription up and then locks it: freed now, that lock is a use
    // after free (seen as a crash in natsConn_processMsg under load). A round trip puts the
    // read loop past every such message, since the server answers the PING after sending them.
    // Bounded: a watch stopped while NATS is away must not hold a shutdown up.
    if (nats_.connected()) natsConnection_FlushTimeout(nats_.connection(), 1000);
    natsSubscription_Destroy(sub_);
  }
}

void EventWatch::OnComplete(void* closure) {
  auto* self = static_cast<EventWatch*>(closure);
  std::lock_guard<std::mutex> lock(self->done_mu_);
  self->done_ = true;
  self->done_cv_.notify_all();
}

void EventWatch::OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* self = static_cast<EventWatch*>(closure);
  const int size = natsMsg_GetDataLength(msg);
  v1::Event event;
  const bool read = size >= 0 && event.ParseFromArray(natsMsg_GetData(msg), size);
  {
    std::lock_guard<std::mutex> lock(self->handler_mu_);
    if (read) {
      if (self->handlers_.on_event) self->handlers_.on_event(event);
    } else {
      // Not an event (a producer's mistake or a hostile one): whatever it meant to change is
      // unknown, so the view forgets everything rather than keep what it may have changed.
      self->unreadable_.fetch_add(1, std::memory_order_relaxed);
      if (self->handlers_.on_gap) self->handlers_.on_gap(self->live(), "unreadable");
    }
  }
  if (!read) {
    logging::Warn("message on an event subject is not an event",
                  {{"subject", std::string(natsMsg_GetSubject(msg))}, {"bytes", size}});
  }
  natsMsg_Destroy(msg);
}

void EventWatch::Changed(ConnectionChange change) {
  std::lock_guard<std::mutex> lock(handler_mu_);
  switch (change) {
    case ConnectionChange::kDisconnected:
      live_.store(false, std::memory_order_release);
      if (handlers_.on_gap) handlers_.on_gap(false, "disconnected");
      return;
    case ConnectionChange::kReconnected:
      live_.store(true, std::memory_order_release);
      if (handlers_.on_gap) handlers_.on_gap(true, "reconnected");
      return;
    case ConnectionChange::kMessagesDropped:
      if (handlers_.on_gap) handlers_.on_gap(live(), "dropped");
      return;
  }
}

}  // namespace passerelle::events
