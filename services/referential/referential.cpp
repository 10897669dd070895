// Referential use cases.
#include "services/referential/referential.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/api/filter.hpp"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/events/event.hpp"
#include "libs/logging/logging.hpp"
#include "libs/text/utf8.hpp"
#include "passerelle/referential/v1/events.pb.h"

namespace passerelle::referential {
namespace {

// The names of the referential's resources (AIP-122): each is parsed and formatted here only.
const api::ResourcePattern kNomenclatureName("nomenclatures/{nomenclature}");
// Nomenclature and version ids in names follow the rule of a new version's id: each name has one
// spelling (`versions/V1` is not `versions/v1`, and is refused rather than not found).
constexpr char kIdRule[] =
    "[pattern] des identifiants de 1 à 40 lettres minuscules, chiffres et tirets simples, "
    "commençant et finissant par une lettre ou un chiffre";
const api::ResourcePattern kItemName("items/{item}");
const api::ResourcePattern kVersionName("nomenclatures/{nomenclature}/versions/{version}");
const api::ResourcePattern kProposalName("nomenclatures/{nomenclature}/proposals/{proposal}");

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", p.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A resource name's text, before its structure is looked at: bounded, valid one-line UTF-8.
absl::Status CheckName(const std::string& field, const std::string& value) {
  std::vector<api::FieldViolation> bad;
  if (api::CheckText(&bad, field, value, kMaxNameLength)) return absl::OkStatus();
  return api::InvalidArgument(absl::StrCat("invalid ", field), bad);
}

absl::Status CheckPageToken(const std::string& token) {
  if (token.size() <= kMaxPageTokenLength) return absl::OkStatus();
  return api::InvalidArgument(
      "invalid page_token",
      {{"page_token", absl::StrCat("longer than ", kMaxPageTokenLength,
                                   " characters: not a token this service issued")}});
}

}  // namespace

bool IsValidVersionId(const std::string& id) {
  if (id.empty() || id.size() > kMaxVersionIdLength || id.front() == '-' || id.back() == '-' ||
      id.find("--") != std::string::npos) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string NomenclatureName(const std::string& nomenclature) {
  return kNomenclatureName.Format({nomenclature});
}

std::string ItemName(const std::string& id) { return kItemName.Format({id}); }

absl::StatusOr<std::string> ParseItemName(const std::string& name, const std::string& field) {
  if (absl::Status s = CheckName(field, name); !s.ok()) return s;
  auto parts = kItemName.Parse(name, field);
  if (!parts.ok()) return parts.status();
  return (*parts)[0];
}

std::string VersionName(const std::string& nomenclature, const std::string& version) {
  return kVersionName.Format({nomenclature, version});
}

std::string VersionName(const VersionTree& t) { return VersionName(t.nomenclature, t.version); }

absl::Status Referential::LoadSeed(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with("nomenclature-") || !file.ends_with(".json")) continue;
    auto nomenclature = ReadFile(entry.path());
    if (!nomenclature.ok()) return nomenclature.status();
    const absl::Time now = clock_.Now();
    auto tree = ParseSeed(*nomenclature, "");
    if (!tree.ok())
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", tree.status().message()));
    std::string enrichment;
    if (auto e = ReadFile(fs::path(dir) / ("items-" + tree->version + ".json")); e.ok()) {
      enrichment = *e;
      tree = ParseSeed(*nomenclature, enrichment);
      if (!tree.ok()) return tree.status();
    }
    if (tree->state == VersionState::kPublished) tree->publish_time = now;
    v1::VersionPublished payload;
    payload.set_version(VersionName(*tree));
    for (const auto& [id, item] : tree->items) {
      payload.add_items_added(ItemName(id));
      auto* m = payload.add_code_mapping();
      m->set_item(ItemName(id));
      m->set_new_code(item.code);
    }
    auto event =
        events::MakeEvent("referential.version.published", "referential", VersionName(*tree),
                          payload, now, logging::CurrentRequest().trace_id);
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
    if (!parsed.ok())
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", parsed.status().message()));
    const absl::Time now = clock_.Now();
    for (Proposal& p : *parsed) p.create_time = p.update_time = now;
    if (absl::Status s = repo_.ImportProposals(*parsed); !s.ok()) return s;
  }
  return Reload();
}

absl::Status Referential::Reload() {
  // One reload at a time, each reading the store after the previous one: a slow reload can
  // never replace a newer catalog with an older one.
  std::lock_guard lock(reload_mu_);
  auto fingerprint = repo_.VersionsFingerprint();      // before the load: a change in between
  if (!fingerprint.ok()) return fingerprint.status();  // only causes one more reload
  auto all = repo_.LoadAll();
  if (!all.ok()) return all.status();
  catalog_.Replace(std::move(all).value());
  fingerprint_ = *std::move(fingerprint);
  return absl::OkStatus();
}

absl::StatusOr<bool> Referential::ReloadIfChanged() {
  auto fingerprint = repo_.VersionsFingerprint();
  if (!fingerprint.ok()) return fingerprint.status();
  {
    std::lock_guard lock(reload_mu_);
    if (*fingerprint == fingerprint_) return false;
  }
  if (absl::Status s = Reload(); !s.ok()) return s;
  logging::Info("versions reloaded: the store has changed",
                {{"versions", snapshot()->versions.size()}});
  return true;
}

absl::StatusOr<const VersionTree*> Referential::ResolveVersion(const Catalog::Snapshot& snap,
                                                               const std::string& name,
                                                               const std::string& field) const {
  if (absl::Status s = CheckName(field, name); !s.ok()) return s;
  auto parts = kVersionName.Parse(name, field);
  if (!parts.ok()) return parts.status();
  const std::string& nomenclature = (*parts)[0];
  const std::string& version = (*parts)[1];
  if (!IsValidVersionId(nomenclature) || (version != "-" && !IsValidVersionId(version))) {
    return api::InvalidName(field, kIdRule, name);
  }
  const VersionTree* t =
      version == "-" ? snap.Current(nomenclature) : snap.Find(nomenclature, version);
  if (t == nullptr) {
    return api::NotFound(name);
  }
  return t;
}

absl::StatusOr<Referential::NomenclaturePage> Referential::ListNomenclatures(
    int page_size, const std::string& page_token) {
  auto size = api::PageSize(page_size, kDefaultNomenclaturePage, kMaxNomenclaturePage);
  if (!size.ok()) return size.status();
  if (absl::Status s = CheckPageToken(page_token); !s.ok()) return s;
  constexpr char kList[] = "referential.ListNomenclatures";
  const std::string parameters = api::BindParameters({});
  std::string after;
  if (!page_token.empty()) {
    auto cursor = tokens_.Open(kList, parameters, page_token);
    if (!cursor.ok()) return cursor.status();
    after = *std::move(cursor);
  }
  NomenclaturePage page{.snapshot = snapshot(), .nomenclatures = {}, .next_page_token = {}};
  std::set<std::string> ids;
  for (const auto& v : page.snapshot->versions) ids.insert(v.nomenclature);
  for (auto it = ids.upper_bound(after); it != ids.end(); ++it) {
    if (static_cast<int>(page.nomenclatures.size()) == *size) {
      page.next_page_token = tokens_.Seal(kList, parameters, page.nomenclatures.back());
      break;
    }
    page.nomenclatures.push_back(*it);
  }
  return page;
}

}  // namespace passerelle::referential

namespace passerelle::referential {
namespace {

// `nomenclatures/{n}/proposals/{number}`, the number in its one spelling (no sign, no leading
// zero: `proposals/01` is not `proposals/1`).
absl::Status ParseProposalName(const std::string& name, std::string* nomenclature, int* number) {
  if (absl::Status s = CheckName("name", name); !s.ok()) return s;
  auto parts = kProposalName.Parse(name, "name");
  if (!parts.ok()) return parts.status();
  std::optional<int64_t> id = api::ParsePositiveId((*parts)[1]);
  if (!id || *id > std::numeric_limits<int>::max()) {
    return api::InvalidName(
        "name",
        absl::StrCat("[pattern] de la forme ", kProposalName.pattern(),
                     ", {proposal} un nombre de 1 à ", std::numeric_limits<int>::max(),
                     " écrit sans signe ni zéro en tête"),
        name);
  }
  if (!IsValidVersionId((*parts)[0])) return api::InvalidName("name", kIdRule, name);
  *nomenclature = (*parts)[0];
  *number = static_cast<int>(*id);
  return absl::OkStatus();
}

// `nomenclatures/{n}`.
absl::Status ParseParent(const std::string& parent, std::string* nomenclature) {
  if (absl::Status s = CheckName("parent", parent); !s.ok()) return s;
  auto parts = kNomenclatureName.Parse(parent, "parent");
  if (!parts.ok()) return parts.status();
  if (!IsValidVersionId((*parts)[0])) return api::InvalidName("parent", kIdRule, parent);
  *nomenclature = (*parts)[0];
  return absl::OkStatus();
}

// The etag's text (bounded) before its revision is read.
absl::StatusOr<int> Revision(const std::string& etag) {
  std::vector<api::FieldViolation> bad;
  if (!api::CheckText(&bad, "etag", etag, kMaxETagLength)) {
    return api::InvalidArgument("etag invalide", bad);
  }
  return api::RevisionFromETag(etag);
}

// AIP-154: a change decided on what was read before the proposal last changed is refused.
// `expected` 0: the request carried no etag.
absl::Status CheckRevision(const Proposal& p, int expected) {
  if (expected == 0 || p.revision == expected) return absl::OkStatus();
  return api::WithReason(absl::AbortedError(absl::StrCat("etag mismatch: the proposal changed "
                                                         "since it was read (now ",
                                                         ETag(p), "); read it again")),
                         "ETAG_MISMATCH");
}

bool HasNomenclature(const Catalog::Snapshot& snap, const std::string& nomenclature) {
  return std::any_of(snap.versions.begin(), snap.versions.end(),
                     [&](const VersionTree& v) { return v.nomenclature == nomenclature; });
}

absl::Status NomenclatureNotFound(const std::string& nomenclature) {
  return api::NotFound(NomenclatureName(text::Quote(nomenclature, 80)));
}

// The states a `state = X` filter may name: the API's names (OPEN), the store's in upper case.
std::optional<ProposalState> StateFromFilter(const std::string& value) {
  return ProposalStateFromName(absl::AsciiStrToLower(value));
}

}  // namespace

std::string ProposalName(const std::string& nomenclature, int number) {
  return kProposalName.Format({nomenclature, std::to_string(number)});
}

std::string ProposalName(const Proposal& p) { return ProposalName(p.nomenclature, p.number); }

std::string ETag(const Proposal& p) { return api::WeakETag(p.revision); }

absl::StatusOr<Referential::ProposalPage> Referential::ListProposals(
    const std::string& parent, const std::string& filter, int page_size,
    const std::string& page_token) {
  std::string nomenclature;
  if (absl::Status s = ParseParent(parent, &nomenclature); !s.ok()) return s;
  auto size = api::PageSize(page_size, kDefaultProposalPage, kMaxProposalPage);
  if (!size.ok()) return size.status();
  if (absl::Status s = CheckPageToken(page_token); !s.ok()) return s;
  auto comparisons = api::ParseFilter(filter);
  if (!comparisons.ok()) return comparisons.status();
  std::vector<ProposalState> wanted;  // every one must hold (AND)
  for (const auto& c : *comparisons) {
    std::optional<ProposalState> state = StateFromFilter(c.value);
    std::string problem;
    if (c.field != "state") {
      problem = absl::StrCat("[field] champ « ", text::Quote(c.field), " » inconnu ; seul state");
    } else if (c.op != api::Comparison::Op::kEquals) {
      problem = "[filter] state ne prend que =";
    } else if (!state) {
      problem = absl::StrCat("[enum] état « ", text::Quote(c.value),
                             " » inconnu ; OPEN, ACCEPTED, REJECTED, APPLIED ou CLOSED");
    } else if (!wanted.empty()) {
      // Comparisons join by AND: a second state would select nothing (tester 27, L3), as a
      // second source does in ListConflicts.
      problem = "[unique] state se nomme une fois : une proposition n'a qu'un état";
    }
    if (!problem.empty()) {
      return api::InvalidArgument("filtre invalide", {api::FilterViolation(c, problem)});
    }
    wanted.push_back(*state);
  }
  constexpr char kList[] = "referential.ListProposals";
  const std::string parameters = api::BindParameters({parent, filter});
  int after = 0;
  if (!page_token.empty()) {
    auto cursor = tokens_.Open(kList, parameters, page_token);
    if (!cursor.ok()) return cursor.status();
    if (!absl::SimpleAtoi(*cursor, &after)) {
      return absl::InternalError("a sealed proposals page token holds no number");
    }
  }
  if (!HasNomenclature(*snapshot(), nomenclature)) return NomenclatureNotFound(nomenclature);
  auto all = repo_.ListProposals(nomenclature);
  if (!all.ok()) return all.status();
  ProposalPage page;
  for (auto& p : *all) {
    if (p.number <= after) continue;
    if (!std::all_of(wanted.begin(), wanted.end(), [&](ProposalState s) { return p.state == s; })) {
      continue;
    }
    if (static_cast<int>(page.proposals.size()) == *size) {
      page.next_page_token =
          tokens_.Seal(kList, parameters, std::to_string(page.proposals.back().number));
      break;
    }
    page.proposals.push_back(std::move(p));
  }
  return page;
}

absl::StatusOr<Proposal> Referential::GetProposal(const std::string& name) {
  std::string nomenclature;
  int number = 0;
  if (absl::Status s = ParseProposalName(name, &nomenclature, &number); !s.ok()) return s;
  return repo_.GetProposal(nomenclature, number);
}

absl::StatusOr<Proposal> Referential::Comment(const std::string& name,
                                              const std::string& requested_author,
                                              const std::string& text,
                                              const std::optional<std::string>& key_author) {
  std::string nomenclature;
  int number = 0;
  if (absl::Status s = ParseProposalName(name, &nomenclature, &number); !s.ok()) return s;
  std::string author = requested_author;
  if (key_author) {
    if (!author.empty() && author != *key_author) {
      return api::WithReason(absl::PermissionDeniedError(absl::StrCat(
                                 "author : un commentaire est signé par la clé qui l'écrit (« ",
                                 text::Quote(*key_author), " »), pas par « ", text::Quote(author),
                                 " » ; laissez author vide")),
                             "NOT_AUTHOR");
    }
    author = *key_author;
  }
  std::vector<api::FieldViolation> bad;
  if (author.empty()) {
    bad.push_back({"author", "[required] ne peut pas être vide"});
  } else {
    api::CheckText(&bad, "author", author, kMaxAuthorLength);
  }
  if (text.empty()) {
    bad.push_back({"text", "[required] ne peut pas être vide"});
  } else {
    api::CheckText(&bad, "text", text, kMaxCommentLength, /*multiline=*/true);
  }
  if (!bad.empty()) return api::InvalidArgument("commentaire invalide", bad);
  return repo_.AddComment(nomenclature, number, {author, text, clock_.Now()});
}

absl::StatusOr<Proposal> Referential::Amend(const std::string& name,
                                            std::vector<Operation> operations,
                                            const std::string& etag) {
  std::string nomenclature;
  int number = 0;
  if (absl::Status s = ParseProposalName(name, &nomenclature, &number); !s.ok()) return s;
  auto revision = Revision(etag);
  if (!revision.ok()) return revision.status();
  std::vector<api::FieldViolation> bad;
  CheckOperations(operations, &bad);
  if (!bad.empty()) return api::InvalidArgument("opérations invalides", bad);
  // Validate the operations against the base version before storing them.
  auto snap = snapshot();
  auto current = repo_.GetProposal(nomenclature, number);
  if (!current.ok()) return current.status();
  if (const VersionTree* base = snap->Find(nomenclature, current->base_version)) {
    Proposal trial = *current;
    trial.operations = operations;
    auto applied = referential::Publish(*base, {trial}, "trial");
    if (!applied.ok()) {
      return api::InvalidArgument(std::string(applied.status().message()),
                                  {{"operations", std::string(applied.status().message())}});
    }
  }
  return repo_.UpdateProposal(nomenclature, number, [&](Proposal& p) {
    if (absl::Status s = CheckRevision(p, *revision); !s.ok()) return s;
    if (p.base_version != current->base_version) {  // a publication carried it meanwhile
      return api::WithReason(
          absl::AbortedError(absl::StrCat(ProposalName(p), " was carried to version ",
                                          p.base_version, " meanwhile; read it again")),
          "ETAG_MISMATCH");
    }
    if (p.state != ProposalState::kOpen) {
      return api::WithReason(absl::FailedPreconditionError(
                                 absl::StrCat(ProposalName(p), " is ", ProposalStateName(p.state),
                                              ": only open proposals can be amended")),
                             "PROPOSAL_NOT_OPEN");
    }
    p.operations = operations;
    p.update_time = clock_.Now();
    return absl::OkStatus();
  });
}

absl::StatusOr<Proposal> Referential::Decide(const std::string& name, bool accept,
                                             const std::string& reason, const std::string& etag) {
  std::string nomenclature;
  int number = 0;
  if (absl::Status s = ParseProposalName(name, &nomenclature, &number); !s.ok()) return s;
  std::vector<api::FieldViolation> bad;
  api::CheckText(&bad, "reason", reason, kMaxReasonLength, /*multiline=*/true);
  if (!bad.empty()) return api::InvalidArgument("décision invalide", bad);
  auto revision = Revision(etag);
  if (!revision.ok()) return revision.status();
  auto snap = snapshot();
  const VersionTree* current = snap->Current(nomenclature);
  return repo_.UpdateProposal(nomenclature, number, [&](Proposal& p) {
    if (absl::Status s = CheckRevision(p, *revision); !s.ok()) return s;
    if (p.state == ProposalState::kApplied) {
      return api::WithReason(
          absl::FailedPreconditionError(absl::StrCat(ProposalName(p), " was applied in ",
                                                     p.applied_in, " and cannot change")),
          "PROPOSAL_APPLIED");
    }
    if (p.state == ProposalState::kClosed) {
      return api::WithReason(
          absl::FailedPreconditionError(
              absl::StrCat(ProposalName(p), " is closed and cannot change: ", p.decision_reason)),
          "PROPOSAL_CLOSED");
    }
    // Only proposals on the version in force can be applied by the next publication (older
    // ones predate the carrying of open proposals at publication).
    if (accept && (current == nullptr || p.base_version != current->version)) {
      return api::WithReason(
          absl::FailedPreconditionError(
              absl::StrCat(ProposalName(p), " was made on version ", p.base_version,
                           ", not on the current version ", current ? current->version : "(none)")),
          "PROPOSAL_OUTDATED");
    }
    p.state = accept ? ProposalState::kAccepted : ProposalState::kRejected;
    p.decision_reason = reason;
    p.update_time = clock_.Now();
    return absl::OkStatus();
  });
}

absl::StatusOr<Referential::Published> Referential::Publish(const std::string& parent,
                                                            const std::string& version_id) {
  std::string nomenclature;
  if (absl::Status s = ParseParent(parent, &nomenclature); !s.ok()) return s;
  if (!IsValidVersionId(version_id)) {
    return api::InvalidArgument(
        "version_id invalide",
        {{"version_id",
          absl::StrCat("[pattern] 1 à 40 lettres minuscules, chiffres et tirets simples, "
                       "commençant et finissant par une lettre ou un chiffre, par exemple "
                       "2023-03-01 ; reçu « ",
                       text::Quote(version_id), " »")}});
  }
  // Another replica may have published since this one last looked.
  if (auto reloaded = ReloadIfChanged(); !reloaded.ok()) return reloaded.status();
  auto snap = snapshot();
  if (const VersionTree* existing = snap->Find(nomenclature, version_id)) {
    // A retried publication (the current version, made by a publication, with nothing accepted
    // on it since): answer with what was published. Any other existing id names another
    // version: publishing under it would publish nothing and answer OK.
    const VersionTree* base = snap->Find(nomenclature, existing->base_version);
    bool retry = base != nullptr && existing == snap->Current(nomenclature);
    if (retry) {
      auto proposals = repo_.ListProposals(nomenclature);
      if (!proposals.ok()) return proposals.status();
      for (const auto& p : *proposals) {
        retry =
            retry && !(p.base_version == existing->version && p.state == ProposalState::kAccepted);
      }
    }
    if (!retry) {
      return api::WithReason(
          absl::AlreadyExistsError(absl::StrCat(
              VersionName(*existing),
              " already exists: publish the accepted proposals under a new version_id")),
          "VERSION_EXISTS");
    }
    return Published{snap, existing, Diff(*base, *existing), existing->base_version};
  }
  const VersionTree* base = snap->Current(nomenclature);
  if (base == nullptr) return NomenclatureNotFound(nomenclature);
  auto proposals = repo_.ListProposals(nomenclature);
  if (!proposals.ok()) return proposals.status();
  std::vector<Proposal> accepted, open;
  std::vector<int> numbers;
  for (auto& p : *proposals) {
    if (p.base_version != base->version) continue;
    if (p.state == ProposalState::kAccepted) {
      numbers.push_back(p.number);
      accepted.push_back(std::move(p));
    } else if (p.state == ProposalState::kOpen) {
      open.push_back(std::move(p));
    }
  }
  if (accepted.empty()) {
    return api::WithReason(
        absl::FailedPreconditionError(absl::StrCat("aucune proposition acceptée sur ",
                                                   VersionName(*base), " : rien à publier")),
        "NOTHING_TO_PUBLISH");
  }
  Renumbering renumbering;
  auto next = referential::Publish(*base, accepted, version_id, &renumbering);
  if (!next.ok()) return next.status();
  const absl::Time now = clock_.Now();
  next->publish_time = now;
  // Open proposals follow the version: renamed to the new codes and checked against it, or
  // closed with the reason when they no longer apply.
  std::vector<absl::StatusOr<std::vector<Operation>>> rebased;
  std::map<std::string, size_t> adds_category;  // `new:<hint>` -> open proposal adding it
  for (size_t i = 0; i < open.size(); ++i) {
    rebased.push_back(RebaseOperations(open[i].operations, renumbering));
    if (!rebased[i].ok()) continue;
    for (const Operation& op : *rebased[i]) {
      if (op.kind == Operation::Kind::kAddCategory) adds_category.emplace("new:" + op.code, i);
    }
  }
  std::vector<Proposal> carried;
  int closed = 0;
  for (size_t i = 0; i < open.size(); ++i) {
    absl::Status why = rebased[i].status();
    if (why.ok()) {
      // Tried with the open proposals adding the categories it fills, as a publication would.
      std::set<size_t> together = {i};
      for (const Operation& op : *rebased[i]) {
        for (std::string ref : {op.category, op.target}) {
          if (ref.starts_with("category:")) ref = ref.substr(9);
          if (auto it = adds_category.find(ref); it != adds_category.end()) {
            together.insert(it->second);
          }
        }
      }
      std::vector<Proposal> trial;
      for (size_t j : together) {
        trial.push_back(open[j]);
        trial.back().operations = *rebased[j];
      }
      why = referential::Publish(*next, trial, "trial").status();
    }
    Proposal p = open[i];
    p.update_time = now;
    if (why.ok()) {
      p.base_version = version_id;
      p.operations = *rebased[i];
    } else {
      ++closed;
      p.state = ProposalState::kClosed;
      p.decision_reason =
          absl::StrCat("Fermée sans décision à la publication de la version ", version_id,
                       " : elle ne s'applique plus à cette version (", why.message(), ").");
    }
    carried.push_back(std::move(p));
  }
  VersionDiff diff = Diff(*base, *next);
  v1::VersionPublished payload;
  payload.set_version(VersionName(*next));
  payload.set_previous_version(VersionName(*base));
  for (const auto& id : diff.added) payload.add_items_added(ItemName(id));
  for (const auto& id : diff.retired) payload.add_items_retired(ItemName(id));
  for (const auto& id : diff.renamed) payload.add_items_renamed(ItemName(id));
  for (const auto& id : diff.moved) payload.add_items_moved(ItemName(id));
  for (const auto& m : diff.mapping) {
    auto* c = payload.add_code_mapping();
    c->set_old_code(m.old_code);
    c->set_item(ItemName(m.item_id));
    c->set_new_code(m.new_code);
  }
  for (const auto& p : accepted) payload.add_proposals_applied(ProposalName(p));
  auto event = events::MakeEvent("referential.version.published", "referential", VersionName(*next),
                                 payload, now, logging::CurrentRequest().trace_id);
  auto inserted = repo_.PublishVersion(*next, numbers, carried, event);
  if (!inserted.ok()) return inserted.status();
  if (absl::Status s = Reload(); !s.ok()) return s;
  auto fresh = snapshot();
  const VersionTree* published = fresh->Find(nomenclature, version_id);
  if (published == nullptr) return absl::InternalError("published version vanished");
  logging::Info("version published", {{"version", VersionName(*published)},
                                      {"proposals", numbers.size()},
                                      {"carried", carried.size() - closed},
                                      {"closed", closed},
                                      {"added", diff.added.size()},
                                      {"retired", diff.retired.size()}});
  return Published{fresh, published, std::move(diff), base->version};
}

absl::StatusOr<Referential::Diffed> Referential::DiffVersions(const std::string& from,
                                                              const std::string& to) {
  auto snap = snapshot();
  auto a = ResolveVersion(*snap, from, "from_version");
  if (!a.ok()) return a.status();
  auto b = ResolveVersion(*snap, to, "to_version");
  if (!b.ok()) return b.status();
  if ((*a)->nomenclature != (*b)->nomenclature) {
    return api::InvalidArgument(
        "versions de nomenclatures différentes",
        {{"to_version", "[nomenclature] une version de la même nomenclature attendue"}});
  }
  return Diffed{(*a)->nomenclature, (*a)->version, (*b)->version, Diff(**a, **b)};
}

}  // namespace passerelle::referential
