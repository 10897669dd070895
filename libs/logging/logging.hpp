// Structured logs: one JSON object per line (time, service, level, message, request and trace ids).
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace passerelle::logging {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

/// Parses debug|info|warn|error.
bool ParseLevel(std::string_view text, Level* out);
std::string_view LevelName(Level level);

/// Sets the service name, minimum level and destination (stderr by default) for the process.
void Init(std::string service, Level min_level, std::ostream* out = nullptr);

/// The ids of the request being served on this thread; logged with every line.
struct RequestIds {
  std::string request_id;
  std::string trace_id;
};

/// Sets the current thread's request ids for the lifetime of the object, restoring the
/// previous ones after (handlers nest).
class ScopedRequest {
 public:
  explicit ScopedRequest(RequestIds ids);
  ~ScopedRequest();
  ScopedRequest(const ScopedRequest&) = delete;
  ScopedRequest& operator=(const ScopedRequest&) = delete;

 private:
  RequestIds previous_;
};

/// The current thread's request ids.
const RequestIds& CurrentRequest();

/// Writes one line if `level` passes the minimum. `fields` are merged into the object.
void Log(Level level, std::string_view message, const nlohmann::json& fields = nullptr);

/// Builds the line without writing it (exposed for tests).
std::string FormatLine(Level level, std::string_view message, const nlohmann::json& fields);

inline void Debug(std::string_view m, const nlohmann::json& f = nullptr) { Log(Level::kDebug, m, f); }
inline void Info(std::string_view m, const nlohmann::json& f = nullptr) { Log(Level::kInfo, m, f); }
inline void Warn(std::string_view m, const nlohmann::json& f = nullptr) { Log(Level::kWarn, m, f); }
inline void Error(std::string_view m, const nlohmann::json& f = nullptr) { Log(Level::kError, m, f); }

}  // namespace passerelle::logging
