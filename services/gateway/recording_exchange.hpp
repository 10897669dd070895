// An HTTP exchange in memory, for the gateway's unit tests: the request given, the responses
// (or stream heads) recorded, the body read back as the request's.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "libs/http/server.hpp"

namespace passerelle::gateway {

class RecordingExchange : public http::Exchange {
 public:
  explicit RecordingExchange(http::Request request) : request_(std::move(request)) {}
  const http::Request& request() const override { return request_; }
  void Respond(http::Response response) override { responses.push_back(std::move(response)); }
  void StartStream(http::Response head) override { responses.push_back(std::move(head)); }
  void WriteChunk(std::string, std::function<void(bool)> done) override { done(false); }
  void FinishStream() override {}
  void AbortStream() override {}
  void ReadBody(std::function<void(bool, std::string, bool)> cb) override {
    cb(true, request_.body, true);
  }
  void OnCancel(std::function<void()>) override {}
  std::vector<http::Response> responses;

 private:
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
