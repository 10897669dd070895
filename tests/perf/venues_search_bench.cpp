// Benchmark: SearchVenues through gRPC against the same search as a PostGIS query through
// pgbench, on one synthetic national registry, in the same run.
//
//   venues_search_bench [venues] [seconds per scenario] [concurrency]
//
// Needs the test command's servers (PASSERELLE_TEST_DATABASE_URL, PASSERELLE_TEST_NATS_URL):
//   deploy/local/passerelle test -R venues_search_bench -V   (short run, as in every test run)
//   PASSERELLE_BENCH_VENUES=25000 PASSERELLE_BENCH_SECONDS=10 PASSERELLE_BENCH_CLIENTS=16
//     deploy/local/passerelle test -R venues_search_bench -V    (the full run, one line)
// Every scenario asks SearchVenues' BASIC view and PostGIS selects the same fields;
// PASSERELLE_BENCH_VIEW=full asks (and selects) every field instead.
// The load generators (decoding clients, h2load, pgbench) run on the first half of the cores
// this process may use, the servers under test (venues, PostgreSQL) on all of them;
// PASSERELLE_BENCH_CLIENT_CPUS=all lets the load generators run anywhere too.
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/csv/csv.hpp"
#include "libs/standard/standard.hpp"
#include "libs/testing/testing.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/sample_venue.hpp"
#include "tests/perf/national_registry.hpp"
#include "tests/perf/perf_support.hpp"

namespace {

using namespace passerelle;
using passerelle::perf::City;
using passerelle::perf::GenerateRegistry;
using passerelle::perf::kCities;
using Clock = std::chrono::steady_clock;

using passerelle::perf::Env;

struct Figures {
  double throughput = 0, p50_ms = 0, p99_ms = 0;
  long requests = 0, errors = 0;
  long empty = 0;  // answers without a single venue (gRPC scenarios)
};

// Where the load generators run. On two cores the eight decoding clients' threads, left free,
// land between venues' two gRPC threads and their answers: both sides then spend about a third
// more CPU per request and the tail waits on the scheduler (docs/performance.md). Client and
// server run on different machines in production; here the load generators keep to the first
// half of the allowed cores (CPU 0 of two) and the servers keep every core.
struct LoadCpus {
  cpu_set_t set;
  std::string list;  // for taskset -c; empty: not pinned
};

const LoadCpus& LoadPlacement() {
  static const LoadCpus placement = [] {
    LoadCpus p;
    CPU_ZERO(&p.set);
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (Env("PASSERELLE_BENCH_CLIENT_CPUS") == "all" ||
        sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
      return p;
    }
    std::vector<int> cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    }
    if (cpus.size() < 2) return p;  // one core: nothing to separate
    std::vector<std::string> names;
    for (size_t i = 0; i < cpus.size() / 2; ++i) {
      CPU_SET(cpus[i], &p.set);
      names.push_back(std::to_string(cpus[i]));
    }
    p.list = absl::StrJoin(names, ",");
    return p;
  }();
  return placement;
}

// Keeps the calling thread (a load generator's) on the load generators' cores, unless `spread`.
void PlaceLoadThread(bool spread = false) {
  const LoadCpus& p = LoadPlacement();
  if (spread || p.list.empty()) return;
  pthread_setaffinity_np(pthread_self(), sizeof(p.set), &p.set);
}

// A load generator's command line, started on the load generators' cores.
std::string Placed(const std::string& cmd) {
  const LoadCpus& p = LoadPlacement();
  return p.list.empty() ? cmd : absl::StrCat("taskset -c ", p.list, " ", cmd);
}

Figures Percentiles(std::vector<double>& ms, double seconds, long errors) {
  Figures f;
  std::sort(ms.begin(), ms.end());
  f.requests = static_cast<long>(ms.size());
  f.errors = errors;
  f.throughput = ms.size() / seconds;
  if (!ms.empty()) {
    f.p50_ms = ms[ms.size() / 2];
    f.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  }
  return f;
}

// The random searches the decoding clients send, from `seed`: 5 km around a point near one of
// the cities (about 3 km of jitter), with the service filter or, `with_text`, one word.
class RandomSearches {
 public:
  RandomSearches(unsigned seed, bool with_text, venues::v1::VenueView view)
      : rng_(seed), with_text_(with_text), view_(view) {}
  venues::v1::SearchVenuesRequest Next() {
    static constexpr const char* kWords[] = {"mediatheque", "centre social", "france services",
                                             "mairie"};
    const City& c = kCities[rng_() % kCities.size()];
    venues::v1::SearchVenuesRequest req;
    req.mutable_near()->set_latitude(c.lat + jitter_(rng_));
    req.mutable_near()->set_longitude(c.lon + jitter_(rng_));
    req.mutable_near()->set_radius_meters(5000);
    req.set_view(view_);
    if (with_text_) {
      req.set_query(kWords[rng_() % 4]);
    } else {
      req.add_services(venues::v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
    }
    return req;
  }

 private:
  std::mt19937 rng_;
  std::normal_distribution<double> jitter_{0, 0.03};
  bool with_text_;
  venues::v1::VenueView view_;
};

// Closed-loop load: `concurrency` threads, each a synchronous client on its own channel, on the
// load generators' cores (`spread`: anywhere).
Figures LoadGrpc(const std::string& address, int concurrency, double seconds, bool with_text,
                 venues::v1::VenueView view, unsigned seed, bool spread = false) {
  std::vector<std::vector<double>> lat(concurrency);
  std::atomic<long> errors{0}, empty{0};
  std::vector<std::thread> threads;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      PlaceLoadThread(spread);
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per client thread
      auto stub = venues::v1::VenueService::NewStub(
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
      RandomSearches searches(seed + t, with_text, view);
      // Each answer decoded into an arena on a block the thread reuses, as a client decoding
      // many answers would: no malloc and free for each of its venues' fields.
      std::vector<char> block(256 * 1024);
      while (Clock::now() < end) {
        const venues::v1::SearchVenuesRequest req = searches.Next();
        grpc::ClientContext ctx;
        google::protobuf::ArenaOptions options;
        options.initial_block = block.data();
        options.initial_block_size = block.size();
        google::protobuf::Arena arena(options);
        auto& resp =
            *google::protobuf::Arena::CreateMessage<venues::v1::SearchVenuesResponse>(&arena);
        auto t0 = Clock::now();
        grpc::Status st = stub->SearchVenues(&ctx, req, &resp);
        lat[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!st.ok()) ++errors;
        if (st.ok() && resp.results_size() == 0) ++empty;
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  Figures f = Percentiles(all, seconds, errors);
  f.empty = empty;
  return f;
}

// The same closed-loop load from one thread: `concurrency` calls in flight, each on its own
// channel, driven by one completion queue; each answer decoded as the blocking clients do. Its
// latencies leave out the scheduling of `concurrency` client threads on the load generators'
// core, which the blocking clients' tail includes.
Figures LoadGrpcAsync(const std::string& address, int concurrency, double seconds, bool with_text,
                      venues::v1::VenueView view, unsigned seed) {
  PlaceLoadThread();
  struct Slot {
    std::unique_ptr<venues::v1::VenueService::Stub> stub;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientAsyncResponseReader<venues::v1::SearchVenuesResponse>> call;
    venues::v1::SearchVenuesResponse resp;
    grpc::Status status;
    Clock::time_point start;
  };
  std::vector<Slot> slots(concurrency);
  grpc::CompletionQueue cq;
  RandomSearches searches(seed, with_text, view);
  auto start = [&](Slot& s) {
    const venues::v1::SearchVenuesRequest req = searches.Next();
    s.ctx = std::make_unique<grpc::ClientContext>();
    s.resp.Clear();
    s.start = Clock::now();
    s.call = s.stub->AsyncSearchVenues(s.ctx.get(), req, &cq);
    s.call->Finish(&s.resp, &s.status, &s);
  };
  for (auto& s : slots) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per call in flight
    s.stub = venues::v1::VenueService::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  std::vector<double> ms;
  long errors = 0, empty = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (auto& s : slots) start(s);
  int in_flight = concurrency;
  void* tag = nullptr;
  bool ok = false;
  while (in_flight > 0 && cq.Next(&tag, &ok)) {
    Slot& s = *static_cast<Slot*>(tag);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s.start).count());
    if (!ok || !s.status.ok()) ++errors;
    if (ok && s.status.ok() && s.resp.results_size() == 0) ++empty;
    if (Clock::now() < end) {
      start(s);
    } else {
      --in_flight;
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  Figures f = Percentiles(ms, seconds, errors);
  f.empty = empty;
  return f;
}

int Run(const std::string& cmd) { return std::system(cmd.c_str()); }

// Runs one pgbench script from `concurrency` clients for `seconds`; latencies from its
// per-transaction logs.
Figures RunPgbench(const std::string& script, const std::string& url, int concurrency,
                   double seconds, const std::string& dir) {
  std::filesystem::remove_all(dir + "/logs");
  std::filesystem::create_directories(dir + "/logs");
  const std::string cmd = absl::StrCat(
      "cd ", dir, "/logs && ", Placed("pgbench"), " -n -c ", concurrency, " -j 2 -T ",
      static_cast<int>(seconds), " -l -f ", script, " '", url, "' > ", dir, "/pgbench.out 2>&1");
  if (Run(cmd) != 0) {
    std::ifstream in(dir + "/pgbench.out");
    std::stringstream ss;
    ss << in.rdbuf();
    std::fprintf(stderr, "pgbench failed:\n%s\n", ss.str().c_str());
    return {};
  }
  std::vector<double> ms;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/logs")) {
    std::ifstream in(e.path());
    std::string line;
    while (std::getline(in, line)) {
      // client_id transaction_no time_us script_no time_epoch time_us_part
      std::istringstream ls(line);
      long client, tx, us;
      if (ls >> client >> tx >> us) ms.push_back(us / 1000.0);
    }
  }
  return Percentiles(ms, seconds, 0);
}

// The two ways a PostGIS user writes "the 20 nearest within 5 km that pass the filters".
enum class Sql {
  kDWithin,  // ST_DWithin on the GiST index, then every row inside the radius sorted by distance
  kKnn,      // the GiST index walked in distance order (ORDER BY geog <-> point LIMIT 20, filters
             // in the same query), the radius checked on those 20 rows: when fewer than 20 of
             // them are inside it, those are the answer, as DWithin's sorted rows would be
};
const char* SqlName(Sql f) { return f == Sql::kDWithin ? "DWithin + sort" : "KNN <->"; }

// One query as SQL. `point` is a query whose one row and column is the geography point;
// `filter` the service or text test.
std::string SearchSql(Sql form, const std::string& schema, const std::string& point,
                      const std::string& filter,
                      venues::v1::VenueView view = venues::v1::VENUE_VIEW_FULL) {
  // What each row carries: the whole record, or the BASIC view's fields, from the generated
  // columns where the table has them.
  const std::string columns =
      view == venues::v1::VENUE_VIEW_BASIC
          ? "v.id, v.source, v.record -> 'source' AS producer, v.nom, "
            "v.record -> 'adresse' AS adresse, v.code_postal, v.commune, v.geog, v.typologie, "
            "v.services, v.frais_a_charge, v.record -> 'date_maj' AS date_maj, "
            "v.accepts_aptic_pass, v.revision"
          : "v.id, v.record";
  if (form == Sql::kDWithin) {
    return absl::StrCat("SELECT ", columns, ", ST_Distance(v.geog, p.g) AS d FROM \"", schema,
                        "\".venues v, (", point,
                        ") AS p(g) WHERE ST_DWithin(v.geog, p.g, 5000) AND v.state = 'active' AND ",
                        filter, " ORDER BY d LIMIT 20");
  }
  // The point as a scalar subquery (an init plan, a constant for the index scan), so that the
  // GiST index returns rows nearest first and the scan stops after 20 that pass the filters.
  return absl::StrCat("SELECT * FROM (SELECT ", columns, ", ST_Distance(v.geog, (", point,
                      ")) AS d FROM \"", schema, "\".venues v WHERE v.state = 'active' AND ",
                      filter, " ORDER BY v.geog <-> (", point,
                      ") LIMIT 20) k WHERE d <= 5000 ORDER BY d");
}

const char* kServiceFilter = "'Aide aux démarches administratives' = ANY(v.services)";
const char* kTextFilter =
    "unaccent(lower(v.nom)) LIKE (ARRAY['%mediatheque%', '%centre social%', "
    "'%france services%', '%mairie%'])[:w]";

// The same searches as SQL through pgbench: a random point near a random city (uniform jitter
// of ±0.03°, pgbench variables so that both formulations see the same kind of point), the
// service filter or one of the same four words accent-folded with unaccent in the name, 20
// nearest with the full record, from the same number of clients.
Figures LoadPgbench(Sql form, const std::string& url, const std::string& schema, int concurrency,
                    double seconds, bool with_text, venues::v1::VenueView view,
                    const std::string& dir) {
  const std::string script = dir + (with_text ? "/text.sql" : "/service.sql");
  {
    std::ofstream s(script);
    s << "\\set c random(1, " << kCities.size() << ")\n"
      << "\\set w random(1, 4)\n"
      << "\\set jx random(-30000, 30000)\n"
      << "\\set jy random(-30000, 30000)\n"
      << SearchSql(form, schema,
                   absl::StrCat("SELECT ST_SetSRID(ST_MakePoint(lon + :jx / 1000000.0, lat + :jy "
                                "/ 1000000.0), 4326)::geography FROM \"",
                                schema, "\".bench_centers WHERE i = :c"),
                   with_text ? kTextFilter : kServiceFilter, view)
      << ";\n";
  }
  return RunPgbench(script, url, concurrency, seconds, dir);
}

// Requests the service answered with grpc-status OK, from its own metrics.
long OkSearches(int metrics_port) {
  auto ok = passerelle::testing::ScrapeMetric(
      metrics_port,
      "passerelle_grpc_server_handled_total{code=\"OK\",method=\"SearchVenues\","
      "service=\"passerelle.venues.v1.VenueService\"}");
  return ok ? static_cast<long>(*ok) : -1;
}

// One gRPC request body sent over and over by h2load (nghttp2), a C HTTP/2 load generator that
// does not decode the responses: the client side costs little CPU, as pgbench's does.
Figures RunH2(const std::string& path, const std::string& payload, int grpc_port, int concurrency,
              double seconds, const std::string& dir) {
  std::string framed(5, '\0');  // gRPC message frame: uncompressed flag, 4-byte big-endian length
  const uint32_t n = static_cast<uint32_t>(payload.size());
  framed[1] = static_cast<char>(n >> 24);
  framed[2] = static_cast<char>(n >> 16);
  framed[3] = static_cast<char>(n >> 8);
  framed[4] = static_cast<char>(n);
  framed += payload;
  std::ofstream(dir + "/body.bin", std::ios::binary) << framed;
  const std::string log = dir + "/h2load.log";
  std::filesystem::remove(log);
  const std::string cmd = absl::StrCat(
      Placed("h2load"), " -c ", concurrency, " -m 1 -t 2 -D ", static_cast<int>(seconds),
      " --log-file=", log, " -H 'content-type: application/grpc' -H 'te: trailers'", " -d ", dir,
      "/body.bin http://127.0.0.1:", grpc_port, path, " > ", dir, "/h2load.out 2>&1");
  if (Run(cmd) != 0) {
    std::fprintf(stderr, "h2load failed (see %s/h2load.out)\n", dir.c_str());
    return {};
  }
  std::vector<double> ms;
  std::ifstream in(log);
  std::string line;
  long errors = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    long start_us, status, took_us;
    if (ls >> start_us >> status >> took_us) {
      ms.push_back(took_us / 1000.0);
      if (status != 200) ++errors;
    }
  }
  return Percentiles(ms, seconds, errors);
}

// The fixed search from h2load: one query for all requests (h2load sends one body), 5 km around
// central Paris with one service filter, the densest case. h2load ignores grpc-status, so the
// service's OK counter is checked too.
Figures LoadH2(int grpc_port, int metrics_port, int concurrency, double seconds,
               venues::v1::VenueView view, const std::string& dir, long* ok_delta) {
  venues::v1::SearchVenuesRequest req;
  req.set_view(view);
  req.mutable_near()->set_latitude(kCities[0].lat);
  req.mutable_near()->set_longitude(kCities[0].lon);
  req.mutable_near()->set_radius_meters(5000);
  req.add_services(venues::v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  const long before = OkSearches(metrics_port);
  Figures f = RunH2("/passerelle.venues.v1.VenueService/SearchVenues", req.SerializeAsString(),
                    grpc_port, concurrency, seconds, dir);
  *ok_delta = OkSearches(metrics_port) - before;
  return f;
}

// The framework's ceiling on this machine: the empty grpc.health.v1.Health/Check call (an empty
// request, a two-byte answer) from h2load with the same connections.
Figures LoadHealth(int grpc_port, int concurrency, double seconds, const std::string& dir) {
  return RunH2("/grpc.health.v1.Health/Check", "", grpc_port, concurrency, seconds, dir);
}

std::string FixedPoint() {
  return absl::StrCat("ST_SetSRID(ST_MakePoint(", kCities[0].lon, ", ", kCities[0].lat,
                      "), 4326)::geography");
}

// pgbench with the same fixed query (central Paris, no jitter).
Figures LoadPgbenchFixed(Sql form, const std::string& url, const std::string& schema,
                         int concurrency, double seconds, venues::v1::VenueView view,
                         const std::string& dir) {
  const std::string script = dir + "/fixed.sql";
  std::ofstream(script) << SearchSql(form, schema, "SELECT " + FixedPoint(), kServiceFilter, view)
                        << ";\n";
  return RunPgbench(script, url, concurrency, seconds, dir);
}

// A stub cannot pass: for every city, the service's answer to the fixed query (5 km, one
// service) is checked against PostGIS on the same data. Every venue returned must be within the
// radius (5 km, with 1 % for the sphere against the spheroid) and offer the service, and the
// service must find the same nearest venues as PostGIS (at least 18 of its 20).
bool CheckSample(venues::v1::VenueService::Stub& stub, const std::string& db,
                 const std::string& schema) {
  bool ok = true;
  pqxx::connection c(db);
  for (const City& city : kCities) {
    venues::v1::SearchVenuesRequest req;
    req.mutable_near()->set_latitude(city.lat);
    req.mutable_near()->set_longitude(city.lon);
    req.mutable_near()->set_radius_meters(5000);
    req.add_services(venues::v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
    req.set_page_size(20);
    grpc::ClientContext ctx;
    venues::v1::SearchVenuesResponse resp;
    if (!stub.SearchVenues(&ctx, req, &resp).ok()) return false;
    pqxx::work tx(c);
    const std::string point =
        absl::StrCat("ST_SetSRID(ST_MakePoint(", city.lon, ", ", city.lat, "), 4326)::geography");
    std::set<std::string> postgis;
    for (const auto& row : tx.exec(absl::StrCat(
             "SELECT 'venues/' || id::text FROM \"", schema, "\".venues WHERE state = 'active' ",
             "AND ST_DWithin(geog, ", point, ", 5000) AND 'Aide aux démarches administratives' = ",
             "ANY(services) ORDER BY ST_Distance(geog, ", point, ") LIMIT 20"))) {
      postgis.insert(row[0].as<std::string>());
    }
    // The KNN formulation the reference also runs answers the same (the index orders on the
    // sphere, ST_Distance on the spheroid: a tie at the 20th may differ).
    std::set<std::string> knn;
    for (const auto& row :
         tx.exec(SearchSql(Sql::kKnn, schema, "SELECT " + point, kServiceFilter))) {
      knn.insert("venues/" + row[0].as<std::string>());
    }
    size_t knn_same = 0;
    for (const auto& id : knn) knn_same += postgis.count(id);
    if (knn.size() != postgis.size() || knn_same + 1 < postgis.size()) {
      std::printf("  sample check: %s: PostGIS KNN found %zu, %zu of DWithin's %zu\n", city.name,
                  knn.size(), knn_same, postgis.size());
      ok = false;
    }
    int same = 0;
    for (const auto& m : resp.results()) {
      same += postgis.count(m.venue().name());
      auto r = tx.exec_params(absl::StrCat("SELECT ST_DWithin(geog, ", point,
                                           ", 5050) AND 'Aide aux démarches "
                                           "administratives' = ANY(services) FROM \"",
                                           schema, "\".venues WHERE id = $1::uuid"),
                              m.venue().name().substr(7));
      if (r.empty() || !r[0][0].as<bool>()) {
        std::printf("  sample check: %s returned %s, outside the query\n", city.name,
                    m.venue().name().c_str());
        ok = false;
      }
    }
    const size_t want = std::min<size_t>(postgis.size(), 18);
    if (static_cast<size_t>(same) < want || (postgis.empty() != (resp.results_size() == 0))) {
      std::printf("  sample check: %s found %d of PostGIS's %zu nearest\n", city.name, same,
                  postgis.size());
      ok = false;
    }
  }
  return ok;
}

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// The process's CPU time so far (user + system), in seconds, from /proc/<pid>/stat.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  long utime = 0, stime = 0;
  // After the name: state (3), ..., utime (14), stime (15).
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::atol(f.c_str());
    if (i == 15) stime = std::atol(f.c_str());
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

// The machine's CPU ticks so far, all and stolen by the hypervisor (the `cpu` line of
// /proc/stat): a scenario run while the VM's neighbours take its cores is slower for reasons
// that are not ours, and the steal says so beside its figures.
struct MachineTicks {
  long total = 0, steal = 0;
};
MachineTicks ReadMachineTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  MachineTicks t;
  in >> cpu;  // "cpu": user nice system idle iowait irq softirq steal ...
  for (int i = 0; i < 8; ++i) {
    long v = 0;
    if (!(in >> v)) break;
    t.total += v;
    if (i == 7) t.steal = v;
  }
  return t;
}

// Starts passerelle-venues on `schema` and waits until it answers; the time that took.
std::unique_ptr<passerelle::testing::Process> StartVenues(const std::string& db,
                                                          const std::string& schema,
                                                          const std::string& address,
                                                          int metrics_port, double* ready_s,
                                                          const char* log_level = "warn") {
  const auto t0 = Clock::now();
  auto service = passerelle::testing::Process::Start(
      {passerelle::testing::BuildDir() + "/services/venues/passerelle-venues"},
      {{"PASSERELLE_DATABASE_URL", db},
       {"PASSERELLE_DATABASE_SCHEMA", schema},
       {"PASSERELLE_NATS_URL", Env("PASSERELLE_TEST_NATS_URL")},
       {"PASSERELLE_NATS_PREFIX", schema},
       {"PASSERELLE_GRPC_ADDRESS", address},
       {"PASSERELLE_METRICS_ADDRESS", absl::StrCat("127.0.0.1:", metrics_port)},
       {"PASSERELLE_LOG_LEVEL", log_level}});
  auto stub = venues::v1::VenueService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  if (!passerelle::testing::WaitFor(
          [&] {
            grpc::ClientContext ctx;
            ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
            venues::v1::SearchVenuesRequest req;  // answered from the index alone
            req.set_page_size(1);
            venues::v1::SearchVenuesResponse r;
            return stub->SearchVenues(&ctx, req, &r).ok();
          },
          std::chrono::seconds(300))) {
    std::fprintf(stderr, "venues did not start:\n%s\n", service->Output().c_str());
    return nullptr;
  }
  *ready_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return service;
}

// When a service started with log level info logged that its search index was loaded (its
// `started` subtracted), or -1 without that line.
double IndexLoadedAfter(const std::string& log, absl::Time started) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || j.value("message", "") != "search index loaded") continue;
    absl::Time t;
    std::string error;
    if (absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", j.value("time", ""), &t, &error)) {
      return absl::ToDoubleSeconds(t - started);
    }
  }
  return -1;
}

// The index kept current under a steady write load: `rate` BatchUpsertVenues per second, one
// new venue each near a city, written through another replica (`writer`), so that the searched
// one (`searched`) sees them through its change feed as it would another replica's or the
// sync's. For each write, the time from its commit (the call's answer) to the first search on
// `searched` that finds it (a word only that venue has, polled every 2 ms, oldest write first).
struct WriteLoad {
  long writes = 0, write_errors = 0, unseen = 0;
  std::vector<double> lag_ms;
};

WriteLoad RunWrites(const std::string& writer, const std::string& searched, double rate,
                    double seconds, int first) {
  WriteLoad out;
  struct Pending {
    std::string word;
    Clock::time_point committed;
  };
  std::mutex mu;
  std::deque<Pending> pending;
  std::atomic<bool> writing{true};
  std::thread prober([&] {
    PlaceLoadThread();
    auto stub = venues::v1::VenueService::NewStub(
        grpc::CreateChannel(searched, grpc::InsecureChannelCredentials()));
    const auto give_up = std::chrono::seconds(10);
    while (true) {
      Pending p;
      {
        std::lock_guard lock(mu);
        if (pending.empty()) {
          if (!writing) break;
        } else {
          p = pending.front();
        }
      }
      if (p.word.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      venues::v1::SearchVenuesRequest req;
      req.set_query(p.word);
      grpc::ClientContext ctx;
      venues::v1::SearchVenuesResponse resp;
      const bool seen = stub->SearchVenues(&ctx, req, &resp).ok() && resp.results_size() > 0;
      const auto now = Clock::now();
      if (seen || now - p.committed > give_up) {
        std::lock_guard lock(mu);
        pending.pop_front();
        if (seen) {
          out.lag_ms.push_back(
              std::chrono::duration<double, std::milli>(now - p.committed).count());
        } else {
          ++out.unseen;
        }
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  });
  auto stub = venues::v1::VenueService::NewStub(
      grpc::CreateChannel(writer, grpc::InsecureChannelCredentials()));
  const auto start = Clock::now();
  const auto period = std::chrono::duration<double>(1.0 / rate);
  for (int k = 0; Clock::now() - start < std::chrono::duration<double>(seconds); ++k) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(period * k));
    const City& c = kCities[k % kCities.size()];
    const std::string word = absl::StrCat("zqw", first + k);
    venues::v1::BatchUpsertVenuesRequest req;
    req.set_source("benchwrites");
    venues::v1::Venue* v = req.add_venues();
    *v = venues::itest::Valid(absl::StrCat("w-", first + k), "Espace numérique " + word);
    v->set_commune(c.name);
    v->set_latitude(c.lat + 0.01 * ((k % 7) - 3));
    v->set_longitude(c.lon + 0.01 * ((k % 5) - 2));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    venues::v1::BatchUpsertVenuesResponse resp;
    const grpc::Status st = stub->BatchUpsertVenues(&ctx, req, &resp);
    ++out.writes;
    if (!st.ok()) {
      if (++out.write_errors == 1) {
        std::fprintf(stderr, "write failed: %s\n", st.error_message().c_str());
      }
      continue;
    }
    std::lock_guard lock(mu);
    pending.push_back({word, Clock::now()});
  }
  writing = false;
  prober.join();
  std::sort(out.lag_ms.begin(), out.lag_ms.end());
  return out;
}

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(sorted.size() * q))];
}

}  // namespace

int main(int argc, char** argv) {
  // As in the services (libs/service): Debian's Abseil checks every mutex for deadlock cycles
  // by default, a cost in each gRPC call of the decoding clients.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto arg = [&](int i, const char* env, const char* fallback) {
    const std::string e = Env(env);
    return !e.empty() ? e : argc > i ? std::string(argv[i]) : std::string(fallback);
  };
  const int n = std::atoi(arg(1, "PASSERELLE_BENCH_VENUES", "25000").c_str());
  const double seconds = std::atof(arg(2, "PASSERELLE_BENCH_SECONDS", "10").c_str());
  const int concurrency = std::atoi(arg(3, "PASSERELLE_BENCH_CLIENTS", "16").c_str());
  const double write_rate = std::atof(arg(4, "PASSERELLE_BENCH_WRITES_PER_SECOND", "50").c_str());
  // The view every scenario asks (and every PostGIS query selects): BASIC by default, the map
  // list's request; PASSERELLE_BENCH_VIEW=full for every field.
  const std::string view_name =
      Env("PASSERELLE_BENCH_VIEW").empty() ? "basic" : Env("PASSERELLE_BENCH_VIEW");
  if (view_name != "basic" && view_name != "full") {
    std::fprintf(stderr, "PASSERELLE_BENCH_VIEW must be basic or full, not %s\n",
                 view_name.c_str());
    return 2;
  }
  const venues::v1::VenueView view =
      view_name == "basic" ? venues::v1::VENUE_VIEW_BASIC : venues::v1::VENUE_VIEW_FULL;
  const std::string db = Env("PASSERELLE_TEST_DATABASE_URL");
  if (db.empty() || Env("PASSERELLE_TEST_NATS_URL").empty()) {
    std::fprintf(stderr, "run through deploy/local/passerelle test (needs its servers)\n");
    return 2;
  }
  const std::string schema = passerelle::testing::UniqueName("bench");
  const int grpc_port = passerelle::testing::FreePort();
  const int metrics_port = passerelle::testing::FreePort();
  const std::string address = absl::StrCat("127.0.0.1:", grpc_port);
  double empty_start_s = 0;
  auto service = StartVenues(db, schema, address, metrics_port, &empty_start_s);
  if (!service) return 1;
  auto stub = venues::v1::VenueService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  // What a replica's start costs besides loading the index: one started on the migrated,
  // still empty registry.
  double empty_index_s = -1;
  {
    const absl::Time started = absl::Now();
    double ready_s = 0;
    auto empty =
        StartVenues(db, schema, absl::StrCat("127.0.0.1:", passerelle::testing::FreePort()),
                    passerelle::testing::FreePort(), &ready_s, "info");
    if (!empty) return 1;
    empty_index_s = IndexLoadedAfter(empty->Output(), started);
    empty->Signal(SIGTERM);
    empty->Wait(std::chrono::seconds(15));
  }
  const long empty_rss = RssKb(service->pid());
  // Load the registry through the API, as the sync would.
  std::mt19937 rng(42);
  const std::string csv_text = GenerateRegistry(n, rng);
  auto t0 = Clock::now();
  {
    venues::v1::ImportVenuesResponse report;
    grpc::Status st = passerelle::perf::ImportFile(*stub, "bench", csv_text, &report);
    // The generator can draw a rare row the standard's rules refuse (2 of 250,000); the
    // import reports it and goes on, as it would with a real file.
    if (!st.ok() || report.created() < n - n / 10000) {
      std::fprintf(stderr, "import failed: %s (%d created)\n", st.error_message().c_str(),
                   report.created());
      return 1;
    }
    if (report.created() != n) {
      std::printf("  import: %d of %d rows created, the others rejected\n", report.created(), n);
    }
  }
  const double import_s = std::chrono::duration<double>(Clock::now() - t0).count();
  // Centres for pgbench, the same cities the gRPC clients use.
  {
    pqxx::connection c(db);
    pqxx::work tx(c);
    tx.exec0("CREATE TABLE \"" + schema +
             "\".bench_centers (i int PRIMARY KEY, lat float8, lon float8)");
    for (size_t i = 0; i < kCities.size(); ++i) {
      tx.exec_params("INSERT INTO \"" + schema + "\".bench_centers VALUES ($1, $2, $3)",
                     static_cast<int>(i + 1), kCities[i].lat, kCities[i].lon);
    }
    tx.exec0("ANALYZE \"" + schema + "\".venues");
    tx.commit();
  }
  const std::string dir = std::filesystem::temp_directory_path() / schema;
  std::filesystem::create_directories(dir);
  // Measure a quiet system: the import's events published (the relay would otherwise share the
  // cores with the first scenario), every imported venue checked for duplicates (the first
  // pass over a registry reads all of it, and took the service's CPU during the first two
  // scenarios), and the table vacuumed, as PostgreSQL would on its own.
  const double imported_at = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  const auto drain_start = Clock::now();
  while (Clock::now() - drain_start < std::chrono::minutes(10)) {
    using passerelle::testing::MetricValue;
    const std::string body = passerelle::testing::HttpGet(metrics_port, "/metrics").value_or("");
    // Absent series (a failed scrape) compare false: the loop waits on.
    if (MetricValue(body,
                    "passerelle_venues_duplicate_detection_checked_until_timestamp_seconds") >=
            imported_at &&
        MetricValue(body, "passerelle_outbox_pending") == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const double drained_s = std::chrono::duration<double>(Clock::now() - drain_start).count();
  {
    pqxx::connection c(db);
    pqxx::nontransaction tx(c);
    tx.exec0("VACUUM ANALYZE \"" + schema + "\".venues");
    tx.exec0("VACUUM ANALYZE \"" + schema + "\".outbox");
  }
  // How PostgreSQL runs each formulation (the KNN one must walk the GiST index in order).
  std::string plans;
  {
    pqxx::connection c(db);
    pqxx::nontransaction tx(c);
    for (Sql form : {Sql::kDWithin, Sql::kKnn}) {
      absl::StrAppend(&plans, "  plan of the fixed query, ", SqlName(form), ":\n");
      for (const auto& row :
           tx.exec("EXPLAIN (COSTS OFF) " +
                   SearchSql(form, schema, "SELECT " + FixedPoint(), kServiceFilter))) {
        absl::StrAppend(&plans, "    ", row[0].as<std::string>(), "\n");
      }
    }
  }
  // The index built from the store: a second replica started on the loaded registry (its
  // time to answer, less the same start on an empty registry). It is the writer below.
  const int writer_port = passerelle::testing::FreePort();
  const std::string writer_address = absl::StrCat("127.0.0.1:", writer_port);
  double loaded_start_s = 0;
  const absl::Time writer_started = absl::Now();
  auto writer = StartVenues(db, schema, writer_address, passerelle::testing::FreePort(),
                            &loaded_start_s, "info");
  if (!writer) return 1;
  const double index_load_s = IndexLoadedAfter(writer->Output(), writer_started) - empty_index_s;
  const long writer_rss = RssKb(writer->pid());
  const long imported_rss = RssKb(service->pid());

  const bool sample_ok = CheckSample(*stub, db, schema);
  // The size of the fixed query's answer (20 venues) in each view.
  std::array<size_t, 2> answer_bytes{};
  for (auto v : {venues::v1::VENUE_VIEW_BASIC, venues::v1::VENUE_VIEW_FULL}) {
    venues::v1::SearchVenuesRequest req;
    req.mutable_near()->set_latitude(kCities[0].lat);
    req.mutable_near()->set_longitude(kCities[0].lon);
    req.mutable_near()->set_radius_meters(5000);
    req.add_services(venues::v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
    req.set_view(v);
    grpc::ClientContext ctx;
    venues::v1::SearchVenuesResponse resp;
    if (stub->SearchVenues(&ctx, req, &resp).ok()) {
      answer_bytes[v == venues::v1::VENUE_VIEW_BASIC ? 0 : 1] = resp.ByteSizeLong();
    }
  }
  // Both replicas quiet before the first scenario: the writer started on the loaded registry
  // above does its own first work (index, duplicate pass) for a while, and the first scenario
  // measured during it ran at 4.2x where the same search later ran at 6x (2026-12-04).
  const auto quiet_start = Clock::now();
  while (Clock::now() - quiet_start < std::chrono::seconds(60)) {
    const double c0 = CpuSeconds(service->pid()) + CpuSeconds(writer->pid());
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (CpuSeconds(service->pid()) + CpuSeconds(writer->pid()) - c0 < 0.05) break;
  }
  const double quiet_s = std::chrono::duration<double>(Clock::now() - quiet_start).count();
  LoadGrpc(address, concurrency, 1, false, view, 7);  // warm-up
  // Each scenario: the service (its CPU time per answer from /proc), then both SQL forms.
  const pid_t pid = service->pid();
  struct Row {
    Figures f;
    double cpu_us = 0;         // service CPU per request (gRPC rows)
    double client_cpu_us = 0;  // this process's CPU per request: the decoding clients
    double steal_pct = -1;     // the machine's CPU time stolen by the hypervisor meanwhile
  };
  auto measured = [&](auto&& run) {
    const double c0 = CpuSeconds(pid), b0 = CpuSeconds(getpid());
    const MachineTicks m0 = ReadMachineTicks();
    Row r{run(), 0, 0};
    const double c1 = CpuSeconds(pid), b1 = CpuSeconds(getpid());
    const MachineTicks m1 = ReadMachineTicks();
    if (r.f.requests > 0) {
      r.cpu_us = (c1 - c0) * 1e6 / static_cast<double>(r.f.requests);
      r.client_cpu_us = (b1 - b0) * 1e6 / static_cast<double>(r.f.requests);
    }
    if (m1.total > m0.total) {
      r.steal_pct = 100.0 * static_cast<double>(m1.steal - m0.steal) /
                    static_cast<double>(m1.total - m0.total);
    }
    return r;
  };
  const Row g1 = measured([&] { return LoadGrpc(address, concurrency, seconds, false, view, 1); });
  const Row g2 = measured([&] { return LoadGrpc(address, concurrency, seconds, true, view, 2); });
  // The same two scenarios from one asynchronous client thread, in the same run: what of the
  // blocking clients' tail is their own threads' scheduling.
  const Row a1 =
      measured([&] { return LoadGrpcAsync(address, concurrency, seconds, false, view, 4); });
  const Row a2 =
      measured([&] { return LoadGrpcAsync(address, concurrency, seconds, true, view, 5); });
  // The first scenario again with the decoding clients free to run on every core, as the
  // benchmark ran them before: printed for the comparison, no goal is judged on it.
  Row g1_spread;
  if (!LoadPlacement().list.empty()) {
    g1_spread = measured(
        [&] { return LoadGrpc(address, concurrency, seconds, false, view, 1, /*spread=*/true); });
  }
  // The same random search with every field, for what the view changes (no ratio is taken).
  Row g1_full;
  if (view != venues::v1::VENUE_VIEW_FULL) {
    g1_full = measured([&] {
      return LoadGrpc(address, concurrency, seconds, false, venues::v1::VENUE_VIEW_FULL, 1);
    });
  }
  const long rss = RssKb(pid);
  long h2_ok = 0;
  const Row h2 = measured(
      [&] { return LoadH2(grpc_port, metrics_port, concurrency, seconds, view, dir, &h2_ok); });
  const Row health = measured([&] { return LoadHealth(grpc_port, concurrency, seconds, dir); });
  const long rss_after_h2 = RssKb(pid);
  std::array<Figures, 2> p1, p2, p3;  // by Sql form
  for (Sql form : {Sql::kDWithin, Sql::kKnn}) {
    const size_t i = static_cast<size_t>(form);
    p1[i] = LoadPgbench(form, db, schema, concurrency, seconds, false, view, dir);
    p2[i] = LoadPgbench(form, db, schema, concurrency, seconds, true, view, dir);
    p3[i] = LoadPgbenchFixed(form, db, schema, concurrency, seconds, view, dir);
  }
  // The same random search while another replica writes `write_rate` venues per second.
  WriteLoad writes;
  Row g1_writes;
  {
    grpc::ClientContext ctx;
    venues::v1::CreateSourceRequest req;
    req.set_source_id("benchwrites");
    venues::v1::Source created;
    if (!stub->CreateSource(&ctx, req, &created).ok()) return 1;
    std::thread w([&] {
      PlaceLoadThread();
      writes = RunWrites(writer_address, address, write_rate, seconds, 0);
    });
    g1_writes = measured([&] { return LoadGrpc(address, concurrency, seconds, false, view, 3); });
    w.join();
  }

  std::printf(
      "venues SearchVenues: %d venues over France, %d clients, %.0f s per scenario, %s view "
      "(PostGIS selecting the same fields)\n"
      "  import %.1f s (%.0f rows/s); a replica starting on them loads its index in %.2f s "
      "(its start to that log line, less %.2f s on an empty registry; it answers after %.2f s), "
      "%.1f MB resident\n"
      "  resident memory of the searched service: %.1f MB empty, %.1f MB after the import\n"
      "  events published and duplicates checked %.1f s after the import\n",
      n, concurrency, seconds, view_name.c_str(), import_s, n / import_s, index_load_s,
      empty_index_s, loaded_start_s, writer_rss / 1024.0, empty_rss / 1024.0, imported_rss / 1024.0,
      drained_s);
  if (LoadPlacement().list.empty()) {
    std::printf("  load generators and servers on every core\n");
  } else {
    std::printf(
        "  load generators (decoding clients, h2load, pgbench) on CPU %s, servers under test on "
        "every core\n",
        LoadPlacement().list.c_str());
  }
  std::printf("%s", plans.c_str());
  std::printf("  both replicas quiet (< 5%% of a core) after %.0f s, before the first scenario\n",
              quiet_s);
  std::printf(
      "  the fixed query's answer (20 venues): %zu bytes in the basic view, %zu in the full\n",
      answer_bytes[0], answer_bytes[1]);
  auto line = [](const char* what, const Figures& f, double cpu_us, double client_cpu_us = 0,
                 double steal_pct = -1) {
    std::printf("  %-44s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms", what, f.throughput, f.p50_ms,
                f.p99_ms);
    if (cpu_us > 0) std::printf("  service CPU %5.1f us/req", cpu_us);
    if (client_cpu_us > 0) std::printf("  client CPU %5.1f us/req", client_cpu_us);
    if (steal_pct >= 0) std::printf("  steal %.1f%%", steal_pct);
    std::printf("  (%ld requests, %ld errors)\n", f.requests, f.errors);
  };
  // The faster PostGIS formulation of a scenario.
  auto best = [](const std::array<Figures, 2>& p) {
    return p[1].throughput > p[0].throughput ? Sql::kKnn : Sql::kDWithin;
  };
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  auto scenario = [&](const char* title, const char* client, const Row& g,
                      const std::array<Figures, 2>& p) {
    std::printf("  %s\n", title);
    // The decoding clients run in this process; h2load in its own.
    line(client, g.f, g.cpu_us, &g == &h2 ? 0 : g.client_cpu_us, g.steal_pct);
    for (Sql form : {Sql::kDWithin, Sql::kKnn}) {
      line(absl::StrCat("PostGIS (pgbench), ", SqlName(form)).c_str(), p[static_cast<size_t>(form)],
           0);
    }
    const Sql b = best(p);
    const double r = ratio(g.f.throughput, p[static_cast<size_t>(b)].throughput);
    std::printf("  -> %.1fx the best PostGIS (%s)\n", r, SqlName(b));
    return r;
  };
  const double r1 =
      scenario("random point near a city, 5 km + one service", "gRPC (decoding client)", g1, p1);
  line("gRPC (one async thread, same calls in flight)", a1.f, a1.cpu_us, a1.client_cpu_us,
       a1.steal_pct);
  if (g1_full.f.requests > 0) {
    line("gRPC (decoding client), full view", g1_full.f, g1_full.cpu_us, g1_full.client_cpu_us,
         g1_full.steal_pct);
  }
  if (g1_spread.f.requests > 0) {
    line("gRPC (decoding client), clients on every core", g1_spread.f, g1_spread.cpu_us,
         g1_spread.client_cpu_us, g1_spread.steal_pct);
  }
  const double r2 =
      scenario("random point near a city, 5 km + a word", "gRPC (decoding client)", g2, p2);
  line("gRPC (one async thread, same calls in flight)", a2.f, a2.cpu_us, a2.client_cpu_us,
       a2.steal_pct);
  const double r3 =
      scenario("fixed point, central Paris, 5 km + one service (densest)", "h2load", h2, p3);
  std::printf("  framework ceiling\n");
  line("h2load, grpc.health.v1.Health/Check", health.f, health.cpu_us, 0, health.steal_pct);
  const double r_health = ratio(h2.f.throughput, health.f.throughput);
  std::printf("  -> fixed query %.2fx Health/Check\n", r_health);
  std::printf("  h2load requests the service counted as OK: %ld of %ld\n", h2_ok, h2.f.requests);
  std::printf(
      "  service resident memory: %.1f MB after the decoding clients, %.1f MB after h2load\n",
      rss / 1024.0, rss_after_h2 / 1024.0);
  std::printf("  resident memory of the writing replica after the writes: %.1f MB\n",
              RssKb(writer->pid()) / 1024.0);
  std::printf(
      "  under writes: %ld BatchUpsertVenues through another replica at %.0f/s (%ld failed)\n",
      writes.writes, write_rate, writes.write_errors);
  line("gRPC, random 5 km + service, during writes", g1_writes.f, g1_writes.cpu_us,
       g1_writes.client_cpu_us, g1_writes.steal_pct);
  std::printf(
      "  -> %.2fx the quiet run; commit to visible in search: p50 %.0f ms, p99 %.0f ms, max "
      "%.0f ms (%zu seen, %ld not within 10 s)\n",
      ratio(g1_writes.f.throughput, g1.f.throughput), Quantile(writes.lag_ms, 0.5),
      Quantile(writes.lag_ms, 0.99), writes.lag_ms.empty() ? 0 : writes.lag_ms.back(),
      writes.lag_ms.size(), writes.unseen);
  // What the benchmark checks, whatever the size: answers right on a sample, none failed, most
  // not empty (a stub answering nothing fails), h2load's requests all counted OK by the service,
  // every write seen by the other replica.
  const bool checks =
      sample_ok &&
      g1.f.errors + g2.f.errors + a1.f.errors + a2.f.errors + g1_writes.f.errors == 0 &&
      a1.f.empty * 2 < a1.f.requests && p1[0].requests > 0 && p1[1].requests > 0 &&
      g1.f.empty * 2 < g1.f.requests && h2.f.errors == 0 && health.f.errors == 0 &&
      writes.write_errors == 0 && writes.unseen == 0 &&
      // h2load's log leaves out the requests in flight when it stops
      h2_ok >= h2.f.requests && h2_ok <= h2.f.requests + concurrency;
  std::printf(
      "  checks (sample agrees with PostGIS, no errors, answers not empty, h2load all OK, "
      "writes seen): %s\n",
      checks ? "passed" : "FAILED");
  // The goals of issue 15 are judged on a full run (at least 25,000 venues and 10 s per
  // scenario, as in docs/performance.md); the short run in the test command only shows the
  // benchmark works.
  const bool judged = n >= 25000 && seconds >= 10;
  const bool p99_goal = concurrency > 8 || (g1.f.p99_ms < 2 && g2.f.p99_ms < 2);
  const bool goals = r1 >= 5 && r3 >= 5 && p99_goal && r_health >= 0.5 && rss < 100 * 1024;
  std::printf(
      "  goals (>= 5x the best PostGIS on random points and the fixed query, p99 < 2 ms at 8 "
      "clients, fixed query >= 0.5x Health/Check, < 100 MB): %s%s\n",
      !judged ? "not judged on a short run"
      : goals ? "met"
              : "NOT MET",
      judged ? absl::StrFormat(" (%.1fx, %.1fx, p99 %.2f/%.2f ms, %.2fx, %.0f MB; text %.1fx)", r1,
                               r3, g1.f.p99_ms, g2.f.p99_ms, r_health, rss / 1024.0, r2)
                   .c_str()
             : "");
  std::printf(
      "  p99 at the same calls in flight from one asynchronous client thread: %.2f / %.2f ms "
      "(%.1fx / %.1fx the blocking clients' throughput)\n",
      a1.f.p99_ms, a2.f.p99_ms, ratio(a1.f.throughput, g1.f.throughput),
      ratio(a2.f.throughput, g2.f.throughput));

  writer->Signal(SIGTERM);
  writer->Wait(std::chrono::seconds(15));
  service->Signal(SIGTERM);
  service->Wait(std::chrono::seconds(15));
  {
    pqxx::connection c(db);
    pqxx::nontransaction tx(c);
    tx.exec0("DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE");
  }
  std::filesystem::remove_all(dir);
  return checks && (!judged || goals) ? 0 : 1;
}
