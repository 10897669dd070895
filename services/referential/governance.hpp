// Governance of the nomenclature: proposals, the structured operations that amend a version,
// publishing (apply, renumber) and the diff between two versions. Pure functions, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/api/status.hpp"
#include "nlohmann/json.hpp"
#include "services/referential/catalog.hpp"

namespace passerelle::referential {

/// One precise change to a version. Targets name nodes by their code in the base version
/// (`item:77`, `category:2.1`, `level:1`, `all`); a category added in the same publish is named
/// `new:<hint>` (its `code` hint).
struct Operation {
  enum class Kind {
    kAddItem,         // category, label, keywords
    kAddCategory,     // level, code (hint), label
    kRetireItem,      // target
    kSetLabel,        // target, label
    kReplaceInLabel,  // target, from, to
    kMoveItem,        // target, category
    kMoveCategory,    // target, level, position
    kMoveLevel,       // target, position
    kAddKeywords,     // target, keywords
  };
  Kind kind;
  std::string target;
  std::string category;
  std::string level;
  std::string code;
  std::string label;
  std::string from, to;
  int position = -1;
  std::vector<std::string> keywords;
};

/// Bounds of an amendment (documented on AmendProposalRequest). Counted in code points.
inline constexpr size_t kMaxOperations = 100;
inline constexpr size_t kMaxNodeRefLength = 64;  // target, category, level, code
inline constexpr size_t kMaxLabelLength = 200;   // label, from, to
inline constexpr size_t kMaxOperationKeywords = 50;
inline constexpr size_t kMaxKeywordLength = 100;
inline constexpr int kMaxPosition = 10000;

/// Appends a violation per problem of `ops`: too many, a field a kind needs left empty, text
/// that is not valid one-line UTF-8 or too long, a position out of range. Fields are named
/// `operations[i].<field>` as in the API.
void CheckOperations(const std::vector<Operation>& ops, std::vector<api::FieldViolation>* bad);

/// Operations from their JSON form ({"op": "add_item", ...}); errors name the index and field.
absl::StatusOr<std::vector<Operation>> ParseOperations(const nlohmann::json& ops);
nlohmann::json OperationsToJson(const std::vector<Operation>& ops);
std::string OperationKindName(Operation::Kind kind);

/// kClosed: closed without a decision because a publication made it obsolete (it no longer
/// applies to the version in force); terminal, like kApplied.
enum class ProposalState { kOpen, kAccepted, kRejected, kApplied, kClosed };
/// Every state, in the API's order, for reading text back (the unit test checks it against the
/// proto's ProposalState).
inline constexpr ProposalState kProposalStates[] = {
    ProposalState::kOpen, ProposalState::kAccepted, ProposalState::kRejected,
    ProposalState::kApplied, ProposalState::kClosed};
/// The state's text in the database's `proposals.state` and in messages: "open", "accepted"...
std::string ProposalStateName(ProposalState s);
/// The state whose name is `name`; nullopt for any other text.
std::optional<ProposalState> ProposalStateFromName(std::string_view name);

struct Comment {
  std::string author;
  std::string text;
  absl::Time create_time;
};

struct Proposal {
  std::string nomenclature;
  int number = 0;
  int table = 0;
  std::string kind;    // as written: add, remove, rename, move, restructure, keywords, ...
  std::string target;  // as written
  std::string text;
  std::vector<std::string> keywords;
  std::string code_hint;
  std::string base_version;
  std::vector<Operation> operations;
  ProposalState state = ProposalState::kOpen;
  std::string decision_reason;
  std::string applied_in;  // version that applied it
  std::vector<Comment> comments;
  int revision = 1;
  absl::Time create_time, update_time;
};

/// Proposals as written by the round tables (workshop-proposals-*.json), numbered from 1, with
/// the reviewed operations of the amendments file (keyed by number) as their first amendment.
absl::StatusOr<std::vector<Proposal>> ParseProposals(const std::string& proposals_json,
                                                     const std::string& amendments_json);

/// Applies the accepted proposals' operations, in proposal order, to a copy of `base`, then
/// renumbers: levels 0..n, categories L.1.., level-0 items A, B..., other items 1..N in tree
/// order. Retired items are kept (retired, out of the tree). New items get ids
/// `it-p<number>-<k>`. Errors name the proposal and operation.
/// Where the base version's codes went in a published version: old code -> new code, for the
/// levels, categories and items still there (retired items are absent); categories the
/// publication added are there under their `new:<hint>` name.
struct Renumbering {
  std::map<std::string, std::string> levels, categories, items;
};

absl::StatusOr<VersionTree> Publish(const VersionTree& base, const std::vector<Proposal>& accepted,
                                    const std::string& new_version,
                                    Renumbering* renumbering = nullptr);

/// The operations of a proposal made on the base version, with every node they name renamed to
/// its code in the published version. FAILED_PRECONDITION naming the operation and node (in
/// French, for the proposal's decision reason) when a node is gone.
absl::StatusOr<std::vector<Operation>> RebaseOperations(const std::vector<Operation>& ops,
                                                        const Renumbering& renumbering);

struct VersionDiff {
  std::vector<std::string> added, retired, renamed, moved;  // item ids
  struct Mapping {
    std::string old_code, item_id, new_code;
  };
  std::vector<Mapping> mapping;  // every code of `from`
};

/// What changed between two versions, by stable item id.
VersionDiff Diff(const VersionTree& from, const VersionTree& to);

}  // namespace passerelle::referential
