#include "libs/db/listener.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "libs/logging/logging.hpp"

namespace passerelle::db {
namespace {

// `s` without its trailing line breaks and spaces (libpq ends its messages with one).
std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Milliseconds left until `deadline`, rounded up (0 when past).
int MillisUntil(std::chrono::steady_clock::time_point deadline) {
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

}  // namespace

Listener::Listener(std::string uri, std::string channel, std::string application_name)
    : uri_(std::move(uri)),
      channel_(std::move(channel)),
      application_name_(std::move(application_name)) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Listener::~Listener() {
  Close();
  if (stop_fd_ >= 0) close(stop_fd_);
}

void Listener::Stop() {
  stopped_ = true;
  const uint64_t one = 1;
  if (stop_fd_ >= 0) {
    [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof one);
  }
}

std::string Listener::LastError() const {
  if (conn_ == nullptr) return "out of memory";  // PQconnectStartParams' only failure
  std::string error = Trimmed(PQerrorMessage(conn_));
  return last_notice_.empty() ? error : last_notice_ + " (" + error + ")";
}

void Listener::Close() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  last_notice_.clear();
  listening_ = false;
}

int Listener::PollSocket(short events, Deadline deadline) {
  while (true) {
    pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {conn_ ? PQsocket(conn_) : -1, events, 0}};
    const int n = poll(fds, 2, MillisUntil(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (stopped_ || (n > 0 && fds[0].revents != 0)) return -1;
    if (n > 0 && fds[1].revents != 0) return 1;
    if (n <= 0) return 0;  // the deadline (a poll error is treated as one: the caller retries)
  }
}

bool Listener::Connect(Deadline deadline) {
  // The URI expanded, then what follows it overrides: TCP keepalives, since the connection only
  // reads and a peer gone without a word (a half-open connection) would otherwise be noticed
  // hours later; then the name, when given.
  const char* keys[] = {"dbname",
                        "keepalives",
                        "keepalives_idle",
                        "keepalives_interval",
                        "keepalives_count",
                        application_name_.empty() ? nullptr : "application_name",
                        nullptr};
  const char* values[] = {uri_.c_str(), "1", "30", "10", "3", application_name_.c_str(), nullptr};
  conn_ = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  if (conn_ == nullptr) return false;
  // libpq prints notices on stderr; the server's last word before a cut ("terminating connection
  // due to administrator command") arrives as one. Kept for the log line, not printed.
  PQsetNoticeProcessor(
      conn_,
      [](void* self, const char* message) {
        static_cast<Listener*>(self)->last_notice_ = Trimmed(message);
      },
      this);
  if (PQstatus(conn_) == CONNECTION_BAD) return false;
  // libpq's asynchronous connection: each step says which way the socket must be ready.
  PostgresPollingStatusType step = PGRES_POLLING_WRITING;
  while (step != PGRES_POLLING_OK) {
    if (step == PGRES_POLLING_FAILED) return false;
    if (PollSocket(step == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline) <= 0) return false;
    step = PQconnectPoll(conn_);
  }
  return true;
}

bool Listener::Listen(Deadline deadline) {
  char* ident = PQescapeIdentifier(conn_, channel_.data(), channel_.size());
  if (ident == nullptr) return false;
  const std::string sql = std::string("LISTEN ") + ident;
  PQfreemem(ident);
  if (PQsendQuery(conn_, sql.c_str()) == 0) return false;
  bool ok = false;
  while (true) {
    while (PQisBusy(conn_) != 0) {
      if (PollSocket(POLLIN, deadline) <= 0 || PQconsumeInput(conn_) == 0) return false;
    }
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) return ok;
    ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
  }
}

Listener::Wake Listener::Wait(std::chrono::milliseconds timeout) {
  if (stopped_) return Wake::kStopped;
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  if (conn_ == nullptr) {
    if (!Connect(deadline) || !Listen(deadline)) {
      const std::string error = LastError();
      Close();
      if (stopped_) return Wake::kStopped;
      if (!down_logged_) {  // once per outage, not every timeout
        logging::Warn("cannot listen to PostgreSQL notifications; polling until it can",
                      {{"channel", channel_}, {"error", error}});
        down_logged_ = true;
      }
      // Not reachable now: the rest of the time is waited, then the caller polls.
      return PollSocket(0, deadline) < 0 ? Wake::kStopped : Wake::kTimeout;
    }
    listening_ = true;
    down_logged_ = false;
    logging::Info("listening to PostgreSQL notifications", {{"channel", channel_}});
  }
  while (true) {
    // Reads what has arrived without blocking; 0 when the connection broke.
    if (PQconsumeInput(conn_) == 0) {
      logging::Warn("PostgreSQL notification connection lost; polling until it is back",
                    {{"channel", channel_}, {"error", LastError()}});
      Close();
      down_logged_ = true;
      return Wake::kTimeout;
    }
    bool notified = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      notified = true;
      PQfreemem(n);
    }
    if (notified) {
      // A flood arrives over many reads (a few big notifications each): what is already there
      // is read too, for 20 ms at most, so that a burst wakes the caller a few times, not once
      // per notification.
      const Deadline drained =
          std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
      while (std::chrono::steady_clock::now() < drained &&
             PollSocket(POLLIN, std::chrono::steady_clock::now()) == 1 &&
             PQconsumeInput(conn_) != 0) {
        while (PGnotify* n = PQnotifies(conn_)) PQfreemem(n);
      }
      return Wake::kNotified;
    }
    const int ready = PollSocket(POLLIN, deadline);
    if (ready < 0) return Wake::kStopped;
    if (ready == 0) return Wake::kTimeout;
  }
}

}  // namespace passerelle::db
