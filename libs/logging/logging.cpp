// Structured JSON-lines logger shared by every binary.
#include "libs/logging/logging.hpp"

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace passerelle::logging {
namespace {

struct State {
  std::mutex mu;
  std::string service = "passerelle";
  std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
  std::ostream* out = &std::cerr;
};

State& GetState() {
  static State* state = new State();  // never destroyed: logging works during static teardown
  return *state;
}

thread_local RequestIds current_ids;

}  // namespace

bool ParseLevel(std::string_view text, Level* out) {
  if (text == "debug") *out = Level::kDebug;
  else if (text == "info") *out = Level::kInfo;
  else if (text == "warn") *out = Level::kWarn;
  else if (text == "error") *out = Level::kError;
  else return false;
  return true;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void Init(std::string service, Level min_level, std::ostream* out) {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mu);
  s.service = std::move(service);
  s.min_level = static_cast<int>(min_level);
  if (out != nullptr) s.out = out;
}

ScopedRequest::ScopedRequest(RequestIds ids) : previous_(std::move(current_ids)) {
  current_ids = std::move(ids);
}

ScopedRequest::~ScopedRequest() { current_ids = std::move(previous_); }

const RequestIds& CurrentRequest() { return current_ids; }

std::string FormatLine(Level level, std::string_view message, const nlohmann::json& fields) {
  State& s = GetState();
  nlohmann::json line = nlohmann::json::object();
  line["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
  {
    std::lock_guard<std::mutex> lock(s.mu);
    line["service"] = s.service;
  }
  line["level"] = LevelName(level);
  line["message"] = message;
  if (!current_ids.request_id.empty()) line["request_id"] = current_ids.request_id;
  if (!current_ids.trace_id.empty()) line["trace_id"] = current_ids.trace_id;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      if (!line.contains(it.key())) line[it.key()] = it.value();
    }
  }
  // Replace invalid UTF-8 rather than throw: a log line must never take a request down.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Log(Level level, std::string_view message, const nlohmann::json& fields) {
  State& s = GetState();
  if (static_cast<int>(level) < s.min_level.load()) return;
  std::string line = FormatLine(level, message, fields);
  std::lock_guard<std::mutex> lock(s.mu);
  *s.out << line << '\n';
  s.out->flush();
}

}  // namespace passerelle::logging
