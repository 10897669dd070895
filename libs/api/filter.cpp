// AIP-160 filter subset parser.
#include "libs/api/filter.hpp"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "libs/api/status.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::api {
namespace {

constexpr size_t kMaxBytes = 2000;
constexpr size_t kMaxComparisons = 20;

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  absl::StatusOr<std::vector<Comparison>> Parse() {
    std::vector<Comparison> out;
    SkipSpaces();
    if (AtEnd()) return out;
    while (true) {
      auto c = ParseComparison();
      if (!c.ok()) return c.status();
      out.push_back(*std::move(c));
      if (out.size() > kMaxComparisons) {
        return Error(out.back().position,
                     absl::StrCat("au plus ", kMaxComparisons, " comparaisons"));
      }
      const bool spaced = SkipSpaces();
      if (AtEnd()) return out;
      const size_t at = pos_;
      std::string word = Word();
      if (word == "AND" && spaced) {
        SkipSpaces();  // a comparison must follow: ParseComparison says so at the end
        continue;
      }
      if (word == "OR")
        return Error(at, "OR n'est pas pris en charge : seul AND relie les comparaisons");
      if (word == "and" || word == "or") {
        return Error(at, absl::StrCat("les opérateurs s'écrivent en majuscules : ",
                                      word == "and" ? "AND" : "OR"));
      }
      return Error(at, "AND attendu entre deux comparaisons");
    }
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }
  bool SkipSpaces() {
    const size_t start = pos_;
    while (!AtEnd() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
    return pos_ > start;
  }
  static bool NameChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  }
  std::string Word() {
    const size_t start = pos_;
    while (!AtEnd() && NameChar(s_[pos_])) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }
  absl::Status Error(size_t at, std::string_view what) const {
    return InvalidArgument(
        "filtre invalide",
        {{"filter", absl::StrCat("[filter] position ", at + 1, " : ", std::string(what),
                                 " (près de « ", text::Quote(s_.substr(at), 20), " »)")}});
  }

  absl::StatusOr<Comparison> ParseComparison() {
    Comparison c;
    c.position = pos_;
    if (!AtEnd() && (s_[pos_] == '(' || s_[pos_] == '-')) {
      return Error(pos_, "ni parenthèses ni négation");
    }
    if (AtEnd() || !std::isalpha(static_cast<unsigned char>(s_[pos_]))) {
      return Error(pos_, "nom de champ attendu");
    }
    c.field = Word();
    if (c.field == "NOT") return Error(c.position, "NOT n'est pas pris en charge");
    if (c.field.back() == '.' || c.field.find("..") != std::string::npos) {
      return Error(c.position, "nom de champ mal formé");
    }
    SkipSpaces();
    if (AtEnd()) return Error(pos_, "=, != ou : attendu après le champ");
    if (s_[pos_] == '=') {
      c.op = Comparison::Op::kEquals;
      ++pos_;
    } else if (s_[pos_] == ':') {
      c.op = Comparison::Op::kHas;
      ++pos_;
    } else if (s_.substr(pos_, 2) == "!=") {
      c.op = Comparison::Op::kNotEquals;
      pos_ += 2;
    } else if (s_[pos_] == '<' || s_[pos_] == '>') {
      return Error(pos_, "<, <=, > et >= ne sont pas pris en charge");
    } else {
      return Error(pos_, "=, != ou : attendu après le champ");
    }
    SkipSpaces();
    if (AtEnd()) return Error(pos_, "valeur manquante");
    if (s_[pos_] == '"') {
      const size_t open = pos_++;
      while (true) {
        if (AtEnd()) return Error(open, "guillemet non fermé");
        const char ch = s_[pos_++];
        if (ch == '"') break;
        if (ch == '\\') {
          if (AtEnd()) return Error(open, "guillemet non fermé");
          const char next = s_[pos_++];
          if (next != '"' && next != '\\') return Error(pos_ - 2, "seuls \\\" et \\\\ s'échappent");
          c.value += next;
          continue;
        }
        c.value += ch;
      }
    } else {
      const size_t start = pos_;
      while (!AtEnd() && (NameChar(s_[pos_]) || s_[pos_] == '-' || s_[pos_] == '/' ||
                          s_[pos_] == '+' || s_[pos_] == '@')) {
        ++pos_;
      }
      if (pos_ == start) return Error(pos_, "valeur manquante");
      c.value = std::string(s_.substr(start, pos_ - start));
      if (c.value == "AND" || c.value == "OR") return Error(start, "valeur manquante");
    }
    return c;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

FieldViolation FilterViolation(const Comparison& c, std::string_view what) {
  // The rule's tag, when `what` starts with one, leads as in every violation.
  std::string_view tag = "[filter]";
  if (what.starts_with('[')) {
    if (const size_t end = what.find("] "); end != std::string_view::npos && end < 24) {
      tag = what.substr(0, end + 1);
      what.remove_prefix(end + 2);
    }
  }
  return {"filter",
          absl::StrCat(std::string(tag), " position ", c.position + 1, " : ", std::string(what))};
}

absl::StatusOr<std::vector<Comparison>> ParseFilter(std::string_view filter) {
  std::vector<FieldViolation> bad;
  if (filter.size() > kMaxBytes) {
    return InvalidArgument(
        "filtre invalide",
        {{"filter", absl::StrCat("[size] au plus ", kMaxBytes, " octets, reçu ", filter.size())}});
  }
  if (!CheckText(&bad, "filter", filter, kMaxBytes)) return InvalidArgument("filtre invalide", bad);
  return Parser(filter).Parse();
}

}  // namespace passerelle::api
