// Where a service may send outgoing requests (sync sources, webhooks): URLs parsed strictly and
// one destination policy, checked on the address actually connected to, after DNS resolution.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace passerelle::net {

/// An IPv4 or IPv6 address.
struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4: the first 4

  /// Canonical text only (inet_pton): "127.0.0.1", "::1". Not "2130706433", "0x7f.1", "127.1".
  static std::optional<Address> Parse(std::string_view text);
  std::string ToString() const;
  /// The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), if it is one.
  std::optional<Address> Unmapped() const;
};

/// An address range in CIDR notation: 10.0.0.0/8, ::1/128.
struct Network {
  Address base;
  int prefix = 0;
  static std::optional<Network> Parse(std::string_view text);
  bool Contains(const Address& a) const;
  std::string ToString() const;
};

/// Why an address is not a public unicast address ("loopback", "private", "link-local", ...),
/// or nullopt when it is one.
std::optional<std::string> SpecialUse(const Address& a);

/// An absolute http(s) URL, parsed strictly.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case name, or an IP address without brackets
  uint16_t port = 0;   // explicit or the scheme's
  std::string target;  // path and query, starting with '/'

  std::string Origin() const;  // scheme://host[:port]
  std::string ToString() const;
  /// For logs and error messages: without the query, which may carry a token.
  std::string Redacted() const;
};

/// At most 2048 bytes, http or https, a host name (ASCII letters, digits, '-', '.') or a
/// canonical IP literal, an optional port, no user name or password (userinfo), no control
/// character or space. INVALID_ARGUMENT in French saying what is wrong.
absl::StatusOr<Url> ParseUrl(std::string_view text);

/// `location` (a redirect's Location header: absolute, or a path) relative to `base`.
absl::StatusOr<Url> ResolveLocation(const Url& base, std::string_view location);

/// Which destinations are allowed: public unicast addresses, plus the networks configured
/// (e.g. 127.0.0.0/8 for a local stand-in server), on the ports configured only.
class DestinationPolicy {
 public:
  using PortRange = std::pair<uint16_t, uint16_t>;
  DestinationPolicy(std::vector<Network> allowed_networks, std::vector<PortRange> allowed_ports);
  /// From configuration text: networks "127.0.0.0/8,::1/128" (may be empty), ports
  /// "80,443,8000-8999". INVALID_ARGUMENT naming the item that is not understood.
  static absl::StatusOr<DestinationPolicy> FromStrings(std::string_view networks,
                                                       std::string_view ports);

  /// What can be checked before resolving: the scheme, the port, a literal IP host.
  /// INVALID_ARGUMENT with the reason in French.
  absl::Status CheckUrl(const Url& url) const;
  /// PERMISSION_DENIED naming the address and why, unless it may be connected to.
  absl::Status CheckAddress(const Address& a) const;
  /// Resolves the URL's host; the addresses that may be connected to (the caller connects to
  /// these and nothing else). PERMISSION_DENIED when none may be; UNAVAILABLE when the name
  /// does not resolve.
  absl::StatusOr<std::vector<Address>> Resolve(const Url& url) const;

  const std::vector<Network>& allowed_networks() const { return networks_; }

 private:
  std::vector<Network> networks_;
  std::vector<PortRange> ports_;
};

}  // namespace passerelle::net
