// The notifications domain over PostgreSQL.
#include "services/notifications/notifier.hpp"

#include <google/protobuf/util/json_util.h>
#include <openssl/rand.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/db/params.hpp"
#include "libs/db/transaction.hpp"
#include "libs/events/consumer.hpp"
#include "libs/events/event.hpp"
#include "libs/events/types.hpp"
#include "libs/logging/logging.hpp"
#include "libs/text/html.hpp"
#include "libs/text/utf8.hpp"
#include "services/notifications/digest.hpp"
#include "services/notifications/message.hpp"
#include "services/notifications/webhook.hpp"

namespace passerelle::notifications {
namespace {

const api::ResourcePattern kSubscription("subscriptions/{subscription}");
const api::ResourcePattern kDelivery("subscriptions/{subscription}/deliveries/{delivery}");
const api::ResourcePattern kOrganisation("organisations/{organisation}");

constexpr size_t kMaxList = 200;
// The event SendTest queues for one subscription.
constexpr std::string_view kTestEventType = "notification.test";
constexpr size_t kMaxTypes = 20;
constexpr absl::Duration kMaxGrace = absl::Hours(24 * 7);
// The event a digest delivery carries, and how many events one digest holds at most (a period
// with more gives several digests at its closing).
constexpr std::string_view kDigestEventType = "notification.digest";
// A notice to a subscription's contact that it was disabled (payload: the Subscription).
constexpr std::string_view kDisabledEventType = "notification.disabled";
constexpr int kDigestMaxEvents = 500;

std::string RhythmText(v1::Subscription::Rhythm r) {
  return r == v1::Subscription::DAILY_DIGEST    ? "daily"
         : r == v1::Subscription::WEEKLY_DIGEST ? "weekly"
                                                : "immediate";
}

// The schedule of a subscription's digests (nullopt for IMMEDIATE).
std::optional<DigestSchedule> ScheduleOf(const v1::Subscription& s) {
  if (s.rhythm() != v1::Subscription::DAILY_DIGEST &&
      s.rhythm() != v1::Subscription::WEEKLY_DIGEST) {
    return std::nullopt;
  }
  std::optional<DigestSchedule> out = ParseDigestTime(s.digest_time());
  if (!out) return std::nullopt;
  out->weekly = s.rhythm() == v1::Subscription::WEEKLY_DIGEST;
  out->weekday = s.digest_weekday() == v1::Subscription::WEEKDAY_UNSPECIFIED
                     ? 1
                     : static_cast<int>(s.digest_weekday());
  return out;
}

constexpr char kColumns[] =
    "subscription_id::text, organisation, display_name, channel, url, email, filter::text, "
    "rhythm, state, disabled_reason, consecutive_failures, revision, "
    "extract(epoch FROM create_time), extract(epoch FROM update_time), "
    "extract(epoch FROM previous_secret_expire_time), digest_time, digest_weekday, "
    "extract(epoch FROM next_digest_time), contact_email";

absl::Status NotFound(const std::string& what) {
  return api::NotFound(what, "SUBSCRIPTION_NOT_FOUND");
}

absl::Status EtagMismatch(const std::string& name, int revision) {
  return api::WithReason(
      absl::AbortedError(absl::StrCat("etag mismatch: ", name, " changed since it was read (now ",
                                      api::WeakETag(revision), "); read it again")),
      "ETAG_MISMATCH");
}

std::string FilterJson(const v1::Filter& f) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(f, &out);
  return out.empty() ? "{}" : out;
}

v1::Subscription::Rhythm RhythmOf(const std::string& s) {
  return s == "daily"    ? v1::Subscription::DAILY_DIGEST
         : s == "weekly" ? v1::Subscription::WEEKLY_DIGEST
                         : v1::Subscription::IMMEDIATE;
}

v1::Subscription FromRow(const pqxx::row& r) {
  v1::Subscription s;
  s.set_name(kSubscription.Format({r[0].as<std::string>()}));
  s.set_organisation(r[1].as<std::string>());
  s.set_display_name(r[2].as<std::string>());
  if (r[3].as<std::string>() == "webhook") {
    s.mutable_webhook()->set_url(r[4].as<std::string>());
    if (!r[14].is_null()) {
      api::ToTimestamp(db::FromEpoch(r[14]),
                       s.mutable_webhook()->mutable_previous_secret_expire_time());
    }
  } else {
    s.mutable_email()->set_address(r[5].as<std::string>());
  }
  (void)google::protobuf::util::JsonStringToMessage(r[6].as<std::string>(), s.mutable_filter());
  s.set_rhythm(RhythmOf(r[7].as<std::string>()));
  if (s.rhythm() != v1::Subscription::IMMEDIATE) {
    s.set_digest_time(r[15].as<std::string>());
    s.set_digest_weekday(static_cast<v1::Subscription::Weekday>(r[16].as<int>()));
    if (!r[17].is_null()) {
      api::ToTimestamp(db::FromEpoch(r[17]), s.mutable_next_digest_time());
    }
  }
  s.set_state(r[8].as<std::string>() == "active" ? v1::Subscription::ACTIVE
                                                 : v1::Subscription::DISABLED);
  s.set_disabled_reason(r[9].as<std::string>());
  s.set_contact_email(r[18].as<std::string>());
  s.set_consecutive_failures(r[10].as<int>());
  s.set_etag(api::WeakETag(r[11].as<int>()));
  api::ToTimestamp(db::FromEpoch(r[12]), s.mutable_create_time());
  api::ToTimestamp(db::FromEpoch(r[13]), s.mutable_update_time());
  return s;
}

void CheckList(std::vector<api::FieldViolation>* bad, const std::string& field,
               const google::protobuf::RepeatedPtrField<std::string>& values, size_t max) {
  if (static_cast<size_t>(values.size()) > max) {
    bad->push_back({field, absl::StrCat("au plus ", max, " valeurs (", values.size(), " reçues)")});
    return;
  }
  for (int i = 0; i < values.size(); ++i) {
    const std::string f = absl::StrCat(field, "[", i, "]");
    if (!api::CheckText(bad, f, values[i], 200)) continue;
    if (values[i].empty()) bad->push_back({f, "valeur vide"});
  }
}

// Whether an event type of a filter names a published type, or is a prefix (`venue.*`) of one.
// `notification.test` (SendTest's own event) may be named too.
// An e-mail address a message may be sent to (IsMailAddress), at most 254 characters.
void CheckMailAddress(std::vector<api::FieldViolation>* bad, const std::string& field,
                      const std::string& address) {
  if (api::CheckText(bad, field, address, 254) && !IsMailAddress(address)) {
    bad->push_back(
        {field, absl::StrCat(text::Quote(address, 60),
                             " : adresse électronique invalide [email] (nom@domaine.fr "
                             ": lettres non accentuées, chiffres, . _ + -, sans espace)")});
  }
}

bool IsKnownEventType(std::string_view t) {
  bool prefix = t.ends_with(".*");
  if (prefix) t.remove_suffix(1);  // keep the dot: `venue.` must not match `venues.x`
  auto matches = [&](std::string_view known) { return prefix ? known.starts_with(t) : known == t; };
  if (matches(kTestEventType)) return true;
  for (std::string_view known : events::kEventTypes) {
    if (matches(known)) return true;
  }
  return false;
}

// Checks each value of a filter list with `valid`; `rule` says what it should be, in French.
template <typename Valid>
void CheckValues(std::vector<api::FieldViolation>* bad, const std::string& field,
                 const google::protobuf::RepeatedPtrField<std::string>& values, Valid valid,
                 std::string_view rule) {
  size_t before = bad->size();
  CheckList(bad, field, values, kMaxList);
  if (bad->size() != before) return;
  for (int i = 0; i < values.size(); ++i) {
    if (!valid(values[i])) {
      bad->push_back({absl::StrCat(field, "[", i, "]"),
                      absl::StrCat(text::Quote(values[i], 40), " : ", std::string(rule))});
    }
  }
}

// A filter value that can never match (a typo, a name of the wrong kind) is refused: the
// subscription would otherwise stay silent without anyone knowing why.
void CheckFilter(std::vector<api::FieldViolation>* bad, const v1::Filter& f) {
  size_t before = bad->size();
  CheckList(bad, "subscription.filter.event_types", f.event_types(), kMaxTypes);
  if (bad->size() == before) {
    for (int i = 0; i < f.event_types_size(); ++i) {
      if (IsKnownEventType(f.event_types(i))) continue;
      std::vector<std::string> known(std::begin(events::kEventTypes),
                                     std::end(events::kEventTypes));
      bad->push_back({absl::StrCat("subscription.filter.event_types[", i, "]"),
                      absl::StrCat(text::Quote(f.event_types(i), 40),
                                   " n'est ni un type d'événement publié ni le préfixe d'un type "
                                   "(venue.*) ; types publiés : ",
                                   absl::StrJoin(known, ", "))});
    }
  }
  static const api::ResourcePattern kItem("items/{item}");
  static const api::ResourcePattern kVenue("venues/{venue}");
  static const api::ResourcePattern kSource("sources/{source}");
  auto parses = [](const api::ResourcePattern& p) {
    return [&p](const std::string& v) { return p.Parse(v, "").ok(); };
  };
  CheckValues(
      bad, "subscription.filter.areas", f.areas(),
      [](const std::string& v) {
        size_t colon = v.find(':');
        return colon != std::string::npos &&
               api::IsNameSegment(std::string_view(v).substr(0, colon)) &&
               api::IsNameSegment(std::string_view(v).substr(colon + 1));
      },
      "une zone s'écrit <couche>:<code>, comme dans Venue.areas (qpv:QN05902M)");
  CheckValues(bad, "subscription.filter.referential_items", f.referential_items(), parses(kItem),
              "un élément du référentiel s'écrit items/{item}");
  CheckValues(
      bad, "subscription.filter.owner_organisations", f.owner_organisations(),
      [](const std::string& v) { return api::IsNameSegment(v); },
      "un identifiant d'organisation, comme dans Venue.owner_organisation, sans "
      "« organisations/ »");
  CheckValues(bad, "subscription.filter.venues", f.venues(), parses(kVenue),
              "un lieu s'écrit venues/{venue}");
  CheckValues(bad, "subscription.filter.sync_sources", f.sync_sources(), parses(kSource),
              "une source s'écrit sources/{source}");
}

bool InMask(const std::vector<std::string>& mask, const std::string& path) {
  for (const auto& m : mask) {
    if (m == path || path.starts_with(m + ".")) return true;
  }
  return false;
}

v1::Delivery::State DeliveryState(const std::string& s) {
  return s == "succeeded"   ? v1::Delivery::SUCCEEDED
         : s == "failed"    ? v1::Delivery::FAILED
         : s == "collected" ? v1::Delivery::COLLECTED
         : s == "digested"  ? v1::Delivery::IN_DIGEST
                            : v1::Delivery::PENDING;
}

v1::Attempt::Outcome AttemptOutcome(const std::string& s) {
  return s == "succeeded" ? v1::Attempt::SUCCEEDED
         : s == "refused" ? v1::Attempt::REFUSED
                          : v1::Attempt::FAILED;
}

constexpr char kDeliveryColumns[] =
    "d.subscription_id::text, d.delivery_id::text, d.event_id, e.event_type, d.subject, d.state, "
    "extract(epoch FROM d.create_time), extract(epoch FROM d.next_attempt_time), d.seq, "
    "d.digest_id::text";

// Reads deliveries and their attempts.
std::vector<v1::Delivery> Deliveries(pqxx::work& tx, const pqxx::result& rows) {
  std::vector<v1::Delivery> out;
  std::vector<std::string> ids;
  std::map<std::string, size_t> at;
  for (const auto& r : rows) {
    v1::Delivery d;
    d.set_name(kDelivery.Format({r[0].as<std::string>(), r[1].as<std::string>()}));
    d.set_event_id(r[2].as<std::string>());
    d.set_event_type(r[3].as<std::string>());
    d.set_subject(r[4].as<std::string>());
    d.set_state(DeliveryState(r[5].as<std::string>()));
    api::ToTimestamp(db::FromEpoch(r[6]), d.mutable_create_time());
    if (d.state() == v1::Delivery::PENDING) {
      api::ToTimestamp(db::FromEpoch(r[7]), d.mutable_next_attempt_time());
    }
    if (!r[9].is_null()) {
      d.set_digest(kDelivery.Format({r[0].as<std::string>(), r[9].as<std::string>()}));
    }
    at[r[1].as<std::string>()] = out.size();
    ids.push_back(r[1].as<std::string>());
    out.push_back(std::move(d));
  }
  if (ids.empty()) return out;
  for (const auto& r : tx.exec_params(
           "SELECT delivery_id::text, extract(epoch FROM attempt_time), http_status, latency_ms, "
           "error, outcome FROM attempts WHERE delivery_id = ANY($1::uuid[]) "
           "ORDER BY delivery_id, attempt",
           db::TextArray(ids))) {
    v1::Attempt* a = out[at.at(r[0].as<std::string>())].add_attempts();
    api::ToTimestamp(db::FromEpoch(r[1]), a->mutable_time());
    a->set_http_status(r[2].as<int>());
    const int64_t ms = r[3].as<int64_t>();
    a->mutable_latency()->set_seconds(ms / 1000);
    a->mutable_latency()->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
    a->set_error(r[4].as<std::string>());
    a->set_outcome(AttemptOutcome(r[5].as<std::string>()));
  }
  return out;
}

// Deletes a subscription, leaving a tombstone (replicas' indexes learn of it); its log and
// pending deliveries go. Deliveries a worker holds (in flight) are skipped, not waited for: the
// worker locks the subscription after its deliveries, so waiting here while holding the
// subscription would deadlock; they are pruned once their worker is done.
void Tombstone(pqxx::work& tx, const std::string& id, absl::Time now) {
  tx.exec_params(
      "DELETE FROM deliveries WHERE delivery_id IN (SELECT delivery_id FROM deliveries WHERE "
      "subscription_id = $1::uuid FOR UPDATE SKIP LOCKED)",
      id);
  tx.exec_params(
      "UPDATE subscriptions SET deleted = true, secret = '', previous_secret = '', "
      "update_time = $2::timestamptz, change_seq = nextval('subscription_changes') WHERE "
      "subscription_id = $1::uuid",
      id, db::Timestamp(now));
}

// Records `event` (its JSON body for webhooks, its bytes for e-mails); once: the same event
// again is a no-op.
absl::Status RecordEvent(pqxx::work& tx, const events::v1::Event& event) {
  auto body = Body(event);
  if (!body.ok()) return body.status();
  tx.exec_params(
      "INSERT INTO events (event_id, event_type, subject, occurred_time, body, event) VALUES ($1, "
      "$2, $3, $4::timestamptz, $5, decode($6, 'hex')) ON CONFLICT (event_id) DO NOTHING",
      event.id(), event.type(), event.subject(),
      db::Timestamp(api::FromTimestamp(event.occurred_time())), *body,
      db::ToHex(event.SerializeAsString()));
  return absl::OkStatus();
}

// A new unsubscribe token: 256 random bits as 64 lowercase hex digits.
std::string NewToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no entropy: nothing is safe
  return db::ToHex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

double Jitter() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng);
}

}  // namespace

Notifier::Notifier(db::Pool& pool, const net::DestinationPolicy& policy, const Sender& sender,
                   const clocks::Clock& clock, Options options)
    : pool_(pool), policy_(policy), sender_(sender), clock_(clock), options_(options) {}

absl::StatusOr<std::string> Notifier::ParseName(const std::string& name, const std::string& field) {
  auto parts = kSubscription.Parse(name, field);
  if (!parts.ok()) return parts.status();
  if (!api::IsCanonicalUuid((*parts)[0])) {
    return api::InvalidName(field, "[pattern] un UUID en minuscules", name);
  }
  return (*parts)[0];
}

absl::Status Notifier::Validate(const v1::Subscription& s, const std::vector<std::string>& mask,
                                bool create) {
  std::vector<api::FieldViolation> bad;
  auto want = [&](const std::string& path) { return create || InMask(mask, path); };
  if (create) {
    if (s.organisation().empty()) {
      bad.push_back({"subscription.organisation", "[required] requis : organisations/{organisation}"});
    } else if (auto parsed = kOrganisation.Parse(s.organisation(), "subscription.organisation");
               !parsed.ok()) {
      for (auto& v : api::Violations(parsed.status())) bad.push_back(v);
    }
    if (s.channel_case() == v1::Subscription::CHANNEL_NOT_SET) {
      bad.push_back({"subscription.webhook", "[required] un canal est requis : webhook ou email"});
    }
  }
  if (want("display_name"))
    api::CheckText(&bad, "subscription.display_name", s.display_name(), 200);
  // On create the channel set is checked; on update, the channel the mask names (an update
  // without it in the request must not store an empty address).
  if (create ? s.has_webhook() : (InMask(mask, "webhook") || InMask(mask, "webhook.url"))) {
    const std::string& url = s.webhook().url();
    if (!text::IsValidUtf8(url) || url.empty()) {
      bad.push_back({"subscription.webhook.url", "adresse http(s) requise"});
    } else if (auto parsed = net::ParseUrl(url); !parsed.ok()) {
      bad.push_back({"subscription.webhook.url", std::string(parsed.status().message())});
    } else if (absl::Status st = policy_.CheckUrl(*parsed); !st.ok()) {
      bad.push_back({"subscription.webhook.url", std::string(st.message())});
    }
  }
  if (create ? s.has_email() : (InMask(mask, "email") || InMask(mask, "email.address"))) {
    CheckMailAddress(&bad, "subscription.email.address", s.email().address());
  }
  if (want("contact_email") && !s.contact_email().empty()) {
    CheckMailAddress(&bad, "subscription.contact_email", s.contact_email());
  }
  if (want("filter")) CheckFilter(&bad, s.filter());
  if (!bad.empty()) {
    return api::InvalidArgument(
        absl::StrCat(bad.size(), bad.size() == 1 ? " champ invalide" : " champs invalides"), bad);
  }
  if (want("rhythm") && !v1::Subscription::Rhythm_IsValid(s.rhythm())) {
    return api::InvalidArgument(
        "invalid rhythm",
        {{"subscription.rhythm", absl::StrCat("valeur inconnue ", s.rhythm(), " : IMMEDIATE")}});
  }
  if (create && !v1::Subscription::State_IsValid(s.state())) {
    return api::InvalidArgument(
        "invalid state", {{"subscription.state",
                           absl::StrCat("valeur inconnue ", s.state(), " : ACTIVE ou DISABLED")}});
  }
  if (want("digest_time") && !ParseDigestTime(s.digest_time())) {
    return api::InvalidArgument(
        "invalid digest_time",
        {{"subscription.digest_time",
          absl::StrCat(text::Quote(s.digest_time(), 20),
                       " [format] : une heure HH:MM sur 24 heures, heure de Paris (08:00)")}});
  }
  if (want("digest_weekday") && !v1::Subscription::Weekday_IsValid(s.digest_weekday())) {
    return api::InvalidArgument(
        "invalid digest_weekday",
        {{"subscription.digest_weekday",
          absl::StrCat("valeur inconnue ", s.digest_weekday(), " : MONDAY … SUNDAY")}});
  }
  if (!create && InMask(mask, "state") && s.state() != v1::Subscription::ACTIVE &&
      s.state() != v1::Subscription::DISABLED) {
    return api::InvalidArgument("état invalide", {{"subscription.state", "ACTIVE ou DISABLED"}});
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Subscription> Notifier::Create(const v1::Subscription& in) {
  if (absl::Status s = Validate(in, {}, true); !s.ok()) return s;
  const std::string id = events::NewUuid();
  const std::string secret = in.has_webhook() ? NewSecret() : std::string();
  const std::optional<DigestSchedule> digest = ScheduleOf(in);
  DigestSchedule schedule = digest.value_or(*ParseDigestTime(in.digest_time()));
  if (in.digest_weekday() != v1::Subscription::WEEKDAY_UNSPECIFIED) {
    schedule.weekday = static_cast<int>(in.digest_weekday());
  }
  const std::string next_digest =
      digest ? db::Timestamp(NextDigest(*digest, clock_.Now())) : std::string();
  std::optional<v1::Subscription> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    const std::string now = db::Timestamp(clock_.Now());
    out = FromRow(tx.exec_params1(
        absl::StrCat("INSERT INTO subscriptions (subscription_id, organisation, display_name, "
                     "channel, url, email, secret, filter, create_time, update_time, rhythm, "
                     "digest_time, digest_weekday, next_digest_time, unsubscribe_token, "
                     "contact_email) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::jsonb, "
                     "$9::timestamptz, $9::timestamptz, $10, $11, $12, NULLIF($13, "
                     "'')::timestamptz, $14, $15) RETURNING ",
                     kColumns),
        id, in.organisation(), in.display_name(), in.has_webhook() ? "webhook" : "email",
        in.has_webhook() ? in.webhook().url() : "", in.has_email() ? in.email().address() : "",
        secret, FilterJson(in.filter()), now, RhythmText(in.rhythm()), DigestTimeText(schedule),
        schedule.weekday, next_digest, NewToken(), in.contact_email()));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  index_.Put(id, out->filter());
  if (out->has_webhook()) out->mutable_webhook()->set_secret(secret);
  return *out;
}

absl::StatusOr<v1::Subscription> Notifier::Get(const std::string& name) {
  auto id = ParseName(name, "name");
  if (!id.ok()) return id.status();
  std::optional<v1::Subscription> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(absl::StrCat("SELECT ", kColumns,
                                         " FROM subscriptions WHERE subscription_id = $1::uuid "
                                         "AND NOT deleted"),
                            *id);
    if (r.empty()) return NotFound(name);
    out = FromRow(r[0]);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return *out;
}

absl::StatusOr<v1::Subscription> Notifier::Update(const v1::Subscription& in,
                                                  const std::vector<std::string>& mask) {
  auto id = ParseName(in.name(), "subscription.name");
  if (!id.ok()) return id.status();
  if (mask.empty()) {
    return api::InvalidArgument("masque de mise à jour vide",
                                {{"update_mask", "[required] nommez les champs à changer"}});
  }
  static const std::set<std::string_view> kPaths = {
      "display_name", "webhook", "webhook.url", "email",          "email.address", "filter",
      "rhythm",       "state",   "digest_time", "digest_weekday", "contact_email"};
  std::vector<api::FieldViolation> bad;
  api::CheckUpdateMask(
      mask,
      {.writable = [](std::string_view path) { return kPaths.contains(path); },
       .of = "d'un abonnement",
       .listed = "display_name, webhook.url, email.address, filter, rhythm, digest_time, "
                 "digest_weekday, state, contact_email"},
      &bad);
  if (!bad.empty()) return api::InvalidArgument("masque de mise à jour invalide", bad);
  auto revision = api::RevisionFromETag(in.etag());
  if (!revision.ok()) return revision.status();
  if (absl::Status s = Validate(in, mask, false); !s.ok()) return s;
  std::optional<v1::Subscription> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(absl::StrCat("SELECT ", kColumns,
                                         ", channel FROM subscriptions WHERE subscription_id = "
                                         "$1::uuid AND NOT deleted FOR UPDATE"),
                            *id);
    if (r.empty()) return NotFound(in.name());
    v1::Subscription cur = FromRow(r[0]);
    const int current_revision = r[0][11].as<int>();
    if (*revision != 0 && *revision != current_revision) {
      return EtagMismatch(in.name(), current_revision);
    }
    if ((InMask(mask, "webhook") || InMask(mask, "webhook.url")) && !cur.has_webhook()) {
      return absl::FailedPreconditionError("ce n'est pas un abonnement webhook");
    }
    if ((InMask(mask, "email") || InMask(mask, "email.address")) && !cur.has_email()) {
      return absl::FailedPreconditionError("ce n'est pas un abonnement par courriel");
    }
    if (InMask(mask, "display_name")) cur.set_display_name(in.display_name());
    if (InMask(mask, "webhook") || InMask(mask, "webhook.url")) {
      cur.mutable_webhook()->set_url(in.webhook().url());
    }
    if (InMask(mask, "email") || InMask(mask, "email.address")) {
      cur.mutable_email()->set_address(in.email().address());
    }
    if (InMask(mask, "filter")) *cur.mutable_filter() = in.filter();
    if (InMask(mask, "contact_email")) cur.set_contact_email(in.contact_email());
    std::string state = cur.state() == v1::Subscription::ACTIVE ? "active" : "disabled";
    std::string reason = cur.disabled_reason();
    int failures = cur.consecutive_failures();
    if (InMask(mask, "state")) {
      state = in.state() == v1::Subscription::ACTIVE ? "active" : "disabled";
      reason = state == "active" ? "" : "désactivé à la demande";
      if (state == "active") {
        failures = 0;
        // What waited goes out now, not at the end of each backoff (hours after an outage).
        // Deliveries a worker holds are skipped (it locks this subscription after them).
        tx.exec_params(
            "UPDATE deliveries SET next_attempt_time = $2::timestamptz WHERE delivery_id IN "
            "(SELECT delivery_id FROM deliveries WHERE subscription_id = $1::uuid AND state = "
            "'pending' AND next_attempt_time > $2::timestamptz FOR UPDATE SKIP LOCKED)",
            *id, db::Timestamp(clock_.Now()));
      }
    }
    // A new rhythm or schedule starts a new period now; a digest already due keeps its closing.
    const bool reschedule =
        InMask(mask, "rhythm") || InMask(mask, "digest_time") || InMask(mask, "digest_weekday");
    if (InMask(mask, "rhythm")) cur.set_rhythm(in.rhythm());
    if (InMask(mask, "digest_time")) cur.set_digest_time(in.digest_time());
    if (InMask(mask, "digest_weekday")) cur.set_digest_weekday(in.digest_weekday());
    if (cur.digest_time().empty()) cur.set_digest_time(r[0][15].as<std::string>());
    if (cur.digest_weekday() == v1::Subscription::WEEKDAY_UNSPECIFIED) {
      cur.set_digest_weekday(static_cast<v1::Subscription::Weekday>(r[0][16].as<int>()));
    }
    const std::optional<DigestSchedule> digest = ScheduleOf(cur);
    std::string next_digest = r[0][17].is_null() ? "" : db::Timestamp(db::FromEpoch(r[0][17]));
    if (reschedule) next_digest = digest ? db::Timestamp(NextDigest(*digest, clock_.Now())) : "";
    if (!digest) {
      // Back to IMMEDIATE: what was collected for a digest goes out now, one by one.
      tx.exec_params(
          "UPDATE deliveries SET state = 'pending', next_attempt_time = $2::timestamptz WHERE "
          "subscription_id = $1::uuid AND state = 'collected'",
          *id, db::Timestamp(clock_.Now()));
    }
    out = FromRow(tx.exec_params1(
        absl::StrCat("UPDATE subscriptions SET display_name = $2, url = $3, email = $4, "
                     "filter = $5::jsonb, state = $6, disabled_reason = $7, "
                     "consecutive_failures = $8, revision = revision + 1, update_time = "
                     "$9::timestamptz, change_seq = nextval('subscription_changes'), rhythm = $10, "
                     "digest_time = $11, digest_weekday = $12, next_digest_time = NULLIF($13, "
                     "'')::timestamptz, unsubscribe_token = CASE WHEN $14 = '' THEN "
                     "unsubscribe_token ELSE $14 END, contact_email = $15 WHERE subscription_id = "
                     "$1::uuid RETURNING ",
                     kColumns),
        *id, cur.display_name(), cur.has_webhook() ? cur.webhook().url() : "",
        cur.has_email() ? cur.email().address() : "", FilterJson(cur.filter()), state, reason,
        failures, db::Timestamp(clock_.Now()), RhythmText(cur.rhythm()),
        DigestTimeText(*ParseDigestTime(cur.digest_time())), static_cast<int>(cur.digest_weekday()),
        next_digest,
        // A new address gets a new unsubscribe link: the former recipient's stops working.
        InMask(mask, "email") || InMask(mask, "email.address") ? NewToken() : std::string(),
        cur.contact_email()));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  index_.Put(*id, out->filter());
  return *out;
}

absl::Status Notifier::Delete(const std::string& name, const std::string& etag) {
  auto id = ParseName(name, "name");
  if (!id.ok()) return id.status();
  auto revision = api::RevisionFromETag(etag);
  if (!revision.ok()) return revision.status();
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "SELECT revision FROM subscriptions WHERE subscription_id = $1::uuid AND NOT deleted "
        "FOR UPDATE",
        *id);
    if (r.empty()) return NotFound(name);
    if (*revision != 0 && *revision != r[0][0].as<int>()) {
      return EtagMismatch(name, r[0][0].as<int>());
    }
    Tombstone(tx, *id, clock_.Now());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  index_.Remove(*id);
  return absl::OkStatus();
}

absl::StatusOr<Page<v1::Subscription>> Notifier::List(const std::string& organisation,
                                                      const std::string& after, int limit) {
  if (!organisation.empty()) {
    if (auto p = kOrganisation.Parse(organisation, "organisation"); !p.ok()) return p.status();
  }
  Page<v1::Subscription> page;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    page = {};
    // Keyset on (create_time, id), the cursor being `<epoch micros>:<uuid>`.
    std::string after_time = "-infinity", after_id = "00000000-0000-0000-0000-000000000000";
    if (!after.empty()) {
      const size_t colon = after.find(':');
      int64_t micros = 0;
      if (colon == std::string::npos || !absl::SimpleAtoi(after.substr(0, colon), &micros) ||
          !api::IsCanonicalUuid(after.substr(colon + 1))) {
        return api::InvalidArgument(
            "page_token invalide",
            {{"page_token", "[token] ce jeton ne vient pas de cette liste"}});
      }
      after_time = db::Timestamp(absl::FromUnixMicros(micros));
      after_id = after.substr(colon + 1);
    }
    auto rows = tx.exec_params(
        absl::StrCat("SELECT ", kColumns,
                     ", (extract(epoch FROM create_time) * 1000000)::bigint FROM subscriptions "
                     "WHERE NOT deleted AND ($1 = '' OR organisation = $1) AND (create_time, "
                     "subscription_id) > ($2::timestamptz, $3::uuid) ORDER BY create_time, "
                     "subscription_id LIMIT $4"),
        organisation, after_time, after_id, limit + 1);
    for (int i = 0; i < std::min<int>(limit, rows.size()); ++i) {
      page.items.push_back(FromRow(rows[i]));
    }
    if (static_cast<int>(rows.size()) > limit) {
      const auto& last = rows[limit - 1];
      page.next_cursor = absl::StrCat(last[19].as<int64_t>(), ":", last[0].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return page;
}

absl::StatusOr<Page<v1::Delivery>> Notifier::ListDeliveries(const std::string& parent,
                                                            const std::string& before, int limit) {
  auto id = ParseName(parent, "parent");
  if (!id.ok()) return id.status();
  int64_t before_seq = std::numeric_limits<int64_t>::max();
  if (!before.empty() && (!absl::SimpleAtoi(before, &before_seq) || before_seq <= 0)) {
    return api::InvalidArgument("page_token invalide",
                                {{"page_token", "[token] ce jeton ne vient pas de cette liste"}});
  }
  Page<v1::Delivery> page;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    page = {};
    if (tx.exec_params("SELECT 1 FROM subscriptions WHERE subscription_id = $1::uuid AND NOT "
                       "deleted",
                       *id)
            .empty()) {
      return NotFound(parent);
    }
    auto rows = tx.exec_params(
        absl::StrCat("SELECT ", kDeliveryColumns,
                     " FROM deliveries d JOIN events e USING (event_id) WHERE d.subscription_id "
                     "= $1::uuid AND d.seq < $2 ORDER BY d.seq DESC LIMIT $3"),
        *id, before_seq, limit + 1);
    const bool more = static_cast<int>(rows.size()) > limit;
    page.items = Deliveries(tx, rows);
    if (more) {
      page.items.resize(limit);
      page.next_cursor = absl::StrCat(rows[limit - 1][8].as<int64_t>());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return page;
}

absl::StatusOr<v1::Delivery> Notifier::Retry(const std::string& name) {
  auto parts = kDelivery.Parse(name, "name");
  if (!parts.ok()) return parts.status();
  if (!api::IsCanonicalUuid((*parts)[0]) || !api::IsCanonicalUuid((*parts)[1])) {
    return api::InvalidName("name", "[pattern] des UUID en minuscules", name);
  }
  std::optional<v1::Delivery> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        absl::StrCat("UPDATE deliveries d SET state = 'pending', next_attempt_time = "
                     "$3::timestamptz FROM events e, subscriptions s WHERE e.event_id = "
                     "d.event_id AND s.subscription_id = d.subscription_id AND NOT s.deleted AND "
                     "d.subscription_id = $1::uuid AND d.delivery_id = $2::uuid RETURNING ",
                     kDeliveryColumns),
        (*parts)[0], (*parts)[1], db::Timestamp(clock_.Now()));
    if (r.empty()) {
      return api::NotFound(name, "DELIVERY_NOT_FOUND");
    }
    out = Deliveries(tx, r)[0];
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  Wake();
  return *out;
}

absl::StatusOr<v1::Delivery> Notifier::SendTest(const std::string& name) {
  auto id = ParseName(name, "name");
  if (!id.ok()) return id.status();
  events::v1::Event event;
  event.set_id(events::NewUuid());
  event.set_type(std::string(kTestEventType));
  event.set_source("notifications");
  event.set_subject(name);
  api::ToTimestamp(clock_.Now(), event.mutable_occurred_time());
  std::optional<v1::Delivery> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto found = tx.exec_params(
        "SELECT channel, state FROM subscriptions WHERE subscription_id = $1::uuid AND NOT deleted",
        *id);
    if (found.empty()) return NotFound(name);
    if (found[0][1].as<std::string>() != "active") {
      return absl::FailedPreconditionError(
          "abonnement désactivé : réactivez-le (UpdateSubscription, state ACTIVE) avant un essai");
    }
    const std::string now = db::Timestamp(api::FromTimestamp(event.occurred_time()));
    if (absl::Status s = RecordEvent(tx, event); !s.ok()) return s;
    auto r = tx.exec_params(
        absl::StrCat("WITH d AS (INSERT INTO deliveries (delivery_id, subscription_id, event_id, "
                     "subject, create_time, next_attempt_time) VALUES (gen_random_uuid(), "
                     "$1::uuid, $2, $3, $4::timestamptz, $4::timestamptz) RETURNING *) SELECT ",
                     kDeliveryColumns, " FROM d JOIN events e USING (event_id)"),
        *id, event.id(), event.subject(), now);
    out = Deliveries(tx, r)[0];
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  Wake();
  return *out;
}

absl::StatusOr<v1::Subscription> Notifier::RotateSecret(const std::string& name,
                                                        std::optional<absl::Duration> grace) {
  auto id = ParseName(name, "name");
  if (!id.ok()) return id.status();
  const absl::Duration g = grace.value_or(absl::Hours(24));
  if (g < absl::ZeroDuration() || g > kMaxGrace) {
    return api::InvalidArgument("grace_period invalide",
                                {{"grace_period", "de 0 à 7 jours (168 h)"}});
  }
  const std::string secret = NewSecret();
  std::optional<v1::Subscription> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "SELECT channel, previous_secret_expire_time > $2::timestamptz FROM subscriptions WHERE "
        "subscription_id = $1::uuid AND NOT deleted FOR UPDATE",
        *id, db::Timestamp(clock_.Now()));
    if (r.empty()) return NotFound(name);
    if (!r[0][1].is_null() && r[0][1].as<bool>()) {
      // A second rotation would drop the first one's old secret before its grace period ends.
      return api::WithReason(
          absl::FailedPreconditionError(
              "une rotation est déjà en cours : l'ancien secret reste valable jusqu'à la fin de "
              "son délai de grâce ; recommencez après (ou avec un délai de grâce nul la prochaine "
              "fois)"),
          "ROTATION_IN_PROGRESS");
    }
    if (r[0][0].as<std::string>() != "webhook") {
      return absl::FailedPreconditionError(
          "seul un abonnement webhook a un secret : celui-ci est par courriel");
    }
    out = FromRow(tx.exec_params1(
        absl::StrCat("UPDATE subscriptions SET previous_secret = secret, secret = $2, "
                     "previous_secret_expire_time = $3::timestamptz, revision = revision + 1, "
                     "update_time = $4::timestamptz WHERE subscription_id = $1::uuid RETURNING ",
                     kColumns),
        *id, secret, db::Timestamp(clock_.Now() + g), db::Timestamp(clock_.Now())));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  out->mutable_webhook()->set_secret(secret);
  return *out;
}

absl::Status Notifier::Consume(pqxx::work& tx, const events::v1::Event& event) {
  auto facts = FactsOf(event);
  // A payload that is not what its type says will never be: dead-lettered at once.
  if (!facts.ok()) return events::Permanent(facts.status());
  const std::vector<std::string> ids = index_.Match(*facts);
  if (ids.empty()) return absl::OkStatus();
  const std::string now = db::Timestamp(clock_.Now());
  if (absl::Status s = RecordEvent(tx, event); !s.ok()) return s;
  // One delivery per (event, subscription): the UNIQUE constraint makes a second insert (a
  // redelivered event past the inbox, another replica) a no-op.
  tx.exec_params(
      "INSERT INTO deliveries (delivery_id, subscription_id, event_id, subject, create_time, "
      "next_attempt_time, state) SELECT gen_random_uuid(), subscription_id, $1, $2, "
      "$3::timestamptz, $3::timestamptz, CASE WHEN rhythm = 'immediate' THEN 'pending' ELSE "
      "'collected' END FROM subscriptions WHERE subscription_id = ANY($4::uuid[]) AND NOT "
      "deleted ON CONFLICT (event_id, subscription_id) DO NOTHING",
      event.id(), event.subject(), now, db::TextArray(ids));
  return absl::OkStatus();
}

absl::StatusOr<int> Notifier::CloseDigests() {
  int made = 0;
  for (bool more = true; more && !stopping_;) {
    absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
      more = false;
      const absl::Time now = clock_.Now();
      auto due = tx.exec_params(
          "SELECT subscription_id::text, rhythm, digest_time, digest_weekday, "
          "extract(epoch FROM next_digest_time) FROM subscriptions WHERE next_digest_time <= "
          "$1::timestamptz AND NOT deleted ORDER BY next_digest_time LIMIT 1 FOR UPDATE SKIP "
          "LOCKED",
          db::Timestamp(now));
      if (due.empty()) return absl::OkStatus();
      more = true;
      const std::string id = due[0][0].as<std::string>();
      const std::string name = kSubscription.Format({id});
      DigestSchedule schedule =
          ParseDigestTime(due[0][2].as<std::string>()).value_or(DigestSchedule{});
      schedule.weekly = due[0][1].as<std::string>() == "weekly";
      schedule.weekday = due[0][3].as<int>();
      const absl::Time closing = db::FromEpoch(due[0][4]);
      for (;;) {
        auto rows = tx.exec_params(
            "SELECT d.delivery_id::text, encode(e.event, 'hex'), e.event_id, e.event_type, "
            "e.subject FROM deliveries d JOIN events e USING (event_id) WHERE d.subscription_id = "
            "$1::uuid AND d.state = 'collected' AND d.create_time < $2::timestamptz ORDER BY "
            "d.seq LIMIT $3",
            id, db::Timestamp(closing), kDigestMaxEvents);
        if (rows.empty()) break;
        v1::Digest digest;
        digest.set_subscription(name);
        api::ToTimestamp(PreviousDigest(schedule, closing), digest.mutable_start_time());
        api::ToTimestamp(closing, digest.mutable_end_time());
        std::vector<std::string> carried;
        for (const auto& row : rows) {
          carried.push_back(row[0].as<std::string>());
          events::v1::Event* e = digest.add_events();
          std::string bytes;
          if (row[1].is_null() || !db::FromHex(row[1].as<std::string>(), &bytes) ||
              !e->ParseFromString(bytes)) {
            e->Clear();  // recorded before events kept their bytes: what the row knows
            e->set_id(row[2].as<std::string>());
            e->set_type(row[3].as<std::string>());
            e->set_subject(row[4].as<std::string>());
          }
        }
        events::v1::Event event;
        event.set_id(events::NewUuid());
        event.set_type(std::string(kDigestEventType));
        event.set_source("notifications");
        event.set_subject(name);
        api::ToTimestamp(closing, event.mutable_occurred_time());
        event.mutable_payload()->PackFrom(digest);
        if (absl::Status s = RecordEvent(tx, event); !s.ok()) return s;
        const std::string delivery = events::NewUuid();
        tx.exec_params(
            "INSERT INTO deliveries (delivery_id, subscription_id, event_id, subject, "
            "create_time, next_attempt_time) VALUES ($1::uuid, $2::uuid, $3, $4, "
            "$5::timestamptz, $5::timestamptz)",
            delivery, id, event.id(), name, db::Timestamp(now));
        tx.exec_params(
            "UPDATE deliveries SET state = 'digested', digest_id = $2::uuid WHERE delivery_id = "
            "ANY($1::uuid[])",
            db::TextArray(carried), delivery);
        ++made;
        if (static_cast<int>(rows.size()) < kDigestMaxEvents) break;
      }
      // Each period its own digest, even after a long stop: the next closing follows this one.
      tx.exec_params(
          "UPDATE subscriptions SET next_digest_time = $2::timestamptz WHERE subscription_id = "
          "$1::uuid",
          id, db::Timestamp(NextDigest(schedule, closing)));
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
  }
  if (made > 0) Wake();
  return made;
}

absl::StatusOr<int64_t> Notifier::Prune(absl::Duration keep) {
  int64_t pruned = 0;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    const std::string before = db::Timestamp(clock_.Now() - keep);
    pruned = tx.exec_params(
                   "DELETE FROM deliveries WHERE state NOT IN ('pending', 'collected') AND "
                   "create_time < "
                   "$1::timestamptz",
                   before)
                 .affected_rows();
    // What was in flight when its subscription was deleted.
    pruned += tx.exec(
                    "DELETE FROM deliveries d USING subscriptions s WHERE s.subscription_id = "
                    "d.subscription_id AND s.deleted")
                  .affected_rows();
    tx.exec_params(
        "DELETE FROM events e WHERE occurred_time < $1::timestamptz AND NOT EXISTS (SELECT 1 "
        "FROM deliveries d WHERE d.event_id = e.event_id)",
        before);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return pruned;
}

absl::Status Notifier::LoadIndex() {
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    int64_t top = 0;
    for (const auto& r :
         tx.exec("SELECT subscription_id::text, filter::text, change_seq FROM subscriptions "
                 "WHERE NOT deleted")) {
      v1::Filter f;
      (void)google::protobuf::util::JsonStringToMessage(r[1].as<std::string>(), &f);
      index_.Put(r[0].as<std::string>(), f);
      top = std::max(top, r[2].as<int64_t>());
    }
    auto m = tx.exec1("SELECT coalesce(max(change_seq), 0) FROM subscriptions");
    seen_change_ = std::max(top, m[0].as<int64_t>());
    return absl::OkStatus();
  });
}

absl::Status Notifier::RefreshIndex() {
  // Sequence values commit out of order: the last 1000 are read again, so a write that took a
  // lower value but committed late is still seen.
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    int64_t top = seen_change_;
    for (const auto& r : tx.exec_params(
             "SELECT subscription_id::text, filter::text, change_seq, deleted FROM subscriptions "
             "WHERE change_seq > $1 ORDER BY change_seq",
             std::max<int64_t>(0, seen_change_ - 1000))) {
      const std::string id = r[0].as<std::string>();
      if (r[3].as<bool>()) {
        index_.Remove(id);
      } else {
        v1::Filter f;
        (void)google::protobuf::util::JsonStringToMessage(r[1].as<std::string>(), &f);
        index_.Put(id, f);
      }
      top = std::max(top, r[2].as<int64_t>());
    }
    seen_change_ = top;
    return absl::OkStatus();
  });
}

// One claimed delivery, copied out of its row: the sends run on other threads.
struct Notifier::Claimed {
  std::string delivery;
  std::string subscription;
  int attempts = 0;
  absl::Time created;
  std::string body;
  std::string url;
  std::vector<std::string> secrets;
  std::string channel;
  std::string email;
  std::string token;
  std::string title;        // the subscription's display name, else its organisation
  std::string event_bytes;  // the event as recorded (empty for events recorded before 0002)
  std::string event_type;
  std::string event_id;
  bool notice = false;  // to the contact, about the subscription (`email_to`)
  SendResult sent;
};

namespace {

// Runs `f(i)` for i in [0, n) on up to `threads` threads (the calling one among them).
void ForEachConcurrently(size_t n, size_t threads, const std::function<void(size_t)>& f) {
  std::atomic<size_t> next{0};
  auto loop = [&] {
    for (size_t i = next++; i < n; i = next++) f(i);
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < std::min(n, threads); ++t) pool.emplace_back(loop);
  loop();
  for (auto& t : pool) t.join();
}

// A subscription's attempts in one batch, in claim order: whether one succeeded, and the
// failures since the last success.
struct Tally {
  bool succeeded = false;
  int failures = 0;
  std::string last_error;
};

}  // namespace

SendResult Notifier::Send(const Claimed& c, absl::Time now) const {
  if (c.channel == "email") return SendMail(c, now);
  const int64_t timestamp = absl::ToUnixSeconds(now);
  auto signature = SignatureHeader(c.secrets, c.delivery, timestamp, c.body);
  if (!signature.ok()) {
    SendResult out;
    out.error = absl::StrCat("signature impossible : ", signature.status().message());
    return out;
  }
  return sender_.Post(c.url,
                      {{"webhook-id", c.delivery},
                       {"webhook-timestamp", absl::StrCat(timestamp)},
                       {"webhook-signature", *signature},
                       {"User-Agent", "Passerelle-Notifications/1"}},
                      c.body);
}

absl::StatusOr<bool> Notifier::DeliverOne() {
  auto sent = DeliverDue(1);
  if (!sent.ok()) return sent.status();
  return *sent > 0;
}

absl::StatusOr<int> Notifier::DeliverDue(int most) {
  int count = 0;
  // Never tried twice: the requests went out; a transaction that fails after them leaves its
  // deliveries pending, sent again later under the same webhook-id.
  absl::Status st = db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        count = 0;
        const absl::Time now = clock_.Now();
        // The oldest due deliveries nobody holds, whose subscription is active (or notices to its
        // contact that it was disabled, which wait for nothing) and that have no older pending
        // delivery about the same subject (deliveries about one venue go out in order; so a batch
        // never holds two about one subject for one subscription). Read in the claim index's order,
        // whatever the statistics say: a burst of deliveries just inserted, not yet analysed,
        // otherwise gets a plan sorting every pending one (57 ms at 10,000 instead of 3).
        tx.exec("SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off");
        auto rows = tx.exec_params(
            "SELECT d.delivery_id::text, d.subscription_id::text, d.attempts, "
            "extract(epoch FROM d.create_time), e.body, s.url, s.secret, "
            "CASE WHEN s.previous_secret_expire_time > $1::timestamptz THEN s.previous_secret ELSE "
            "'' END, s.channel, s.email, s.unsubscribe_token, s.display_name, s.organisation, "
            "encode(e.event, 'hex'), e.event_type, d.event_id, d.email_to FROM deliveries d JOIN "
            "subscriptions s USING (subscription_id) JOIN events e USING (event_id) WHERE d.state "
            "= "
            "'pending' AND d.next_attempt_time <= $1::timestamptz AND (s.state = 'active' OR "
            "d.email_to IS NOT NULL) AND NOT s.deleted AND (d.email_to IS NOT NULL OR NOT EXISTS "
            "(SELECT 1 FROM deliveries p WHERE p.subscription_id = d.subscription_id AND p.subject "
            "= d.subject AND p.state = 'pending' AND p.email_to IS NULL AND p.seq < d.seq)) ORDER "
            "BY d.next_attempt_time, d.seq LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
            db::Timestamp(now), std::max(1, most));
        if (rows.empty()) return absl::OkStatus();
        tx.exec("RESET enable_sort; RESET enable_bitmapscan");
        std::vector<Claimed> batch(rows.size());
        for (size_t i = 0; i < rows.size(); ++i) {
          const auto& r = rows[i];
          Claimed& c = batch[i];
          c.delivery = r[0].as<std::string>();
          c.subscription = r[1].as<std::string>();
          c.attempts = r[2].as<int>();
          c.created = db::FromEpoch(r[3]);
          c.body = r[4].as<std::string>();
          c.url = r[5].as<std::string>();
          c.secrets = {r[6].as<std::string>()};
          if (!r[7].as<std::string>().empty()) c.secrets.push_back(r[7].as<std::string>());
          c.channel = r[8].as<std::string>();
          c.email = r[9].as<std::string>();
          c.token = r[10].as<std::string>();
          c.title =
              r[11].as<std::string>().empty() ? r[12].as<std::string>() : r[11].as<std::string>();
          if (!r[13].is_null() && !db::FromHex(r[13].as<std::string>(), &c.event_bytes)) {
            c.event_bytes.clear();
          }
          c.event_type = r[14].as<std::string>();
          c.event_id = r[15].as<std::string>();
          if (!r[16].is_null()) {
            // A notice to the organisation's contact: an e-mail, whatever the channel, with no
            // unsubscribe link (it is not a subscription's message).
            c.notice = true;
            c.channel = "email";
            c.email = r[16].as<std::string>();
            c.token.clear();
          }
        }
        // The rows stay locked while the requests are in flight, side by side: another worker or
        // replica skips them; a crash rolls back and they are sent again with the same webhook-id
        // (the same Message-ID for an e-mail). One slow receiver holds its batch for its timeout
        // at most, not the other receivers' requests.
        ForEachConcurrently(batch.size(), options_.concurrent_sends,
                            [&](size_t i) { batch[i].sent = Send(batch[i], now); });
        // Recorded together: the attempts, the deliveries' new states, then the subscriptions'
        // failure counts.
        nlohmann::json attempts = nlohmann::json::array();
        nlohmann::json states = nlohmann::json::array();
        std::map<std::string, Tally> tallies;
        for (Claimed& c : batch) {
          const SendResult& sent = c.sent;
          if (on_attempt_) on_attempt_(sent);
          const bool ok = sent.outcome == SendResult::Outcome::kSucceeded;
          attempts.push_back(
              {{"delivery_id", c.delivery},
               {"attempt", c.attempts + 1},
               {"http_status", sent.http_status},
               {"latency_ms", absl::ToInt64Milliseconds(sent.latency)},
               {"error", text::ToValidUtf8(sent.error)},
               {"outcome", ok                                              ? "succeeded"
                           : sent.outcome == SendResult::Outcome::kRefused ? "refused"
                                                                           : "failed"}});
          // A notice to the contact does not count for the subscription's own channel.
          Tally* tally = c.notice ? nullptr : &tallies[c.subscription];
          if (ok) {
            states.push_back({{"delivery_id", c.delivery}, {"state", "succeeded"}});
            if (tally != nullptr) {
              tally->succeeded = true;
              tally->failures = 0;
            }
            continue;
          }
          const absl::Time next = now + Backoff(c.attempts + 1, options_.retry_initial,
                                                options_.retry_max_step, Jitter());
          const bool give_up = sent.permanent || next > c.created + options_.retry_for;
          states.push_back({{"delivery_id", c.delivery},
                            {"state", give_up ? "failed" : "pending"},
                            {"next_attempt_time", db::Timestamp(give_up ? now : next)}});
          if (tally != nullptr) {
            ++tally->failures;
            tally->last_error = sent.error;
          }
          logging::Warn("delivery failed", {{"delivery", c.delivery},
                                            {"subscription", c.subscription},
                                            {"http_status", sent.http_status},
                                            {"error", sent.error},
                                            {"give_up", give_up}});
        }
        tx.exec_params(
            "INSERT INTO attempts (delivery_id, attempt, attempt_time, http_status, latency_ms, "
            "error, outcome) SELECT x.delivery_id, x.attempt, $2::timestamptz, x.http_status, "
            "x.latency_ms, x.error, x.outcome FROM jsonb_to_recordset($1::jsonb) AS x(delivery_id "
            "uuid, attempt int, http_status int, latency_ms bigint, error text, outcome text)",
            attempts.dump(), db::Timestamp(now));
        tx.exec_params(
            "UPDATE deliveries d SET attempts = d.attempts + 1, state = x.state, next_attempt_time "
            "= "
            "COALESCE(x.next_attempt_time, d.next_attempt_time) FROM jsonb_to_recordset($1::jsonb) "
            "AS x(delivery_id uuid, state text, next_attempt_time timestamptz) WHERE d.delivery_id "
            "= x.delivery_id",
            states.dump());
        // Only subscriptions whose count changes are locked, in one order (no deadlock between
        // workers): a batch of successes to subscriptions already at zero locks none.
        std::vector<std::string> ids;
        std::vector<std::string> failing;
        for (const auto& [id, tally] : tallies) {
          ids.push_back(id);
          if (tally.failures > 0) failing.push_back(id);
        }
        for (const auto& r : tx.exec_params(
                 "SELECT subscription_id::text, consecutive_failures, state, contact_email, "
                 "organisation, display_name, channel, url, email FROM subscriptions WHERE "
                 "subscription_id = ANY($1::uuid[]) AND NOT deleted AND state = 'active' AND "
                 "(consecutive_failures <> 0 OR subscription_id = ANY($2::uuid[])) ORDER BY "
                 "subscription_id FOR UPDATE",
                 db::TextArray(ids), db::TextArray(failing))) {
          const std::string id = r[0].as<std::string>();
          const Tally& tally = tallies.at(id);
          const int failures = (tally.succeeded ? 0 : r[1].as<int>()) + tally.failures;
          const bool disable =
              failures >= options_.disable_after && r[2].as<std::string>() == "active";
          const std::string reason = text::ToValidUtf8(
              absl::StrCat(failures, " échecs consécutifs ; le dernier : ", tally.last_error));
          tx.exec_params(
              "UPDATE subscriptions SET consecutive_failures = $2, state = CASE WHEN $3 THEN "
              "'disabled' ELSE state END, disabled_reason = CASE WHEN $3 THEN $4 ELSE "
              "disabled_reason END WHERE subscription_id = $1::uuid",
              id, failures, disable, reason);
          if (!disable) continue;
          logging::Warn("subscription disabled", {{"subscription", id}, {"reason", reason}});
          if (r[3].as<std::string>().empty()) continue;
          // The contact is told, by a delivery of its own (sent, retried and logged like the
          // others, while the subscription stays disabled).
          v1::Subscription about;
          about.set_name(kSubscription.Format({id}));
          about.set_organisation(r[4].as<std::string>());
          about.set_display_name(r[5].as<std::string>());
          if (r[6].as<std::string>() == "webhook") {
            about.mutable_webhook()->set_url(r[7].as<std::string>());
          } else {
            about.mutable_email()->set_address(r[8].as<std::string>());
          }
          about.set_state(v1::Subscription::DISABLED);
          about.set_disabled_reason(reason);
          about.set_consecutive_failures(failures);
          about.set_contact_email(r[3].as<std::string>());
          const events::v1::Event event = events::MakeEvent(
              std::string(kDisabledEventType), "notifications", about.name(), about, now);
          if (absl::Status s = RecordEvent(tx, event); !s.ok()) return s;
          tx.exec_params(
              "INSERT INTO deliveries (delivery_id, subscription_id, event_id, subject, "
              "create_time, "
              "next_attempt_time, email_to) VALUES (gen_random_uuid(), $1::uuid, $2, $3, "
              "$4::timestamptz, $4::timestamptz, $5)",
              id, event.id(), event.subject(), db::Timestamp(now), r[3].as<std::string>());
        }
        count = static_cast<int>(batch.size());
        return absl::OkStatus();
      },
      db::TxOptions{.max_attempts = 1});
  if (!st.ok()) return st;
  return count;
}

namespace {
std::string PublicBase(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}
}  // namespace

std::string Notifier::UnsubscribeUrl(const std::string& token) const {
  return absl::StrCat(PublicBase(mail_.public_url), "/v1/subscriptions:unsubscribe?token=", token);
}

std::string Notifier::UnsubscribePageUrl(const std::string& token) const {
  return absl::StrCat(PublicBase(mail_.public_url), "/desabonnement?token=", token);
}

SendResult Notifier::SendMail(const Claimed& c, absl::Time now) const {
  if (mail_.mailer == nullptr) {
    SendResult out;
    out.error =
        "aucun relais SMTP configuré (PASSERELLE_NOTIFICATIONS_SMTP_URL) : le courriel attend";
    return out;
  }
  events::v1::Event event;
  if (c.event_bytes.empty() || !event.ParseFromString(c.event_bytes)) {
    // An event recorded before its bytes were kept: its type is all that is known.
    event.set_type(c.event_type);
    event.set_id(c.event_id);
  }
  const std::string& title = c.title;
  v1::Digest digest;
  const Message message = event.type() == kDigestEventType && event.payload().UnpackTo(&digest)
                              ? DescribeDigest({digest.events().begin(), digest.events().end()},
                                               title, api::FromTimestamp(digest.start_time()),
                                               api::FromTimestamp(digest.end_time()))
                              : Describe(event);
  const std::string& address = c.email;
  Mail mail;
  mail.from = mail_.from;
  mail.to = address;
  mail.date = now;
  mail.message_id = absl::StrCat(c.delivery, "@", [&] {
    const std::string from = AddressOf(mail_.from);
    return from.substr(from.rfind('@') + 1);
  }());
  Message sent;
  if (c.notice) {
    // To the organisation's contact, about the subscription: nothing to unsubscribe from.
    sent = WithFooter(message,
                      absl::StrCat("Vous recevez ce message de Passerelle, le registre de la "
                                   "médiation numérique de Roubaix, comme contact de l'abonnement "
                                   "« ",
                                   title, " » (", address, ")."),
                      "");
  } else {
    // People follow the footer's link to a page with a button (opening a link changes
    // nothing); mail clients post to List-Unsubscribe themselves.
    mail.unsubscribe = UnsubscribeUrl(c.token);
    sent = WithFooter(message,
                      absl::StrCat("Vous recevez ce message de Passerelle, le registre de la "
                                   "médiation numérique de Roubaix, par l'abonnement « ",
                                   title, " » de ", address, "."),
                      UnsubscribePageUrl(c.token));
  }
  mail.subject = sent.subject;
  mail.text = sent.text;
  mail.html = sent.html;
  return mail_.mailer->Send(address, ComposeMail(mail));
}

absl::StatusOr<v1::UnsubscribeResponse> Notifier::Unsubscribe(const std::string& token,
                                                              const std::string& form) {
  // Tokens are 64 lowercase hex digits (the migration's default).
  const bool well_formed =
      token.size() == 64 && std::all_of(token.begin(), token.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      });
  if (token.empty()) {
    return api::InvalidArgument(
        "lien de désabonnement sans jeton",
        {{"token",
          "[required] le paramètre token manque : ouvrez l'adresse entière donnée au "
          "bas du courriel"}});
  }
  if (!well_formed) {
    return api::InvalidArgument(
        "lien de désabonnement invalide",
        {{"token", absl::StrCat(text::Quote(token, 20),
                                " [format] : un jeton est fait de 64 chiffres hexadécimaux en "
                                "minuscules ; ouvrez l'adresse entière donnée au bas du "
                                "courriel")}});
  }
  if (form.size() > 1024) {
    return api::InvalidArgument(
        "corps trop grand",
        {{"form", absl::StrCat("[size] au plus 1 024 octets (", form.size(), " reçus)")}});
  }
  v1::UnsubscribeResponse out;
  std::string id;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        "SELECT subscription_id::text, display_name, organisation, email, deleted FROM "
        "subscriptions WHERE unsubscribe_token = $1 FOR UPDATE",
        token);
    if (r.empty()) {
      return api::WithReason(
          absl::NotFoundError("ce lien de désabonnement ne correspond à aucun abonnement"),
          "UNSUBSCRIBE_TOKEN_UNKNOWN");
    }
    out.set_display_name(r[0][1].as<std::string>().empty() ? r[0][2].as<std::string>()
                                                           : r[0][1].as<std::string>());
    out.set_address(r[0][3].as<std::string>());
    if (r[0][4].as<bool>()) {
      out.set_message(absl::StrCat("Vous étiez déjà désabonné : l'abonnement « ",
                                   out.display_name(), " » n'envoie plus rien."));
      return absl::OkStatus();
    }
    id = r[0][0].as<std::string>();
    Tombstone(tx, id, clock_.Now());
    out.set_message(absl::StrCat("C'est fait : ", out.address().empty() ? "vous" : out.address(),
                                 " ne recevra plus rien de l'abonnement « ", out.display_name(),
                                 " »."));
    logging::Info("unsubscribed from an e-mail link", {{"subscription", id}});
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!id.empty()) index_.Remove(id);
  return out;
}

}  // namespace passerelle::notifications
