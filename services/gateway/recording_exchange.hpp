// An HTTP exchange in memory, for the gateway's unit tests: the request given, the responses
// (or stream heads) recorded, the body read back as the request's.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "libs/http/server.hpp"

namespace passerelle::gateway {

class RecordingExchange : public http::Exchange {
 public:
  explicit RecordingExchange(http::Request request) : request_(std::move(request)) {}
  const http::Request& request() const override { return request_; }
  void Respond(http::Response response) override { Record(std::move(response)); }
  void StartStream(http::Response head) override { Record(std::move(head)); }
  void WriteChunk(std::string, std::function<void(bool)> done) override { done(false); }
  void FinishStream() override {}
  void AbortStream() override {}
  void ReadBody(std::function<void(bool, std::string, bool)> cb) override {
    cb(true, request_.body, true);
  }
  void OnCancel(std::function<void()>) override {}
  /// Waits until `n` answers were given (an answer from a backend comes on another thread).
  bool WaitForResponses(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return responses.size() >= n; });
  }
  std::vector<http::Response> responses;  // read after the answers came

 private:
  void Record(http::Response r) {
    std::lock_guard<std::mutex> lock(mu_);
    responses.push_back(std::move(r));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  http::Request request_;
};

/// The value of a response header by its exact (lower-case) name, or "".
inline std::string HeaderOf(const http::Response& r, std::string_view name) {
  for (const http::Header& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return "";
}

}  // namespace passerelle::gateway
