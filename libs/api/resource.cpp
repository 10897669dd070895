// Resource names, etags and timestamps.
#include "libs/api/resource.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/api/status.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::api {
namespace {

// Debian's Abseil has its own string_view: split by hand.
std::vector<std::string_view> Segments(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t slash = s.find('/', start);
    out.push_back(s.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

}  // namespace

ResourcePattern::ResourcePattern(std::string_view pattern) : pattern_(pattern) {
  for (std::string_view s : Segments(pattern)) {
    const bool variable = s.size() > 2 && s.front() == '{' && s.back() == '}';
    if (s.empty() || (!variable && s.find_first_of("{}") != std::string_view::npos)) {
      std::cerr << "malformed resource pattern " << pattern << "\n";
      std::abort();
    }
    segments_.emplace_back(variable ? std::string_view() : s);
  }
}

namespace {

bool HasSpaceOrControl(std::string_view s) {
  return !text::IsValidUtf8(s) || text::FirstControl(s).has_value() ||
         s.find_first_of(" \t\r\n") != std::string_view::npos;
}

}  // namespace

bool IsNameSegment(std::string_view value) {
  return !value.empty() && value.size() <= kMaxResourceName &&
         value.find('/') == std::string_view::npos && !HasSpaceOrControl(value);
}

absl::Status InvalidName(std::string_view field, std::string_view rule, std::string_view name) {
  return InvalidArgument(absl::StrCat(std::string(field), " invalide"),
                         {{std::string(field),
                           absl::StrCat(std::string(rule), ", reçu « ", text::Quote(name), " »")}});
}

absl::StatusOr<std::vector<std::string>> ResourcePattern::Parse(std::string_view name,
                                                                std::string_view field) const {
  const std::string rule = absl::StrCat("[pattern] de la forme ", pattern_);
  if (name.size() > kMaxResourceName) {
    return InvalidArgument(absl::StrCat(std::string(field), " invalide"),
                           {{std::string(field), absl::StrCat(rule, ", au plus ", kMaxResourceName,
                                                              " octets, reçu ", name.size())}});
  }
  if (HasSpaceOrControl(name)) {
    return InvalidName(field, absl::StrCat(rule, " sans espace ni caractère de contrôle"), name);
  }
  const std::vector<std::string_view> parts = Segments(name);
  if (parts.size() != segments_.size()) return InvalidName(field, rule, name);
  std::vector<std::string> values;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) return InvalidName(field, rule, name);
    if (segments_[i].empty()) {
      values.emplace_back(parts[i]);
    } else if (parts[i] != segments_[i]) {
      return InvalidName(field, rule, name);
    }
  }
  return values;
}

std::string ResourcePattern::Format(const std::vector<std::string_view>& values) const {
  std::string out;
  size_t next = 0;
  for (const std::string& s : segments_) {
    if (!out.empty()) out += '/';
    if (!s.empty()) {
      out += s;
    } else if (next < values.size()) {
      out += values[next++];
    }
  }
  return out;
}

std::optional<int64_t> ParsePositiveId(std::string_view segment) {
  if (segment.empty() || segment.size() > 19 || segment.front() == '0' ||
      !std::all_of(segment.begin(), segment.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t v = 0;
  if (!absl::SimpleAtoi(std::string(segment), &v) || v <= 0) return std::nullopt;
  return v;
}

bool IsCanonicalUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool IsLayerId(std::string_view layer) {
  if (layer.empty() || layer.size() > 40 || layer.front() == '-') return false;
  for (char c : layer) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

absl::StatusOr<std::string> ParseLayerName(const ResourcePattern& pattern, std::string_view name,
                                           std::string_view field) {
  auto parts = pattern.Parse(name, field);
  if (!parts.ok()) return parts.status();
  if (parts->empty() || !IsLayerId((*parts)[0])) {
    return InvalidName(
        field, absl::StrCat("[pattern] ", pattern.pattern(), ", la couche en ", kLayerIdRule),
        name);
  }
  return std::move((*parts)[0]);
}

std::string WeakETag(int revision) { return absl::StrCat("W/\"", revision, "\""); }

absl::StatusOr<int> RevisionFromETag(const std::string& etag) {
  if (etag.empty()) return 0;
  std::string digits = etag;
  if (digits.starts_with("W/")) digits = digits.substr(2);
  if (digits.size() >= 2 && digits.front() == '"' && digits.back() == '"') {
    digits = digits.substr(1, digits.size() - 2);
  }
  int revision = 0;
  if (!absl::SimpleAtoi(digits, &revision) || revision <= 0) {
    return InvalidArgument(
        "etag invalide",
        {{"etag", absl::StrCat("[etag] ce n'est pas un etag de ce service, reçu « ",
                               text::Quote(etag), " »")}});
  }
  return revision;
}

void CheckMaskPathsOnce(const std::vector<std::string>& mask, std::vector<FieldViolation>* bad) {
  std::set<std::string_view> named;
  for (size_t i = 0; i < mask.size(); ++i) {
    if (!named.insert(mask[i]).second) {
      bad->push_back({absl::StrCat("update_mask.paths[", i, "]"),
                      absl::StrCat("[unique] « ", text::Quote(mask[i], 60),
                                   " » est déjà nommé plus haut dans le masque")});
    }
  }
}

void CheckUpdateMask(const std::vector<std::string>& mask, const UpdateMaskRules& rules,
                     std::vector<FieldViolation>* bad, size_t max_paths) {
  if (mask.size() > max_paths) {
    bad->push_back({"update_mask",
                    absl::StrCat("[size] au plus ", max_paths, " chemins ; reçu ", mask.size())});
    return;
  }
  for (size_t i = 0; i < mask.size(); ++i) {
    const std::string& path = mask[i];
    if (rules.star && path == "*" && mask.size() == 1) continue;
    auto set_once = std::find_if(rules.immutable.begin(), rules.immutable.end(),
                                 [&](const auto& field) { return field.first == path; });
    if (set_once != rules.immutable.end()) {
      bad->push_back({absl::StrCat("update_mask.paths[", i, "]"),
                      absl::StrCat("[immutable] « ", path, " » ", set_once->second)});
    } else if (!rules.writable(path)) {
      bad->push_back(
          {absl::StrCat("update_mask.paths[", i, "]"),
           absl::StrCat("[field] « ", text::Quote(path, 60), " » n'est pas un champ modifiable ",
                        rules.of, rules.listed.empty() ? "" : " ; champs : ", rules.listed)});
    }
  }
  CheckMaskPathsOnce(mask, bad);
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t us = absl::ToUnixMicros(t);
  // Timestamp's nanos are never negative: floor the seconds.
  int64_t seconds = us / 1000000;
  int64_t micros = us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    seconds -= 1;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(micros) * 1000);
}

}  // namespace passerelle::api
