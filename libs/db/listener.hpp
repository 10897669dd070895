// PostgreSQL LISTEN on a connection of its own, for a loop that should run when a table changes
// (NOTIFY is delivered when the notifying transaction commits) and not only on a timer.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

struct pg_conn;

namespace passerelle::db {

/// One channel, one connection, one thread calling Wait (Stop may come from any other).
/// The connection opens at the first Wait and again after it breaks (a PostgreSQL restart, a
/// cut): notifications sent while it is closed are lost, so a caller catches up after every
/// return, whatever the reason, and waits with a timeout it can afford to poll at.
class Listener {
 public:
  /// `uri`: libpq connection URI; `channel`: any name of at most 63 bytes (quoted as LISTEN's
  /// identifier); `application_name`: what pg_stat_activity shows for its connection.
  Listener(std::string uri, std::string channel, std::string application_name = "");
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  enum class Wake {
    kNotified,  // one or more notifications on the channel (all read)
    kTimeout,   // the timeout passed (or the connection could not be opened in it)
    kStopped,   // Stop was called: no more waiting
  };
  /// Waits at most `timeout` (connecting first if needed, within the same time).
  Wake Wait(std::chrono::milliseconds timeout);
  /// Makes the current Wait and every later one return kStopped at once.
  void Stop();
  /// Whether the LISTEN is in place (for logs and tests).
  bool listening() const { return listening_.load(); }

 private:
  using Deadline = std::chrono::steady_clock::time_point;
  bool Connect(Deadline deadline);
  bool Listen(Deadline deadline);
  // Polls the connection's socket (for `events`) and the stop signal until the deadline:
  // 1 when the socket is ready, 0 at the deadline, -1 when stopped.
  int PollSocket(short events, Deadline deadline);
  void Close();
  // libpq's last error on the connection, after the server's last notice when there is one.
  std::string LastError() const;

  const std::string uri_;
  const std::string channel_;
  const std::string application_name_;
  pg_conn* conn_ = nullptr;
  int stop_fd_ = -1;  // an eventfd, readable once Stop was called
  std::atomic<bool> stopped_{false};
  std::atomic<bool> listening_{false};
  bool down_logged_ = false;  // an outage is logged once
  std::string last_notice_;   // the server's last notice on the connection (its FATAL at a cut)
};

}  // namespace passerelle::db
