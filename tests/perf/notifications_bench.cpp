// Benchmark: the notifications service against issue 14's goals, each figure next to a reference
// measured in the same run.
//
//   1. matching: SubscriptionIndex::Match of realistic venue (and a few sync) events against
//      100,000 varied subscriptions; reference: a scan that checks every filter (the answers must
//      be the same sets). Goal: p99 < 1 ms.
//   2. fan-out: one event matching 10,000 webhook subscriptions, through Notifier::Consume (on
//      PostgreSQL) then W workers looping on Notifier::DeliverDue (B deliveries a batch, C sent
//      at once) as passerelle-notifications runs them, with the real HttpSender, to a sink in
//      this process that verifies every signature; reference: the same sink hit by the same
//      HttpSender from as many threads as the service has requests in flight (W x min(B, C)) in
//      a plain loop, no PostgreSQL (what the transport alone gives). Goal: >= 2,000 deliveries/s.
//   3. end to end: passerelle-venues and passerelle-notifications on PostgreSQL and NATS, a
//      webhook subscription to the sink, venue updates at light load (20/s); write returned ->
//      webhook received; reference: write returned -> the event seen on NATS, and the write's own
//      latency. Goal: p99 < 200 ms.
//
//   notifications_bench [subscriptions] [events] [fan-out] [updates]   (default 100000 2000
//                                                                        10000 400; 0 skips)
// Needs the test command's servers (PASSERELLE_TEST_DATABASE_URL, PASSERELLE_TEST_NATS_URL):
//   deploy/local/passerelle test -R notifications_bench -V       (short run, goals not enforced)
//   PASSERELLE_BENCH_FULL=1 deploy/local/passerelle test -R notifications_bench -V   (full run)
// Workers: PASSERELLE_NOTIFICATIONS_WORKERS, _BATCH and _CONCURRENT_SENDS (4, 32 and 4, the
// service's defaults). The service started in
// scenario 3 inherits the environment, so PASSERELLE_NOTIFICATIONS_POLL etc. apply to it.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "httplib.h"
#include "libs/db/migrations.hpp"
#include "libs/db/pool.hpp"
#include "libs/db/transaction.hpp"
#include "libs/events/event.hpp"
#include "libs/events/nats.hpp"
#include "libs/testing/testing.hpp"
#include "nlohmann/json.hpp"
#include "passerelle/notifications/v1/notifications.grpc.pb.h"
#include "passerelle/sync/v1/events.pb.h"
#include "passerelle/venues/v1/events.pb.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/notifications/matcher.hpp"
#include "services/notifications/notifier.hpp"
#include "services/notifications/sender.hpp"
#include "services/notifications/webhook.hpp"
#include "tests/perf/perf_support.hpp"

namespace passerelle::notifications {
std::vector<db::Migration> Migrations();
}

namespace {

using namespace passerelle;
using namespace std::chrono_literals;
namespace nv1 = passerelle::notifications::v1;
using Clock = std::chrono::steady_clock;

using passerelle::perf::Env;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

const char* Verdict(bool met, bool judged) {
  if (!judged) return met ? "met (not judged at this size)" : "missed (not judged at this size)";
  return met ? "met" : "MISSED";
}

// ---------------------------------------------------------------------------------------------
// 1. Matching.

// The world the subscriptions and events are drawn from: a national registry's worth of venues,
// areas of three layers, referential items, owner organisations and sync sources.
constexpr int kVenues = 20000, kQuartiers = 100, kCommunes = 90, kQpv = 30, kItems = 300,
              kOwners = 2000, kSources = 100;

std::string VenueName(int v) { return absl::StrCat("venues/v", v); }
std::string Item(int i) { return absl::StrCat("items/it-", i); }
std::string Owner(int o) { return absl::StrCat("org-", o); }

// A venue's areas, items and owner, derived from its number (`shift` moves it elsewhere).
void Describe(int v, int shift, google::protobuf::RepeatedPtrField<std::string>* areas,
              google::protobuf::RepeatedPtrField<std::string>* items, std::string* owner) {
  const int w = v + shift * 7919;
  *areas->Add() = absl::StrCat("quartiers:q", w % kQuartiers);
  *areas->Add() = absl::StrCat("communes:c", w % kCommunes);
  if (w % 3 == 0) *areas->Add() = absl::StrCat("qpv:p", w % kQpv);
  for (int k = 0; k < 2 + w % 3; ++k) *items->Add() = Item((w * 31 + k * 97) % kItems);
  *owner = Owner(w % kOwners);
}

nv1::Filter RandomFilter(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  static const std::vector<std::string> kVenueTypes = {"venue.*", "venue.created", "venue.updated",
                                                       "venue.withdrawn"};
  static const std::vector<std::string> kAllTypes = {
      "venue.*", "venue.created",      "venue.updated", "venue.withdrawn",
      "sync.*",  "sync.run.completed", "referential.*", "indicators.report.submitted"};
  nv1::Filter f;
  const int kind = pick(1000);
  if (kind < 350) {  // followers of a few venues
    for (int k = 0, n = 1 + pick(3); k < n; ++k) f.add_venues(VenueName(pick(kVenues)));
    if (pick(10) < 3) f.add_event_types(kVenueTypes[pick(4)]);
  } else if (kind < 550) {  // an area, sometimes narrowed to items or types
    for (int k = 0, n = 1 + pick(2); k < n; ++k) {
      const int layer = pick(3);
      f.add_areas(layer == 0   ? absl::StrCat("quartiers:q", pick(kQuartiers))
                  : layer == 1 ? absl::StrCat("communes:c", pick(kCommunes))
                               : absl::StrCat("qpv:p", pick(kQpv)));
    }
    if (pick(4) == 0) f.add_referential_items(Item(pick(kItems)));
    if (pick(5) == 0) f.add_event_types(kVenueTypes[pick(4)]);
  } else if (kind < 700) {  // referential items
    for (int k = 0, n = 1 + pick(3); k < n; ++k) f.add_referential_items(Item(pick(kItems)));
    if (pick(5) == 0) f.add_event_types(kVenueTypes[pick(4)]);
  } else if (kind < 850) {  // an owner's own venues
    f.add_owner_organisations(Owner(pick(kOwners)));
  } else if (kind < 989) {  // a sync source's runs
    f.add_sync_sources(absl::StrCat("sources/s", pick(kSources)));
    if (pick(2) == 0) f.add_event_types("sync.run.completed");
  } else if (kind < 999) {  // event types only
    f.add_event_types(kAllTypes[pick(static_cast<int>(kAllTypes.size()))]);
  }  // else: an empty filter, everything
  return f;
}

// Venue events mostly (updates, some moving the venue or changing its items or owner), a few
// creations, withdrawals and sync runs.
events::v1::Event RandomEvent(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const int v = pick(kVenues);
  const int kind = pick(100);
  const absl::Time now = absl::Now();
  if (kind < 70) {
    venues::v1::VenueUpdated p;
    p.mutable_venue()->set_name(VenueName(v));
    Describe(v, 0, p.mutable_venue()->mutable_areas(),
             p.mutable_venue()->mutable_referential_items(),
             p.mutable_venue()->mutable_owner_organisation());
    const int change = pick(10);  // 1 in 10 moved, 1 in 10 new items, 1 in 20 new owner
    google::protobuf::RepeatedPtrField<std::string> areas, items;
    std::string owner;
    Describe(v, change == 0 ? 1 : 0, &areas, &items, &owner);
    *p.mutable_previous_areas() = areas;
    google::protobuf::RepeatedPtrField<std::string> items2, unused;
    std::string owner2;
    Describe(v, change == 1 ? 2 : 0, &unused, &items2, &owner2);
    *p.mutable_previous_referential_items() = items2;
    p.set_previous_owner_organisation(change == 2 && pick(2) == 0 ? Owner(pick(kOwners))
                                                                  : p.venue().owner_organisation());
    p.add_changed_fields("horaires");
    return events::MakeEvent("venue.updated", "venues", VenueName(v), p, now);
  }
  if (kind < 85) {
    venues::v1::VenueCreated p;
    p.mutable_venue()->set_name(VenueName(v));
    Describe(v, 0, p.mutable_venue()->mutable_areas(),
             p.mutable_venue()->mutable_referential_items(),
             p.mutable_venue()->mutable_owner_organisation());
    return events::MakeEvent("venue.created", "venues", VenueName(v), p, now);
  }
  if (kind < 92) {
    venues::v1::VenueWithdrawn p;
    p.set_name(VenueName(v));
    p.set_reason("fermeture définitive");
    Describe(v, 0, p.mutable_areas(), p.mutable_referential_items(),
             p.mutable_owner_organisation());
    return events::MakeEvent("venue.withdrawn", "venues", VenueName(v), p, now);
  }
  sync::v1::RunCompleted p;
  const std::string run = absl::StrCat("sources/s", pick(kSources), "/runs/r", pick(1000));
  p.mutable_run()->set_name(run);
  return events::MakeEvent("sync.run.completed", "sync", run, p, now);
}

bool MatchingScenario(int subscriptions, int n_events, bool judged) {
  std::mt19937 rng(14);
  notifications::SubscriptionIndex index;
  std::vector<std::pair<std::string, nv1::Filter>> all;
  all.reserve(subscriptions);
  int empty = 0;
  for (int i = 0; i < subscriptions; ++i) {
    nv1::Filter f = RandomFilter(rng);
    empty += f.ByteSizeLong() == 0;
    std::string id = absl::StrCat("sub-", i);
    index.Put(id, f);
    all.emplace_back(std::move(id), std::move(f));
  }
  std::vector<notifications::Facts> facts;
  for (int i = 0; i < n_events; ++i) {
    auto f = notifications::FactsOf(RandomEvent(rng));
    if (!f.ok()) {
      std::fprintf(stderr, "FactsOf: %s\n", std::string(f.status().message()).c_str());
      return false;
    }
    facts.push_back(*std::move(f));
  }
  std::vector<double> index_us, scan_us;
  size_t matched = 0, differ = 0;
  for (const auto& f : facts) {
    auto t0 = Clock::now();
    std::vector<std::string> got = index.Match(f);
    auto t1 = Clock::now();
    std::vector<std::string> want;
    for (const auto& [id, filter] : all) {
      if (notifications::Matches(filter, f)) want.push_back(id);
    }
    std::sort(want.begin(), want.end());
    auto t2 = Clock::now();
    index_us.push_back(Ms(t1 - t0) * 1e3);
    scan_us.push_back(Ms(t2 - t1) * 1e3);
    matched += got.size();
    if (got != want) ++differ;
  }
  const double p50 = Percentile(index_us, 0.5), p99 = Percentile(index_us, 0.99);
  const double scan_p50 = Percentile(scan_us, 0.5), scan_p99 = Percentile(scan_us, 0.99);
  const bool met = p99 < 1000;
  std::printf(
      "matching: %d subscriptions (%d with an empty filter), %d events (70 %% venue.updated, "
      "a tenth of them moved), %.1f matches per event on average\n"
      "  index  p50 %8.1f us  p99 %8.1f us   goal p99 < 1000 us: %s\n"
      "  scan   p50 %8.1f us  p99 %8.1f us   (reference: every filter checked; index %.0fx "
      "faster at p99)\n"
      "  same answers as the scan: %s\n",
      subscriptions, empty, n_events, static_cast<double>(matched) / n_events, p50, p99,
      Verdict(met, judged), scan_p50, scan_p99, scan_p99 / p99,
      differ == 0 ? "yes, every event" : absl::StrCat("NO, ", differ, " events differ").c_str());
  return differ == 0 && (met || !judged);
}

// ---------------------------------------------------------------------------------------------
// A member's endpoint: verifies each signature with `secret`, answers 204 (401 when it does not
// verify), and keeps what arrived and when.
// Calls listen() again, with `backlog`, on this process's socket listening on `port` (Linux
// takes the new backlog).
void RaiseBacklog(int port, int backlog) {
  for (int fd = 3; fd < 4096; ++fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    int listening = 0;
    socklen_t optlen = sizeof listening;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
        addr.sin_family == AF_INET && ntohs(addr.sin_port) == port &&
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) == 0 && listening) {
      ::listen(fd, backlog);
      return;
    }
  }
}

class Sink {
 public:
  struct Arrival {
    Clock::time_point at;
    std::string id, body;
  };
  Sink() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      const auto at = Clock::now();
      const std::string id = req.get_header_value("webhook-id");
      int64_t ts = std::atoll(req.get_header_value("webhook-timestamp").c_str());
      std::string secret;
      {
        std::lock_guard lock(mu_);
        secret = secret_;
      }
      auto sig = notifications::Sign(secret, id, ts, req.body);
      const bool ok = sig.ok() && *sig == req.get_header_value("webhook-signature");
      {
        std::lock_guard lock(mu_);
        if (ok) {
          arrivals_.push_back({at, id, req.body});
        } else {
          ++refused_;
        }
      }
      res.status = ok ? 204 : 401;
    });
    // The sink stands for receivers' web servers: threads for the requests in flight, and a
    // listen backlog like nginx's. Debian's cpp-httplib listens with a backlog of 5: a burst of
    // connections overflows it, and those wait for the client's SYN retransmission (1 s), then
    // fail (the figures would measure the sink).
    server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
    port_ = server_.bind_to_any_port("127.0.0.1");
    RaiseBacklog(port_, 511);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Sink() { passerelle::testing::StopServer(server_, thread_); }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/hook"); }
  int port() const { return port_; }
  void Reset(std::string secret) {
    std::lock_guard lock(mu_);
    secret_ = std::move(secret);
    arrivals_.clear();
    refused_ = 0;
  }
  std::vector<Arrival> arrivals() {
    std::lock_guard lock(mu_);
    return arrivals_;
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return arrivals_.size();
  }
  int refused() {
    std::lock_guard lock(mu_);
    return refused_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::string secret_;
  std::vector<Arrival> arrivals_;
  int refused_ = 0;
};

// ---------------------------------------------------------------------------------------------
// 2. Fan-out.

struct WorkerSettings {
  int workers = 4;
  int batch = 32;
  int concurrent_sends = 4;
  int in_flight() const { return workers * std::min(batch, concurrent_sends); }
};

bool FanOutScenario(int n, const WorkerSettings& settings, Sink& sink, bool judged) {
  const int workers = settings.workers;
  const std::string schema = passerelle::testing::UniqueName("nbfan");
  db::Pool pool(db::PoolOptions{.uri = Env("PASSERELLE_TEST_DATABASE_URL"),
                                .schema = schema,
                                .size = workers + 2,
                                .application_name = "notifications_bench"});
  {
    auto lease = pool.Acquire();
    if (!lease.ok()) return false;
    absl::Status st =
        db::Migrate(**lease, schema, {{"notifications", notifications::Migrations()}});
    if (!st.ok()) {
      std::fprintf(stderr, "migrating: %s\n", std::string(st.message()).c_str());
      return false;
    }
  }
  const std::string secret = notifications::NewSecret();
  sink.Reset(secret);
  // n webhook subscriptions to the sink, with varied filters that all let the event through.
  const std::string venue = "venues/lieu-bench";
  absl::Status seeded = db::RunInTransaction(pool, [&](pqxx::work& tx) {
    tx.exec_params(
        "INSERT INTO subscriptions (subscription_id, organisation, channel, url, secret, filter, "
        "create_time, update_time) SELECT gen_random_uuid(), 'organisations/org-' || i, "
        "'webhook', $1, $2, CASE i % 5 WHEN 0 THEN '{\"eventTypes\": [\"venue.*\"]}' "
        "WHEN 1 THEN '{\"areas\": [\"quartiers:epeule\", \"quartiers:q' || i % 7 || '\"]}' "
        "WHEN 2 THEN '{\"referentialItems\": [\"items/it-1\"], \"eventTypes\": "
        "[\"venue.updated\"]}' WHEN 3 THEN '{\"venues\": [\"" +
            venue +
            "\"]}' ELSE '{\"ownerOrganisations\": [\"org-bench\"], \"areas\": "
            "[\"communes:roubaix\"]}' END::jsonb, now(), now() FROM generate_series(1, $3) i",
        sink.url(), secret, n);
    return absl::OkStatus();
  });
  if (!seeded.ok()) return false;
  auto policy = *net::DestinationPolicy::FromStrings("127.0.0.0/8", absl::StrCat(sink.port()));
  notifications::HttpSender sender(policy, 5000ms);
  notifications::Notifier notifier(
      pool, policy, sender, clocks::System(),
      {.concurrent_sends = static_cast<size_t>(settings.concurrent_sends)});
  if (!notifier.LoadIndex().ok()) return false;
  std::atomic<int> failed_attempts{0};
  std::atomic<int64_t> http_us{0};  // the requests' own time, summed over the workers
  notifier.OnAttempt([&](const notifications::SendResult& r) {
    if (r.outcome != notifications::SendResult::Outcome::kSucceeded && ++failed_attempts <= 3) {
      std::fprintf(stderr, "failed attempt after %lld ms: %s\n",
                   static_cast<long long>(absl::ToInt64Milliseconds(r.latency)), r.error.c_str());
    }
    http_us += absl::ToInt64Microseconds(r.latency);
  });
  venues::v1::VenueUpdated p;
  p.mutable_venue()->set_name(venue);
  p.mutable_venue()->set_nom("Médiathèque de l'Épeule");
  p.mutable_venue()->add_areas("quartiers:epeule");
  p.mutable_venue()->add_areas("communes:roubaix");
  p.mutable_venue()->add_referential_items("items/it-1");
  p.mutable_venue()->set_owner_organisation("org-bench");
  *p.mutable_previous_areas() = p.venue().areas();
  p.add_changed_fields("horaires");
  const events::v1::Event event =
      events::MakeEvent("venue.updated", "venues", venue, p, absl::Now());

  // The service: the consumer's transaction, then the workers' loops.
  const auto t0 = Clock::now();
  absl::Status consumed =
      db::RunInTransaction(pool, [&](pqxx::work& tx) { return notifier.Consume(tx, event); });
  const auto t1 = Clock::now();
  if (!consumed.ok()) {
    std::fprintf(stderr, "Consume: %s\n", std::string(consumed.message()).c_str());
    return false;
  }
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (;;) {
        auto sent = notifier.DeliverDue(settings.batch);
        if (!sent.ok()) {
          ++errors;
          return;
        }
        if (*sent == 0) return;
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto t2 = Clock::now();
  std::set<std::string> ids;
  for (const auto& a : sink.arrivals()) ids.insert(a.id);
  int64_t succeeded = 0;
  (void)db::RunInTransaction(pool, [&](pqxx::work& tx) {
    succeeded =
        tx.exec1("SELECT count(*) FROM deliveries WHERE state = 'succeeded'")[0].as<int64_t>();
    return absl::OkStatus();
  });
  const size_t requests = sink.count();
  const bool counts_ok = ids.size() == static_cast<size_t>(n) && requests == ids.size() &&
                         succeeded == n && errors == 0 && failed_attempts == 0 &&
                         sink.refused() == 0;

  // The reference: the same sender and sink, the same body, as many requests in flight, no
  // database.
  sink.Reset(secret);
  auto body = notifications::Body(event);
  if (!body.ok()) return false;
  std::atomic<int> next{0}, reference_failed{0};
  const auto r0 = Clock::now();
  threads.clear();
  for (int w = 0; w < settings.in_flight(); ++w) {
    threads.emplace_back([&] {
      while (next++ < n) {
        const std::string id = events::NewUuid();
        const int64_t ts = absl::ToUnixSeconds(absl::Now());
        auto sig = notifications::SignatureHeader({secret}, id, ts, *body);
        auto r = sender.Post(sink.url(),
                             {{"webhook-id", id},
                              {"webhook-timestamp", absl::StrCat(ts)},
                              {"webhook-signature", *sig},
                              {"User-Agent", "Passerelle-Notifications/1"}},
                             *body);
        if (r.outcome != notifications::SendResult::Outcome::kSucceeded) ++reference_failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto r1 = Clock::now();
  const bool reference_ok = sink.count() == static_cast<size_t>(n) && reference_failed == 0;

  const double rate = n / (Ms(t2 - t0) / 1e3);
  const double reference_rate = n / (Ms(r1 - r0) / 1e3);
  const bool met = rate >= 2000;
  std::printf(
      "fan-out: one venue.updated matching %d webhook subscriptions, %d workers (batches of %d, "
      "%d requests at once each), HttpSender to a sink on 127.0.0.1 verifying every signature\n"
      "  service    %8.0f deliveries/s   (Consume: match + %d rows %.0f ms; workers %.0f ms; a "
      "request %.2f ms on average)   goal >= 2000/s: %s\n"
      "  transport  %8.0f requests/s     (reference: the same HttpSender and sink from %d "
      "threads, no PostgreSQL; service at %.0f %% of it)\n"
      "  each subscription delivered exactly once, signature verified, recorded succeeded: %s\n",
      n, workers, settings.batch, std::min(settings.batch, settings.concurrent_sends), rate, n,
      Ms(t1 - t0), Ms(t2 - t1), static_cast<double>(http_us.load()) / 1e3 / n, Verdict(met, judged),
      reference_rate, settings.in_flight(), 100 * rate / reference_rate,
      counts_ok && reference_ok
          ? "yes"
          : absl::StrCat("NO (", ids.size(), " ids, ", requests, " requests, ", succeeded,
                         " succeeded, ", errors.load(), " errors, ", failed_attempts.load(),
                         " failed attempts, reference ", reference_failed.load(), " failed)")
                .c_str());
  pool.Close();
  {
    pqxx::connection c(Env("PASSERELLE_TEST_DATABASE_URL"));
    pqxx::nontransaction tx(c);
    tx.exec0("DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE");
  }
  return counts_ok && reference_ok && (met || !judged);
}

// ---------------------------------------------------------------------------------------------
// 3. End to end.

using passerelle::perf::StartService;

venues::v1::Venue NewVenue(const std::string& id) {
  venues::v1::Venue v;
  v.set_id(id);
  v.set_pivot("21590512800017");
  v.set_nom("Médiathèque " + id);
  v.set_commune("Roubaix");
  v.set_code_postal("59100");
  v.set_adresse("2 rue Pierre Motte");
  v.set_date_maj("2024-04-02");
  v.set_latitude(50.6909);
  v.set_longitude(3.1746);
  v.add_services(venues::v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  v.add_frais_a_charge(venues::v1::FRAIS_GRATUIT);
  v.add_typologie("BIB");
  return v;
}

struct Seen {
  std::mutex mu;
  std::map<std::string, Clock::time_point> by_nom;  // the venue's new name -> when seen
};

void OnNatsEvent(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  const auto at = Clock::now();
  auto* seen = static_cast<Seen*>(closure);
  events::v1::Event e;
  venues::v1::VenueUpdated p;
  if (e.ParseFromArray(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)) &&
      e.payload().UnpackTo(&p)) {
    std::lock_guard lock(seen->mu);
    seen->by_nom.emplace(p.venue().nom(), at);
  }
  natsMsg_Destroy(msg);
}

bool EndToEndScenario(int updates, Sink& sink, bool judged) {
  const std::string prefix = passerelle::testing::UniqueName("nbe2e");
  const std::string venues_schema = prefix + "_v", notifications_schema = prefix + "_n";
  const int venues_port = passerelle::testing::FreePort();
  auto venues_process = StartService("services/venues/passerelle-venues", venues_schema,
                                     venues_port, {{"PASSERELLE_NATS_PREFIX", prefix}});
  const int notifications_port = passerelle::testing::FreePort();
  auto notifications_process = StartService(
      "services/notifications/passerelle-notifications", notifications_schema, notifications_port,
      {{"PASSERELLE_NATS_PREFIX", prefix},
       {"PASSERELLE_NOTIFICATIONS_ALLOWED_NETWORKS", "127.0.0.0/8"},
       {"PASSERELLE_NOTIFICATIONS_ALLOWED_PORTS", absl::StrCat(sink.port())},
       {"PASSERELLE_PAGE_TOKEN_KEY", "notifications-bench"}});
  auto venues_stub = venues::v1::VenueService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", venues_port), grpc::InsecureChannelCredentials()));
  auto stub = nv1::NotificationService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", notifications_port), grpc::InsecureChannelCredentials()));
  bool ok = true;
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "end to end: %s\nvenues:\n%s\nnotifications:\n%s\n", what.c_str(),
                 venues_process->Output().c_str(), notifications_process->Output().c_str());
    ok = false;
  };

  // The subscriber of the reference: the events as they reach NATS.
  Seen seen;
  auto nats = events::NatsClient::Connect({.url = Env("PASSERELLE_TEST_NATS_URL")});
  natsSubscription* nats_sub = nullptr;
  if (!nats.ok() || natsConnection_Subscribe(&nats_sub, (*nats)->connection(),
                                             absl::StrCat(prefix, ".events.venue.updated").c_str(),
                                             OnNatsEvent, &seen) != NATS_OK) {
    fail("NATS subscription");
    return false;
  }
  // Ten venues, updated in turn; one webhook subscription to their updates.
  constexpr int kVenuesUpdated = 10;
  std::vector<std::string> names;
  for (int i = 0; i < kVenuesUpdated && ok; ++i) {
    grpc::ClientContext ctx;
    venues::v1::CreateVenueRequest req;
    *req.mutable_venue() = NewVenue(absl::StrCat("lieu-bench-", i));
    venues::v1::Venue out;
    grpc::Status st = venues_stub->CreateVenue(&ctx, req, &out);
    if (!st.ok()) fail("CreateVenue: " + st.error_message());
    names.push_back(out.name());
  }
  nv1::Subscription sub;
  if (ok) {
    grpc::ClientContext ctx;
    nv1::CreateSubscriptionRequest req;
    req.mutable_subscription()->set_organisation("organisations/centre-social-epeule");
    req.mutable_subscription()->set_display_name("Banc d'essai");
    req.mutable_subscription()->mutable_webhook()->set_url(sink.url());
    req.mutable_subscription()->mutable_filter()->add_event_types("venue.updated");
    grpc::Status st = stub->CreateSubscription(&ctx, req, &sub);
    if (!st.ok()) fail("CreateSubscription: " + st.error_message());
    sink.Reset(sub.webhook().secret());
  }
  // Writes at a steady `rate`; the venue's new name tells the arrivals apart.
  constexpr double kRate = 20;
  struct Write {
    std::string nom;
    Clock::time_point start, returned;
  };
  auto run = [&](const std::string& tag, int n) {
    std::vector<Write> writes;
    const auto begin = Clock::now();
    for (int i = 0; i < n && ok; ++i) {
      std::this_thread::sleep_until(
          begin + std::chrono::microseconds(static_cast<int64_t>(i * 1e6 / kRate)));
      grpc::ClientContext ctx;
      venues::v1::UpdateVenueRequest req;
      req.mutable_venue()->set_name(names[i % kVenuesUpdated]);
      const std::string nom = absl::StrCat("Médiathèque ", tag, " ", i);
      req.mutable_venue()->set_nom(nom);
      req.mutable_update_mask()->add_paths("nom");
      venues::v1::Venue out;
      const auto start = Clock::now();
      grpc::Status st = venues_stub->UpdateVenue(&ctx, req, &out);
      const auto returned = Clock::now();
      if (!st.ok()) fail("UpdateVenue: " + st.error_message());
      writes.push_back({nom, start, returned});
    }
    return writes;
  };
  auto arrived = [&](const std::vector<Write>& writes) {
    std::map<std::string, Clock::time_point> out;
    for (const auto& a : sink.arrivals()) {
      auto j = nlohmann::json::parse(a.body, nullptr, false);
      if (j.is_discarded()) continue;
      out.emplace(j["data"]["payload"]["venue"].value("nom", ""), a.at);
    }
    size_t n = 0;
    for (const auto& w : writes) n += out.contains(w.nom);
    return std::make_pair(out, n);
  };
  // A warm-up (connections, the consumer's first fetch), not measured.
  if (ok) {
    auto warm = run("echauffement", 10);
    if (!passerelle::testing::WaitFor([&] { return arrived(warm).second == warm.size(); }, 30s)) {
      fail("the warm-up's webhooks did not all arrive");
    }
  }
  std::vector<Write> writes;
  if (ok) {
    sink.Reset(sub.webhook().secret());
    writes = run("mesure", updates);
    if (!passerelle::testing::WaitFor([&] { return arrived(writes).second == writes.size(); },
                                      60s)) {
      fail(absl::StrCat("only ", arrived(writes).second, " of ", writes.size(),
                        " webhooks arrived"));
    }
  }
  std::vector<double> webhook_ms, nats_ms, write_ms;
  size_t on_nats = 0;
  if (ok) {
    const auto [arrivals, n] = arrived(writes);
    std::lock_guard lock(seen.mu);
    for (const auto& w : writes) {
      write_ms.push_back(Ms(w.returned - w.start));
      webhook_ms.push_back(Ms(arrivals.at(w.nom) - w.returned));
      if (auto it = seen.by_nom.find(w.nom); it != seen.by_nom.end()) {
        nats_ms.push_back(Ms(it->second - w.returned));
        ++on_nats;
      }
    }
    if (sink.count() != writes.size() || sink.refused() != 0) {
      fail(absl::StrCat(sink.count(), " requests for ", writes.size(), " writes, ", sink.refused(),
                        " refused"));
    }
  }
  natsSubscription_Unsubscribe(nats_sub);
  natsSubscription_Destroy(nats_sub);
  const std::string poll = Env("PASSERELLE_NOTIFICATIONS_POLL");
  const double p50 = Percentile(webhook_ms, 0.5), p99 = Percentile(webhook_ms, 0.99);
  const bool met = ok && p99 < 200;
  std::printf(
      "end to end: passerelle-venues -> NATS -> passerelle-notifications -> webhook, %d venue "
      "updates at %.0f/s over %d venues, one subscription (workers poll every %s)\n"
      "  write returned -> webhook received      p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms   goal "
      "p99 < 200 ms: %s\n"
      "  write returned -> event seen on NATS    p50 %7.1f ms  p99 %7.1f ms  (reference, %zu of "
      "%zu seen)\n"
      "  UpdateVenue itself                      p50 %7.1f ms  p99 %7.1f ms  (reference)\n"
      "  each update delivered exactly once, signature verified: %s\n",
      updates, kRate, kVenuesUpdated, poll.empty() ? "200ms, the default" : poll.c_str(), p50, p99,
      webhook_ms.empty() ? 0 : *std::max_element(webhook_ms.begin(), webhook_ms.end()),
      Verdict(met, judged), Percentile(nats_ms, 0.5), Percentile(nats_ms, 0.99), on_nats,
      writes.size(), Percentile(write_ms, 0.5), Percentile(write_ms, 0.99), ok ? "yes" : "NO");
  notifications_process->Signal(SIGTERM);
  venues_process->Signal(SIGTERM);
  notifications_process->Wait(20s);
  venues_process->Wait(20s);
  {
    pqxx::connection c(Env("PASSERELLE_TEST_DATABASE_URL"));
    pqxx::nontransaction tx(c);
    for (const auto& s : {venues_schema, notifications_schema}) {
      tx.exec0("DROP SCHEMA IF EXISTS \"" + s + "\" CASCADE");
    }
  }
  return ok && (met || !judged);
}

}  // namespace

int main(int argc, char** argv) {
  const bool full_env = Env("PASSERELLE_BENCH_FULL") == "1";
  auto arg = [&](int i, int full_value) {
    return full_env || argc <= i ? full_value : std::atoi(argv[i]);
  };
  const int subscriptions = arg(1, 100000), n_events = arg(2, 2000), fan_out = arg(3, 10000),
            updates = arg(4, 400);
  if (Env("PASSERELLE_TEST_DATABASE_URL").empty() || Env("PASSERELLE_TEST_NATS_URL").empty()) {
    std::fprintf(stderr, "run through deploy/local/passerelle test (needs its servers)\n");
    return 2;
  }
  auto setting = [](const char* name, int fallback) {
    return Env(name).empty() ? fallback : std::max(1, std::atoi(Env(name).c_str()));
  };
  const WorkerSettings workers{
      .workers = setting("PASSERELLE_NOTIFICATIONS_WORKERS", 4),
      .batch = setting("PASSERELLE_NOTIFICATIONS_BATCH", 32),
      .concurrent_sends = setting("PASSERELLE_NOTIFICATIONS_CONCURRENT_SENDS", 4)};
  // Goals are judged at the sizes only; a short run checks the answers and the counts.
  // A size of 0 leaves a scenario out (manual runs of one of them).
  bool ok = true;
  if (subscriptions > 0 && n_events > 0) {
    ok = MatchingScenario(subscriptions, n_events, subscriptions >= 100000 && n_events >= 1000);
  }
  Sink sink;
  if (fan_out > 0) ok = FanOutScenario(fan_out, workers, sink, fan_out >= 10000) && ok;
  if (updates > 0) ok = EndToEndScenario(updates, sink, updates >= 400) && ok;
  std::printf("notifications_bench: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
