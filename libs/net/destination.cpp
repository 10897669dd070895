// URLs and the destination policy of outgoing requests.
#include "libs/net/destination.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/text/utf8.hpp"

namespace passerelle::net {
namespace {

// Debian's Abseil has its own string_view.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view S(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace

std::optional<Address> Address::Parse(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  const std::string s(text);
  Address a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

std::string Address::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<Address> Address::Unmapped() const {
  if (!v6) return std::nullopt;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kMapped, 12) != 0) return std::nullopt;
  Address v4;
  std::memcpy(v4.bytes.data(), bytes.data() + 12, 4);
  return v4;
}

std::optional<Network> Network::Parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto base = Address::Parse(text.substr(0, slash));
  int prefix = 0;
  if (!base || !absl::SimpleAtoi(A(text.substr(slash + 1)), &prefix) || prefix < 0 ||
      prefix > (base->v6 ? 128 : 32)) {
    return std::nullopt;
  }
  return Network{*base, prefix};
}

bool Network::Contains(const Address& a) const {
  if (a.v6 != base.v6) return false;
  const int full = prefix / 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (base.bytes[full] & mask);
}

std::string Network::ToString() const { return absl::StrCat(base.ToString(), "/", prefix); }

std::optional<std::string> SpecialUse(const Address& a) {
  if (auto v4 = a.Unmapped()) return SpecialUse(*v4);
  struct Range {
    const char* network;
    const char* why;
  };
  // IANA special-purpose registries (RFC 6890 and successors), plus multicast and reserved.
  static const Range kRanges[] = {
      {"0.0.0.0/8", "« ce réseau » (0.0.0.0)"},
      {"10.0.0.0/8", "privée"},
      {"100.64.0.0/10", "partagée (CGNAT)"},
      {"127.0.0.0/8", "de bouclage (loopback)"},
      {"169.254.0.0/16", "lien local (métadonnées de nuage)"},
      {"172.16.0.0/12", "privée"},
      {"192.0.0.0/24", "réservée (IETF)"},
      {"192.0.2.0/24", "de documentation"},
      {"192.88.99.0/24", "réservée (6to4)"},
      {"192.168.0.0/16", "privée"},
      {"198.18.0.0/15", "de test"},
      {"198.51.100.0/24", "de documentation"},
      {"203.0.113.0/24", "de documentation"},
      {"224.0.0.0/4", "multicast"},
      {"240.0.0.0/4", "réservée"},
      {"::/128", "non spécifiée (::)"},
      {"::1/128", "de bouclage (loopback)"},
      {"64:ff9b::/96", "de traduction IPv4 (NAT64)"},
      {"64:ff9b:1::/48", "de traduction IPv4 (NAT64)"},
      {"100::/64", "réservée (discard)"},
      {"2001::/23", "réservée (IETF)"},
      {"2001:db8::/32", "de documentation"},
      {"2002::/16", "réservée (6to4)"},
      {"fc00::/7", "privée (ULA)"},
      {"fe80::/10", "lien local"},
      {"fec0::/10", "site local"},
      {"ff00::/8", "multicast"},
  };
  static const std::vector<std::pair<Network, const char*>>* const kNetworks = [] {
    auto* out = new std::vector<std::pair<Network, const char*>>;
    for (const auto& r : kRanges) out->emplace_back(*Network::Parse(r.network), r.why);
    return out;
  }();
  for (const auto& [network, why] : *kNetworks) {
    if (network.Contains(a)) return std::string(why);
  }
  // IPv6 global unicast is 2000::/3; everything else is unassigned or special.
  if (a.v6 && (a.bytes[0] & 0xe0) != 0x20) return std::string("non attribuée");
  return std::nullopt;
}

std::string Url::Origin() const {
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  const std::string h = host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host;
  return default_port ? absl::StrCat(scheme, "://", h) : absl::StrCat(scheme, "://", h, ":", port);
}

std::string Url::ToString() const { return Origin() + target; }

std::string Url::Redacted() const {
  const size_t q = target.find('?');
  return q == std::string::npos ? ToString() : absl::StrCat(Origin(), target.substr(0, q), "?…");
}

namespace {

constexpr size_t kMaxUrl = 2048;

absl::Status BadUrl(std::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

bool HostNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
}

// Path and query: printable ASCII except space (non-ASCII must be percent-encoded).
bool TargetChar(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

absl::StatusOr<Url> ParseUrl(std::string_view text) {
  if (text.size() > kMaxUrl) return BadUrl(absl::StrCat("plus de ", kMaxUrl, " octets"));
  Url url;
  const size_t colon = text.find("://");
  if (colon == std::string_view::npos)
    return BadUrl("adresse absolue attendue (http:// ou https://)");
  url.scheme = absl::AsciiStrToLower(A(text.substr(0, colon)));
  if (url.scheme != "http" && url.scheme != "https") {
    return BadUrl(absl::StrCat("protocole ", text::Quote(url.scheme, 10),
                               " refusé : seuls http et https sont permis"));
  }
  std::string_view rest = text.substr(colon + 3);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? "" : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return BadUrl(
        "identifiants dans l'adresse (user:motdepasse@) refusés : retirez-les (une source les "
        "reçoit dans son champ `authorization`, jamais affiché)");
  }
  std::string_view host = authority;
  std::string_view port_text;
  bool has_port = false;  // a ':' after the host: then a port must follow
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl("adresse IPv6 sans « ] »");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return BadUrl("caractères après l'adresse IPv6");
      port_text = after.substr(1);
      has_port = true;
    }
    auto a = Address::Parse(host);
    if (!a || !a->v6) return BadUrl("adresse IPv6 invalide");
    url.host = a->ToString();
  } else {
    const size_t c = authority.rfind(':');
    if (c != std::string_view::npos) {
      host = authority.substr(0, c);
      port_text = authority.substr(c + 1);
      has_port = true;
    }
    if (host.empty() || host.size() > 253) return BadUrl("nom d'hôte vide ou trop long");
    for (char ch : host) {
      if (!HostNameChar(ch)) {
        return BadUrl(absl::StrCat("nom d'hôte ", text::Quote(host, 60),
                                   " invalide : lettres ASCII, chiffres, « - » et « . » seulement "
                                   "(noms internationaux en punycode xn--)"));
      }
    }
    url.host = absl::AsciiStrToLower(A(host));
    while (url.host.ends_with('.')) url.host.pop_back();
    // Labels of 1 to 63 characters that neither start nor end with a dash (RFC 1123): no
    // "a..b", no "-a.com".
    for (absl::string_view label : absl::StrSplit(A(url.host), '.')) {
      if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
        return BadUrl(absl::StrCat("nom d'hôte ", text::Quote(host, 60), " invalide"));
      }
    }
    // A top-level label never starts with a digit: such a host is an IPv4 address, and only
    // its canonical form is accepted (not 2130706433, 0x7f000001, 0177.0.0.1 or 127.1).
    const size_t dot = url.host.rfind('.');
    const std::string_view last =
        std::string_view(url.host).substr(dot == std::string::npos ? 0 : dot + 1);
    if (last.empty()) return BadUrl("nom d'hôte invalide");
    if (absl::ascii_isdigit(static_cast<unsigned char>(last[0]))) {
      auto a = Address::Parse(url.host);
      if (!a || a->v6 || a->ToString() != url.host) {
        return BadUrl(absl::StrCat("adresse IP ", text::Quote(host, 60),
                                   " non canonique : écrivez-la a.b.c.d en décimal"));
      }
    }
  }
  url.port = url.scheme == "https" ? 443 : 80;
  if (has_port) {
    int port = 0;
    // One spelling per port: ":080", ":+80" or ": 80" would be stored as written and connect
    // to 80.
    if (port_text.empty() || port_text.size() > 5 || port_text[0] == '0' ||
        !std::all_of(port_text.begin(), port_text.end(),
                     [](char ch) { return ch >= '0' && ch <= '9'; }) ||
        !absl::SimpleAtoi(A(port_text), &port) || port < 1 || port > 65535) {
      return BadUrl(absl::StrCat("port ", text::Quote(port_text, 10), " invalide"));
    }
    url.port = static_cast<uint16_t>(port);
  }
  if (const size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);  // a fragment is never sent
  }
  for (char ch : target) {
    if (!TargetChar(ch)) {
      return BadUrl("espace, caractère de contrôle ou non ASCII dans le chemin : encodez-le (%XX)");
    }
  }
  url.target = target.empty() ? "/" : std::string(target);
  if (url.target[0] == '?') url.target = absl::StrCat("/", url.target);
  return url;
}

absl::StatusOr<Url> ResolveLocation(const Url& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return ParseUrl(location);
  if (location.starts_with("//")) return ParseUrl(absl::StrCat(base.scheme, ":", A(location)));
  if (location.starts_with('/')) return ParseUrl(absl::StrCat(base.Origin(), A(location)));
  // Relative to the base's directory.
  std::string dir = base.target.substr(0, base.target.find('?'));
  dir = dir.substr(0, dir.rfind('/') + 1);
  return ParseUrl(absl::StrCat(base.Origin(), dir, A(location)));
}

DestinationPolicy::DestinationPolicy(std::vector<Network> allowed_networks,
                                     std::vector<PortRange> allowed_ports)
    : networks_(std::move(allowed_networks)), ports_(std::move(allowed_ports)) {}

absl::StatusOr<DestinationPolicy> DestinationPolicy::FromStrings(std::string_view networks,
                                                                 std::string_view ports) {
  std::vector<Network> nets;
  for (absl::string_view item : absl::StrSplit(A(networks), ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    auto n = Network::Parse(S(item));
    if (!n) {
      return absl::InvalidArgumentError(
          absl::StrCat("network ", text::Quote(S(item), 60), " is not a CIDR range (10.1.0.0/16)"));
    }
    nets.push_back(*n);
  }
  std::vector<PortRange> ranges;
  for (absl::string_view item : absl::StrSplit(A(ports), ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    std::pair<absl::string_view, absl::string_view> bounds = absl::StrSplit(item, '-');
    if (bounds.second.empty()) bounds.second = bounds.first;
    int lo = 0, hi = 0;
    if (!absl::SimpleAtoi(bounds.first, &lo) || !absl::SimpleAtoi(bounds.second, &hi) || lo < 1 ||
        hi > 65535 || lo > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("port ", text::Quote(S(item), 20), " is not a port or a range (8000-8999)"));
    }
    ranges.emplace_back(lo, hi);
  }
  if (ranges.empty()) return absl::InvalidArgumentError("no port allowed");
  return DestinationPolicy(std::move(nets), std::move(ranges));
}

absl::Status DestinationPolicy::CheckUrl(const Url& url) const {
  if (url.scheme != "http" && url.scheme != "https") {
    return absl::InvalidArgumentError("seuls http et https sont permis");
  }
  bool port_ok = false;
  for (const auto& [lo, hi] : ports_) port_ok |= url.port >= lo && url.port <= hi;
  if (!port_ok) {
    std::string allowed;
    for (const auto& [lo, hi] : ports_) {
      absl::StrAppend(&allowed, allowed.empty() ? "" : ", ", lo,
                      lo == hi ? std::string() : absl::StrCat("-", hi));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("port ", url.port, " refusé : ports permis ", allowed));
  }
  if (auto a = Address::Parse(url.host)) {
    if (absl::Status s = CheckAddress(*a); !s.ok()) {
      return absl::InvalidArgumentError(std::string(s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status DestinationPolicy::CheckAddress(const Address& a) const {
  for (const auto& n : networks_) {
    if (n.Contains(a)) return absl::OkStatus();
    if (auto v4 = a.Unmapped(); v4 && n.Contains(*v4)) return absl::OkStatus();
  }
  if (auto why = SpecialUse(a)) {
    return absl::PermissionDeniedError(
        absl::StrCat("destination ", a.ToString(), " refusée : adresse ", *why,
                     " (seules les adresses publiques sont permises)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Address>> DestinationPolicy::Resolve(const Url& url) const {
  if (absl::Status s = CheckUrl(url); !s.ok()) {
    return absl::PermissionDeniedError(std::string(s.message()));
  }
  std::vector<Address> found;
  if (auto literal = Address::Parse(url.host)) {
    found.push_back(*literal);
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(url.host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
      return absl::UnavailableError(
          absl::StrCat("nom ", url.host, " introuvable (", gai_strerror(rc), ")"));
    }
    for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
      Address a;
      if (p->ai_family == AF_INET) {
        std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr, 4);
      } else if (p->ai_family == AF_INET6) {
        a.v6 = true;
        std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, 16);
      } else {
        continue;
      }
      found.push_back(a);
    }
    freeaddrinfo(res);
  }
  std::vector<Address> allowed;
  absl::Status refused = absl::OkStatus();
  for (const auto& a : found) {
    if (absl::Status s = CheckAddress(a); s.ok()) {
      allowed.push_back(a);
    } else if (refused.ok()) {
      refused = s;
    }
  }
  if (!allowed.empty()) return allowed;
  if (!refused.ok()) return refused;
  return absl::UnavailableError(absl::StrCat("nom ", url.host, " sans adresse"));
}

}  // namespace passerelle::net
