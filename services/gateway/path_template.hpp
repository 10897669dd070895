// Path templates of google.api.HttpRule (`/v1/{name=venues/*}:withdraw`): parsed once at start,
// matched against the segments of each request path.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace passerelle::gateway {

/// A request path split for matching: percent-decoded segments and the custom verb after the
/// last ':' of the last segment (empty when none).
struct SplitPath {
  std::vector<std::string> segments;
  /// The same path with the verb still on the last segment, for templates without a verb.
  std::vector<std::string> segments_with_verb;
  /// `segments` with `%2F` decoded too: the values of single-segment variables (`{x}`,
  /// `{x=*}`), which http.proto decodes whole.
  std::vector<std::string> whole_segments;
  std::string verb;
};

/// Splits and decodes the path of a request target (no query). INVALID_ARGUMENT (message in
/// French) for: no leading '/', a bad %-escape, decoded bytes that are not UTF-8, a NUL or
/// control character, an empty, `.` or `..` segment. `%2F` stays encoded inside a segment, so
/// that multi-segment variables (`{name=venues/*}`) keep it, as http.proto says.
absl::StatusOr<SplitPath> SplitRequestPath(std::string_view path);

/// A parsed template. Grammar (googleapis http.proto):
///   Template = "/" Segments [ Verb ] ; Segments = Segment { "/" Segment } ;
///   Segment = "*" | "**" | LITERAL | Variable ; Variable = "{" FieldPath [ "=" Segments ] "}" ;
/// `{x}` means `{x=*}`; `**` only as the last segment.
class PathTemplate {
 public:
  struct Segment {
    enum Kind { kLiteral, kStar, kDoubleStar } kind = kLiteral;
    std::string literal;
  };
  struct Variable {
    std::string field_path;  ///< dotted request field, e.g. `venue.name`
    size_t first = 0;        ///< index of its first segment
    size_t end = 0;          ///< one past its last segment (for `**`: the template's end)
  };

  /// INVALID_ARGUMENT naming the template and the rule it breaks.
  static absl::StatusOr<PathTemplate> Parse(std::string_view text);

  /// The variables' values when the path matches (segments joined with '/'), else nullopt.
  std::optional<std::vector<std::pair<std::string, std::string>>> Match(
      const SplitPath& path) const;

  const std::string& text() const { return text_; }
  const std::string& verb() const { return verb_; }
  const std::vector<Segment>& segments() const { return segments_; }
  const std::vector<Variable>& variables() const { return variables_; }
  /// Number of literal segments: a more literal template is tried first.
  size_t literal_count() const;
  /// The template with variable names erased (`/v1/*/x:verb`): two routes with the same verb
  /// and shape clash.
  std::string Shape() const;

 private:
  std::string text_;
  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
  std::string verb_;
};

}  // namespace passerelle::gateway
