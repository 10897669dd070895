// Governance: operations, publishing and diffs.
#include "services/referential/governance.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "libs/api/status.hpp"
#include "libs/text/text.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::referential {
namespace {

const std::vector<std::pair<std::string, Operation::Kind>>& KindNames() {
  static const auto* names = new std::vector<std::pair<std::string, Operation::Kind>>{
      {"add_item", Operation::Kind::kAddItem},
      {"add_category", Operation::Kind::kAddCategory},
      {"retire_item", Operation::Kind::kRetireItem},
      {"set_label", Operation::Kind::kSetLabel},
      {"replace_in_label", Operation::Kind::kReplaceInLabel},
      {"move_item", Operation::Kind::kMoveItem},
      {"move_category", Operation::Kind::kMoveCategory},
      {"move_level", Operation::Kind::kMoveLevel},
      {"add_keywords", Operation::Kind::kAddKeywords},
  };
  return *names;
}

std::string Get(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// Replaces `from` in `label`, ignoring case and accents, keeping the rest as written.
std::optional<std::string> ReplaceFolded(const std::string& label, const std::string& from,
                                         const std::string& to) {
  // Fold byte by byte positions: find the match on the folded text, then map back by folding
  // each prefix length. Labels are short, so the quadratic scan is fine.
  const std::string needle = text::Fold(from);
  for (size_t start = 0; start < label.size(); ++start) {
    if ((static_cast<unsigned char>(label[start]) & 0xC0) == 0x80) continue;
    for (size_t end = start + 1; end <= label.size(); ++end) {
      if (end < label.size() && (static_cast<unsigned char>(label[end]) & 0xC0) == 0x80) continue;
      const std::string piece = text::Fold(label.substr(start, end - start));
      if (piece == needle) return label.substr(0, start) + to + label.substr(end);
      if (piece.size() > needle.size() || needle.compare(0, piece.size(), piece) != 0) break;
    }
  }
  return std::nullopt;
}

std::string Letter(int i) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('A' + i % 26));
    i = i / 26 - 1;
  } while (i >= 0);
  return s;
}

}  // namespace

std::string OperationKindName(Operation::Kind kind) {
  for (const auto& [n, k] : KindNames()) {
    if (k == kind) return n;
  }
  return "unknown";
}

std::string ProposalStateName(ProposalState s) {
  switch (s) {  // no default: -Wswitch names a state added without its text
    case ProposalState::kOpen:
      return "open";
    case ProposalState::kAccepted:
      return "accepted";
    case ProposalState::kRejected:
      return "rejected";
    case ProposalState::kApplied:
      return "applied";
    case ProposalState::kClosed:
      return "closed";
  }
  return "open";  // not reached: every state is listed
}

std::optional<ProposalState> ProposalStateFromName(std::string_view name) {
  return EnumFromName(kProposalStates, ProposalStateName, name);
}

void CheckOperations(const std::vector<Operation>& ops, std::vector<api::FieldViolation>* bad) {
  if (ops.size() > kMaxOperations) {
    bad->push_back(
        {"operations", absl::StrCat("at most ", kMaxOperations, " operations, got ", ops.size())});
    return;
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    const Operation& op = ops[i];
    const std::string at = absl::StrCat("operations[", i, "].");
    const std::string name = OperationKindName(op.kind);
    for (const auto& [field, value, max] : {std::tuple<const char*, const std::string&, size_t>{
                                                "target", op.target, kMaxNodeRefLength},
                                            {"category", op.category, kMaxNodeRefLength},
                                            {"level", op.level, kMaxNodeRefLength},
                                            {"code", op.code, kMaxNodeRefLength},
                                            {"label", op.label, kMaxLabelLength},
                                            {"from", op.from, kMaxLabelLength},
                                            {"to", op.to, kMaxLabelLength}}) {
      if (!value.empty()) api::CheckText(bad, at + field, value, max);
    }
    if (op.keywords.size() > kMaxOperationKeywords) {
      bad->push_back({at + "keywords", absl::StrCat("at most ", kMaxOperationKeywords,
                                                    " keywords, got ", op.keywords.size())});
    } else {
      for (size_t k = 0; k < op.keywords.size(); ++k) {
        const std::string field = absl::StrCat(at, "keywords[", k, "]");
        if (op.keywords[k].empty()) {
          bad->push_back({field, "[required] ne peut pas être vide"});
        } else {
          api::CheckText(bad, field, op.keywords[k], kMaxKeywordLength);
        }
      }
    }
    if (op.position > kMaxPosition) {
      bad->push_back({at + "position", absl::StrCat("[range] de 0 à ", kMaxPosition)});
    }
    auto need = [&](const std::string& value, const char* field) {
      if (value.empty()) bad->push_back({at + field, absl::StrCat("required for ", name)});
    };
    switch (op.kind) {
      case Operation::Kind::kAddItem:
        need(op.category, "category");
        need(op.label, "label");
        break;
      case Operation::Kind::kAddCategory:
        need(op.level, "level");
        need(op.label, "label");
        need(op.code, "code");
        break;
      case Operation::Kind::kRetireItem:
        need(op.target, "target");
        break;
      case Operation::Kind::kSetLabel:
        need(op.target, "target");
        need(op.label, "label");
        break;
      case Operation::Kind::kReplaceInLabel:
        need(op.target, "target");
        need(op.from, "from");
        need(op.to, "to");
        break;
      case Operation::Kind::kMoveItem:
        need(op.target, "target");
        need(op.category, "category");
        break;
      case Operation::Kind::kMoveCategory:
        need(op.target, "target");
        need(op.level, "level");
        break;
      case Operation::Kind::kMoveLevel:
        need(op.target, "target");
        if (op.position < 0)
          bad->push_back({at + "position", "required for move_level, 0 or more"});
        break;
      case Operation::Kind::kAddKeywords:
        need(op.target, "target");
        if (op.keywords.empty()) bad->push_back({at + "keywords", "required for add_keywords"});
        break;
    }
  }
}

absl::StatusOr<std::vector<Operation>> ParseOperations(const nlohmann::json& ops) {
  std::vector<Operation> out;
  std::vector<api::FieldViolation> bad;
  if (!ops.is_array())
    return api::InvalidArgument("opérations invalides",
                                {{"operations", "[type] une liste attendue"}});
  for (size_t i = 0; i < ops.size(); ++i) {
    const auto& j = ops[i];
    const std::string at = absl::StrCat("operations[", i, "]");
    Operation op{};
    const std::string name = Get(j, "op");
    auto it = std::find_if(KindNames().begin(), KindNames().end(),
                           [&](const auto& p) { return p.first == name; });
    if (it == KindNames().end()) {
      bad.push_back({at + ".op", absl::StrCat("unknown operation \"", text::Quote(name), "\"")});
      continue;
    }
    op.kind = it->second;
    op.target = Get(j, "target");
    op.category = Get(j, "category");
    op.level = Get(j, "level");
    op.code = Get(j, "code");
    op.label = Get(j, "label");
    op.from = Get(j, "from");
    op.to = Get(j, "to");
    if (j.contains("position") && j["position"].is_number_integer()) op.position = j["position"];
    if (j.contains("keywords") && j["keywords"].is_array()) {
      for (const auto& k : j["keywords"]) {
        if (k.is_string()) op.keywords.push_back(k.get<std::string>());
      }
    }
    out.push_back(std::move(op));
  }
  if (bad.empty()) CheckOperations(out, &bad);
  if (!bad.empty()) return api::InvalidArgument("opérations invalides", bad);
  return out;
}

nlohmann::json OperationsToJson(const std::vector<Operation>& ops) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& op : ops) {
    nlohmann::json j{{"op", OperationKindName(op.kind)}};
    auto put = [&](const char* k, const std::string& v) {
      if (!v.empty()) j[k] = v;
    };
    put("target", op.target);
    put("category", op.category);
    put("level", op.level);
    put("code", op.code);
    put("label", op.label);
    put("from", op.from);
    put("to", op.to);
    if (op.position >= 0) j["position"] = op.position;
    if (!op.keywords.empty()) j["keywords"] = op.keywords;
    out.push_back(j);
  }
  return out;
}

absl::StatusOr<std::vector<Proposal>> ParseProposals(const std::string& proposals_json,
                                                     const std::string& amendments_json) {
  nlohmann::json doc, amend;
  try {
    doc = nlohmann::json::parse(proposals_json);
    amend =
        amendments_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(amendments_json);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("proposals are not valid JSON: ", e.what()));
  }
  const auto& amended = amend.contains("operations") ? amend["operations"] : amend;
  std::vector<Proposal> out;
  int number = 0;
  for (const auto& p : doc.value("proposals", nlohmann::json::array())) {
    Proposal pr;
    pr.nomenclature = Get(doc, "nomenclature");
    pr.base_version = Get(doc, "base_version");
    pr.number = ++number;
    pr.table = p.value("table", 0);
    pr.kind = Get(p, "kind");
    pr.target = Get(p, "target");
    pr.text = Get(p, "text");
    pr.code_hint = Get(p, "code");
    if (p.contains("keywords")) pr.keywords = p["keywords"].get<std::vector<std::string>>();
    const std::string key = std::to_string(pr.number);
    if (amended.contains(key)) {
      auto ops = ParseOperations(amended[key]);
      if (!ops.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("amendment of proposal ", key, ": ", ops.status().message()));
      }
      pr.operations = *std::move(ops);
    }
    out.push_back(std::move(pr));
  }
  return out;
}

namespace {

// A working copy of the tree where nodes are found by their base-version code.
class Draft {
 public:
  explicit Draft(VersionTree t) : t_(std::move(t)) {}

  absl::Status Apply(const Proposal& p, size_t index, const Operation& op) {
    const std::string where = absl::StrCat("proposal ", p.number, " operation ", index);
    switch (op.kind) {
      case Operation::Kind::kAddItem: {
        CategoryNode* c = FindCategory(op.category);
        if (c == nullptr) return NotFound(where, "category " + op.category);
        ItemNode item;
        item.id = absl::StrCat("it-p", p.number, "-", index);
        item.label = op.label;
        item.keywords = op.keywords;
        c->item_ids.push_back(item.id);
        t_.items[item.id] = std::move(item);
        return absl::OkStatus();
      }
      case Operation::Kind::kAddCategory: {
        LevelNode* l = FindLevel("level:" + op.level);
        if (l == nullptr) return NotFound(where, "level " + op.level);
        l->categories.push_back({"new:" + op.code, op.label, {}, absl::StrCat("cat-p", p.number)});
        return absl::OkStatus();
      }
      case Operation::Kind::kRetireItem: {
        ItemNode* i = FindItem(op.target);
        if (i == nullptr) return NotFound(where, op.target);
        i->retired = true;
        Detach(i->id);
        return absl::OkStatus();
      }
      case Operation::Kind::kSetLabel:
      case Operation::Kind::kReplaceInLabel: {
        std::string* label = FindLabel(op.target);
        if (label == nullptr) return NotFound(where, op.target);
        if (op.kind == Operation::Kind::kSetLabel) {
          *label = op.label;
          return absl::OkStatus();
        }
        auto replaced = ReplaceFolded(*label, op.from, op.to);
        if (!replaced) {
          return absl::FailedPreconditionError(absl::StrCat(where, ": \"", op.from,
                                                            "\" does not appear in the label of ",
                                                            op.target, " (\"", *label, "\")"));
        }
        *label = *replaced;
        return absl::OkStatus();
      }
      case Operation::Kind::kMoveItem: {
        ItemNode* i = FindItem(op.target);
        CategoryNode* c = FindCategory(op.category);
        if (i == nullptr) return NotFound(where, op.target);
        if (c == nullptr) return NotFound(where, "category " + op.category);
        Detach(i->id);
        c->item_ids.push_back(i->id);
        return absl::OkStatus();
      }
      case Operation::Kind::kMoveCategory: {
        LevelNode* to = FindLevel("level:" + op.level);
        if (to == nullptr) return NotFound(where, "level " + op.level);
        for (auto& l : t_.levels) {
          for (auto it = l.categories.begin(); it != l.categories.end(); ++it) {
            if ("category:" + it->code != op.target) continue;
            CategoryNode moved = std::move(*it);
            l.categories.erase(it);
            LevelNode* dest = FindLevel("level:" + op.level);  // may have shifted: re-find
            size_t pos = op.position < 0 ? dest->categories.size()
                                         : std::min<size_t>(op.position, dest->categories.size());
            dest->categories.insert(dest->categories.begin() + static_cast<long>(pos),
                                    std::move(moved));
            return absl::OkStatus();
          }
        }
        return NotFound(where, op.target);
      }
      case Operation::Kind::kMoveLevel: {
        for (auto it = t_.levels.begin(); it != t_.levels.end(); ++it) {
          if ("level:" + it->code != op.target) continue;
          LevelNode moved = std::move(*it);
          t_.levels.erase(it);
          size_t pos = std::min<size_t>(op.position, t_.levels.size());
          t_.levels.insert(t_.levels.begin() + static_cast<long>(pos), std::move(moved));
          return absl::OkStatus();
        }
        return NotFound(where, op.target);
      }
      case Operation::Kind::kAddKeywords: {
        std::vector<ItemNode*> items;
        if (op.target == "all") {
          for (auto& [id, i] : t_.items) {
            if (!i.retired) items.push_back(&i);
          }
        } else if (op.target.starts_with("category:")) {
          CategoryNode* c = FindCategory(op.target.substr(9));
          if (c == nullptr) return NotFound(where, op.target);
          for (const auto& id : c->item_ids) items.push_back(&t_.items.at(id));
        } else if (ItemNode* i = FindItem(op.target)) {
          items.push_back(i);
        } else {
          return NotFound(where, op.target);
        }
        for (ItemNode* i : items) {
          for (const auto& k : op.keywords) {
            auto same = [&](const std::string& e) { return text::Fold(e) == text::Fold(k); };
            if (std::none_of(i->keywords.begin(), i->keywords.end(), same))
              i->keywords.push_back(k);
          }
        }
        return absl::OkStatus();
      }
    }
    return absl::InternalError("unhandled operation");
  }

  VersionTree Finish(const std::string& version, Renumbering* renumbering) && {
    t_.version = version;
    t_.state = VersionState::kPublished;
    int letter = 0, number = 0;
    for (size_t li = 0; li < t_.levels.size(); ++li) {
      LevelNode& l = t_.levels[li];
      if (renumbering != nullptr) renumbering->levels[l.code] = std::to_string(li);
      l.code = std::to_string(li);
      for (size_t ci = 0; ci < l.categories.size(); ++ci) {
        CategoryNode& c = l.categories[ci];
        const std::string new_code = absl::StrCat(li, ".", ci + 1);
        if (renumbering != nullptr) renumbering->categories[c.code] = new_code;
        c.code = new_code;
        for (const auto& id : c.item_ids) {
          ItemNode& i = t_.items.at(id);
          i.code = li == 0 ? Letter(letter++) : std::to_string(++number);
          i.category_code = c.code;
          i.level_code = l.code;
          if (renumbering != nullptr && base_codes_.count(id)) {
            renumbering->items[base_codes_.at(id)] = i.code;
          }
        }
      }
    }
    for (auto& [id, i] : t_.items) {
      if (i.retired) {
        i.code.clear();
        i.category_code.clear();
        i.level_code.clear();
      }
    }
    return std::move(t_);
  }

 private:
  static absl::Status NotFound(const std::string& where, const std::string& what) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": ", what, " is not in the base version"));
  }
  ItemNode* FindItem(const std::string& target) {
    if (!target.starts_with("item:")) return nullptr;
    const std::string code = target.substr(5);
    for (auto& [id, i] : t_.items) {
      if (!i.retired && base_codes_.count(id) && base_codes_.at(id) == code) return &i;
    }
    return nullptr;
  }
  CategoryNode* FindCategory(const std::string& code) {
    for (auto& l : t_.levels) {
      for (auto& c : l.categories) {
        if (c.code == code) return &c;
      }
    }
    return nullptr;
  }
  LevelNode* FindLevel(const std::string& target) {
    for (auto& l : t_.levels) {
      if ("level:" + l.code == target) return &l;
    }
    return nullptr;
  }
  std::string* FindLabel(const std::string& target) {
    if (ItemNode* i = FindItem(target)) return &i->label;
    if (target.starts_with("category:")) {
      if (CategoryNode* c = FindCategory(target.substr(9))) return &c->label;
    }
    if (LevelNode* l = FindLevel(target)) return &l->label;
    return nullptr;
  }
  void Detach(const std::string& id) {
    for (auto& l : t_.levels) {
      for (auto& c : l.categories) {
        std::erase(c.item_ids, id);
      }
    }
  }

  VersionTree t_;

 public:
  std::map<std::string, std::string> base_codes_;  // item id -> code in the base version
};

}  // namespace

absl::StatusOr<VersionTree> Publish(const VersionTree& base, const std::vector<Proposal>& accepted,
                                    const std::string& new_version, Renumbering* renumbering) {
  Draft draft(base);
  for (const auto& [id, i] : base.items) {
    if (!i.retired) draft.base_codes_[id] = i.code;
  }
  std::vector<const Proposal*> ordered;
  for (const auto& p : accepted) ordered.push_back(&p);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->number < b->number; });
  for (const Proposal* p : ordered) {
    for (size_t k = 0; k < p->operations.size(); ++k) {
      if (absl::Status s = draft.Apply(*p, k, p->operations[k]); !s.ok()) return s;
    }
  }
  if (renumbering != nullptr) *renumbering = {};
  VersionTree out = std::move(draft).Finish(new_version, renumbering);
  out.base_version = base.version;
  return out;
}

absl::StatusOr<std::vector<Operation>> RebaseOperations(const std::vector<Operation>& ops,
                                                        const Renumbering& renumbering) {
  std::vector<Operation> out = ops;
  for (size_t k = 0; k < out.size(); ++k) {
    Operation& op = out[k];
    auto gone = [&](const std::string& what) {
      return absl::FailedPreconditionError(
          absl::StrCat("opération ", k, " : ", text::Quote(what, 80), " n'existe plus"));
    };
    // `new:<code>` names a category a proposal adds: renamed when the publication added it,
    // kept when it is still to come (the proposal itself or another one adds it later).
    auto rename = [&](std::string& ref, const std::map<std::string, std::string>& codes,
                      const char* kind) -> absl::Status {
      if (ref.empty()) return absl::OkStatus();
      auto it = codes.find(ref);
      if (it != codes.end()) {
        ref = it->second;
        return absl::OkStatus();
      }
      if (ref.starts_with("new:")) return absl::OkStatus();
      return gone(absl::StrCat(kind, ":", ref));
    };
    if (op.target.starts_with("item:") || op.target.starts_with("category:") ||
        op.target.starts_with("level:")) {
      const size_t colon = op.target.find(':');
      const std::string kind = op.target.substr(0, colon);
      std::string code = op.target.substr(colon + 1);
      const auto& codes = kind == "item"       ? renumbering.items
                          : kind == "category" ? renumbering.categories
                                               : renumbering.levels;
      if (absl::Status s = rename(code, codes, kind.c_str()); !s.ok()) return s;
      op.target = absl::StrCat(kind, ":", code);
    }
    if (absl::Status s = rename(op.category, renumbering.categories, "category"); !s.ok()) {
      return s;
    }
    if (absl::Status s = rename(op.level, renumbering.levels, "level"); !s.ok()) return s;
  }
  return out;
}

VersionDiff Diff(const VersionTree& from, const VersionTree& to) {
  VersionDiff d;
  auto category_key = [](const VersionTree& t, const ItemNode& i) {
    for (const auto& l : t.levels) {
      for (const auto& c : l.categories) {
        if (c.code == i.category_code) return c.key;
      }
    }
    return std::string();
  };
  for (const auto& [id, n] : to.items) {
    auto it = from.items.find(id);
    const bool was_active = it != from.items.end() && !it->second.retired;
    if (!was_active && !n.retired) d.added.push_back(id);
    if (!was_active) continue;
    const ItemNode& o = it->second;
    if (n.retired) {
      d.retired.push_back(id);
      continue;
    }
    if (o.label != n.label) d.renamed.push_back(id);
    if (category_key(from, o) != category_key(to, n)) d.moved.push_back(id);
  }
  for (const auto& [id, o] : from.items) {
    if (o.retired) continue;
    auto it = to.items.find(id);
    d.mapping.push_back({o.code, id, it == to.items.end() ? "" : it->second.code});
  }
  std::sort(d.mapping.begin(), d.mapping.end(),
            [](const auto& a, const auto& b) { return a.item_id < b.item_id; });
  return d;
}

}  // namespace passerelle::referential
