// Per-field provenance through the public gRPC API (issue 11, "Trust" point 2): a field edited
// locally survives its source's batches until the source changes that very field; then the
// conflict is recorded and the source's policy applies. Local fields are never touched by a
// batch. Every new method and field refuses hostile input with a precise INVALID_ARGUMENT.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/itest_support.hpp"

namespace passerelle::venues {
namespace {

using itest::Reason;
using itest::Valid;
using itest::Violations;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The standard fields a venue says were edited locally.
std::vector<std::string> LocalFields(const v1::Venue& v) {
  std::vector<std::string> out;
  for (const auto& e : v.provenance().local_edits()) out.push_back(e.field());
  return out;
}

class ProvenanceTest : public itest::VenuesServiceTest {
 protected:
  // Registers `source` with `policy`.
  void RegisterWith(const std::string& source, v1::ConflictPolicy policy) {
    grpc::ClientContext ctx;
    v1::CreateSourceRequest req;
    req.set_source_id(source);
    req.mutable_source()->set_conflict_policy(policy);
    v1::Source out;
    grpc::Status st = stub_->CreateSource(&ctx, req, &out);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(out.conflict_policy(),
              policy == v1::CONFLICT_POLICY_UNSPECIFIED ? v1::SOURCE_WINS : policy);
  }
  // One row into `source`; its outcome.
  v1::UpsertOutcome Send(const std::string& source, const v1::Venue& row) {
    v1::BatchUpsertVenuesResponse resp;
    grpc::Status st = Batch(source, {row}, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    if (resp.results_size() != 1) return v1::UPSERT_OUTCOME_UNSPECIFIED;
    EXPECT_EQ(resp.results(0).violations_size(), 0) << resp.results(0).DebugString();
    return resp.results(0).outcome();
  }
  v1::Venue Get(const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetVenueRequest req;
    req.set_name(name);
    v1::Venue out;
    grpc::Status st = stub_->GetVenue(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }
  // The venue of (source, id), read through ListVenues.
  v1::Venue Find(const std::string& source, const std::string& id) {
    v1::ListVenuesResponse resp;
    EXPECT_TRUE(List("source = \"" + source + "\"", &resp, "", 1000).ok());
    for (const auto& v : resp.venues()) {
      if (v.id() == id) return Get(v.name());
    }
    ADD_FAILURE() << "no venue " << source << "/" << id;
    return {};
  }
  // UpdateVenue of the fields of `mask`, values taken from `values`.
  grpc::Status Edit(const v1::Venue& stored, v1::Venue values, const std::vector<std::string>& mask,
                    v1::Venue* out) {
    grpc::ClientContext ctx;
    v1::UpdateVenueRequest req;
    values.set_name(stored.name());
    values.set_etag(stored.etag());
    *req.mutable_venue() = values;
    for (const auto& m : mask) req.mutable_update_mask()->add_paths(m);
    return stub_->UpdateVenue(&ctx, req, out);
  }
  grpc::Status Restore(const std::string& name, const std::vector<std::string>& fields,
                       v1::Venue* out, const std::string& etag = "") {
    grpc::ClientContext ctx;
    v1::RestoreSourceFieldsRequest req;
    req.set_name(name);
    for (const auto& f : fields) req.add_fields(f);
    req.set_etag(etag);
    return stub_->RestoreSourceFields(&ctx, req, out);
  }
  grpc::Status Conflicts(const std::string& parent, v1::ListVenueConflictsResponse* out,
                         const std::string& filter = "", const std::string& token = "",
                         int page_size = 0) {
    grpc::ClientContext ctx;
    v1::ListVenueConflictsRequest req;
    req.set_parent(parent);
    req.set_filter(filter);
    req.set_page_token(token);
    req.set_page_size(page_size);
    return stub_->ListVenueConflicts(&ctx, req, out);
  }
  // A row of `source` with its telephone and name.
  static v1::Venue Row(const std::string& id, const std::string& telephone,
                       const std::string& nom = "Médiathèque Jean Lévy") {
    v1::Venue v = Valid(id, nom);
    v.set_telephone(telephone);
    return v;
  }
};

TEST_F(ProvenanceTest, ALocalEditSurvivesABatchThatChangesAnotherField) {
  RegisterWith("region", v1::CONFLICT_POLICY_UNSPECIFIED);
  ASSERT_EQ(Send("region", Row("r-1", "+33320000001")), v1::CREATED);
  const v1::Venue stored = Find("region", "r-1");
  EXPECT_TRUE(LocalFields(stored).empty());
  v1::Venue edited;
  v1::Venue values;
  values.set_telephone("+33320999999");
  grpc::Status st = Edit(stored, values, {"telephone"}, &edited);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(LocalFields(edited), ElementsAre("telephone"));
  EXPECT_TRUE(edited.provenance().local_edits(0).has_edit_time());

  // The source sends its row again, unchanged: nothing written, the edit stands.
  EXPECT_EQ(Send("region", Row("r-1", "+33320000001")), v1::UNCHANGED);
  // The source changes another field: it lands, the edit stands.
  EXPECT_EQ(Send("region", Row("r-1", "+33320000001", "Médiathèque de l'Épeule")), v1::UPDATED);
  const v1::Venue after = Get(stored.name());
  EXPECT_EQ(after.nom(), "Médiathèque de l'Épeule");
  EXPECT_EQ(after.telephone(), "+33320999999");
  EXPECT_THAT(LocalFields(after), ElementsAre("telephone"));
  v1::ListVenueConflictsResponse conflicts;
  ASSERT_TRUE(Conflicts(stored.name(), &conflicts).ok());
  EXPECT_EQ(conflicts.conflicts_size(), 0);

  // Venues created here have no source: their edits are not marked.
  v1::Venue own;
  ASSERT_TRUE(Create(Valid("own-1"), &own).ok());
  v1::Venue own_edited;
  ASSERT_TRUE(Edit(own, values, {"telephone"}, &own_edited).ok());
  EXPECT_TRUE(LocalFields(own_edited).empty());
}

TEST_F(ProvenanceTest, TheSourceChangingAnEditedFieldIsAConflictTheSourceWinsByDefault) {
  RegisterWith("region", v1::CONFLICT_POLICY_UNSPECIFIED);
  ASSERT_EQ(Send("region", Row("r-1", "+33320000001")), v1::CREATED);
  const v1::Venue stored = Find("region", "r-1");
  v1::Venue values;
  values.set_telephone("+33320999999");
  v1::Venue edited;
  ASSERT_TRUE(Edit(stored, values, {"telephone"}, &edited).ok());

  EXPECT_EQ(Send("region", Row("r-1", "+33320000002")), v1::UPDATED);
  const v1::Venue after = Get(stored.name());
  EXPECT_EQ(after.telephone(), "+33320000002");
  EXPECT_TRUE(LocalFields(after).empty()) << "the field is the source's again";

  v1::ListVenueConflictsResponse conflicts;
  ASSERT_TRUE(Conflicts(stored.name(), &conflicts).ok());
  ASSERT_EQ(conflicts.conflicts_size(), 1);
  const v1::VenueConflict& c = conflicts.conflicts(0);
  EXPECT_THAT(c.name(), HasSubstr(stored.name() + "/conflicts/"));
  EXPECT_EQ(c.source(), "region");
  EXPECT_EQ(c.field(), "telephone");
  EXPECT_EQ(c.local_value(), "+33320999999");
  EXPECT_EQ(c.previous_source_value(), "+33320000001");
  EXPECT_EQ(c.new_source_value(), "+33320000002");
  EXPECT_EQ(c.policy(), v1::SOURCE_WINS);
  EXPECT_TRUE(c.has_create_time());
  // All venues' conflicts, and by source.
  v1::ListVenueConflictsResponse all;
  ASSERT_TRUE(Conflicts("venues/-", &all, "source = \"region\"").ok());
  EXPECT_EQ(all.conflicts_size(), 1);
  RegisterWith("other", v1::CONFLICT_POLICY_UNSPECIFIED);  // a source without conflicts
  ASSERT_TRUE(Conflicts("venues/-", &all, "source = \"other\"").ok());
  EXPECT_EQ(all.conflicts_size(), 0);
}

// Found by the outside review: a local move kept its longitude while the source's new latitude
// landed (a point nobody entered), and a list sent again in another order was a conflict.
TEST_F(ProvenanceTest, APositionIsOneValueAndAListInAnotherOrderIsNoChange) {
  RegisterWith("region", v1::CONFLICT_POLICY_UNSPECIFIED);
  v1::Venue row = Row("r-1", "+33320000001");
  row.add_services(v1::SERVICE_MAITRISE_DES_OUTILS_NUMERIQUES_DU_QUOTIDIEN);
  ASSERT_EQ(Send("region", row), v1::CREATED);
  const v1::Venue stored = Find("region", "r-1");
  // A mediator moves the venue (both coordinates) and reorders nothing else.
  v1::Venue values;
  values.set_latitude(50.7);
  values.set_longitude(3.2);
  v1::Venue edited;
  grpc::Status st = Edit(stored, values, {"latitude", "longitude"}, &edited);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(LocalFields(edited), ElementsAre("latitude", "longitude"));
  // Restoring the latitude alone gives the whole position back.
  v1::Venue restored;
  st = Restore(stored.name(), {"latitude"}, &restored);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_DOUBLE_EQ(restored.latitude(), row.latitude());
  EXPECT_DOUBLE_EQ(restored.longitude(), row.longitude());
  EXPECT_TRUE(LocalFields(restored).empty());
  // Moved again; the source then changes only its latitude: the position is the source's, whole.
  ASSERT_TRUE(Edit(restored, values, {"latitude", "longitude"}, &edited).ok());
  v1::Venue moved = row;
  moved.set_latitude(50.6912);
  EXPECT_EQ(Send("region", moved), v1::UPDATED);
  const v1::Venue after = Get(stored.name());
  EXPECT_DOUBLE_EQ(after.latitude(), 50.6912);
  EXPECT_DOUBLE_EQ(after.longitude(), row.longitude()) << "the local longitude stayed";
  EXPECT_TRUE(LocalFields(after).empty());
  // A local edit of the services, then the source sends its list again in another order.
  v1::Venue services;
  services.add_services(v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  ASSERT_TRUE(Edit(after, services, {"services"}, &edited).ok());
  ASSERT_THAT(LocalFields(edited), ElementsAre("services"));
  v1::ListVenueConflictsResponse before;
  ASSERT_TRUE(Conflicts(stored.name(), &before).ok());
  v1::Venue reordered = moved;
  reordered.clear_services();
  reordered.add_services(v1::SERVICE_MAITRISE_DES_OUTILS_NUMERIQUES_DU_QUOTIDIEN);
  reordered.add_services(v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  Send("region", reordered);
  const v1::Venue last = Get(stored.name());
  EXPECT_EQ(last.services_size(), 1) << "the local edit was replaced";
  EXPECT_THAT(LocalFields(last), ElementsAre("services"));
  v1::ListVenueConflictsResponse conflicts;
  ASSERT_TRUE(Conflicts(stored.name(), &conflicts).ok());
  EXPECT_EQ(conflicts.conflicts_size(), before.conflicts_size()) << "another order, a conflict";
}

TEST_F(ProvenanceTest, WithLocalWinsTheEditStaysAndTheConflictIsRecordedOnce) {
  RegisterWith("partner", v1::LOCAL_WINS);
  {
    grpc::ClientContext ctx;
    v1::GetSourceRequest req;
    req.set_name("sources/partner");
    v1::Source source;
    ASSERT_TRUE(stub_->GetSource(&ctx, req, &source).ok());
    EXPECT_EQ(source.conflict_policy(), v1::LOCAL_WINS);
  }
  ASSERT_EQ(Send("partner", Row("p-1", "+33320000001")), v1::CREATED);
  const v1::Venue stored = Find("partner", "p-1");
  v1::Venue values;
  values.set_telephone("+33320999999");
  v1::Venue edited;
  ASSERT_TRUE(Edit(stored, values, {"telephone"}, &edited).ok());

  // The venue as read does not change: UNCHANGED, but the conflict is recorded.
  EXPECT_EQ(Send("partner", Row("p-1", "+33320000002")), v1::UNCHANGED);
  v1::Venue after = Get(stored.name());
  EXPECT_EQ(after.telephone(), "+33320999999");
  EXPECT_THAT(LocalFields(after), ElementsAre("telephone"));
  v1::ListVenueConflictsResponse conflicts;
  ASSERT_TRUE(Conflicts(stored.name(), &conflicts).ok());
  ASSERT_EQ(conflicts.conflicts_size(), 1);
  EXPECT_EQ(conflicts.conflicts(0).policy(), v1::LOCAL_WINS);
  EXPECT_EQ(conflicts.conflicts(0).new_source_value(), "+33320000002");

  // The same row again is no new conflict: the source's value did not change since.
  EXPECT_EQ(Send("partner", Row("p-1", "+33320000002")), v1::UNCHANGED);
  ASSERT_TRUE(Conflicts(stored.name(), &conflicts).ok());
  EXPECT_EQ(conflicts.conflicts_size(), 1);

  // Restoring gives the field the source's latest value.
  v1::Venue restored;
  grpc::Status st = Restore(stored.name(), {"telephone"}, &restored);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(restored.telephone(), "+33320000002");
  EXPECT_TRUE(LocalFields(restored).empty());
  // The source catching up with an edit settles it without a conflict.
  v1::Venue again;
  ASSERT_TRUE(Edit(restored, values, {"telephone"}, &again).ok());
  EXPECT_EQ(Send("partner", Row("p-1", "+33320999999")), v1::UNCHANGED);
  after = Get(stored.name());
  EXPECT_TRUE(LocalFields(after).empty());
  ASSERT_TRUE(Conflicts(stored.name(), &conflicts).ok());
  EXPECT_EQ(conflicts.conflicts_size(), 1);
}

TEST_F(ProvenanceTest, RestoreGivesNamedFieldsBackToTheSource) {
  RegisterWith("region", v1::CONFLICT_POLICY_UNSPECIFIED);
  ASSERT_EQ(Send("region", Row("r-1", "+33320000001")), v1::CREATED);
  const v1::Venue stored = Find("region", "r-1");
  v1::Venue values;
  values.set_telephone("+33320999999");
  values.set_nom("Médiathèque (saisie locale)");
  v1::Venue edited;
  ASSERT_TRUE(Edit(stored, values, {"telephone", "nom"}, &edited).ok());
  EXPECT_THAT(LocalFields(edited), ElementsAre("nom", "telephone"));

  // A stale etag is refused.
  v1::Venue out;
  EXPECT_EQ(Restore(stored.name(), {"telephone"}, &out, stored.etag()).error_code(),
            grpc::StatusCode::ABORTED);
  grpc::Status st = Restore(stored.name(), {"telephone"}, &out, edited.etag());
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(out.telephone(), "+33320000001");
  EXPECT_EQ(out.nom(), "Médiathèque (saisie locale)");
  EXPECT_THAT(LocalFields(out), ElementsAre("nom"));
  EXPECT_NE(out.etag(), edited.etag());

  // A field that is the source's already, and a venue created here, are refused by reason.
  st = Restore(stored.name(), {"telephone"}, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(st), "FIELD_NOT_LOCAL");
  v1::Venue own;
  ASSERT_TRUE(Create(Valid("own-1"), &own).ok());
  st = Restore(own.name(), {"nom"}, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(st), "NO_SOURCE");
}

TEST_F(ProvenanceTest, BatchesNeverTouchLocalFields) {
  ASSERT_TRUE(CreateOrganisation("centre-social-epeule").ok());
  RegisterWith("region", v1::CONFLICT_POLICY_UNSPECIFIED);
  v1::Venue row = Row("r-1", "+33320000001");
  row.set_accepts_aptic_pass(true);
  row.add_referential_items("items/it-1");
  ASSERT_EQ(Send("region", row), v1::CREATED);
  const v1::Venue stored = Find("region", "r-1");
  EXPECT_TRUE(stored.accepts_aptic_pass()) << "a source sets local fields on the venues it creates";
  EXPECT_THAT(stored.referential_items(), ElementsAre("items/it-1"));

  v1::Venue values;
  values.add_referential_items("items/it-2");
  values.add_referential_items("items/it-3");
  values.set_owner_organisation("centre-social-epeule");
  v1::Venue edited;
  grpc::Status st = Edit(stored, values, {"referential_items", "owner_organisation"}, &edited);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(LocalFields(edited).empty()) << "local fields are not the source's to lose";

  // The source's next rows say otherwise on every local field, and change a standard one.
  row.set_nom("Médiathèque de l'Épeule");
  EXPECT_EQ(Send("region", row), v1::UPDATED);
  row.clear_referential_items();
  row.set_accepts_aptic_pass(false);
  row.set_nom("Médiathèque de l'Épeule (2)");
  EXPECT_EQ(Send("region", row), v1::UPDATED);
  const v1::Venue after = Get(stored.name());
  EXPECT_EQ(after.nom(), "Médiathèque de l'Épeule (2)");
  EXPECT_TRUE(after.accepts_aptic_pass());
  EXPECT_THAT(after.referential_items(), ElementsAre("items/it-2", "items/it-3"));
  EXPECT_EQ(after.owner_organisation(), "centre-social-epeule");
  // Nor does an import from the same source (the national CSV has no local field), here our own
  // export with another name.
  std::string csv = Export(v1::NATIONAL_CSV);
  const size_t at = csv.find("Médiathèque de l'Épeule (2)");
  ASSERT_NE(at, std::string::npos) << csv;
  csv.replace(at, std::string("Médiathèque de l'Épeule (2)").size(), "Médiathèque de l'Épeule (3)");
  v1::ImportVenuesResponse report;
  st = Import("region", csv, &report);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(report.updated(), 1) << report.DebugString();
  const v1::Venue imported = Get(stored.name());
  EXPECT_EQ(imported.nom(), "Médiathèque de l'Épeule (3)");
  EXPECT_TRUE(imported.accepts_aptic_pass());
  EXPECT_THAT(imported.referential_items(), ElementsAre("items/it-2", "items/it-3"));
  EXPECT_EQ(imported.owner_organisation(), "centre-social-epeule");
}

// A filter naming two sources would select nothing (its comparisons are joined by AND): refused
// with its rule; the conflicts of a venue that does not exist are NOT_FOUND, as GetVenue says.
// Members read the messages: in French, rules in brackets.
TEST_F(ProvenanceTest, ConflictsOfTwoSourcesOrOfAnUnknownVenueAreRefused) {
  RegisterWith("region", v1::CONFLICT_POLICY_UNSPECIFIED);
  ASSERT_EQ(Send("region", Row("r-1", "+33320000001")), v1::CREATED);
  const v1::Venue stored = Find("region", "r-1");
  v1::ListVenueConflictsResponse page;
  for (const std::string& parent : {std::string("venues/-"), stored.name()}) {
    for (const std::string& filter : {std::string("source = \"region\" AND source = \"other\""),
                                      std::string("source = \"region\" AND source = \"region\"")}) {
      grpc::Status st = Conflicts(parent, &page, filter);
      EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << filter;
      EXPECT_THAT(Violations(st).fields, ::testing::Contains("filter"));
      EXPECT_THAT(Violations(st).text, HasSubstr("[unique] position 23 : `source`"));  // the second
      EXPECT_EQ(st.error_message(), "demande invalide");
    }
  }
  ASSERT_TRUE(Conflicts(stored.name(), &page, "source = \"region\"").ok());
  const std::string unknown = "venues/00000000-0000-4000-8000-000000000000";
  grpc::Status st = Conflicts(unknown, &page);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  // So is a source that does not exist (tester 16, F5), here or across venues.
  for (const std::string& parent : {std::string("venues/-"), stored.name()}) {
    st = Conflicts(parent, &page, "source = \"inconnue\"");
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("sources/inconnue n'existe pas"));
  }
  v1::Venue ignored;
  {
    grpc::ClientContext ctx;
    v1::GetVenueRequest req;
    req.set_name(unknown);
    EXPECT_EQ(stub_->GetVenue(&ctx, req, &ignored).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // The messages of the new methods, in French.
  st = Conflicts("venues/-", &page, "", "", -1);
  EXPECT_EQ(st.error_message(), "demande invalide");
  EXPECT_THAT(Violations(st).text, HasSubstr("[range] une taille de page ne peut pas être négative "
                                             "(0 : la taille par défaut, 50), reçu -1"));
  st = Conflicts("venues/-", &page, "", "NQ");
  EXPECT_EQ(st.error_message(), "jeton de page invalide");
  st = Restore(stored.name(), {}, &ignored);
  EXPECT_EQ(st.error_message(), "fields invalide");
  st = Restore(stored.name(), {"telephone"}, &ignored, "W/\"9\"");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(st.error_message(), HasSubstr("etag périmé"));
  EXPECT_EQ(itest::Reason(st), "ETAG_MISMATCH");
  {
    grpc::ClientContext ctx;
    v1::ListSourcesRequest req;
    req.set_page_size(-1);
    v1::ListSourcesResponse sources;
    st = stub_->ListSources(&ctx, req, &sources);
    EXPECT_EQ(st.error_message(), "page_size invalide");
    EXPECT_THAT(Violations(st).text,
                HasSubstr("[range] une taille de page ne peut pas être négative"));
  }
}

TEST_F(ProvenanceTest, NewMethodsRefuseHostileInputPrecisely) {
  RegisterWith("region", v1::CONFLICT_POLICY_UNSPECIFIED);
  ASSERT_EQ(Send("region", Row("r-1", "+33320000001")), v1::CREATED);
  const v1::Venue stored = Find("region", "r-1");
  v1::Venue out;
  // Bad resource names, quoted and bounded.
  for (const std::string& name :
       {std::string(""), std::string("venues/-"), std::string("venues/x"),
        std::string("sources/region"), stored.name() + "/", "venues/" + std::string(100000, 'x'),
        std::string("venues/\0x", 9)}) {
    grpc::Status st = Restore(name, {"telephone"}, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name.substr(0, 40);
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("name")) << name.substr(0, 40);
    EXPECT_LT(st.error_details().size() + st.error_message().size(), 4000u);
  }
  // Field names: none, unknown, with a NUL, repeated, too many.
  struct Case {
    std::vector<std::string> fields;
    std::string field, rule;
  };
  std::vector<std::string> many(41, "nom");
  for (const Case& c :
       std::vector<Case>{{{}, "fields", "[required]"},
                         {{"couleur"}, "fields[0]", "[field]"},
                         {{"telephone", std::string("nom\0x", 5)}, "fields[1]", "[field]"},
                         {{"provenance"}, "fields[0]", "[field]"},
                         {{"nom", "nom"}, "fields[1]", "[unique]"},
                         {many, "fields", "[size]"},
                         {{std::string(100000, 'n')}, "fields[0]", "[field]"}}) {
    grpc::Status st = Restore(stored.name(), c.fields, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field << " " << c.rule;
    EXPECT_THAT(Violations(st).fields, ::testing::Contains(c.field)) << c.rule;
    EXPECT_THAT(Violations(st).text, HasSubstr(c.rule)) << c.field;
    EXPECT_LT(st.error_details().size() + st.error_message().size(), 4000u);
  }
  // A bad etag.
  EXPECT_EQ(Restore(stored.name(), {"nom"}, &out, "W/\"x").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Invalid UTF-8 in a field name.
  {
    v1::RestoreSourceFieldsRequest req;
    req.set_name(stored.name());
    req.add_fields("@@@@");
    std::string bytes = req.SerializeAsString();
    bytes.replace(bytes.find("@@@@"), 4, "\xFF\xFE\xFD\xFC");
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::GenericStub generic(
        grpc::CreateChannel(binary_.grpc_address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, "/passerelle.venues.v1.VenueService/RestoreSourceFields",
                      grpc::StubOptions(), &request, &response,
                      [&](grpc::Status st) { done.set_value(st); });
    grpc::Status st = done.get_future().get();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  }

  // ListVenueConflicts: parents, sizes, filters, tokens.
  v1::ListVenueConflictsResponse page;
  for (const std::string& parent :
       {std::string(""), std::string("venues/x"), std::string("venues/*"),
        std::string("venues/-/x"), "venues/" + std::string(100000, 'x')}) {
    grpc::Status st = Conflicts(parent, &page);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << parent.substr(0, 40);
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("parent")) << parent.substr(0, 40);
    EXPECT_LT(st.error_details().size() + st.error_message().size(), 4000u);
  }
  grpc::Status st = Conflicts("venues/-", &page, "", "", -1);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Violations(st).fields, ::testing::Contains("page_size"));
  // Each refusal points at the comparison it refuses, as ListVenues' and the grammar's do.
  for (const auto& [filter, says] : std::vector<std::pair<std::string, std::string>>{
           {"nom = \"x\"", "[filter] position 1 : seul"},
           {"source = \"region\" AND source != \"region\"", "[filter] position 23 : seul"},
           {"source = \"-x\"", "position 1 : "},
           {std::string("source = \"a\0b\"", 14), "à l'octet 11"},
           {"source = (", "position 10 : "}}) {
    st = Conflicts("venues/-", &page, filter);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << filter;
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("filter")) << filter;
    EXPECT_THAT(Violations(st).text, HasSubstr(says)) << filter;
  }
  // Tokens: sealed, bound to the request.
  for (int i = 2; i <= 4; ++i) {
    v1::Venue e;
    v1::Venue values;
    values.set_telephone("+3332099999" + std::to_string(i));
    ASSERT_TRUE(Edit(Get(stored.name()), values, {"telephone"}, &e).ok());
    ASSERT_EQ(Send("region", Row("r-1", "+3332000000" + std::to_string(i))), v1::UPDATED);
  }
  ASSERT_TRUE(Conflicts("venues/-", &page, "", "", 2).ok());
  ASSERT_EQ(page.conflicts_size(), 2);
  const std::string token = page.next_page_token();
  ASSERT_FALSE(token.empty());
  v1::ListVenueConflictsResponse rest;
  ASSERT_TRUE(Conflicts("venues/-", &rest, "", token, 2).ok());
  ASSERT_EQ(rest.conflicts_size(), 1);
  EXPECT_EQ(rest.next_page_token(), "");
  EXPECT_LT(rest.conflicts(0).name(), page.conflicts(1).name()) << "newest first";
  for (const std::string& bad :
       {std::string("garbage"), std::string("NQ"), token.substr(0, token.size() - 3)}) {
    st = Conflicts("venues/-", &rest, "", bad, 2);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("page_token"));
  }
  st = Conflicts(stored.name(), &rest, "", token, 2);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "a token of another parent";

  // A source's policy outside the enum.
  {
    grpc::ClientContext ctx;
    v1::CreateSourceRequest req;
    req.set_source_id("odd");
    req.mutable_source()->set_conflict_policy(static_cast<v1::ConflictPolicy>(7));
    v1::Source source;
    st = stub_->CreateSource(&ctx, req, &source);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(Violations(st).fields, ::testing::Contains("source.conflict_policy"));
    EXPECT_THAT(Violations(st).text, HasSubstr("[enum]"));
  }
}

}  // namespace
}  // namespace passerelle::venues
