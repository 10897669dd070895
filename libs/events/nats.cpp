// NATS connection and JetStream helpers over nats.c.
#include "libs/events/nats.hpp"

#include <chrono>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "libs/logging/logging.hpp"

namespace passerelle::events {
namespace {

constexpr int kStreamNameInUse = 10058;
// Also what the server answers a second creation of the same stream racing the first (two
// services of one topology starting together): asked again, it names the stream as in use.
constexpr int kSubjectsOverlap = 10065;

int64_t Nanos(std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()) * 1000000; }

}  // namespace

struct NatsClient::Listeners {
  std::mutex mu;  // held while a listener runs: RemoveListener waits for it
  std::map<int, std::function<void(ConnectionChange)>> by_id;
  int next = 0;

  void Tell(ConnectionChange change) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [id, listener] : by_id) listener(change);
  }
};

namespace {

// nats.c's callbacks hold the listeners through a heap-allocated shared_ptr, freed by the last
// callback of a connection (its close), which may come after the client is gone.
using ListenersRef = std::shared_ptr<NatsClient::Listeners>;

void OnDisconnected(natsConnection*, void* closure) {
  logging::Warn("NATS disconnected");
  (*static_cast<ListenersRef*>(closure))->Tell(ConnectionChange::kDisconnected);
}

void OnReconnected(natsConnection*, void* closure) {
  logging::Info("NATS reconnected");
  (*static_cast<ListenersRef*>(closure))->Tell(ConnectionChange::kReconnected);
}

void OnClosed(natsConnection*, void* closure) { delete static_cast<ListenersRef*>(closure); }

void OnAsyncError(natsConnection*, natsSubscription*, natsStatus s, void* closure) {
  if (s == NATS_SLOW_CONSUMER) {
    logging::Warn("NATS subscription fell behind: messages dropped");
    (*static_cast<ListenersRef*>(closure))->Tell(ConnectionChange::kMessagesDropped);
    return;
  }
  logging::Warn("NATS asynchronous error", {{"error", std::string(natsStatus_GetText(s))}});
}

}  // namespace

NatsClient::NatsClient(NatsOptions options)
    : options_(std::move(options)), listeners_(std::make_shared<Listeners>()) {}

int NatsClient::AddListener(std::function<void(ConnectionChange)> listener) {
  std::lock_guard<std::mutex> lock(listeners_->mu);
  listeners_->by_id.emplace(listeners_->next, std::move(listener));
  return listeners_->next++;
}

void NatsClient::RemoveListener(int id) {
  std::lock_guard<std::mutex> lock(listeners_->mu);
  listeners_->by_id.erase(id);
}

absl::Status FromNats(natsStatus s, jsErrCode jerr, const std::string& what) {
  if (s == NATS_OK) return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", natsStatus_GetText(s));
  if (jerr != 0) absl::StrAppend(&msg, " (JetStream error ", static_cast<int>(jerr), ")");
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0') absl::StrAppend(&msg, ": ", last);
  switch (s) {
    case NATS_TIMEOUT:
      return absl::DeadlineExceededError(msg);
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_NO_RESPONDERS:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
      return absl::UnavailableError(msg);
    case NATS_NOT_FOUND:
      return absl::NotFoundError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<std::unique_ptr<NatsClient>> NatsClient::Connect(const NatsOptions& options) {
  auto client = std::unique_ptr<NatsClient>(new NatsClient(options));
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, options.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(opts, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);  // forever
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts, false, nullptr, nullptr);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
  auto* closure = new ListenersRef(client->listeners_);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, OnDisconnected, closure);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, OnReconnected, closure);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, OnAsyncError, closure);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, OnClosed, closure);
  if (s == NATS_OK) s = natsConnection_Connect(&client->conn_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    if (client->conn_ == nullptr) delete closure;  // no connection: no close to free it
    return FromNats(s, jsErrCode(0), "connecting to NATS at " + options.url);
  }

  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options.request_timeout.count();
  s = natsConnection_JetStream(&client->js_, client->conn_, &jo);
  if (s != NATS_OK) return FromNats(s, jsErrCode(0), "opening JetStream");
  return client;
}

NatsClient::~NatsClient() {
  {
    std::lock_guard<std::mutex> lock(listeners_->mu);
    listeners_->by_id.clear();  // nobody is told of the close below
  }
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (conn_ != nullptr) {
    natsConnection_Close(conn_);
    natsConnection_Destroy(conn_);
  }
}

bool NatsClient::connected() const {
  return conn_ != nullptr && natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

absl::Status NatsClient::EnsureStream(const StreamConfig& config) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = config.name.c_str();
  std::vector<const char*> subjects;
  for (const auto& s : config.subjects) subjects.push_back(s.c_str());
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Storage = js_FileStorage;
  cfg.Duplicates = Nanos(config.duplicate_window);
  cfg.MaxAge = Nanos(config.max_age);
  jsErrCode jerr = jsErrCode(0);
  jsStreamInfo* info = nullptr;
  natsStatus s = NATS_OK;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
    jerr = jsErrCode(0);
    s = js_AddStream(&info, js_, &cfg, nullptr, &jerr);
    if (s != NATS_OK && static_cast<int>(jerr) == kStreamNameInUse) {
      jerr = jsErrCode(0);
      s = js_UpdateStream(&info, js_, &cfg, nullptr, &jerr);
    }
    // A stream of another name holding these subjects answers the same on every attempt.
    if (s == NATS_OK || static_cast<int>(jerr) != kSubjectsOverlap) break;
  }
  if (info != nullptr) jsStreamInfo_Destroy(info);
  return FromNats(s, jerr, "ensuring stream " + config.name);
}

absl::Status NatsClient::DeleteStream(const std::string& name) {
  jsErrCode jerr = jsErrCode(0);
  return FromNats(js_DeleteStream(js_, name.c_str(), nullptr, &jerr), jerr, "deleting " + name);
}

int64_t NatsClient::MaxPayload() const { return natsConnection_GetMaxPayload(conn_); }

absl::Status NatsClient::Publish(const std::string& subject, const std::string& data,
                                 const std::string& msg_id,
                                 const std::map<std::string, std::string>& headers,
                                 bool* duplicate) {
  size_t size = subject.size() + data.size() + msg_id.size() + 64;
  for (const auto& [k, v] : headers) size += k.size() + v.size() + 4;
  if (const int64_t max = MaxPayload(); max > 0 && static_cast<int64_t>(size) > max) {
    return absl::OutOfRangeError(
        absl::StrCat("message of ", size, " bytes exceeds the server's max_payload of ", max));
  }
  natsMsg* msg = nullptr;
  natsStatus s =
      natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  for (const auto& [k, v] : headers) {
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, k.c_str(), v.c_str());
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = msg_id.c_str();
  po.MaxWait = options_.request_timeout.count();
  jsPubAck* ack = nullptr;
  jsErrCode jerr = jsErrCode(0);
  if (s == NATS_OK) s = js_PublishMsg(&ack, js_, msg, &po, &jerr);
  if (duplicate != nullptr) *duplicate = ack != nullptr && ack->Duplicate;
  if (ack != nullptr) jsPubAck_Destroy(ack);
  natsMsg_Destroy(msg);
  return FromNats(s, jerr, "publishing to " + subject);
}

}  // namespace passerelle::events
