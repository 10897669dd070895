// Referential storage in PostgreSQL.
#include "services/referential/store.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "libs/api/status.hpp"
#include "libs/db/params.hpp"
#include "libs/db/transaction.hpp"
#include "libs/outbox/outbox.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::referential {
namespace {

std::vector<std::string> FromJsonArray(const pqxx::field& f) {
  if (f.is_null()) return {};
  return nlohmann::json::parse(f.c_str()).get<std::vector<std::string>>();
}

constexpr char kInsertNode[] =
    "INSERT INTO version_nodes (nomenclature_id, version, kind, code, parent_code, position, "
    "item_id, label, plain_label, description, aptic_theme, keywords, services, thematiques, "
    "pix_competences, retired, node_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
    "$12::text[], $13::text[], $14::text[], $15::text[], $16, $17)";

}  // namespace

bool PgStore::WriteVersion(pqxx::work& tx, const VersionTree& t) {
  tx.exec_params(
      "INSERT INTO nomenclatures (id, title, source) VALUES ($1, $2, $3) "
      "ON CONFLICT (id) DO NOTHING",
      t.nomenclature, t.title, t.source);
  const bool published = t.publish_time != absl::InfinitePast();
  auto r = tx.exec_params(
      absl::StrCat("INSERT INTO versions (nomenclature_id, version, state, base_version, "
                   "publish_time) VALUES ($1, $2, $3, NULLIF($4, ''), CASE WHEN $5 THEN "
                   "$6::timestamptz END) ON CONFLICT DO NOTHING"),
      t.nomenclature, t.version, VersionStateName(t.state), t.base_version, published,
      db::Timestamp(published ? t.publish_time : absl::UnixEpoch()));
  if (r.affected_rows() == 0) return false;  // already there
  const std::string none = db::TextArray(std::vector<std::string>{});
  int pos = 0;
  for (const auto& l : t.levels) {
    tx.exec_params(kInsertNode, t.nomenclature, t.version, "level", l.code, nullptr, pos++, nullptr,
                   l.label, "", "", l.aptic_theme, none, none, none, none, false, l.key);
    for (const auto& c : l.categories) {
      tx.exec_params(kInsertNode, t.nomenclature, t.version, "category", c.code, l.code, pos++,
                     nullptr, c.label, "", "", "", none, none, none, none, false, c.key);
      for (const auto& id : c.item_ids) {
        const ItemNode& i = t.items.at(id);
        tx.exec_params(
            "INSERT INTO items (id, nomenclature_id) VALUES ($1, $2) "
            "ON CONFLICT (id) DO NOTHING",
            i.id, t.nomenclature);
        tx.exec_params(kInsertNode, t.nomenclature, t.version, "item", i.code, c.code, pos++, i.id,
                       i.label, i.plain_label, i.description, "", db::TextArray(i.keywords),
                       db::TextArray(i.services), db::TextArray(i.thematiques),
                       db::TextArray(i.pix_competences), i.retired, "");
      }
    }
  }
  // Retired items stay in the version, out of the tree, so their history remains readable.
  for (const auto& [id, i] : t.items) {
    if (!i.retired) continue;
    tx.exec_params(kInsertNode, t.nomenclature, t.version, "item", "retired:" + i.id, nullptr,
                   pos++, i.id, i.label, i.plain_label, i.description, "",
                   db::TextArray(i.keywords), db::TextArray(i.services),
                   db::TextArray(i.thematiques), db::TextArray(i.pix_competences), true, "");
  }
  return true;
}

absl::StatusOr<bool> PgStore::InsertVersion(const VersionTree& t, const events::v1::Event& event) {
  bool inserted = false;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    inserted = WriteVersion(tx, t);
    if (inserted) outbox::Append(tx, topology_, event);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return inserted;
}

absl::StatusOr<bool> PgStore::PublishVersion(const VersionTree& t, const std::vector<int>& applied,
                                             const std::vector<Proposal>& carried,
                                             const events::v1::Event& event) {
  bool inserted = false;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    // The accepted and open sets must be the ones the version and the carried proposals were
    // computed from: same numbers, and the open ones at the revision they were read at.
    std::vector<int> accepted_now;
    std::vector<std::pair<int, int>> open_now;
    for (const auto& row :
         tx.exec_params("SELECT number, state, revision FROM proposals WHERE nomenclature_id = $1 "
                        "AND base_version = $2 AND state IN ($3, $4) ORDER BY number FOR UPDATE",
                        t.nomenclature, t.base_version, ProposalStateName(ProposalState::kAccepted),
                        ProposalStateName(ProposalState::kOpen))) {
      if (ProposalStateFromName(row[1].as<std::string>()) == ProposalState::kAccepted) {
        accepted_now.push_back(row[0].as<int>());
      } else {
        open_now.emplace_back(row[0].as<int>(), row[2].as<int>());
      }
    }
    std::vector<int> want = applied;
    std::sort(want.begin(), want.end());
    std::vector<std::pair<int, int>> open_want;
    for (const auto& p : carried) open_want.emplace_back(p.number, p.revision);
    std::sort(open_want.begin(), open_want.end());
    if (accepted_now != want || open_now != open_want) {
      return api::WithReason(
          absl::AbortedError("the proposals changed while publishing; publish again"),
          "PROPOSALS_CHANGED");
    }
    inserted = WriteVersion(tx, t);
    if (!inserted) return absl::OkStatus();
    for (int n : applied) {
      tx.exec_params(
          absl::StrCat("UPDATE proposals SET state = $4, applied_in = $3, revision = revision + 1, "
                       "update_time = $5::timestamptz WHERE nomenclature_id = $1 AND number = $2"),
          t.nomenclature, n, t.version, ProposalStateName(ProposalState::kApplied),
          db::Timestamp(t.publish_time));
    }
    for (const auto& p : carried) {
      tx.exec_params(
          absl::StrCat(
              "UPDATE proposals SET base_version = $3, operations = $4::jsonb, state = $5, "
              "decision_reason = $6, revision = revision + 1, update_time = $7::timestamptz WHERE "
              "nomenclature_id = $1 AND number = $2"),
          t.nomenclature, p.number, p.base_version, OperationsToJson(p.operations).dump(),
          ProposalStateName(p.state), p.decision_reason, db::Timestamp(p.update_time));
    }
    outbox::Append(tx, topology_, event);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return inserted;
}

absl::StatusOr<std::string> PgStore::VersionsFingerprint() {
  std::string out;
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    out = tx.exec1(
                "SELECT count(*)::text || '/' || coalesce(max(create_time)::text, '') "
                "FROM versions")[0]
              .as<std::string>();
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status PgStore::ImportProposals(const std::vector<Proposal>& proposals) {
  return db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    for (const auto& p : proposals) {
      tx.exec_params(
          absl::StrCat("INSERT INTO proposals (nomenclature_id, number, round_table, kind, target, "
                       "text, keywords, code_hint, base_version, operations, create_time, "
                       "update_time) VALUES ($1, $2, $3, $4, $5, $6, "
                       "$7::text[], $8, $9, $10::jsonb, $11::timestamptz, $12::timestamptz) ON "
                       "CONFLICT DO NOTHING"),
          p.nomenclature, p.number, p.table, p.kind, p.target, p.text, db::TextArray(p.keywords),
          p.code_hint, p.base_version, OperationsToJson(p.operations).dump(),
          db::Timestamp(p.create_time), db::Timestamp(p.update_time));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Proposal>> PgStore::ReadProposals(pqxx::work& tx,
                                                             const std::string& nomenclature,
                                                             int number, bool lock) {
  std::vector<Proposal> out;
  std::map<int, size_t> index;
  const std::string sql =
      std::string(
          "SELECT number, round_table, kind, target, text, array_to_json(keywords), code_hint, "
          "base_version, operations::text, state, decision_reason, applied_in, revision, "
          "extract(epoch FROM create_time), extract(epoch FROM update_time) FROM proposals "
          "WHERE nomenclature_id = $1 AND ($2 = 0 OR number = $2) ORDER BY number") +
      (lock ? " FOR UPDATE" : "");
  for (const auto& row : tx.exec_params(sql, nomenclature, number)) {
    Proposal p;
    p.nomenclature = nomenclature;
    p.number = row[0].as<int>();
    p.table = row[1].as<int>();
    p.kind = row[2].as<std::string>();
    p.target = row[3].as<std::string>();
    p.text = row[4].as<std::string>();
    p.keywords = FromJsonArray(row[5]);
    p.code_hint = row[6].as<std::string>();
    p.base_version = row[7].as<std::string>();
    auto ops = ParseOperations(nlohmann::json::parse(row[8].c_str()));
    if (ops.ok()) p.operations = *std::move(ops);
    const std::string state = row[9].as<std::string>();
    std::optional<ProposalState> known = ProposalStateFromName(state);
    if (!known) {
      return absl::InternalError(absl::StrCat("proposal ", p.number, " of ", nomenclature,
                                              " has an unknown state \"", state, "\""));
    }
    p.state = *known;
    p.decision_reason = row[10].as<std::string>();
    p.applied_in = row[11].as<std::string>();
    p.revision = row[12].as<int>();
    p.create_time = db::FromEpoch(row[13]);
    p.update_time = db::FromEpoch(row[14]);
    index[p.number] = out.size();
    out.push_back(std::move(p));
  }
  for (const auto& row : tx.exec_params(
           "SELECT number, author, text, extract(epoch FROM create_time) FROM proposal_comments "
           "WHERE nomenclature_id = $1 AND ($2 = 0 OR number = $2) ORDER BY number, seq",
           nomenclature, number)) {
    auto it = index.find(row[0].as<int>());
    if (it == index.end()) continue;
    out[it->second].comments.push_back(
        {row[1].as<std::string>(), row[2].as<std::string>(), db::FromEpoch(row[3])});
  }
  return out;
}

absl::StatusOr<std::vector<Proposal>> PgStore::ListProposals(const std::string& nomenclature) {
  std::vector<Proposal> out;
  absl::Status st = db::RunInTransaction(pool_,
                                         [&](pqxx::work& tx) {
                                           auto read = ReadProposals(tx, nomenclature, 0, false);
                                           if (!read.ok()) return read.status();
                                           out = *std::move(read);
                                           return absl::OkStatus();
                                         },
                                         {.isolation = db::Isolation::kRepeatableRead});
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<Proposal> PgStore::GetProposal(const std::string& nomenclature, int number) {
  std::vector<Proposal> out;
  absl::Status st = db::RunInTransaction(pool_,
                                         [&](pqxx::work& tx) {
                                           auto read =
                                               ReadProposals(tx, nomenclature, number, false);
                                           if (!read.ok()) return read.status();
                                           out = *std::move(read);
                                           return absl::OkStatus();
                                         },
                                         {.isolation = db::Isolation::kRepeatableRead});
  if (!st.ok()) return st;
  if (out.empty()) {
    return api::NotFound(ProposalName(nomenclature, number));
  }
  return out.front();
}

absl::StatusOr<Proposal> PgStore::UpdateProposal(
    const std::string& nomenclature, int number,
    const std::function<absl::Status(Proposal&)>& change) {
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto read = ReadProposals(tx, nomenclature, number, true);
    if (!read.ok()) return read.status();
    std::vector<Proposal>& found = *read;
    if (found.empty()) {
      return api::NotFound(ProposalName(nomenclature, number));
    }
    Proposal& p = found.front();
    if (absl::Status s = change(p); !s.ok()) return s;
    tx.exec_params(absl::StrCat("UPDATE proposals SET operations = $3::jsonb, state = $4, "
                                "decision_reason = $5, revision = revision + 1, update_time = "
                                "$6::timestamptz WHERE nomenclature_id = $1 AND number = $2"),
                   nomenclature, number, OperationsToJson(p.operations).dump(),
                   ProposalStateName(p.state), p.decision_reason, db::Timestamp(p.update_time));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return GetProposal(nomenclature, number);
}

absl::StatusOr<Proposal> PgStore::AddComment(const std::string& nomenclature, int number,
                                             const Comment& comment) {
  absl::Status st = db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params(
        absl::StrCat("INSERT INTO proposal_comments (nomenclature_id, number, author, text, "
                     "create_time) SELECT $1, $2, $3, $4, $5::timestamptz WHERE EXISTS (SELECT 1 "
                     "FROM proposals WHERE nomenclature_id = $1 "
                     "AND number = $2)"),
        nomenclature, number, comment.author, comment.text, db::Timestamp(comment.create_time));
    if (r.affected_rows() == 0) {
      return api::NotFound(ProposalName(nomenclature, number));
    }
    // A comment changes the proposal: its etag changes, so a decision taken on what was read
    // before the comment is refused (AIP-154) instead of ignoring what was just said.
    tx.exec_params(absl::StrCat("UPDATE proposals SET revision = revision + 1, update_time = "
                                "$3::timestamptz WHERE nomenclature_id = $1 AND number = $2"),
                   nomenclature, number, db::Timestamp(comment.create_time));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return GetProposal(nomenclature, number);
}

absl::StatusOr<std::vector<VersionTree>> PgStore::LoadAll() {
  std::vector<VersionTree> out;
  absl::Status st = db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        out.clear();
        std::map<std::pair<std::string, std::string>, size_t> index;
        for (const auto& row :
             tx.exec("SELECT v.nomenclature_id, v.version, v.state, coalesce(v.base_version, ''), "
                     "       coalesce(extract(epoch FROM v.publish_time), 0), n.title, n.source "
                     "FROM versions v JOIN nomenclatures n ON n.id = v.nomenclature_id "
                     "ORDER BY v.nomenclature_id, v.version")) {
          VersionTree t;
          t.nomenclature = row[0].as<std::string>();
          t.version = row[1].as<std::string>();
          const std::string state = row[2].as<std::string>();
          std::optional<VersionState> known = VersionStateFromName(state);
          if (!known) {
            return absl::InternalError(absl::StrCat("version ", t.nomenclature, "/", t.version,
                                                    " has an unknown state \"", state, "\""));
          }
          t.state = *known;
          t.base_version = row[3].as<std::string>();
          const double epoch = row[4].as<double>();
          t.publish_time = epoch > 0 ? absl::FromUnixMicros(static_cast<int64_t>(epoch * 1e6))
                                     : absl::InfinitePast();
          t.title = row[5].as<std::string>();
          t.source = row[6].as<std::string>();
          index[{t.nomenclature, t.version}] = out.size();
          out.push_back(std::move(t));
        }
        for (const auto& row :
             tx.exec("SELECT nomenclature_id, version, kind, code, coalesce(parent_code, ''), "
                     "       coalesce(item_id, ''), label, plain_label, description, aptic_theme, "
                     "       array_to_json(keywords), array_to_json(services), "
                     "       array_to_json(thematiques), array_to_json(pix_competences), retired, "
                     "node_key "
                     "FROM version_nodes ORDER BY nomenclature_id, version, position")) {
          VersionTree& t = out[index.at({row[0].as<std::string>(), row[1].as<std::string>()})];
          const std::string kind = row[2].as<std::string>();
          const std::string code = row[3].as<std::string>();
          const std::string parent = row[4].as<std::string>();
          if (kind == "level") {
            t.levels.push_back({code,
                                row[6].as<std::string>(),
                                row[9].as<std::string>(),
                                {},
                                row[15].as<std::string>()});
          } else if (kind == "category") {
            for (auto& l : t.levels) {
              if (l.code == parent) {
                l.categories.push_back(
                    {code, row[6].as<std::string>(), {}, row[15].as<std::string>()});
              }
            }
          } else {
            ItemNode i;
            i.id = row[5].as<std::string>();
            i.code = code;
            i.label = row[6].as<std::string>();
            i.plain_label = row[7].as<std::string>();
            i.description = row[8].as<std::string>();
            i.keywords = FromJsonArray(row[10]);
            i.services = FromJsonArray(row[11]);
            i.thematiques = FromJsonArray(row[12]);
            i.pix_competences = FromJsonArray(row[13]);
            i.retired = row[14].as<bool>();
            if (i.retired) {
              i.code.clear();
              t.items.emplace(i.id, std::move(i));
              continue;
            }
            i.category_code = parent;
            for (auto& l : t.levels) {
              for (auto& c : l.categories) {
                if (c.code == parent) {
                  i.level_code = l.code;
                  c.item_ids.push_back(i.id);
                }
              }
            }
            t.items.emplace(i.id, std::move(i));
          }
        }
        return absl::OkStatus();
      },
      {.isolation = db::Isolation::kRepeatableRead});
  if (!st.ok()) return st;
  return out;
}

}  // namespace passerelle::referential
