// Referential domain: seed parsing and keyword search.
#include "services/referential/catalog.hpp"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "libs/text/text.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::referential {

std::string VersionStateName(VersionState s) {
  switch (s) {  // no default: -Wswitch names a state added without its text
    case VersionState::kDraft:
      return "draft";
    case VersionState::kPublished:
      return "published";
  }
  return "draft";  // not reached: every state is listed
}

std::optional<VersionState> VersionStateFromName(std::string_view name) {
  return EnumFromName(kVersionStates, VersionStateName, name);
}

int VersionTree::ActiveItemCount() const {
  int n = 0;
  for (const auto& [id, item] : items) n += item.retired ? 0 : 1;
  return n;
}

const ItemNode* VersionTree::FindByCode(const std::string& code) const {
  for (const auto& [id, item] : items) {
    if (item.code == code) return &item;
  }
  return nullptr;
}

namespace {

std::vector<std::string> Strings(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array()) {
    for (const auto& v : j[key]) out.push_back(v.get<std::string>());
  }
  return out;
}

std::string Str(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

}  // namespace

absl::StatusOr<VersionTree> ParseSeed(const std::string& nomenclature_json,
                                      const std::string& enrichment_json) {
  nlohmann::json doc, extra;
  try {
    doc = nlohmann::json::parse(nomenclature_json);
    extra = enrichment_json.empty() ? nlohmann::json::object()
                                    : nlohmann::json::parse(enrichment_json);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("seed is not valid JSON: ", e.what()));
  }
  VersionTree t;
  t.nomenclature = Str(doc, "nomenclature");
  t.version = Str(doc, "version");
  t.title = Str(doc, "title");
  t.source = Str(doc, "source");
  t.state = VersionState::kPublished;
  if (t.nomenclature.empty() || t.version.empty()) {
    return absl::InvalidArgumentError("seed: `nomenclature` and `version` are required");
  }
  const nlohmann::json& items_extra = extra.contains("items") ? extra["items"] : extra;
  if (!doc.contains("levels") || !doc["levels"].is_array()) {
    return absl::InvalidArgumentError("seed: `levels` must be an array");
  }
  for (const auto& l : doc["levels"]) {
    LevelNode level{
        Str(l, "code"), Str(l, "label"), Str(l, "aptic_theme"), {}, "level-" + Str(l, "code")};
    for (const auto& c : l.value("categories", nlohmann::json::array())) {
      CategoryNode cat{Str(c, "code"), Str(c, "label"), {}, "cat-" + Str(c, "code")};
      for (const auto& i : c.value("items", nlohmann::json::array())) {
        ItemNode item;
        item.code = Str(i, "code");
        item.label = Str(i, "label");
        if (item.code.empty() || item.label.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("seed: category ", cat.code, ": an item has no code or label"));
        }
        item.id = "it-" + item.code;
        item.category_code = cat.code;
        item.level_code = level.code;
        if (items_extra.contains(item.code)) {
          const auto& e = items_extra[item.code];
          item.plain_label = Str(e, "plain_label");
          item.description = Str(e, "description");
          item.keywords = Strings(e, "keywords");
          item.services = Strings(e, "services");
          item.thematiques = Strings(e, "thematiques");
          item.pix_competences = Strings(e, "pix");
        }
        if (t.items.count(item.id)) {
          return absl::InvalidArgumentError(absl::StrCat("seed: item code ", item.code,
                                                         " appears twice"));
        }
        cat.item_ids.push_back(item.id);
        t.items.emplace(item.id, std::move(item));
      }
      level.categories.push_back(std::move(cat));
    }
    t.levels.push_back(std::move(level));
  }
  if (doc.contains("item_count") && doc["item_count"].get<int>() != t.ActiveItemCount()) {
    return absl::InvalidArgumentError(absl::StrCat("seed: item_count says ",
                                                   doc["item_count"].get<int>(), " but ",
                                                   t.ActiveItemCount(), " items were read"));
  }
  return t;
}

SearchIndex::SearchIndex(const VersionTree& tree) {
  std::map<std::string, size_t> word_ids;
  auto add = [&](const std::string& text_value, float weight) {
    for (const auto& w : text::Words(text_value)) {
      auto [it, fresh] = word_ids.try_emplace(w, vocabulary_.size());
      if (fresh) {
        vocabulary_.push_back(w);
        postings_.emplace_back();
      }
      auto& list = postings_[it->second];
      const auto entry = static_cast<uint32_t>(entries_.size() - 1);
      if (!list.empty() && list.back().entry == entry) {
        list.back().weight = std::max(list.back().weight, weight);
      } else {
        list.push_back({entry, weight});
      }
    }
  };
  for (const auto& [id, item] : tree.items) {
    if (item.retired) continue;
    entries_.push_back({&item, text::Fold(item.label), text::Fold(item.plain_label)});
    add(item.label, 1.0f);
    add(item.plain_label, 0.9f);
    for (const auto& k : item.keywords) add(k, 1.5f);
  }
}

std::vector<SearchHit> SearchIndex::Search(const std::string& query, bool plain_first,
                                           size_t limit) const {
  const std::vector<std::string> terms = text::Words(query);
  std::vector<SearchHit> hits;
  if (terms.empty() || entries_.empty()) return hits;
  const size_t n = entries_.size();
  std::vector<double> total(n, 0);
  std::vector<int> matched_terms(n, 0);
  std::vector<std::vector<std::string>> matched(n);
  std::vector<double> best(n);
  std::vector<int32_t> best_word(n);
  for (const auto& term : terms) {
    std::fill(best.begin(), best.end(), 0.0);
    std::fill(best_word.begin(), best_word.end(), -1);
    const int max_typos = term.size() >= 8 ? 2 : term.size() >= 4 ? 1 : 0;
    auto credit = [&](size_t w, double s) {
      for (const Posting& p : postings_[w]) {
        const double v = s * p.weight;
        if (v > best[p.entry]) {
          best[p.entry] = v;
          best_word[p.entry] = static_cast<int32_t>(w);
        }
      }
    };
    bool any = false;
    for (size_t w = 0; w < vocabulary_.size(); ++w) {
      const std::string_view word = vocabulary_[w];
      if (word == term) {
        credit(w, 3);
        any = true;
      } else if (term.size() >= 2 && word.starts_with(term)) {
        credit(w, 2 + static_cast<double>(term.size()) / static_cast<double>(word.size()));
        any = true;
      }
    }
    // Typos only when the word as typed matches nothing: the edit distance is the costly part.
    for (size_t w = 0; !any && max_typos > 0 && w < vocabulary_.size(); ++w) {
      const std::string_view word = vocabulary_[w];
      if (word.size() + static_cast<size_t>(max_typos) < term.size()) continue;
      // Compare with the whole word and with its prefix of the typed length.
      int d = std::min(text::EditDistance(term, word, max_typos),
                       text::EditDistance(term, word.substr(0, term.size()), max_typos));
      if (d <= max_typos) credit(w, 1.5 - 0.4 * d);
    }
    for (size_t e = 0; e < n; ++e) {
      if (best[e] == 0) continue;
      total[e] += best[e];
      ++matched_terms[e];
      matched[e].push_back(vocabulary_[best_word[e]]);
    }
  }
  const std::string phrase = text::Fold(query);
  for (size_t e = 0; e < n; ++e) {
    if (matched_terms[e] != static_cast<int>(terms.size())) continue;  // every word must match
    double score = total[e];
    if (phrase.size() > 3) {
      if (entries_[e].label_folded.find(phrase) != std::string::npos) score += plain_first ? 1 : 2;
      if (entries_[e].plain_folded.find(phrase) != std::string::npos) score += plain_first ? 2 : 1;
    }
    hits.push_back({entries_[e].item, score, std::move(matched[e])});
  }
  std::stable_sort(hits.begin(), hits.end(), [](const SearchHit& a, const SearchHit& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.item->id < b.item->id;
  });
  if (hits.size() > limit) hits.resize(limit);
  return hits;
}

const VersionTree* Catalog::Snapshot::Find(const std::string& nomenclature,
                                           const std::string& version) const {
  for (const auto& v : versions) {
    if (v.nomenclature == nomenclature && v.version == version) return &v;
  }
  return nullptr;
}

const VersionTree* Catalog::Snapshot::Current(const std::string& nomenclature) const {
  const VersionTree* best = nullptr;
  for (const auto& v : versions) {
    if (v.nomenclature != nomenclature || v.state != VersionState::kPublished) continue;
    if (best == nullptr || v.publish_time > best->publish_time ||
        (v.publish_time == best->publish_time && v.version > best->version)) {
      best = &v;
    }
  }
  return best;
}

void Catalog::Replace(std::vector<VersionTree> versions) {
  auto snap = std::make_shared<Snapshot>();
  snap->versions = std::move(versions);
  for (const auto& v : snap->versions) {
    snap->indexes[v.nomenclature + "/" + v.version] = std::make_unique<SearchIndex>(v);
  }
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = std::move(snap);
}

std::shared_ptr<const Catalog::Snapshot> Catalog::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

}  // namespace passerelle::referential
