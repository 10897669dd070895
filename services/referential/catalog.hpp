// Referential domain: nomenclature versions as trees, loaded from seed files or the store, and
// the keyword search over them. No gRPC and no SQL here.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace passerelle::referential {

struct ItemNode {
  std::string id;  // stable: "it-77"
  std::string code;
  std::string label;
  std::string plain_label;
  std::string description;
  std::vector<std::string> keywords;
  std::vector<std::string> services;     // national standard `services` values
  std::vector<std::string> thematiques;  // data·inclusion thematiques
  std::vector<std::string> pix_competences;
  std::string category_code;
  std::string level_code;
  bool retired = false;
};

struct CategoryNode {
  std::string code;
  std::string label;
  std::vector<std::string> item_ids;  // in display order
  /// Stable identity across versions (`cat-<first code>`, `cat-p<proposal>`), so the diff can
  /// tell a moved item from a renumbered category.
  std::string key;
};

struct LevelNode {
  std::string code;
  std::string label;
  std::string aptic_theme;
  std::vector<CategoryNode> categories;
  /// Stable identity across versions (`level-<seed code>`): codes follow positions and a
  /// restructuring swaps levels, so the code alone names another level in a later version.
  /// Empty for a version stored before levels had one.
  std::string key;
};

/// The value of `all` whose `name` is `text`; nullopt for any other text. How the referential
/// reads an enum back from its text (the states in the database).
template <typename Enum, size_t N>
std::optional<Enum> EnumFromName(const Enum (&all)[N], std::string (*name)(Enum),
                                 std::string_view text) {
  for (Enum e : all) {
    if (name(e) == text) return e;
  }
  return std::nullopt;
}

/// Where a version stands. Its text (`VersionStateName`) is what the database's `versions.state`
/// and the JSON export hold; the handler maps it to the proto's VersionState.
enum class VersionState { kDraft, kPublished };
/// Every state, for reading text back.
inline constexpr VersionState kVersionStates[] = {VersionState::kDraft, VersionState::kPublished};
/// "draft", "published".
std::string VersionStateName(VersionState s);
/// The state whose name is `name`; nullopt for any other text.
std::optional<VersionState> VersionStateFromName(std::string_view name);

struct VersionTree {
  std::string nomenclature;  // "roubaix-aptic"
  std::string title;
  std::string source;
  std::string version;  // "2023-02-03"
  VersionState state = VersionState::kDraft;
  std::string base_version;
  absl::Time publish_time = absl::InfinitePast();
  std::vector<LevelNode> levels;
  std::map<std::string, ItemNode> items;  // by id

  /// Items not retired.
  int ActiveItemCount() const;
  const ItemNode* FindByCode(const std::string& code) const;
};

/// Reads a nomenclature file (the shape of nomenclature-roubaix-2023-02.json) and the
/// enrichment file keyed by item code (plain_label, description, keywords, services,
/// thematiques, pix). Item ids are `it-<code>` of this first version. Errors name the field.
absl::StatusOr<VersionTree> ParseSeed(const std::string& nomenclature_json,
                                      const std::string& enrichment_json);

struct SearchHit {
  const ItemNode* item;
  double score;
  std::vector<std::string> matched_terms;
};

/// An in-memory index over one version: folded words of labels, plain labels and keywords.
class SearchIndex {
 public:
  explicit SearchIndex(const VersionTree& tree);
  /// Every query word must match a word of the item exactly, as a prefix, or within a small
  /// edit distance (1 from 4 letters, 2 from 8); keyword and exact matches rank higher, and so
  /// does the whole query found as a phrase. `plain_first` favours plain labels (inhabitants).
  std::vector<SearchHit> Search(const std::string& query, bool plain_first, size_t limit) const;

 private:
  struct Entry {
    const ItemNode* item;
    std::string label_folded, plain_folded;
  };
  struct Posting {
    uint32_t entry;
    float weight;  // field weight: keyword 1.5, label 1.0, plain label 0.9
  };
  std::vector<Entry> entries_;
  // Each distinct folded word once, with the items holding it: a query word is compared with
  // the vocabulary (a few hundred words), not with every word of every item.
  std::vector<std::string> vocabulary_;
  std::vector<std::vector<Posting>> postings_;
};

/// Every version in memory, swapped atomically when the store changes.
class Catalog {
 public:
  struct Snapshot {
    std::vector<VersionTree> versions;  // by nomenclature, then version
    std::map<std::string, std::unique_ptr<SearchIndex>> indexes;  // "nom/version"
    const VersionTree* Find(const std::string& nomenclature, const std::string& version) const;
    /// Latest published version of a nomenclature.
    const VersionTree* Current(const std::string& nomenclature) const;
  };

  void Replace(std::vector<VersionTree> versions);
  std::shared_ptr<const Snapshot> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();
};

}  // namespace passerelle::referential
