// Referential use cases.
#include "services/referential/referential.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "libs/events/event.hpp"
#include "libs/logging/logging.hpp"
#include "libs/server/errors.hpp"
#include "libs/server/resource.hpp"
#include "passerelle/referential/v1/events.pb.h"

namespace passerelle::referential {
namespace {

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", p.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string VersionName(const VersionTree& t) {
  return absl::StrCat("nomenclatures/", t.nomenclature, "/versions/", t.version);
}

absl::Status Referential::LoadSeed(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with("nomenclature-") || !file.ends_with(".json")) continue;
    auto nomenclature = ReadFile(entry.path());
    if (!nomenclature.ok()) return nomenclature.status();
    auto tree = ParseSeed(*nomenclature, "");
    if (!tree.ok()) return absl::InvalidArgumentError(absl::StrCat(file, ": ", tree.status().message()));
    std::string enrichment;
    if (auto e = ReadFile(fs::path(dir) / ("items-" + tree->version + ".json")); e.ok()) {
      enrichment = *e;
      tree = ParseSeed(*nomenclature, enrichment);
      if (!tree.ok()) return tree.status();
    }
    v1::VersionPublished payload;
    payload.set_version(VersionName(*tree));
    for (const auto& [id, item] : tree->items) {
      payload.add_items_added("items/" + id);
      auto* m = payload.add_code_mapping();
      m->set_item("items/" + id);
      m->set_new_code(item.code);
    }
    auto event = events::MakeEvent("referential.version.published", "referential",
                                   VersionName(*tree), payload, absl::Now(),
                                   logging::CurrentRequest().trace_id);
    auto inserted = repo_.InsertVersion(*tree, event);
    if (!inserted.ok()) return inserted.status();
    logging::Info(*inserted ? "seed version loaded" : "seed version already present",
                  {{"version", VersionName(*tree)}, {"items", tree->ActiveItemCount()}});
  }
  if (ec) return absl::NotFoundError(absl::StrCat("seed directory ", dir, ": ", ec.message()));
  // Proposals (`proposals-<x>.json`, with their reviewed reading `proposals-<x>-amendments.json`)
  // come after the versions they are made on.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with("proposals-") || !file.ends_with(".json") ||
        file.ends_with("-amendments.json")) {
      continue;
    }
    auto proposals = ReadFile(entry.path());
    if (!proposals.ok()) return proposals.status();
    const std::string stem = file.substr(0, file.size() - 5);
    auto amendments = ReadFile(fs::path(dir) / (stem + "-amendments.json"));
    auto parsed = ParseProposals(*proposals, amendments.ok() ? *amendments : "");
    if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat(file, ": ", parsed.status().message()));
    if (absl::Status s = repo_.ImportProposals(*parsed); !s.ok()) return s;
  }
  return Reload();
}

absl::Status Referential::Reload() {
  auto all = repo_.LoadAll();
  if (!all.ok()) return all.status();
  catalog_.Replace(std::move(all).value());
  return absl::OkStatus();
}

absl::StatusOr<const VersionTree*> Referential::ResolveVersion(const Catalog::Snapshot& snap,
                                                               const std::string& name) const {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "nomenclatures" || parts[2] != "versions" ||
      parts[1].empty() || parts[3].empty()) {
    return server::InvalidArgument(
        "invalid version name",
        {{"name", absl::StrCat("must be nomenclatures/{nomenclature}/versions/{version}, got \"",
                               name, "\"")}});
  }
  const VersionTree* t = parts[3] == "-" ? snap.Current(parts[1]) : snap.Find(parts[1], parts[3]);
  if (t == nullptr) return absl::NotFoundError(absl::StrCat(name, " does not exist"));
  return t;
}

}  // namespace passerelle::referential

namespace passerelle::referential {
namespace {

// Splits `nomenclatures/{n}/proposals/{number}`.
absl::Status ParseProposalName(const std::string& name, std::string* nomenclature, int* number) {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "nomenclatures" || parts[2] != "proposals" ||
      parts[1].empty() || !absl::SimpleAtoi(parts[3], number) || *number <= 0) {
    return server::InvalidArgument(
        "invalid proposal name",
        {{"name", absl::StrCat("must be nomenclatures/{nomenclature}/proposals/{number}, got \"",
                               name, "\"")}});
  }
  *nomenclature = parts[1];
  return absl::OkStatus();
}

absl::Status ParseParent(const std::string& parent, std::string* nomenclature) {
  std::vector<std::string> parts = absl::StrSplit(parent, '/');
  if (parts.size() != 2 || parts[0] != "nomenclatures" || parts[1].empty()) {
    return server::InvalidArgument(
        "invalid parent", {{"parent", absl::StrCat("must be nomenclatures/{nomenclature}, got \"",
                                                   parent, "\"")}});
  }
  *nomenclature = parts[1];
  return absl::OkStatus();
}

}  // namespace

std::string ProposalName(const Proposal& p) {
  return absl::StrCat("nomenclatures/", p.nomenclature, "/proposals/", p.number);
}

std::string ETag(const Proposal& p) { return server::WeakETag(p.revision); }

absl::StatusOr<std::vector<Proposal>> Referential::ListProposals(const std::string& parent,
                                                                 const std::string& state_filter) {
  std::string nomenclature;
  if (absl::Status s = ParseParent(parent, &nomenclature); !s.ok()) return s;
  std::string want;
  if (!state_filter.empty()) {
    std::vector<std::string> f = absl::StrSplit(state_filter, '=');
    std::string field = f.size() == 2 ? std::string(absl::StripAsciiWhitespace(f[0])) : "";
    want = f.size() == 2 ? absl::AsciiStrToLower(absl::StripAsciiWhitespace(f[1])) : "";
    if (field != "state" || (want != "open" && want != "accepted" && want != "rejected" &&
                             want != "applied")) {
      return server::InvalidArgument(
          "invalid filter", {{"filter", "supported: state = OPEN|ACCEPTED|REJECTED|APPLIED"}});
    }
  }
  auto all = repo_.ListProposals(nomenclature);
  if (!all.ok() || want.empty()) return all;
  std::vector<Proposal> out;
  for (auto& p : *all) {
    if (ProposalStateName(p.state) == want) out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<Proposal> Referential::GetProposal(const std::string& name) {
  std::string nomenclature;
  int number = 0;
  if (absl::Status s = ParseProposalName(name, &nomenclature, &number); !s.ok()) return s;
  return repo_.GetProposal(nomenclature, number);
}

absl::StatusOr<Proposal> Referential::Comment(const std::string& name, const std::string& author,
                                              const std::string& text) {
  std::string nomenclature;
  int number = 0;
  if (absl::Status s = ParseProposalName(name, &nomenclature, &number); !s.ok()) return s;
  std::vector<server::FieldViolation> bad;
  if (author.empty()) bad.push_back({"author", "must not be empty"});
  if (text.empty()) bad.push_back({"text", "must not be empty"});
  if (text.size() > 10000) bad.push_back({"text", "must be at most 10000 bytes"});
  if (!bad.empty()) return server::InvalidArgument("invalid comment", bad);
  return repo_.AddComment(nomenclature, number, {author, text, absl::Now()});
}

absl::StatusOr<Proposal> Referential::Amend(const std::string& name,
                                            std::vector<Operation> operations,
                                            const std::string& etag) {
  std::string nomenclature;
  int number = 0;
  if (absl::Status s = ParseProposalName(name, &nomenclature, &number); !s.ok()) return s;
  auto revision = server::RevisionFromETag(etag);
  if (!revision.ok()) return revision.status();
  // Validate the operations against the base version before storing them.
  auto snap = snapshot();
  auto current = repo_.GetProposal(nomenclature, number);
  if (!current.ok()) return current.status();
  if (const VersionTree* base = snap->Find(nomenclature, current->base_version)) {
    Proposal trial = *current;
    trial.operations = operations;
    auto applied = referential::Publish(*base, {trial}, "trial");
    if (!applied.ok()) {
      return server::InvalidArgument(std::string(applied.status().message()),
                                     {{"operations", std::string(applied.status().message())}});
    }
  }
  return repo_.UpdateProposal(nomenclature, number, *revision, [&](Proposal& p) {
    if (p.state != ProposalState::kOpen) {
      return server::WithReason(
          absl::FailedPreconditionError(absl::StrCat(ProposalName(p), " is ",
                                                     ProposalStateName(p.state),
                                                     ": only open proposals can be amended")),
          "PROPOSAL_NOT_OPEN");
    }
    p.operations = operations;
    return absl::OkStatus();
  });
}

absl::StatusOr<Proposal> Referential::Decide(const std::string& name, bool accept,
                                             const std::string& reason, const std::string& etag) {
  std::string nomenclature;
  int number = 0;
  if (absl::Status s = ParseProposalName(name, &nomenclature, &number); !s.ok()) return s;
  auto revision = server::RevisionFromETag(etag);
  if (!revision.ok()) return revision.status();
  return repo_.UpdateProposal(nomenclature, number, *revision, [&](Proposal& p) {
    if (p.state == ProposalState::kApplied) {
      return server::WithReason(
          absl::FailedPreconditionError(absl::StrCat(ProposalName(p), " was applied in ",
                                                     p.applied_in, " and cannot change")),
          "PROPOSAL_APPLIED");
    }
    p.state = accept ? ProposalState::kAccepted : ProposalState::kRejected;
    p.decision_reason = reason;
    return absl::OkStatus();
  });
}

absl::StatusOr<Referential::Published> Referential::Publish(const std::string& parent,
                                                            const std::string& version_id) {
  std::string nomenclature;
  if (absl::Status s = ParseParent(parent, &nomenclature); !s.ok()) return s;
  const bool id_ok = !version_id.empty() && version_id.size() <= 40 &&
                     std::all_of(version_id.begin(), version_id.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
                     });
  if (!id_ok) {
    return server::InvalidArgument(
        "invalid version_id", {{"version_id", "1 to 40 letters, digits or dashes, e.g. 2023-03-01"}});
  }
  auto snap = snapshot();
  if (const VersionTree* existing = snap->Find(nomenclature, version_id)) {
    // A retried publication: answer with what was published.
    const VersionTree* base = snap->Find(nomenclature, existing->base_version);
    return Published{existing, base ? Diff(*base, *existing) : VersionDiff{},
                     existing->base_version};
  }
  const VersionTree* base = snap->Current(nomenclature);
  if (base == nullptr) return absl::NotFoundError(absl::StrCat(parent, " has no published version"));
  auto proposals = repo_.ListProposals(nomenclature);
  if (!proposals.ok()) return proposals.status();
  std::vector<Proposal> accepted;
  std::vector<int> numbers;
  for (auto& p : *proposals) {
    if (p.state == ProposalState::kAccepted && p.base_version == base->version) {
      numbers.push_back(p.number);
      accepted.push_back(std::move(p));
    }
  }
  if (accepted.empty()) {
    return server::WithReason(
        absl::FailedPreconditionError(absl::StrCat("no accepted proposal on ", VersionName(*base),
                                                   ": nothing to publish")),
        "NOTHING_TO_PUBLISH");
  }
  auto next = referential::Publish(*base, accepted, version_id);
  if (!next.ok()) return next.status();
  VersionDiff diff = Diff(*base, *next);
  v1::VersionPublished payload;
  payload.set_version(VersionName(*next));
  payload.set_previous_version(VersionName(*base));
  for (const auto& id : diff.added) payload.add_items_added("items/" + id);
  for (const auto& id : diff.retired) payload.add_items_retired("items/" + id);
  for (const auto& id : diff.renamed) payload.add_items_renamed("items/" + id);
  for (const auto& id : diff.moved) payload.add_items_moved("items/" + id);
  for (const auto& m : diff.mapping) {
    auto* c = payload.add_code_mapping();
    c->set_old_code(m.old_code);
    c->set_item("items/" + m.item_id);
    c->set_new_code(m.new_code);
  }
  for (const auto& p : accepted) payload.add_proposals_applied(ProposalName(p));
  auto event = events::MakeEvent("referential.version.published", "referential",
                                 VersionName(*next), payload, absl::Now(),
                                 logging::CurrentRequest().trace_id);
  auto inserted = repo_.PublishVersion(*next, numbers, event);
  if (!inserted.ok()) return inserted.status();
  if (absl::Status s = Reload(); !s.ok()) return s;
  auto fresh = snapshot();
  const VersionTree* published = fresh->Find(nomenclature, version_id);
  if (published == nullptr) return absl::InternalError("published version vanished");
  logging::Info("version published", {{"version", VersionName(*published)},
                                      {"proposals", numbers.size()},
                                      {"added", diff.added.size()},
                                      {"retired", diff.retired.size()}});
  return Published{published, std::move(diff), base->version};
}

absl::StatusOr<VersionDiff> Referential::DiffVersions(const std::string& from,
                                                      const std::string& to) {
  auto snap = snapshot();
  auto a = ResolveVersion(*snap, from);
  if (!a.ok()) return a.status();
  auto b = ResolveVersion(*snap, to);
  if (!b.ok()) return b.status();
  if ((*a)->nomenclature != (*b)->nomenclature) {
    return server::InvalidArgument("versions of different nomenclatures",
                                   {{"to_version", "must be a version of the same nomenclature"}});
  }
  return Diff(**a, **b);
}

}  // namespace passerelle::referential
