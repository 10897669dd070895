// Reading requests' bytes: invalid UTF-8 in a string field named, not an INTERNAL parse error.
#include "services/referential/request_parse.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/server/errors.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::referential {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

constexpr int kMaxDepth = 32;

struct BadString {
  std::string path;
  std::string value;
};

// The first string field, in wire order, whose bytes are not valid UTF-8. Anything malformed
// ends the walk: the parse that follows reports it.
std::optional<BadString> FindInvalidString(google::protobuf::io::CodedInputStream* in,
                                           const Descriptor& type, const std::string& prefix,
                                           int depth) {
  std::map<int, int> occurrences;  // per repeated field, for `[i]`
  while (uint32_t tag = in->ReadTag()) {
    const FieldDescriptor* field = type.FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    const bool text_or_message =
        field != nullptr &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED &&
        (field->type() == FieldDescriptor::TYPE_STRING ||
         field->type() == FieldDescriptor::TYPE_MESSAGE);
    if (!text_or_message) {
      if (!WireFormatLite::SkipField(in, tag)) return std::nullopt;
      continue;
    }
    std::string path = prefix + field->name();
    if (field->is_repeated()) absl::StrAppend(&path, "[", occurrences[field->number()]++, "]");
    uint32_t length = 0;
    if (!in->ReadVarint32(&length)) return std::nullopt;
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      std::string value;
      if (!in->ReadString(&value, static_cast<int>(length))) return std::nullopt;
      if (!text::IsValidUtf8(value)) return BadString{path, std::move(value)};
      continue;
    }
    if (depth >= kMaxDepth) return std::nullopt;
    auto limit = in->PushLimit(static_cast<int>(length));
    if (auto bad = FindInvalidString(in, *field->message_type(), path + ".", depth + 1)) {
      return bad;
    }
    if (!in->ConsumedEntireMessage()) return std::nullopt;
    in->PopLimit(limit);
  }
  return std::nullopt;
}

}  // namespace

absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* out) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) {
    return server::InvalidArgument("requête illisible",
                                   {{"request", "[json] la requête ne se lit pas"}});
  }
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // Walked before parsing, so protobuf never meets (nor logs) the invalid text itself.
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  if (auto bad = FindInvalidString(&in, *out->GetDescriptor(), "", 0)) {
    std::vector<server::FieldViolation> violations;
    server::CheckText(&violations, bad->path, bad->value, bad->value.size() + 1, true);
    return server::InvalidArgument(absl::StrCat("invalid ", bad->path), violations);
  }
  if (!out->ParseFromString(bytes)) {
    return server::InvalidArgument(
        "unreadable request",
        {{"request", absl::StrCat("not a ", out->GetDescriptor()->full_name(), " message")}});
  }
  return absl::OkStatus();
}

}  // namespace passerelle::referential
