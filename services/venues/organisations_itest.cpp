// The organisations of the passerelle-venues binary through its public gRPC API: create, read,
// list and update with their rules, and what hostile clients send (docs/robustness.md: NUL,
// invalid UTF-8, bidirectional controls, huge values, forged tokens, stale etags).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/testing/testing.hpp"
#include "passerelle/venues/v1/organisations.grpc.pb.h"
#include "services/venues/itest_support.hpp"

namespace passerelle::venues {
namespace {

using itest::Reason;
using itest::Violations;
using ::testing::HasSubstr;

class OrganisationsApiTest : public itest::VenuesServiceTest {
 protected:
  static v1::Organisation Sample() {
    v1::Organisation o;
    o.set_display_name("Médiathèque de Roubaix 📚");
    o.set_siret("21590512800017");
    o.set_contact_email("mediatheque@roubaix.example.fr");
    o.set_website("https://mediatheque.roubaix.example.fr/");
    return o;
  }
  grpc::Status Create(const std::string& id, const v1::Organisation& o, v1::Organisation* out) {
    grpc::ClientContext ctx;
    v1::CreateOrganisationRequest req;
    req.set_organisation_id(id);
    *req.mutable_organisation() = o;
    return organisations_->CreateOrganisation(&ctx, req, out);
  }
  grpc::Status Get(const std::string& name, v1::Organisation* out) {
    grpc::ClientContext ctx;
    v1::GetOrganisationRequest req;
    req.set_name(name);
    return organisations_->GetOrganisation(&ctx, req, out);
  }
  grpc::Status Update(const v1::Organisation& o, const std::vector<std::string>& mask,
                      v1::Organisation* out) {
    grpc::ClientContext ctx;
    v1::UpdateOrganisationRequest req;
    *req.mutable_organisation() = o;
    for (const auto& p : mask) req.mutable_update_mask()->add_paths(p);
    return organisations_->UpdateOrganisation(&ctx, req, out);
  }
  grpc::Status List(int page_size, const std::string& token, v1::ListOrganisationsResponse* out) {
    grpc::ClientContext ctx;
    v1::ListOrganisationsRequest req;
    req.set_page_size(page_size);
    req.set_page_token(token);
    return organisations_->ListOrganisations(&ctx, req, out);
  }
  int Stored() {
    pqxx::connection c(testing::DatabaseUrl());
    pqxx::work tx(c);
    return tx.exec1("SELECT count(*) FROM \"" + binary_.schema() + "\".organisations")[0].as<int>();
  }
};

TEST_F(OrganisationsApiTest, CreateGetListAndUpdateWithEtags) {
  v1::Organisation created;
  ASSERT_TRUE(Create("mediatheque-roubaix", Sample(), &created).ok());
  EXPECT_EQ(created.name(), "organisations/mediatheque-roubaix");
  EXPECT_EQ(created.display_name(), "Médiathèque de Roubaix 📚");
  EXPECT_EQ(created.etag(), "W/\"1\"");
  EXPECT_GT(created.create_time().seconds(), 0);
  EXPECT_EQ(created.update_time().seconds(), created.create_time().seconds());

  v1::Organisation other = Sample();
  other.set_display_name("Un autre nom");
  v1::Organisation dup;
  grpc::Status taken = Create("mediatheque-roubaix", other, &dup);
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Reason(taken), "ORGANISATION_EXISTS");
  v1::Organisation got;
  ASSERT_TRUE(Get("organisations/mediatheque-roubaix", &got).ok());
  EXPECT_EQ(got.SerializeAsString(), created.SerializeAsString()) << "the first one is kept";
  EXPECT_EQ(Get("organisations/inconnue", &got).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get("organisations/Mediatheque-roubaix", &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("sources/mediatheque-roubaix", &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::Organisation change;
  change.set_name(created.name());
  change.set_etag(created.etag());
  change.set_website("www.mediatheque-roubaix.example.fr");
  change.set_display_name("ignoré : hors du masque");
  v1::Organisation updated;
  ASSERT_TRUE(Update(change, {"website"}, &updated).ok());
  EXPECT_EQ(updated.website(), "https://www.mediatheque-roubaix.example.fr");
  EXPECT_EQ(updated.display_name(), created.display_name());
  EXPECT_EQ(updated.etag(), "W/\"2\"");
  grpc::Status stale = Update(change, {"website"}, &updated);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Reason(stale), "ETAG_MISMATCH");
  change.set_etag("");
  change.set_name("organisations/inconnue");
  EXPECT_EQ(Update(change, {"website"}, &updated).error_code(), grpc::StatusCode::NOT_FOUND);

  for (const char* id : {"aa-premiere", "zz-derniere"}) {
    ASSERT_TRUE(Create(id, Sample(), &created).ok());
  }
  std::vector<std::string> seen;
  std::string token;
  do {
    v1::ListOrganisationsResponse page;
    ASSERT_TRUE(List(2, token, &page).ok());
    for (const auto& o : page.organisations()) seen.push_back(o.name());
    token = page.next_page_token();
  } while (!token.empty());
  EXPECT_THAT(
      seen, ::testing::ElementsAre("organisations/aa-premiere", "organisations/mediatheque-roubaix",
                                   "organisations/zz-derniere"));
  v1::ListOrganisationsResponse page;
  ASSERT_TRUE(List(1, "", &page).ok());
  for (const std::string& forged :
       {page.next_page_token() + "x", page.next_page_token().substr(1), std::string("abc")}) {
    grpc::Status st = List(1, forged, &page);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << forged;
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("page_token"));
  }
  EXPECT_EQ(List(-1, "", &page).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(List(1'000'000, "", &page).ok()) << "a large page size is capped, not refused";
  EXPECT_EQ(page.organisations_size(), 3);
}

TEST_F(OrganisationsApiTest, EveryRuleIsAFieldViolationInFrench) {
  v1::Organisation bad;
  bad.set_siret("21590512800018");
  bad.set_rna("W595012345");
  bad.set_contact_email("accueil@roubaix");
  bad.set_website("ftp://roubaix.example.fr");
  v1::Organisation out;
  grpc::Status st = Create("-mauvais", bad, &out);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const auto violations = Violations(st);
  EXPECT_EQ(violations.fields,
            (std::set<std::string>{"organisation_id", "organisation.display_name",
                                   "organisation.siret", "organisation.rna",
                                   "organisation.contact_email", "organisation.website"}));
  EXPECT_THAT(violations.text, HasSubstr("clé de contrôle du SIRET"));
  EXPECT_THAT(violations.text, HasSubstr("pas les deux"));
  EXPECT_THAT(violations.text, HasSubstr("obligatoire"));
  EXPECT_EQ(Stored(), 0);

  // An association with its RNA number and no SIRET; La Poste's establishments' SIRETs.
  v1::Organisation association;
  association.set_display_name("Association Numérique pour tous");
  association.set_rna("W595012345");
  EXPECT_TRUE(Create("association-numerique", association, &out).ok());
  v1::Organisation poste;
  poste.set_display_name("La Poste — France Services Roubaix");
  poste.set_siret("35600000049837");
  EXPECT_TRUE(Create("la-poste-roubaix", poste, &out).ok());
}

TEST_F(OrganisationsApiTest, HostileTextIsRefusedByFieldAndQuotedShort) {
  struct Case {
    std::string field;  // the violation's field
    std::function<void(v1::Organisation*)> set;
  };
  const std::string huge(5 << 20, 'a');  // 5 MB: under the service's 16 MiB receive limit
  const std::string large(100 << 10, 'a');
  const std::vector<Case> cases = {
      {"organisation.display_name",
       [](v1::Organisation* o) { o->set_display_name(std::string("Centre\0social", 13)); }},
      {"organisation.display_name",
       [](v1::Organisation* o) { o->set_display_name("Centre \x07 social"); }},
      {"organisation.display_name",
       [](v1::Organisation* o) { o->set_display_name("Centre \u202Elaicos\u202C"); }},
      {"organisation.display_name", [&](v1::Organisation* o) { o->set_display_name(large); }},
      {"organisation.contact_email",
       [](v1::Organisation* o) { o->set_contact_email(std::string("a@b.fr\0x", 8)); }},
      {"organisation.contact_email",
       [&](v1::Organisation* o) { o->set_contact_email(large + "@exemple.fr"); }},
      {"organisation.contact_email",
       [](v1::Organisation* o) { o->set_contact_email("a\u202E@exemple.fr"); }},
      {"organisation.website", [&](v1::Organisation* o) { o->set_website("https://" + large); }},
      {"organisation.website",
       [](v1::Organisation* o) { o->set_website("https://exemple.fr/\u2066x"); }},
      {"organisation.siret", [&](v1::Organisation* o) { o->set_siret(large); }},
      {"organisation.rna", [](v1::Organisation* o) { o->set_rna(std::string("W\0\0\0", 4)); }},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    v1::Organisation o;
    o.set_display_name("Centre social");
    cases[i].set(&o);
    v1::Organisation out;
    grpc::Status st = Create(absl::StrCat("hostile-", i), o, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << i;
    EXPECT_THAT(Violations(st).fields, ::testing::Contains(cases[i].field)) << i;
    EXPECT_LT(st.error_details().size() + st.error_message().size(), 2000u)
        << i << ": errors quote a short prefix, never the whole value";
  }
  {
    v1::Organisation out;
    grpc::Status st = Create(large, Sample(), &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("organisation_id"));
    EXPECT_LT(st.error_details().size(), 2000u);
    v1::Organisation got;
    st = Get("organisations/" + large, &got);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_LT(st.error_details().size(), 2000u);
  }
  {  // 5 MB values reach the service and are refused by name, quoted short.
    v1::Organisation o = Sample();
    o.set_display_name(huge);
    o.set_website(huge);
    v1::Organisation out;
    grpc::Status st = Create("trop-grand", o, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(Violations(st).fields,
              (std::set<std::string>{"organisation.display_name", "organisation.website"}));
    EXPECT_LT(st.error_details().size(), 2000u);
  }
  {  // A mask of many paths is refused by name, each bounded.
    v1::Organisation o = Sample();
    o.set_name("organisations/absente");
    std::vector<std::string> mask(2000, large.substr(0, 1000));
    v1::Organisation out;
    grpc::Status st = Update(o, mask, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("update_mask"));
  }
  EXPECT_EQ(Stored(), 0);

  // Invalid UTF-8 in a proto3 string: a raw client sends the bytes itself.
  v1::CreateOrganisationRequest req;
  req.set_organisation_id("brut");
  req.mutable_organisation()->set_display_name("Lieu @@@@");
  std::string bytes = req.SerializeAsString();
  bytes.replace(bytes.find("@@@@"), 4, "\xFF\xFE\xFD\xFC");
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::GenericStub generic(
      grpc::CreateChannel(binary_.grpc_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&ctx, "/passerelle.venues.v1.OrganisationService/CreateOrganisation",
                    grpc::StubOptions(), &request, &response,
                    [&](grpc::Status st) { done.set_value(st); });
  EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Emoji and accents are text like any other.
  v1::Organisation out;
  EXPECT_TRUE(Create("emoji", Sample(), &out).ok());
  EXPECT_EQ(Stored(), 1);
}

}  // namespace
}  // namespace passerelle::venues
