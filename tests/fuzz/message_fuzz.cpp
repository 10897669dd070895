// Fuzz target: what a notification e-mail says (services/notifications/message.cpp), from any
// event the notifications service may hold: passerelle.events.v1.Event parsed from raw bytes,
// described alone (Describe), as a digest of itself twice (DescribeDigest, its subject as the
// title, its time as the period) and with a footer (WithFooter).
//
// Properties: every part is valid UTF-8 without NUL; the subject is one line of at most
// kMaxSubjectCodePoints without a control character; the text has no CR; no markup from the
// event reaches the HTML unescaped (a '<' in the HTML is one of the describer's own tags).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "libs/text/utf8.hpp"
#include "passerelle/events/v1/event.pb.h"
#include "services/notifications/message.hpp"
#include "tests/fuzz/check.hpp"

namespace n = passerelle::notifications;
namespace text = passerelle::text;

namespace {

void CheckMessage(const n::Message& m, const char* what) {
  FUZZ_CHECK(text::IsValidUtf8(m.subject) && text::IsValidUtf8(m.text) && text::IsValidUtf8(m.html),
             std::string(what) + ": valid UTF-8");
  FUZZ_CHECK(m.subject.find('\0') == std::string::npos && m.text.find('\0') == std::string::npos &&
                 m.html.find('\0') == std::string::npos,
             std::string(what) + ": no NUL");
  FUZZ_CHECK(!text::FirstControl(m.subject).has_value(),
             std::string(what) + ": the subject has no control character");
  FUZZ_CHECK(text::CodePoints(m.subject) <= n::kMaxSubjectCodePoints,
             std::string(what) + ": the subject's length");
  FUZZ_CHECK(m.text.find('\r') == std::string::npos, std::string(what) + ": no CR in the text");
  // Every tag is one the describer writes.
  static const std::vector<std::string> kTags = {
      "<p>",   "</p>", "<ul>",  "</ul>", "<li>", "<li class=\"detail\">",
      "</li>", "<h2>", "</h2>", "<h3>",  "</h3>"};
  for (size_t at = m.html.find('<'); at != std::string::npos; at = m.html.find('<', at + 1)) {
    bool known = false;
    for (const auto& tag : kTags) known = known || m.html.compare(at, tag.size(), tag) == 0;
    FUZZ_CHECK(known,
               std::string(what) + ": unexpected markup in the HTML: " + m.html.substr(at, 40));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  passerelle::events::v1::Event event;
  if (!event.ParseFromArray(data, static_cast<int>(size))) return 0;
  CheckMessage(n::Describe(event), "Describe");
  const absl::Time at = absl::FromUnixSeconds(event.occurred_time().seconds() % 4000000000);
  CheckMessage(n::DescribeDigest({event, event}, event.subject(), at - absl::Hours(24), at),
               "DescribeDigest");
  const n::Message footed = n::WithFooter(n::Describe(event), event.subject(), event.source());
  FUZZ_CHECK(text::IsValidUtf8(footed.text) || !text::IsValidUtf8(event.subject()),
             "WithFooter keeps valid UTF-8");
  return 0;
}
