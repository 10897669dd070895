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
                     absl::StrCat("at most ", kMaxComparisons, " comparisons"));
      }
      const bool spaced = SkipSpaces();
      if (AtEnd()) return out;
      const size_t at = pos_;
      std::string word = Word();
      if (word == "AND" && spaced) {
        SkipSpaces();  // a comparison must follow: ParseComparison says so at the end
        continue;
      }
      if (word == "OR") return Error(at, "OR is not supported: only AND joins comparisons");
      if (word == "and" || word == "or") {
        return Error(at, absl::StrCat("operators are upper case: ", word == "and" ? "AND" : "OR"));
      }
      return Error(at, "expected AND between comparisons");
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
        "invalid filter",
        {{"filter", absl::StrCat("position ", at + 1, ": ", std::string(what), " (near \"",
                                 text::Quote(s_.substr(at), 20), "\")")}});
  }

  absl::StatusOr<Comparison> ParseComparison() {
    Comparison c;
    c.position = pos_;
    if (!AtEnd() && (s_[pos_] == '(' || s_[pos_] == '-')) {
      return Error(pos_, "parentheses and negation are not supported");
    }
    if (AtEnd() || !std::isalpha(static_cast<unsigned char>(s_[pos_]))) {
      return Error(pos_, "expected a field name");
    }
    c.field = Word();
    if (c.field == "NOT") return Error(c.position, "NOT is not supported");
    if (c.field.back() == '.' || c.field.find("..") != std::string::npos) {
      return Error(c.position, "malformed field name");
    }
    SkipSpaces();
    if (AtEnd()) return Error(pos_, "expected =, != or : after the field");
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
      return Error(pos_, "<, <=, > and >= are not supported");
    } else {
      return Error(pos_, "expected =, != or : after the field");
    }
    SkipSpaces();
    if (AtEnd()) return Error(pos_, "missing value");
    if (s_[pos_] == '"') {
      const size_t open = pos_++;
      while (true) {
        if (AtEnd()) return Error(open, "unclosed quote");
        const char ch = s_[pos_++];
        if (ch == '"') break;
        if (ch == '\\') {
          if (AtEnd()) return Error(open, "unclosed quote");
          const char next = s_[pos_++];
          if (next != '"' && next != '\\') return Error(pos_ - 2, "only \\\" and \\\\ escapes");
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
      if (pos_ == start) return Error(pos_, "missing value");
      c.value = std::string(s_.substr(start, pos_ - start));
      if (c.value == "AND" || c.value == "OR") return Error(start, "missing value");
    }
    return c;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

FieldViolation FilterViolation(const Comparison& c, std::string_view what) {
  return {"filter", absl::StrCat("position ", c.position + 1, ": ", std::string(what))};
}

absl::StatusOr<std::vector<Comparison>> ParseFilter(std::string_view filter) {
  std::vector<FieldViolation> bad;
  if (filter.size() > kMaxBytes) {
    return InvalidArgument("invalid filter",
                           {{"filter", absl::StrCat("at most ", kMaxBytes, " bytes")}});
  }
  if (!CheckText(&bad, "filter", filter, kMaxBytes)) return InvalidArgument("invalid filter", bad);
  return Parser(filter).Parse();
}

}  // namespace passerelle::api
