// Duplicate links in PostgreSQL + PostGIS.
#include "services/venues/duplicate_store.hpp"

#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/api/status.hpp"
#include "libs/db/advisory_lock.hpp"
#include "libs/db/params.hpp"
#include "libs/db/transaction.hpp"
#include "nlohmann/json.hpp"
#include "services/venues/change_feed.hpp"
#include "services/venues/store.hpp"

namespace passerelle::venues {
namespace {

constexpr char kLinkColumns[] =
    "l.link_id::text, l.venue_a::text, l.venue_b::text, va.source, vb.source, l.score, "
    "array_to_json(l.matched_fields)::text, l.distance_m, l.state, "
    "coalesce(l.canonical::text, ''), extract(epoch FROM l.create_time), "
    "extract(epoch FROM l.update_time)";
constexpr char kLinkFrom[] =
    " FROM duplicate_links l JOIN venues va ON va.id = l.venue_a "
    "JOIN venues vb ON vb.id = l.venue_b";

LinkState StateOf(const std::string& s) {
  if (s == "same") return LinkState::kSame;
  if (s == "different") return LinkState::kDifferent;
  return LinkState::kProposed;
}

DuplicateLink LinkFromRow(const pqxx::row& r) {
  return {.id = r[0].as<std::string>(),
          .venue_a = r[1].as<std::string>(),
          .venue_b = r[2].as<std::string>(),
          .source_a = r[3].as<std::string>(),
          .source_b = r[4].as<std::string>(),
          .score = r[5].as<double>(),
          .matched_fields = nlohmann::json::parse(r[6].c_str()).get<std::vector<std::string>>(),
          .distance_m = r[7].as<double>(),
          .state = StateOf(r[8].as<std::string>()),
          .canonical = r[9].as<std::string>(),
          .create_time = db::FromEpoch(r[10]),
          .update_time = db::FromEpoch(r[11])};
}

absl::Status NotFound(const std::string& id) { return api::NotFound("duplicateLinks/" + id); }

// Sorts before every link id (gen_random_uuid() gives version 4 UUIDs, never this one): the
// cursor of a first page, so pages walk the primary key's index.
constexpr char kBeforeEveryLink[] = "00000000-0000-0000-0000-000000000000";

std::optional<DuplicateLink> SelectLink(pqxx::work& tx, const std::string& id, bool lock) {
  auto r =
      tx.exec_params(absl::StrCat("SELECT ", kLinkColumns, kLinkFrom, " WHERE l.link_id = $1::uuid",
                                  lock ? " FOR UPDATE OF l" : ""),
                     id);
  if (r.empty()) return std::nullopt;
  return LinkFromRow(r[0]);
}

standard::Venue VenueOf(const pqxx::row& r, int at) {
  standard::Venue v;
  v.id = r[at].as<std::string>();
  v.source = r[at + 1].as<std::string>();
  v.standard = nlohmann::json::parse(r[at + 2].c_str()).get<standard::Record>();
  return v;
}

}  // namespace

absl::StatusOr<std::vector<DuplicateCandidate>> PgDuplicateStore::Candidates(
    const std::vector<std::string>& venue_ids) {
  std::vector<DuplicateCandidate> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out.clear();
    // One query for the whole batch: the geography index finds the neighbours.
    // Each venue's nearest candidates only (the GiST index walked in distance order).
    auto rows = tx.exec_params(
        "SELECT DISTINCT least(a.id, b.id)::text AS x, greatest(a.id, b.id)::text AS y "
        "FROM venues a CROSS JOIN LATERAL (SELECT c.id FROM venues c WHERE c.source <> a.source "
        "AND c.state = 'active' AND c.duplicate_of IS NULL AND ST_DWithin(a.geog, c.geog, $2) "
        "AND (a.code_insee = c.code_insee OR a.code_postal = c.code_postal) "
        "ORDER BY c.geog <-> a.geog, c.id LIMIT $3) b "
        "WHERE a.id = ANY($1::text[]::uuid[]) AND a.state = 'active' "
        "AND a.duplicate_of IS NULL AND a.geog IS NOT NULL "
        // The venues' proposed links that still hold as candidates, scored again: nearest is
        // not symmetric (Y among X's 8 nearest, X not among Y's), so checking Y alone must not
        // drop the link checking X made.
        "UNION SELECT l.venue_a::text, l.venue_b::text FROM duplicate_links l "
        "JOIN venues va ON va.id = l.venue_a JOIN venues vb ON vb.id = l.venue_b "
        "WHERE l.state = 'proposed' AND (l.venue_a = ANY($1::text[]::uuid[]) "
        "OR l.venue_b = ANY($1::text[]::uuid[])) AND va.source <> vb.source "
        "AND va.state = 'active' AND vb.state = 'active' AND va.duplicate_of IS NULL "
        "AND vb.duplicate_of IS NULL AND ST_DWithin(va.geog, vb.geog, $2) "
        "AND (va.code_insee = vb.code_insee OR va.code_postal = vb.code_postal)",
        db::TextArray(venue_ids), kDuplicateMaxMeters, kDuplicateMaxCandidates);
    if (rows.empty()) return absl::OkStatus();
    std::vector<std::string> xs, ys;
    for (const auto& row : rows) {
      xs.push_back(row[0].as<std::string>());
      ys.push_back(row[1].as<std::string>());
    }
    for (const auto& row : tx.exec_params(
             "SELECT x.id::text, x.source, x.record::text, y.id::text, y.source, y.record::text "
             "FROM unnest($1::text[]::uuid[], $2::text[]::uuid[]) AS p(a, b) "
             "JOIN venues x ON x.id = p.a JOIN venues y ON y.id = p.b ORDER BY 1, 4",
             db::TextArray(xs), db::TextArray(ys))) {
      out.push_back({.a = VenueOf(row, 0), .b = VenueOf(row, 3)});
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int> PgDuplicateStore::SaveScores(const std::vector<std::string>& written,
                                                 const std::vector<DuplicateLink>& scored,
                                                 absl::Time now) {
  if (scored.empty() && written.empty()) return 0;
  std::vector<std::string> as, bs, scores, matched, distances;
  for (const DuplicateLink& l : scored) {
    as.push_back(l.venue_a);
    bs.push_back(l.venue_b);
    scores.push_back(absl::StrCat(l.score));
    matched.push_back(absl::StrJoin(l.matched_fields, ","));
    distances.push_back(absl::StrCat(l.distance_m));
  }
  int created = 0;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    created = 0;
    const auto a = db::TextArray(as), b = db::TextArray(bs), s = db::TextArray(scores),
               m = db::TextArray(matched), d = db::TextArray(distances);
    // A proposed link follows its venues; a resolved one stays as the administrator left it.
    for (const auto& row : tx.exec_params(
             "INSERT INTO duplicate_links (venue_a, venue_b, score, matched_fields, distance_m, "
             "create_time, update_time) "
             "SELECT p.a::uuid, p.b::uuid, p.s::float8, string_to_array(p.m, ','), p.d::float8, "
             "$6::timestamptz, $6::timestamptz "
             "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) "
             "AS p(a, b, s, m, d) WHERE p.s::float8 >= $7 "
             "ON CONFLICT (venue_a, venue_b) DO UPDATE SET score = EXCLUDED.score, "
             "matched_fields = EXCLUDED.matched_fields, distance_m = EXCLUDED.distance_m, "
             "update_time = EXCLUDED.update_time "
             "WHERE duplicate_links.state = 'proposed' AND (duplicate_links.score, "
             "duplicate_links.matched_fields, duplicate_links.distance_m) IS DISTINCT FROM "
             "(EXCLUDED.score, EXCLUDED.matched_fields, EXCLUDED.distance_m) "
             "RETURNING (xmax = 0)",
             a, b, s, m, d, db::Timestamp(now), kDuplicateThreshold)) {
      if (row[0].as<bool>()) ++created;
    }
    // The written venues' proposed links that this detection did not find again above the
    // threshold: scored below it, or no longer candidates (moved away, withdrawn, hidden).
    tx.exec_params(
        "DELETE FROM duplicate_links l WHERE l.state = 'proposed' "
        "AND (l.venue_a = ANY($5::text[]::uuid[]) OR l.venue_b = ANY($5::text[]::uuid[])) "
        "AND NOT EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[], $3::text[]) AS p(a, b, s) "
        "WHERE l.venue_a = p.a::uuid AND l.venue_b = p.b::uuid AND p.s::float8 >= $4)",
        a, b, s, kDuplicateThreshold, db::TextArray(written));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return created;
}

absl::StatusOr<std::unique_ptr<DuplicateRepository::PassTurn>> PgDuplicateStore::TakePassTurn() {
  struct Held : PassTurn {
    explicit Held(db::AdvisoryLock l) : lock(std::move(l)) {}
    db::AdvisoryLock lock;
  };
  auto lock = db::TryAdvisoryLock(
      pool_, absl::StrCat("passerelle.venues.duplicate_detection.", pool_.options().schema));
  if (!lock.ok()) return lock.status();
  if (!lock->has_value()) return nullptr;
  return std::make_unique<Held>(std::move(**lock));
}

absl::StatusOr<DuplicateRepository::Pass> PgDuplicateStore::ChangedSinceDetection() {
  Pass out;
  absl::Status st = db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        out = {};
        out.next = change_feed::Next(tx);  // first: the snapshot the reads below see
        auto saved = tx.exec1(
            "SELECT next_xid::text, array_to_string(running, ',') FROM duplicate_detection");
        const Repository::ChangeCursor from =
            change_feed::Parse(saved[0].as<std::string>(), saved[1].as<std::string>());
        for (const auto& row : tx.exec_params(
                 absl::StrCat("SELECT id::text", change_feed::kVenuesChanged, " ORDER BY id"),
                 change_feed::From(from), change_feed::Running(from))) {
          out.venue_ids.push_back(row[0].as<std::string>());
        }
        return absl::OkStatus();
      },
      {.isolation = db::Isolation::kRepeatableRead});
  if (!st.ok()) return st;
  return out;
}

absl::Status PgDuplicateStore::SaveDetectionCursor(const Repository::ChangeCursor& next) {
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE duplicate_detection SET next_xid = $1::text::xid8, running = "
        "string_to_array($2, ',')::xid8[], update_time = now()",
        change_feed::From(next), change_feed::Running(next));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<DuplicateLink>> PgDuplicateStore::ListLinks(const Filter& filter,
                                                                       const std::string& after,
                                                                       int limit) {
  std::vector<DuplicateLink> out;
  const std::string state = filter.state ? std::string(LinkStateName(*filter.state)) : "";
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.clear();
    // A filter naming what does not exist is a mistake to report, not an empty list.
    if (!filter.source.empty() &&
        tx.exec_params("SELECT 1 FROM sources WHERE source_id = $1", filter.source).empty()) {
      return api::NotFound("sources/" + filter.source);
    }
    if (!filter.venue.empty() &&
        tx.exec_params("SELECT 1 FROM venues WHERE id = $1::uuid", filter.venue).empty()) {
      return api::NotFound("venues/" + filter.venue);
    }
    for (const auto& row : tx.exec_params(
             absl::StrCat("SELECT ", kLinkColumns, kLinkFrom,
                          " WHERE l.link_id > $1::uuid AND ($2 = '' OR l.state = $2) "
                          "AND ($3 = '' OR va.source = $3 OR vb.source = $3) "
                          "AND ($4 = '' OR l.venue_a::text = $4 OR l.venue_b::text = $4) "
                          "ORDER BY l.link_id LIMIT $5"),
             after.empty() ? kBeforeEveryLink : after, state, filter.source, filter.venue, limit)) {
      out.push_back(LinkFromRow(row));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<DuplicateLink> PgDuplicateStore::GetLink(const std::string& id) {
  std::optional<DuplicateLink> out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out = SelectLink(tx, id, false);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (!out) return NotFound(id);
  return *out;
}

absl::StatusOr<DuplicateLink> PgDuplicateStore::Resolve(const std::string& id, LinkState state,
                                                        const std::string& canonical,
                                                        absl::Time now,
                                                        const EventFactory& updated) {
  DuplicateLink out;
  bool wrote = false;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    wrote = false;
    // The link first, then its venues: the order in which a withdrawal takes them (the venue,
    // the links it kept, the venues hidden as its duplicates).
    std::optional<DuplicateLink> link = SelectLink(tx, id, true);
    if (!link) return NotFound(id);
    if (link->state != LinkState::kProposed) {
      if (link->state == state && link->canonical == canonical) {
        out = *link;  // the same resolution again
        return absl::OkStatus();
      }
      if (link->state == LinkState::kSame && state == LinkState::kDifferent) {
        // An administrator's correction: the hidden venue comes back (if it still names the
        // canonical one), with its event.
        const std::string& hidden =
            link->canonical == link->venue_a ? link->venue_b : link->venue_a;
        SetDuplicateOf(tx, topology_, hidden, link->canonical, "", now, updated);
        wrote = true;
      } else {
        return api::FailedPrecondition(
            absl::StrCat(link->Name(), " est déjà résolu (",
                         link->state == LinkState::kSame ? "DUPLICATE_SAME" : "DUPLICATE_DIFFERENT",
                         ") ; seule une correction de DUPLICATE_SAME en DUPLICATE_DIFFERENT est "
                         "possible"),
            "DUPLICATE_LINK", link->Name(), "LINK_RESOLVED");
      }
    } else if (state == LinkState::kSame) {
      const std::string& hidden = canonical == link->venue_a ? link->venue_b : link->venue_a;
      // Both rows locked, in id order as every writer of two venues takes them.
      auto venues = tx.exec_params(
          "SELECT id::text, state, coalesce(duplicate_of::text, '') FROM venues "
          "WHERE id IN ($1::uuid, $2::uuid) ORDER BY id FOR NO KEY UPDATE",
          link->venue_a, link->venue_b);
      for (const auto& v : venues) {
        const std::string vid = v[0].as<std::string>();
        if (v[1].as<std::string>() != "active" || !v[2].as<std::string>().empty()) {
          return api::FailedPrecondition(
              absl::StrCat("venues/", vid, " est retiré ou déjà masqué comme doublon"), "VENUE",
              "venues/" + vid, "VENUE_NOT_ACTIVE");
        }
      }
      // Hiding a venue that others are hidden behind would make a chain (C shows A, which shows
      // B): the administrator keeps that venue instead.
      auto behind = tx.exec_params(
          "SELECT id::text FROM venues WHERE duplicate_of = $1::uuid ORDER BY id LIMIT 3", hidden);
      if (!behind.empty()) {
        std::vector<std::string> names;
        for (const auto& b : behind) names.push_back("venues/" + b[0].as<std::string>());
        return api::FailedPrecondition(
            absl::StrCat("venues/", hidden, " est le lieu gardé d'autres doublons (",
                         absl::StrJoin(names, ", "),
                         ") : gardez-le (canonical_venue) plutôt que de le masquer"),
            "VENUE", "venues/" + hidden, "VENUE_IS_CANONICAL");
      }
      SetDuplicateOf(tx, topology_, hidden, "", canonical, now, updated);
      wrote = true;
    }
    tx.exec_params(
        "UPDATE duplicate_links SET state = $2, canonical = nullif($3, '')::uuid, "
        "update_time = $4::timestamptz WHERE link_id = $1::uuid",
        id, std::string(LinkStateName(state)), canonical, db::Timestamp(now));
    out = *SelectLink(tx, id, false);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (wrote && wake_) wake_();  // the relay publishes the venue's event now
  return out;
}

}  // namespace passerelle::venues
