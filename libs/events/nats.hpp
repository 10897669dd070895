// A NATS connection with its JetStream context: connect, ensure streams, publish with an id.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace passerelle::events {

struct NatsOptions {
  /// nats://host:port
  std::string url;
  /// Client name shown in the server's monitor.
  std::string name = "passerelle";
  /// How long a JetStream request (publish ack, consumer creation) may take.
  std::chrono::milliseconds request_timeout{5000};
};

struct StreamConfig {
  std::string name;
  std::vector<std::string> subjects;
  /// Window in which a repeated Nats-Msg-Id is dropped. It must be longer than the longest
  /// outage after which a relay republishes what it published but could not mark sent.
  std::chrono::milliseconds duplicate_window{std::chrono::hours(2)};
  /// How long messages are kept (0: forever).
  std::chrono::milliseconds max_age{std::chrono::hours(24 * 30)};
};

/// What happened to a connection, as its listeners are told (on nats.c's threads).
enum class ConnectionChange {
  /// The link to the server is lost: messages published meanwhile are not seen.
  kDisconnected,
  /// The link is back (plain subscriptions are renewed by the client).
  kReconnected,
  /// A subscription fell behind and the client dropped messages it had not handed over.
  kMessagesDropped,
};

/// Owns the connection. Reconnects forever in the background (nats.c), so a restarted server
/// is picked up by itself; calls made while disconnected fail with UNAVAILABLE and are retried by
/// their callers.
class NatsClient {
 public:
  static absl::StatusOr<std::unique_ptr<NatsClient>> Connect(const NatsOptions& options);
  ~NatsClient();
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  /// Creates the stream, or updates it when it exists with another configuration.
  absl::Status EnsureStream(const StreamConfig& config);
  /// Publishes to JetStream and waits for the stream's ack. `msg_id` becomes Nats-Msg-Id.
  /// Returns OK for a duplicate too (the stream already holds it), with *duplicate set.
  /// OUT_OF_RANGE, without trying, for a message larger than the server's max_payload: it
  /// would never be accepted, so retrying it is pointless.
  absl::Status Publish(const std::string& subject, const std::string& data,
                       const std::string& msg_id,
                       const std::map<std::string, std::string>& headers = {},
                       bool* duplicate = nullptr);
  /// The largest message the server accepts (its `max_payload`, learnt at connect).
  int64_t MaxPayload() const;
  /// Deletes a stream (tests).
  absl::Status DeleteStream(const std::string& name);

  natsConnection* connection() const { return conn_; }
  jsCtx* jetstream() const { return js_; }
  const NatsOptions& options() const { return options_; }
  bool connected() const;

  /// Calls `listener` on each change of the connection, from the client's own threads, until
  /// the returned id is given to RemoveListener (which waits for a call in progress).
  int AddListener(std::function<void(ConnectionChange)> listener);
  void RemoveListener(int id);

  /// Shared with nats.c's callbacks, which may run until the connection's close is reported.
  struct Listeners;

 private:
  explicit NatsClient(NatsOptions options);

  NatsOptions options_;
  std::shared_ptr<Listeners> listeners_;
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
};

/// A NATS status as an absl::Status, with the JetStream error code when there is one.
absl::Status FromNats(natsStatus s, jsErrCode jerr, const std::string& what);

}  // namespace passerelle::events
