// The network's members as a resource of the venues service (`organisations/{organisation}`):
// their rules, and create, read, list and update over a repository. No gRPC and no SQL here.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/api/page_token.hpp"
#include "libs/api/status.hpp"
#include "libs/clock/clock.hpp"
#include "passerelle/venues/v1/organisations.pb.h"

namespace passerelle::venues {

/// An organisation as the domain and the store know it.
struct Organisation {
  std::string id;  // organisations/{id}
  std::string display_name;
  std::string siret;
  std::string rna;
  std::string contact_email;
  std::string website;
  int revision = 0;
  absl::Time create_time = absl::UnixEpoch();
  absl::Time update_time = absl::UnixEpoch();

  std::string Name() const { return "organisations/" + id; }
};

/// True when `id` is an organisation id: `[a-z0-9][a-z0-9-]{1,62}`.
bool IsOrganisationId(std::string_view id);
/// Appends a violation on `field` (in French, quoting a short prefix) unless `id` is an
/// organisation id; true when it is.
bool CheckOrganisationId(std::vector<api::FieldViolation>* bad, std::string_view field,
                         std::string_view id);
/// The rules of a SIRET (14 digits, Luhn; La Poste's by the sum of their digits) and of an RNA
/// number (`W` and 9 digits), for tests and callers that check one value.
bool IsSiret(std::string_view siret);
bool IsRna(std::string_view rna);
/// One e-mail address: at most 254 characters, a local part of at most 64 of RFC 5322's
/// unquoted characters without leading, trailing or double dots, `@`, and a domain of at least
/// two ASCII labels (letters, digits, inner dashes; a final label of letters or `xn--`).
bool IsEmailAddress(std::string_view address);

/// PERMISSION_DENIED with reason NOT_OWNER: what a caller acting for an organisation (the
/// gateway's `x-passerelle-organisation` metadata) gets for a write its organisation may not
/// make.
absl::Status NotOwner(const std::string& message);
/// OK when a caller acting for `acting` may write as that organisation: `acting` is an
/// organisation id; NOT_OWNER otherwise (the gateway sent something no organisation can be).
absl::Status CheckActingOrganisation(const std::string& acting);

class OrganisationRepository {
 public:
  virtual ~OrganisationRepository() = default;
  /// Inserts it; ALREADY_EXISTS (reason ORGANISATION_EXISTS, the stored one unchanged) when
  /// its id is taken.
  virtual absl::StatusOr<Organisation> CreateOrganisation(const Organisation& organisation) = 0;
  /// NOT_FOUND when none has this id.
  virtual absl::StatusOr<Organisation> GetOrganisation(const std::string& id) = 0;
  /// At most `limit` organisations whose ids sort after `after`, by id.
  virtual absl::StatusOr<std::vector<Organisation>> ListOrganisations(const std::string& after,
                                                                      int limit) = 0;
  /// Locks it, checks its revision (0: no check; ABORTED with reason ETAG_MISMATCH otherwise),
  /// applies `change` and, when something changed, saves it with the next revision and
  /// `update_time` = `now`. NOT_FOUND when none has this id.
  virtual absl::StatusOr<Organisation> UpdateOrganisation(
      const std::string& id, int expected_revision,
      const std::function<absl::Status(Organisation&)>& change, absl::Time now) = 0;
};

/// The organisations' use cases. `acting` is the organisation a caller acts for (the gateway's
/// metadata on an organisation key's calls), or nullopt for internal and admin callers:
/// organisations are managed by the latter only.
class Organisations {
 public:
  Organisations(OrganisationRepository& repo, const api::PageTokens& tokens,
                const clocks::Clock& clock = clocks::System())
      : repo_(repo), tokens_(tokens), clock_(clock) {}

  /// Validates and stores a new organisation; its times are the clock's.
  absl::StatusOr<Organisation> Create(const std::string& organisation_id,
                                      const v1::Organisation& organisation,
                                      const std::optional<std::string>& acting = std::nullopt);
  /// `organisations/{organisation}`.
  absl::StatusOr<Organisation> Get(const std::string& name);
  struct Page {
    std::vector<Organisation> organisations;
    std::string next_page_token;
  };
  /// By id; `page_size` 0 means 100 and is capped at 1,000; sealed page tokens.
  absl::StatusOr<Page> List(int page_size, const std::string& page_token);
  /// Changes the fields of `mask` (empty or `*`: every writable field) and validates the
  /// result; `organisation.etag`, when set, must be the stored revision's.
  absl::StatusOr<Organisation> Update(const v1::Organisation& organisation,
                                      const std::vector<std::string>& mask,
                                      const std::optional<std::string>& acting = std::nullopt);

 private:
  OrganisationRepository& repo_;
  const api::PageTokens& tokens_;
  const clocks::Clock& clock_;
};

/// The API message of an organisation.
void ToProto(const Organisation& organisation, v1::Organisation* out);

}  // namespace passerelle::venues
