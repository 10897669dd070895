// Reading the gateway's caller metadata.
#include "libs/server/caller.hpp"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace passerelle::server {
namespace {

// The one value of `name`, "" when absent; PERMISSION_DENIED when repeated.
absl::StatusOr<std::string> One(const grpc::ServerContextBase& context, const char* name) {
  const auto& metadata = context.client_metadata();
  auto [first, last] = metadata.equal_range(name);
  if (first == last) return std::string();
  if (std::next(first) != last) {
    return absl::PermissionDeniedError(absl::StrCat(name, " est donné plusieurs fois"));
  }
  return std::string(first->second.data(), first->second.size());
}

}  // namespace

absl::StatusOr<Caller> CallerOf(const grpc::ServerContextBase& context) {
  Caller caller;
  absl::StatusOr<std::string> key_id = One(context, kCallerKeyIdHeader);
  absl::StatusOr<std::string> scopes = One(context, kCallerScopesHeader);
  absl::StatusOr<std::string> name = One(context, kCallerKeyNameHeader);
  absl::StatusOr<std::string> organisation = One(context, kCallerKeyOrganisationHeader);
  for (const auto* s : {&key_id, &scopes, &name, &organisation}) {
    if (!s->ok()) return s->status();
  }
  caller.key_id = *key_id;
  if (caller.key_id.empty() && !(scopes->empty() && name->empty() && organisation->empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat("the caller's scopes or key are given without ", kCallerKeyIdHeader));
  }
  for (absl::string_view s : absl::StrSplit(*scopes, ',', absl::SkipEmpty())) {
    caller.scopes.insert(std::string(s));
  }
  caller.key_name = *name;
  caller.key_organisation = *organisation;
  return caller;
}

}  // namespace passerelle::server
