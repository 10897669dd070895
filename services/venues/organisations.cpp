// The organisations' rules and use cases.
#include "services/venues/organisations.hpp"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/api/resource.hpp"
#include "libs/standard/standard.hpp"
#include "libs/text/utf8.hpp"

namespace passerelle::venues {
namespace {

const api::ResourcePattern kOrganisationName("organisations/{organisation}");

// The fields a client writes, in the message's order.
const std::vector<std::string> kWritable = {"display_name", "siret", "rna", "contact_email",
                                            "website"};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view s) { return std::all_of(s.begin(), s.end(), IsDigit); }

// The SIREN of La Poste, whose establishments' SIRETs are checked by the sum of their digits.
constexpr std::string_view kLaPosteSiren = "356000000";

bool LuhnHolds(std::string_view digits) {
  int sum = 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    int d = digits[digits.size() - 1 - i] - '0';
    if (i % 2 == 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 == 0;
}

// RFC 5322's characters of an unquoted local part (atext), plus the dot between atoms.
bool IsLocalChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+/=?^_`{|}~-.").find(c) != std::string_view::npos;
}

bool IsDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  std::vector<std::string_view> labels;
  for (size_t start = 0;;) {
    const size_t dot = domain.find('.', start);
    labels.push_back(domain.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels.size() < 2) return false;
  for (std::string_view label : labels) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
  }
  // The top-level domain: letters (fr, org), or an internationalised one in its ASCII form.
  const std::string_view tld = labels.back();
  const bool letters = std::all_of(tld.begin(), tld.end(), [](char c) {
    return absl::ascii_isalpha(static_cast<unsigned char>(c));
  });
  return (letters && tld.size() >= 2) ||
         absl::AsciiStrToLower(std::string(tld)).starts_with("xn--");
}

// Validates the writable fields of `m` into `out` (as they will be stored); violations under
// `prefix`, in French.
void Validate(const v1::Organisation& m, const std::string& prefix, Organisation* out,
              std::vector<api::FieldViolation>* bad) {
  const size_t before = bad->size();
  if (m.display_name().empty() || text::IsBlank(m.display_name())) {
    bad->push_back({prefix + "display_name",
                    "[required] le nom de l'organisation est obligatoire, par exemple « Centre "
                    "social de l'Épeule »"});
  } else {
    api::CheckText(bad, prefix + "display_name", m.display_name(), 200);
  }
  if (!m.siret().empty() && !IsSiret(m.siret())) {
    const bool shaped = m.siret().size() == 14 && AllDigits(m.siret());
    bad->push_back({prefix + "siret",
                    shaped ? absl::StrCat("[siret] la clé de contrôle du SIRET « ", m.siret(),
                                          " » ne correspond pas : vérifiez le numéro")
                           : absl::StrCat("[pattern] un SIRET a 14 chiffres, sans espace ; reçu « ",
                                          text::Quote(m.siret()), " »")});
  }
  if (!m.rna().empty() && !IsRna(m.rna())) {
    bad->push_back(
        {prefix + "rna", absl::StrCat("[pattern] un numéro RNA est « W » suivi de 9 chiffres, par "
                                      "exemple W595012345 ; reçu « ",
                                      text::Quote(m.rna()), " »")});
  }
  if (!m.siret().empty() && !m.rna().empty()) {
    bad->push_back({prefix + "rna",
                    "[oneOf] une organisation est identifiée par son SIRET ou par son numéro "
                    "RNA, pas les deux : videz l'un des deux champs"});
  }
  if (!m.contact_email().empty() &&
      api::CheckText(bad, prefix + "contact_email", m.contact_email(), 254) &&
      !IsEmailAddress(m.contact_email())) {
    bad->push_back({prefix + "contact_email",
                    absl::StrCat("[email] n'est pas une adresse électronique, par exemple "
                                 "contact@exemple.fr ; reçu « ",
                                 text::Quote(m.contact_email()), " »")});
  }
  std::optional<std::string> website;
  if (!m.website().empty() && api::CheckText(bad, prefix + "website", m.website(), 500)) {
    website = standard::NormaliseWebAddress(m.website());
    if (!website) {
      bad->push_back(
          {prefix + "website", absl::StrCat("[url] n'est pas une adresse web : doit commencer par "
                                            "https:// ou http:// ; reçu « ",
                                            text::Quote(m.website()), " »")});
    }
  }
  if (bad->size() != before) return;
  out->display_name = m.display_name();
  out->siret = m.siret();
  out->rna = m.rna();
  out->contact_email = m.contact_email();
  out->website = website.value_or("");
}

// Copies one writable field from `from` to `to`.
void CopyWritable(const v1::Organisation& from, std::string_view field, v1::Organisation* to) {
  if (field == "display_name") to->set_display_name(from.display_name());
  if (field == "siret") to->set_siret(from.siret());
  if (field == "rna") to->set_rna(from.rna());
  if (field == "contact_email") to->set_contact_email(from.contact_email());
  if (field == "website") to->set_website(from.website());
}

absl::StatusOr<std::string> ParseName(const std::string& name) {
  auto parts = kOrganisationName.Parse(name, "name");
  if (!parts.ok()) return parts.status();
  if (!IsOrganisationId((*parts)[0])) {
    return api::InvalidName(
        "name",
        "[pattern] organisations/{organisation}, l'identifiant en 2 à 63 lettres minuscules, "
        "chiffres ou tirets, commençant par une lettre ou un chiffre",
        name);
  }
  return (*parts)[0];
}

}  // namespace

bool IsOrganisationId(std::string_view id) {
  if (id.size() < 2 || id.size() > 63 || id.front() == '-') return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || IsDigit(c) || c == '-'; });
}

bool CheckOrganisationId(std::vector<api::FieldViolation>* bad, std::string_view field,
                         std::string_view id) {
  if (IsOrganisationId(id)) return true;
  bad->push_back({std::string(field),
                  absl::StrCat("[pattern] un identifiant d'organisation a de 2 à 63 caractères : "
                               "lettres minuscules sans accent, chiffres et tirets, en commençant "
                               "par une lettre ou un chiffre (par exemple centre-social-epeule) ; "
                               "reçu « ",
                               text::Quote(id), " »")});
  return false;
}

bool IsSiret(std::string_view siret) {
  if (siret.size() != 14 || !AllDigits(siret)) return false;
  if (LuhnHolds(siret)) return true;
  if (!siret.starts_with(kLaPosteSiren)) return false;
  int sum = 0;
  for (char c : siret) sum += c - '0';
  return sum % 5 == 0;
}

bool IsRna(std::string_view rna) {
  return rna.size() == 10 && rna.front() == 'W' && AllDigits(rna.substr(1));
}

bool IsEmailAddress(std::string_view address) {
  if (address.size() > 254) return false;
  const size_t at = address.find('@');
  if (at == std::string_view::npos || address.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view local = address.substr(0, at);
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos ||
      !std::all_of(local.begin(), local.end(), IsLocalChar)) {
    return false;
  }
  return IsDomain(address.substr(at + 1));
}

absl::Status NotOwner(const std::string& message) {
  return api::WithReason(absl::PermissionDeniedError(message), "NOT_OWNER");
}

absl::Status CheckActingOrganisation(const std::string& acting) {
  if (IsOrganisationId(acting)) return absl::OkStatus();
  return NotOwner(absl::StrCat("l'organisation de l'appelant « ", text::Quote(acting),
                               " » n'est pas un identifiant d'organisation"));
}

void ToProto(const Organisation& o, v1::Organisation* out) {
  out->set_name(o.Name());
  out->set_display_name(o.display_name);
  out->set_siret(o.siret);
  out->set_rna(o.rna);
  out->set_contact_email(o.contact_email);
  out->set_website(o.website);
  api::ToTimestamp(o.create_time, out->mutable_create_time());
  api::ToTimestamp(o.update_time, out->mutable_update_time());
  out->set_etag(api::WeakETag(o.revision));
}

absl::StatusOr<Organisation> Organisations::Create(const std::string& organisation_id,
                                                   const v1::Organisation& m,
                                                   const std::optional<std::string>& acting) {
  if (acting) {
    return NotOwner(
        "une clé d'organisation ne crée pas d'organisation : demandez-le à "
        "l'administration du réseau");
  }
  std::vector<api::FieldViolation> bad;
  CheckOrganisationId(&bad, "organisation_id", organisation_id);
  Organisation o;
  Validate(m, "organisation.", &o, &bad);
  if (!bad.empty()) return api::InvalidArgument("organisation invalide", bad);
  o.id = organisation_id;
  o.revision = 1;
  o.create_time = o.update_time = clock_.Now();
  return repo_.CreateOrganisation(o);
}

absl::StatusOr<Organisation> Organisations::Get(const std::string& name) {
  auto id = ParseName(name);
  if (!id.ok()) return id.status();
  return repo_.GetOrganisation(*id);
}

absl::StatusOr<Organisations::Page> Organisations::List(int page_size,
                                                        const std::string& page_token) {
  auto checked_size = api::PageSize(page_size, 100, 1000);
  if (!checked_size.ok()) return checked_size.status();
  const int size = *checked_size;
  constexpr char kList[] = "venues.ListOrganisations";
  const std::string parameters = api::BindParameters({});
  std::string after;
  if (!page_token.empty()) {
    auto cursor = tokens_.Open(kList, parameters, page_token);
    if (!cursor.ok()) return cursor.status();
    after = *std::move(cursor);
  }
  auto found = repo_.ListOrganisations(after, size + 1);
  if (!found.ok()) return found.status();
  Page page;
  page.organisations = *std::move(found);
  if (static_cast<int>(page.organisations.size()) > size) {
    page.organisations.resize(size);
    page.next_page_token = tokens_.Seal(kList, parameters, page.organisations.back().id);
  }
  return page;
}

absl::StatusOr<Organisation> Organisations::Update(const v1::Organisation& m,
                                                   const std::vector<std::string>& mask,
                                                   const std::optional<std::string>& acting) {
  if (acting) {
    return NotOwner(
        "une clé d'organisation ne modifie pas les organisations : demandez-le à "
        "l'administration du réseau");
  }
  auto id = ParseName(m.name());
  if (!id.ok()) return id.status();
  std::vector<api::FieldViolation> bad;
  const bool all = mask.empty() || (mask.size() == 1 && mask[0] == "*");
  static const std::string listed = absl::StrJoin(kWritable, ", ");
  api::CheckUpdateMask(mask,
                       {.writable =
                            [](std::string_view path) {
                              return std::find(kWritable.begin(), kWritable.end(), path) !=
                                     kWritable.end();
                            },
                        .of = "d'une organisation",
                        .listed = listed,
                        .star = true},
                       &bad, kWritable.size());
  if (!bad.empty()) return api::InvalidArgument("masque de mise à jour invalide", bad);
  auto revision = api::RevisionFromETag(m.etag());
  if (!revision.ok()) return revision.status();
  return repo_.UpdateOrganisation(
      *id, *revision,
      [&](Organisation& o) -> absl::Status {
        v1::Organisation merged;
        ToProto(o, &merged);
        for (const std::string& field : kWritable) {
          if (all || std::find(mask.begin(), mask.end(), field) != mask.end()) {
            CopyWritable(m, field, &merged);
          }
        }
        std::vector<api::FieldViolation> invalid;
        Validate(merged, "organisation.", &o, &invalid);
        if (!invalid.empty()) return api::InvalidArgument("organisation invalide", invalid);
        return absl::OkStatus();
      },
      clock_.Now());
}

}  // namespace passerelle::venues
