// What an e-mail notification says: one event, or a digest of a period's events, in plain French
// (docs/notifications.md "What an e-mail says"). Pure: no I/O; every value taken from an event is
// cleaned (valid UTF-8, no control characters, cut with « … ») and escaped in the HTML part.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "passerelle/events/v1/event.pb.h"

namespace passerelle::notifications {

struct Message {
  /// One line: no CR, LF or other control character, at most kMaxSubjectCodePoints.
  std::string subject;
  /// text/plain, UTF-8, lines of at most kTextWidth code points where words allow.
  std::string text;
  /// An HTML fragment (no <html>/<body>); every value from an event is escaped (&<>"').
  std::string html;
};

inline constexpr size_t kMaxSubjectCodePoints = 150;
inline constexpr size_t kTextWidth = 78;
/// A value (a name, an address, hours…) longer than this is cut with « … ».
inline constexpr size_t kMaxValueCodePoints = 200;
/// Digest bounds: changes shown per venue, changes shown in all, venue sections; the rest is
/// counted (« et 37 autres changements »).
inline constexpr size_t kDigestMaxPerVenue = 10;
inline constexpr size_t kDigestMaxChanges = 100;
inline constexpr size_t kDigestMaxVenues = 30;

/// One event in plain French. An unknown type or an undecodable payload gives a generic
/// sentence naming the type.
Message Describe(const events::v1::Event& event);

/// A digest: `events` (oldest first) grouped per venue (Event.subject), a section per venue
/// with its changes in order, then the other events. `title` is the subscription's display name
/// (may be empty); [from, to) the period, shown as Europe/Paris dates (one date for a day; a
/// `to` at local midnight ends the day before).
Message DescribeDigest(const std::vector<events::v1::Event>& events, const std::string& title,
                       absl::Time from, absl::Time to);

/// The e-mail as sent: `m`'s text with a signature block saying `why` the reader gets it and,
/// when `unsubscribe_page` is not empty, a link to stop; its HTML made a whole French document
/// with the same footer (`why` and the link escaped).
Message WithFooter(Message m, const std::string& why, const std::string& unsubscribe_page);

}  // namespace passerelle::notifications
