#include "services/gateway/admission.hpp"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/logging/logging.hpp"
#include "libs/text/split.hpp"
#include "services/gateway/errors.hpp"

namespace passerelle::gateway {

Gate::Gate(KeyRing& keys, RateLimiter& limiter, std::map<std::string, RateLimit> limits)
    : keys_(keys), limiter_(limiter), limits_(std::move(limits)) {}

absl::StatusOr<Caller> Gate::Identify(const Credentials& credentials) const {
  if (credentials.authorization.size() + credentials.api_key.size() > 1) {
    return absl::InvalidArgumentError(
        "une seule clé par requête : un seul en-tête Authorization ou X-Api-Key");
  }
  std::optional<std::string_view> presented;
  if (!credentials.api_key.empty()) presented = credentials.api_key.front();
  if (!credentials.authorization.empty()) {
    std::string_view value = credentials.authorization.front();
    if (value.size() < 7 || !absl::EqualsIgnoreCase(std::string(value.substr(0, 7)), "Bearer ")) {
      return absl::UnauthenticatedError("en-tête Authorization : « Bearer <clé> » attendu");
    }
    presented = text::StripSpaces(value.substr(7));
  }
  if (!presented) return Caller{};
  return keys_.Authenticate(*presented);
}

Admission Gate::Admit(const Credentials& credentials) {
  Admission out;
  absl::StatusOr<Caller> caller = Identify(credentials);
  if (caller.ok()) {
    out.caller = *std::move(caller);
  } else {
    out.status = caller.status();
  }
  const Caller& c = out.caller;
  std::string scope = c.anonymous               ? "public"
                      : c.Has(api::v1::ADMIN)   ? "admin"
                      : c.Has(api::v1::PARTNER) ? "partner"
                                                : "organisation";
  auto limit = limits_.find(scope);
  if (limit == limits_.end()) return out;
  out.rate = limiter_.Take(c.anonymous ? "ip:" + std::string(credentials.peer) : "key:" + c.key_id,
                           limit->second);
  if (!out.rate->allowed) {
    out.status = absl::ResourceExhaustedError(
        absl::StrCat("trop de requêtes : réessayez dans ", out.rate->retry_after, " s"));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> RateHeaders(const RateLimiter::Decision& d) {
  std::vector<std::pair<std::string, std::string>> h = {
      {"ratelimit-limit", absl::StrCat(d.limit)},
      {"ratelimit-remaining", absl::StrCat(d.remaining)},
      {"ratelimit-reset", absl::StrCat(d.reset)}};
  if (!d.allowed) h.emplace_back("retry-after", absl::StrCat(d.retry_after));
  return h;
}

void AuditWrite(std::string_view door, const Route& route, const Caller& caller,
                std::string_view resource, int http_status, grpc::StatusCode code,
                std::string_view request_id) {
  if (route.http_method == "GET") return;
  nlohmann::json fields = {{"door", std::string(door)},
                           {"key_id", caller.key_id},
                           {"organisation", caller.organisation},
                           {"method", route.method->full_name()},
                           {"grpc_status", std::string(CodeName(code))},
                           {"request_id", std::string(request_id)}};
  if (!resource.empty()) fields["resource"] = std::string(resource);
  if (http_status != 0) fields["http_status"] = http_status;
  logging::Info("audit", fields);
}

}  // namespace passerelle::gateway
