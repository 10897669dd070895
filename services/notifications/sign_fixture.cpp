// Prints the reference fixture (secret, id, timestamp, body, our signature) as JSON, for
// tools/notifications_webhook_reference.sh to check against the specification's library:
//   build/services/notifications/notifications-sign-fixture >
//   services/notifications/testdata/webhook_fixture.json
#include <iostream>

#include "nlohmann/json.hpp"
#include "services/notifications/webhook.hpp"

int main() {
  using passerelle::notifications::SignatureHeader;
  struct Case {
    std::vector<std::string> secrets;
    std::string id;
    int64_t timestamp;
    std::string body;
  };
  // Fixed secrets (made once by NewSecret) so the fixture is stable.
  const std::vector<Case> cases = {
      {{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
       "msg_p5jXN8AQM9LWM0D4loKWxJek",
       1614265330,
       R"({"test": 2432232314})"},
      {{"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"},
       "7f0c3f4e-2b1a-4d5e-9c8b-6a5f4e3d2c1b",
       1764547200,
       R"({"type":"venue.updated","timestamp":"2025-12-01T00:00:00.000Z","data":{"id":"e1","type":"venue.updated","subject":"venues/0d9f","payload":{"@type":"type.googleapis.com/passerelle.venues.v1.VenueUpdated","venue":{"name":"venues/0d9f","nom":"Médiathèque de l'Alma — « café numérique »","areas":["quartiers:alma"]},"previousAreas":["quartiers:epeule"]}}})"},
      // During a rotation: both secrets sign; a receiver knowing either accepts.
      {{"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "whsec_yZ0o2dR4xTe9Y3vQ0bq3u1tU4nQ8H6mA"},
       "b4e1c7a2-9d3f-4a6b-8e2c-1f0a9b8c7d6e",
       1764547260,
       R"({"type":"notification.test","timestamp":"2025-12-01T00:01:00.000Z","data":{}})"}};
  nlohmann::json out = {{"generator", "services/notifications/sign_fixture.cpp"},
                        {"cases", nlohmann::json::array()}};
  for (const auto& c : cases) {
    auto sig = SignatureHeader(c.secrets, c.id, c.timestamp, c.body);
    if (!sig.ok()) {
      std::cerr << sig.status() << "\n";
      return 1;
    }
    out["cases"].push_back({{"secrets", c.secrets},
                            {"id", c.id},
                            {"timestamp", c.timestamp},
                            {"body", c.body},
                            {"signature", *sig}});
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}
