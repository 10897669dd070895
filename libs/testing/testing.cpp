// Test fixtures and process helpers.
#include "libs/testing/testing.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace passerelle::testing {
namespace {

std::string RequiredEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name
                  << " is not set: run the tests through the README's test command "
                     "(deploy/local/passerelle test), which starts PostgreSQL and NATS";
    return "";
  }
  return v;
}

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string DatabaseUrl() { return RequiredEnv("PASSERELLE_TEST_DATABASE_URL"); }
std::string NatsUrl() { return RequiredEnv("PASSERELLE_TEST_NATS_URL"); }

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}() % 100000;
  return absl::StrCat(prefix, "_", getpid(), "_", counter++, "_", salt);
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string BuildDir() { return PASSERELLE_BUILD_DIR; }
std::string SourceDir() { return PASSERELLE_SOURCE_DIR; }

void PgTest::SetUp() {
  const std::string url = DatabaseUrl();
  ASSERT_FALSE(url.empty());
  schema_ = UniqueName("t");
  pool_ = NewPool(8);
}

std::unique_ptr<db::Pool> PgTest::NewPool(int size) const {
  return std::make_unique<db::Pool>(
      db::PoolOptions{.uri = DatabaseUrl(), .schema = schema_, .size = size});
}

absl::Status PgTest::MigrateSchema(const std::vector<db::Component>& components) {
  auto lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  return db::Migrate(**lease, schema_, components);
}

void PgTest::TearDown() {
  if (!pool_) return;
  pool_->Close();
  try {
    pqxx::connection conn(DatabaseUrl());
    pqxx::nontransaction tx(conn);
    tx.exec0("DROP SCHEMA IF EXISTS " + db::QuoteIdent(schema_) + " CASCADE");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "dropping test schema " << schema_ << ": " << e.what();
  }
}

std::unique_ptr<Process> Process::Start(const std::vector<std::string>& argv,
                                        const std::map<std::string, std::string>& env) {
  auto p = std::unique_ptr<Process>(new Process());
  p->log_path_ = std::filesystem::temp_directory_path() / (UniqueName("proc") + ".log");
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(p->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    setpgid(0, 0);
    for (const auto& [k, v] : env) {
      if (v.empty()) {
        unsetenv(k.c_str());
      } else {
        setenv(k.c_str(), v.c_str(), 1);
      }
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    perror("execv");
    _exit(127);
  }
  p->pid_ = pid;
  return p;
}

Process::~Process() {
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(5));
  }
  std::error_code ec;
  std::filesystem::remove(log_path_, ec);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Process::Signal(int sig) {
  if (pid_ > 0 && !status_) kill(pid_, sig);
}

std::string Process::Output() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

NatsServer::NatsServer() : port_(FreePort()) {
  store_dir_ = std::filesystem::temp_directory_path() / UniqueName("nats");
  std::filesystem::create_directories(store_dir_);
}

NatsServer::~NatsServer() {
  if (process_) process_->Signal(SIGKILL);
  process_.reset();
  std::error_code ec;
  std::filesystem::remove_all(store_dir_, ec);
}

void NatsServer::Start() {
  process_ = Process::Start({"/usr/sbin/nats-server", "-a", "127.0.0.1", "-p",
                             std::to_string(port_), "-js", "-sd", store_dir_});
  ASSERT_TRUE(WaitFor([&] { return CanConnect(port_); }, std::chrono::seconds(10)))
      << "nats-server did not start: " << process_->Output();
}

void NatsServer::Kill() {
  if (!process_) return;
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(5));
  process_.reset();
}

std::string NatsServer::url() const { return absl::StrCat("nats://127.0.0.1:", port_); }

ServiceBinary::ServiceBinary(const std::string& binary,
                             std::map<std::string, std::string> extra_env)
    : path_(BuildDir() + "/" + binary),
      schema_(UniqueName("svc")),
      prefix_(UniqueName("svc")),
      extra_env_(std::move(extra_env)) {}

ServiceBinary::~ServiceBinary() {
  try {
    pqxx::connection c(DatabaseUrl());
    pqxx::nontransaction tx(c);
    tx.exec0("DROP SCHEMA IF EXISTS " + db::QuoteIdent(schema_) + " CASCADE");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "dropping " << schema_ << ": " << e.what();
  }
}

std::map<std::string, std::string> ServiceBinary::Env() const {
  std::map<std::string, std::string> env = {
      {"PASSERELLE_DATABASE_URL", DatabaseUrl()},
      {"PASSERELLE_DATABASE_SCHEMA", schema_},
      {"PASSERELLE_NATS_URL", NatsUrl()},
      {"PASSERELLE_NATS_PREFIX", prefix_},
      {"PASSERELLE_GRPC_ADDRESS", grpc_address()},
      {"PASSERELLE_METRICS_ADDRESS", "127.0.0.1:" + std::to_string(metrics_port_)}};
  for (const auto& [k, v] : extra_env_) env[k] = v;
  return env;
}

std::unique_ptr<Process> ServiceBinary::Start() {
  std::unique_ptr<Process> p;
  bool ready = false;
  // A restart asks for the ports it had, which any process of the machine may have taken since
  // (an outgoing connection's ephemeral port, another test's server): tried again for a few
  // seconds, then on ports of the system's choosing (the ready line says which).
  const auto reuse_until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    p = Process::Start({path_}, Env());
    ready = WaitFor(
        [&] {
          return p->Output().find("\"message\":\"ready\"") != std::string::npos ||
                 p->Wait(std::chrono::milliseconds(0)).has_value();
        },
        std::chrono::seconds(20));
    const std::string out = p->Output();
    const bool exited = !ready || p->Wait(std::chrono::milliseconds(0)).has_value();
    const bool port_taken = exited && (out.find("the port is taken") != std::string::npos ||
                                       out.find("cannot serve metrics on") != std::string::npos ||
                                       out.find("Address already in use") != std::string::npos);
    if (!port_taken || (grpc_port_ == 0 && metrics_port_ == 0)) break;
    p->Wait(std::chrono::seconds(5));
    if (std::chrono::steady_clock::now() >= reuse_until) grpc_port_ = metrics_port_ = 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(ready && !p->Wait(std::chrono::milliseconds(0)).has_value()) << p->Output();
  // {"grpc_port":N,...,"message":"ready","metrics_port":M,...}
  const std::string out = p->Output();
  const size_t ready_at = out.find("\"message\":\"ready\"");
  if (ready_at != std::string::npos) {
    const size_t line =
        out.rfind('\n', ready_at) == std::string::npos ? 0 : out.rfind('\n', ready_at);
    const std::string ready_line = out.substr(line, out.find('\n', ready_at) - line);
    auto number = [&](const std::string& key) {
      const size_t at = ready_line.find("\"" + key + "\":");
      return at == std::string::npos ? 0 : std::atoi(ready_line.c_str() + at + key.size() + 3);
    };
    grpc_port_ = number("grpc_port");
    metrics_port_ = number("metrics_port");
  }
  EXPECT_GT(grpc_port_, 0) << "no port in the ready line: " << out;
  return p;
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

std::optional<std::string> HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  auto res = client.Get(path.c_str());
  if (!res || res->status != 200) return std::nullopt;
  return res->body;
}

std::optional<double> MetricValue(const std::string& exposition, const std::string& series) {
  const std::string line = series + " ";
  size_t at = 0;
  if (!exposition.starts_with(line)) {
    at = exposition.find("\n" + line);
    if (at == std::string::npos) return std::nullopt;
    ++at;
  }
  char* end = nullptr;
  const char* value = exposition.c_str() + at + line.size();
  const double v = std::strtod(value, &end);
  // The value ends its line, or is followed by a timestamp.
  if (end == value || (*end != '\0' && *end != '\n' && *end != ' ')) return std::nullopt;
  return v;
}

std::optional<double> ScrapeMetric(int metrics_port, const std::string& series) {
  auto body = HttpGet(metrics_port, "/metrics");
  if (!body) return std::nullopt;
  return MetricValue(*body, series);
}

void StopServer(httplib::Server& server, std::thread& thread) {
  EXPECT_TRUE(WaitFor([&] { return server.is_running(); }, std::chrono::seconds(10)))
      << "the test's HTTP server never started listening";
  server.stop();
  if (thread.joinable()) thread.join();
}

}  // namespace passerelle::testing
