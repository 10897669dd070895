// Governance of the nomenclature: proposals, the structured operations that amend a version,
// publishing (apply, renumber) and the diff between two versions. Pure functions, no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
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

/// Operations from their JSON form ({"op": "add_item", ...}); errors name the index and field.
absl::StatusOr<std::vector<Operation>> ParseOperations(const nlohmann::json& ops);
nlohmann::json OperationsToJson(const std::vector<Operation>& ops);
std::string OperationKindName(Operation::Kind kind);

enum class ProposalState { kOpen, kAccepted, kRejected, kApplied };
std::string ProposalStateName(ProposalState s);

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
absl::StatusOr<VersionTree> Publish(const VersionTree& base, const std::vector<Proposal>& accepted,
                                    const std::string& new_version);

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
