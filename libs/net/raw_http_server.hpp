// For tests: a TCP server on loopback that answers each request with whatever bytes a test
// writes (invalid headers, bodies that trickle, redirects), which a real HTTP server would not.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace passerelle::net {

class RawHttpServer {
 public:
  /// `respond(fd, request)` writes the answer; it may call Send and Sleep. The connection is
  /// closed when it returns.
  using Responder = std::function<void(RawHttpServer& server, int fd, const std::string& request)>;

  explicit RawHttpServer(Responder respond) : respond_(std::move(respond)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listen_fd_, 16);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~RawHttpServer() {
    stop_ = true;
    thread_.join();
    for (auto& t : connections_) t.join();
    close(listen_fd_);
  }
  int port() const { return port_; }
  int requests() const { return requests_; }
  bool stopping() const { return stop_; }

  /// False once the peer is gone or the server stops.
  bool Send(int fd, const std::string& bytes) {
    return !stop_ &&
           send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      ++requests_;
      connections_.emplace_back([this, fd] {
        std::string request;
        char buf[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
          pollfd p{fd, POLLIN, 0};
          if (poll(&p, 1, 2000) <= 0) break;
          const ssize_t n = recv(fd, buf, sizeof buf, 0);
          if (n <= 0) break;
          request.append(buf, static_cast<size_t>(n));
        }
        respond_(*this, fd, request);
        close(fd);
      });
    }
  }

  Responder respond_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
  std::vector<std::thread> connections_;
};

}  // namespace passerelle::net
