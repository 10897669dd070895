// The organisations' rules and use cases against an in-memory repository and a manual clock.
#include "services/venues/organisations.hpp"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/clock/clock.hpp"

namespace passerelle::venues {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The OrganisationRepository contract as PgOrganisationStore keeps it, in memory.
class FakeOrganisations final : public OrganisationRepository {
 public:
  absl::StatusOr<Organisation> CreateOrganisation(const Organisation& o) override {
    if (!stored_.emplace(o.id, o).second) {
      return api::WithReason(absl::AlreadyExistsError(o.Name() + " already exists"),
                             "ORGANISATION_EXISTS");
    }
    return o;
  }
  absl::StatusOr<Organisation> GetOrganisation(const std::string& id) override {
    auto it = stored_.find(id);
    if (it == stored_.end()) return absl::NotFoundError("organisations/" + id);
    return it->second;
  }
  absl::StatusOr<std::vector<Organisation>> ListOrganisations(const std::string& after,
                                                              int limit) override {
    std::vector<Organisation> out;
    for (auto it = stored_.upper_bound(after);
         it != stored_.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  absl::StatusOr<Organisation> UpdateOrganisation(
      const std::string& id, int expected_revision,
      const std::function<absl::Status(Organisation&)>& change, absl::Time now) override {
    auto it = stored_.find(id);
    if (it == stored_.end()) return absl::NotFoundError("organisations/" + id);
    if (expected_revision != 0 && expected_revision != it->second.revision) {
      return api::WithReason(absl::AbortedError("etag mismatch"), "ETAG_MISMATCH");
    }
    Organisation next = it->second;
    if (absl::Status s = change(next); !s.ok()) return s;
    if (next.display_name == it->second.display_name && next.siret == it->second.siret &&
        next.rna == it->second.rna && next.contact_email == it->second.contact_email &&
        next.website == it->second.website) {
      return it->second;
    }
    ++next.revision;
    next.update_time = now;
    return it->second = next;
  }

 private:
  std::map<std::string, Organisation> stored_;
};

class OrganisationsTest : public ::testing::Test {
 protected:
  static v1::Organisation Sample() {
    v1::Organisation o;
    o.set_display_name("Centre social de l'Épeule");
    o.set_siret("21590512800017");
    o.set_contact_email("accueil@epeule.example.fr");
    o.set_website("www.epeule.example.fr");
    return o;
  }
  static std::vector<std::string> Fields(const absl::Status& st) {
    std::vector<std::string> out;
    for (const auto& v : api::Violations(st)) out.push_back(v.field);
    return out;
  }

  clocks::ManualClock clock_;
  FakeOrganisations repo_;
  api::PageTokens tokens_{"organisations-test-key"};
  Organisations organisations_{repo_, tokens_, clock_};
};

TEST(OrganisationRulesTest, IdsAreSlugs) {
  for (const char* ok : {"ab", "centre-social-epeule", "0-9", "mediatheque-roubaix-2"}) {
    EXPECT_TRUE(IsOrganisationId(ok)) << ok;
  }
  EXPECT_TRUE(IsOrganisationId(std::string(63, 'a')));
  for (const std::string& bad :
       std::vector<std::string>{"", "a", "-ab", "Ab", "a b", "a_b", "é-b", "a/b",
                                std::string(64, 'a'), std::string("a\0b", 3)}) {
    EXPECT_FALSE(IsOrganisationId(bad)) << bad;
  }
}

TEST(OrganisationRulesTest, SiretsHold14DigitsAndTheirCheckDigit) {
  EXPECT_TRUE(IsSiret("21590512800017"));   // Ville de Roubaix
  EXPECT_FALSE(IsSiret("21590512800018"));  // one digit off
  EXPECT_FALSE(IsSiret("2159051280001"));
  EXPECT_FALSE(IsSiret("215905128000170"));
  EXPECT_FALSE(IsSiret("2159051280001a"));
  EXPECT_FALSE(IsSiret("215 905 128 00017"));
  // La Poste: its head office follows Luhn, its establishments the sum of their digits.
  EXPECT_TRUE(IsSiret("35600000000048"));
  EXPECT_TRUE(IsSiret("35600000049837"));
  EXPECT_FALSE(IsSiret("35600000049838"));
  EXPECT_FALSE(IsSiret("12300000049837")) << "the digit-sum rule is La Poste's only";
}

TEST(OrganisationRulesTest, RnaNumbersAreAWAndNineDigits) {
  EXPECT_TRUE(IsRna("W595012345"));
  for (const char* bad : {"w595012345", "W59501234", "W5950123456", "W59501234X", "595012345W"}) {
    EXPECT_FALSE(IsRna(bad)) << bad;
  }
}

TEST(OrganisationRulesTest, EmailAddressesAreOneAddressWithADomain) {
  for (const char* ok : {"contact@exemple.fr", "a.b+c@sous.domaine.exemple.org",
                         "x@xn--mdiathque-b1a.fr", "o'brien@exemple.fr"}) {
    EXPECT_TRUE(IsEmailAddress(ok)) << ok;
  }
  for (const std::string& bad : std::vector<std::string>{"",
                                                         "contact",
                                                         "@exemple.fr",
                                                         "contact@",
                                                         "contact@exemple",
                                                         "a@@exemple.fr",
                                                         "a@b@exemple.fr",
                                                         ".a@exemple.fr",
                                                         "a.@exemple.fr",
                                                         "a..b@exemple.fr",
                                                         "a b@exemple.fr",
                                                         "contact@exemple.fr ",
                                                         "contact@-exemple.fr",
                                                         "contact@exemple.f",
                                                         "contact@exemple..fr",
                                                         "contact@médiathèque.fr",
                                                         "Jean <jean@exemple.fr>",
                                                         "a@exemple.fr,b@exemple.fr",
                                                         std::string(65, 'a') + "@exemple.fr",
                                                         "a@" + std::string(250, 'b') + ".fr",
                                                         std::string("a\0@exemple.fr", 13)}) {
    EXPECT_FALSE(IsEmailAddress(bad)) << bad;
  }
}

TEST_F(OrganisationsTest, CreateStoresTheNormalisedOrganisationAtTheClocksTime) {
  clock_.Set(absl::FromUnixSeconds(1'900'000'000));
  auto created = organisations_.Create("centre-social-epeule", Sample());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->Name(), "organisations/centre-social-epeule");
  EXPECT_EQ(created->website, "https://www.epeule.example.fr");
  EXPECT_EQ(created->create_time, absl::FromUnixSeconds(1'900'000'000));
  v1::Organisation message;
  ToProto(*created, &message);
  EXPECT_EQ(message.etag(), "W/\"1\"");
  EXPECT_EQ(message.create_time().seconds(), 1'900'000'000);

  auto again = organisations_.Create("centre-social-epeule", Sample());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  auto got = organisations_.Get("organisations/centre-social-epeule");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->display_name, "Centre social de l'Épeule");
}

TEST_F(OrganisationsTest, EveryBrokenRuleIsOneViolation) {
  v1::Organisation bad;
  bad.set_display_name("   ");
  bad.set_siret("21590512800018");
  bad.set_rna("W12");
  bad.set_contact_email("pas une adresse");
  bad.set_website("javascript:alert(1)");
  auto refused = organisations_.Create("Bad Id", bad);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(refused.status()),
              ElementsAre("organisation_id", "organisation.display_name", "organisation.siret",
                          "organisation.rna", "organisation.rna", "organisation.contact_email",
                          "organisation.website"));
  for (const auto& v : api::Violations(refused.status())) {
    EXPECT_THAT(v.description, ::testing::StartsWith("[")) << v.field;
  }
  v1::Organisation both = Sample();
  both.set_rna("W595012345");
  auto one_of = organisations_.Create("both", both);
  ASSERT_EQ(one_of.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(one_of.status().ToString(), HasSubstr("pas les deux"));
}

TEST_F(OrganisationsTest, UpdateHonoursMaskAndEtag) {
  ASSERT_TRUE(organisations_.Create("epeule", Sample()).ok());
  clock_.Advance(absl::Minutes(5));
  v1::Organisation change;
  change.set_name("organisations/epeule");
  change.set_display_name("Ignoré : hors du masque");
  change.set_rna("W595012345");
  change.set_etag("W/\"1\"");
  auto refused = organisations_.Update(change, {"rna"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
      << "a SIRET is stored: an RNA beside it breaks the one-of rule";
  auto switched = organisations_.Update(change, {"rna", "siret"});
  ASSERT_TRUE(switched.ok()) << switched.status();
  EXPECT_EQ(switched->rna, "W595012345");
  EXPECT_EQ(switched->siret, "");
  EXPECT_EQ(switched->display_name, "Centre social de l'Épeule");
  EXPECT_EQ(switched->revision, 2);
  EXPECT_EQ(switched->update_time - switched->create_time, absl::Minutes(5));

  auto stale = organisations_.Update(change, {"rna"});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  auto unknown = organisations_.Update(change, {"name"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(unknown.status()), ElementsAre("update_mask.paths[0]"));
  change.set_etag("");
  change.clear_display_name();
  auto cleared = organisations_.Update(change, {"display_name"});
  EXPECT_THAT(Fields(cleared.status()), ElementsAre("organisation.display_name"));
  change.set_etag("W/\"x\"");
  EXPECT_EQ(organisations_.Update(change, {"rna"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(OrganisationsTest, ListPagesBySealedTokens) {
  for (const char* id : {"cc", "aa", "bb"}) {
    ASSERT_TRUE(organisations_.Create(id, Sample()).ok());
  }
  auto first = organisations_.List(2, "");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->organisations.size(), 2u);
  EXPECT_EQ(first->organisations[0].id, "aa");
  auto second = organisations_.List(2, first->next_page_token);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->organisations.size(), 1u);
  EXPECT_EQ(second->organisations[0].id, "cc");
  EXPECT_EQ(second->next_page_token, "");
  EXPECT_EQ(organisations_.List(2, first->next_page_token + "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(organisations_.List(-1, "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(OrganisationsTest, AnOrganisationKeyManagesNoOrganisation) {
  auto created = organisations_.Create("epeule", Sample(), std::string("epeule"));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(organisations_.Create("epeule", Sample()).ok());
  v1::Organisation change = Sample();
  change.set_name("organisations/epeule");
  auto updated = organisations_.Update(change, {}, std::string("epeule"));
  EXPECT_EQ(updated.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(OrganisationsTest, NamesHaveOneSpelling) {
  ASSERT_TRUE(organisations_.Create("epeule", Sample()).ok());
  for (const std::string alias :
       {"organisations/Epeule", "organisations/epeule/", "organisations//epeule",
        "organisations/epeule ", "Organisations/epeule", "organisations/e"}) {
    EXPECT_EQ(organisations_.Get(alias).status().code(), absl::StatusCode::kInvalidArgument)
        << alias;
  }
  EXPECT_EQ(organisations_.Get("organisations/inconnue").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace passerelle::venues
