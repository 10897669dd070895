#include "services/gateway/path_template.hpp"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/api/status.hpp"
#include "libs/text/split.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::gateway {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A path refused before any route is matched: no field is known yet, so the violation names
// `path`, with the rule broken in brackets as every field violation does.
absl::Status BadPath(std::string_view path, std::string_view rule, std::string_view why) {
  const std::string quoted = text::Quote(path, 80);
  return api::InvalidArgument(
      absl::StrCat("chemin ", quoted, " invalide : ", std::string(why)),
      {{"path", absl::StrCat("[", std::string(rule), "] ", std::string(why), ", reçu ", quoted)}});
}

// Decodes one raw segment; unless `decode_slash`, %2F stays encoded so that it never splits a
// segment.
absl::StatusOr<std::string> DecodeSegment(std::string_view path, std::string_view raw,
                                          bool decode_slash = false) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out.push_back(raw[i]);
      continue;
    }
    if (i + 2 >= raw.size()) {
      return BadPath(path, "encoding", "séquence % incomplète");
    }
    int hi = HexValue(raw[i + 1]), lo = HexValue(raw[i + 2]);
    if (hi < 0 || lo < 0) return BadPath(path, "encoding", "séquence % non hexadécimale");
    char c = static_cast<char>(hi * 16 + lo);
    if (c == '/' && !decode_slash) {
      out.append("%2F");
    } else {
      out.push_back(c);
    }
    i += 2;
  }
  if (!text::IsValidUtf8(out)) return BadPath(path, "utf8", "octets qui ne sont pas de l'UTF-8");
  bool line_break = out.find_first_of("\t\n\r") != std::string::npos;
  if (line_break || text::FirstControl(out)) {
    return BadPath(path, "control", "caractère de contrôle");
  }
  if (out.empty()) return BadPath(path, "segment", "segment vide");
  if (out == "." || out == "..") return BadPath(path, "segment", "segment « . » ou « .. »");
  return out;
}

bool IsLiteralChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

bool IsFieldPath(std::string_view s) {
  if (s.empty()) return false;
  for (std::string_view part : text::Split(s, '.')) {
    if (part.empty() || !(part[0] == '_' || (part[0] >= 'a' && part[0] <= 'z') ||
                          (part[0] >= 'A' && part[0] <= 'Z'))) {
      return false;
    }
    for (char c : part) {
      if (!(IsLiteralChar(c) && c != '-' && c != '.' && c != '~')) return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<SplitPath> SplitRequestPath(std::string_view path) {
  if (path.empty() || path[0] != '/') return BadPath(path, "format", "il doit commencer par « / »");
  std::vector<std::string_view> raw = text::Split(path.substr(1), '/');
  SplitPath out;
  std::string_view last = raw.back();
  size_t colon = last.rfind(':');
  for (size_t i = 0; i < raw.size(); ++i) {
    absl::StatusOr<std::string> segment = DecodeSegment(path, raw[i]);
    if (!segment.ok()) return segment.status();
    out.segments_with_verb.push_back(*segment);
  }
  out.segments = out.segments_with_verb;
  if (colon != std::string_view::npos) {
    absl::StatusOr<std::string> head = DecodeSegment(path, last.substr(0, colon));
    if (!head.ok()) return head.status();
    absl::StatusOr<std::string> verb = DecodeSegment(path, last.substr(colon + 1));
    if (!verb.ok()) return verb.status();
    out.segments.back() = *head;
    out.verb = *verb;
  }
  // Single-segment variables decode %2F too (http.proto). Each segment passed the checks above
  // (decoding a '/' adds none of the refused characters); an error is still returned, not read.
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string_view segment = i + 1 < raw.size() || colon == std::string_view::npos
                                   ? raw[i]
                                   : last.substr(0, colon);
    absl::StatusOr<std::string> whole = DecodeSegment(path, segment, /*decode_slash=*/true);
    if (!whole.ok()) return whole.status();
    out.whole_segments.push_back(*std::move(whole));
  }
  return out;
}

absl::StatusOr<PathTemplate> PathTemplate::Parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("path template \"", std::string(text), "\": ", why));
  };
  if (text.empty() || text[0] != '/') return bad("must start with '/'");
  PathTemplate t;
  t.text_ = std::string(text);
  size_t i = 1;
  // Parses segments until `stop` (end, '}' or ':'), appending to t.segments_.
  auto parse_segments = [&](bool in_variable) -> absl::Status {
    while (true) {
      if (i >= text.size()) return bad("a segment is missing");
      if (text[i] == '*') {
        if (i + 1 < text.size() && text[i + 1] == '*') {
          t.segments_.push_back({Segment::kDoubleStar, ""});
          i += 2;
        } else {
          t.segments_.push_back({Segment::kStar, ""});
          i += 1;
        }
      } else if (text[i] == '{') {
        if (in_variable) return bad("nested variable");
        size_t close = text.find('}', i);
        if (close == std::string_view::npos) return bad("unclosed '{'");
        std::string_view inner = text.substr(i + 1, close - i - 1);
        size_t eq = inner.find('=');
        Variable v;
        v.field_path = std::string(inner.substr(0, eq));
        if (!IsFieldPath(v.field_path)) return bad("bad field path in a variable");
        v.first = t.segments_.size();
        if (eq == std::string_view::npos) {
          t.segments_.push_back({Segment::kStar, ""});
          i = close + 1;
        } else {
          size_t saved_end = close;
          i = i + 1 + eq + 1;
          absl::Status s = [&]() -> absl::Status {
            while (true) {
              if (i >= saved_end) return bad("empty variable pattern");
              if (text[i] == '*') {
                bool dbl = i + 1 < saved_end && text[i + 1] == '*';
                t.segments_.push_back({dbl ? Segment::kDoubleStar : Segment::kStar, ""});
                i += dbl ? 2 : 1;
              } else {
                size_t start = i;
                while (i < saved_end && IsLiteralChar(text[i])) ++i;
                if (i == start) return bad("bad character in a variable pattern");
                t.segments_.push_back(
                    {Segment::kLiteral, std::string(text.substr(start, i - start))});
              }
              if (i == saved_end) return absl::OkStatus();
              if (text[i] != '/') return bad("bad character in a variable pattern");
              ++i;
            }
          }();
          if (!s.ok()) return s;
          i = close + 1;
        }
        v.end = t.segments_.size();
        for (const Variable& other : t.variables_) {
          if (other.field_path == v.field_path) return bad("a field bound twice");
        }
        t.variables_.push_back(v);
      } else {
        size_t start = i;
        while (i < text.size() && IsLiteralChar(text[i])) ++i;
        if (i == start) return bad(absl::StrCat("bad character at offset ", i));
        t.segments_.push_back({Segment::kLiteral, std::string(text.substr(start, i - start))});
      }
      if (i == text.size() || text[i] == ':') return absl::OkStatus();
      if (text[i] != '/') return bad(absl::StrCat("bad character at offset ", i));
      ++i;
    }
  };
  if (absl::Status s = parse_segments(false); !s.ok()) return s;
  if (i < text.size()) {  // ':' verb
    size_t start = ++i;
    while (i < text.size() && IsLiteralChar(text[i])) ++i;
    if (i == start || i != text.size()) return bad("bad verb");
    t.verb_ = std::string(text.substr(start));
  }
  for (size_t k = 0; k < t.segments_.size(); ++k) {
    if (t.segments_[k].kind == Segment::kDoubleStar && k + 1 != t.segments_.size()) {
      return bad("'**' must be the last segment");
    }
  }
  return t;
}

std::optional<std::vector<std::pair<std::string, std::string>>> PathTemplate::Match(
    const SplitPath& path) const {
  if (path.verb != verb_) return std::nullopt;
  const std::vector<std::string>& segs = path.segments;
  bool tail = !segments_.empty() && segments_.back().kind == Segment::kDoubleStar;
  if (tail ? segs.size() < segments_.size() - 1 : segs.size() != segments_.size()) {
    return std::nullopt;
  }
  for (size_t k = 0; k < segments_.size(); ++k) {
    const Segment& s = segments_[k];
    if (s.kind == Segment::kLiteral && segs[k] != s.literal) return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(variables_.size());
  for (const Variable& v : variables_) {
    // `{x}` / `{x=*}`: one segment, wholly decoded (a `%2F` in it is a '/').
    if (v.end == v.first + 1 && segments_[v.first].kind == Segment::kStar) {
      out.emplace_back(v.field_path, path.whole_segments[v.first]);
      continue;
    }
    size_t end = (v.end == segments_.size() && tail) ? segs.size() : v.end;
    std::vector<std::string> parts(segs.begin() + v.first, segs.begin() + end);
    out.emplace_back(v.field_path, absl::StrJoin(parts, "/"));
  }
  return out;
}

size_t PathTemplate::literal_count() const {
  size_t n = 0;
  for (const Segment& s : segments_) n += s.kind == Segment::kLiteral;
  return n;
}

std::string PathTemplate::Shape() const {
  std::string out;
  for (const Segment& s : segments_) {
    out += '/';
    out += s.kind == Segment::kLiteral ? s.literal : s.kind == Segment::kStar ? "*" : "**";
  }
  if (!verb_.empty()) absl::StrAppend(&out, ":", verb_);
  return out;
}

}  // namespace passerelle::gateway
