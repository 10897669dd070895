// Owner checks of the passerelle-venues binary through gRPC, as the gateway calls it for an
// `organisation:write` key: the `x-passerelle-organisation` metadata names the key's
// organisation, which may create venues it owns and update or withdraw only those; batch
// writes are refused; calls without the metadata (internal, sync, admin) are unchanged.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/testing/testing.hpp"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/itest_support.hpp"

namespace passerelle::venues {
namespace {

using itest::Reason;
using itest::Valid;
using ::testing::HasSubstr;

constexpr char kHeader[] = "x-passerelle-organisation";

class OwnersTest : public itest::VenuesServiceTest {
 protected:
  void SetUp() override {
    VenuesServiceTest::SetUp();
    ASSERT_TRUE(CreateOrganisation("epeule").ok());
    ASSERT_TRUE(CreateOrganisation("mediatheque").ok());
  }
  // A context as the gateway sends it for `organisation`'s key (none: an internal caller).
  static void Acting(grpc::ClientContext* ctx, const std::vector<std::string>& organisations) {
    for (const auto& o : organisations) ctx->AddMetadata(kHeader, o);
  }
  grpc::Status CreateAs(const std::vector<std::string>& acting, const v1::Venue& v, v1::Venue* out,
                        const std::string& request_id = "") {
    grpc::ClientContext ctx;
    Acting(&ctx, acting);
    v1::CreateVenueRequest req;
    *req.mutable_venue() = v;
    req.set_request_id(request_id);
    return stub_->CreateVenue(&ctx, req, out);
  }
  grpc::Status UpdateAs(const std::vector<std::string>& acting, const v1::Venue& v,
                        const std::vector<std::string>& mask, v1::Venue* out,
                        const std::string& request_id = "") {
    grpc::ClientContext ctx;
    Acting(&ctx, acting);
    v1::UpdateVenueRequest req;
    *req.mutable_venue() = v;
    for (const auto& p : mask) req.mutable_update_mask()->add_paths(p);
    req.set_request_id(request_id);
    return stub_->UpdateVenue(&ctx, req, out);
  }
  grpc::Status WithdrawAs(const std::vector<std::string>& acting, const std::string& name,
                          v1::Venue* out) {
    grpc::ClientContext ctx;
    Acting(&ctx, acting);
    v1::WithdrawVenueRequest req;
    req.set_name(name);
    req.set_reason("Fermé définitivement");
    return stub_->WithdrawVenue(&ctx, req, out);
  }
  v1::Venue Get(const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetVenueRequest req;
    req.set_name(name);
    v1::Venue out;
    EXPECT_TRUE(stub_->GetVenue(&ctx, req, &out).ok());
    return out;
  }
  static void ExpectNotOwner(const grpc::Status& st) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
    EXPECT_EQ(Reason(st), "NOT_OWNER");
  }
};

TEST_F(OwnersTest, AnOrganisationCreatesOnlyVenuesItOwns) {
  v1::Venue created;
  ASSERT_TRUE(CreateAs({"epeule"}, Valid("sans-proprietaire"), &created).ok());
  EXPECT_EQ(created.owner_organisation(), "epeule") << "an empty owner becomes the caller's";
  v1::Venue named = Valid("deja-nomme");
  named.set_owner_organisation("epeule");
  ASSERT_TRUE(CreateAs({"epeule"}, named, &created).ok());
  EXPECT_EQ(created.owner_organisation(), "epeule");

  v1::Venue other = Valid("a-une-autre");
  other.set_owner_organisation("mediatheque");
  v1::Venue out;
  ExpectNotOwner(CreateAs({"epeule"}, other, &out));
  // The metadata must be one organisation id; an id nobody created is no owner either.
  ExpectNotOwner(CreateAs({"Epeule Centre"}, Valid("x1"), &out));
  ExpectNotOwner(CreateAs({""}, Valid("x2"), &out));
  ExpectNotOwner(CreateAs({"epeule", "mediatheque"}, Valid("x3"), &out));
  grpc::Status unknown = CreateAs({"inconnue"}, Valid("x4"), &out);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(itest::Violations(unknown).text, HasSubstr("venue.owner_organisation: [exists]"));

  // Without the metadata, an internal caller creates any venue, owned or not.
  ASSERT_TRUE(CreateAs({}, other, &created).ok());
  EXPECT_EQ(created.owner_organisation(), "mediatheque");
  v1::ListVenuesResponse listed;
  ASSERT_TRUE(List("", &listed).ok());
  EXPECT_EQ(listed.venues_size(), 3) << "no refused create wrote anything";
}

TEST_F(OwnersTest, UpdatesAndWithdrawalsNeedTheStoredOwner) {
  v1::Venue mine, theirs, unowned;
  ASSERT_TRUE(CreateAs({"epeule"}, Valid("mine"), &mine).ok());
  ASSERT_TRUE(CreateAs({"mediatheque"}, Valid("theirs"), &theirs).ok());
  ASSERT_TRUE(CreateAs({}, Valid("unowned"), &unowned).ok());

  v1::Venue change;
  change.set_telephone("03 20 66 45 00");
  v1::Venue out;
  for (const v1::Venue* target : {&theirs, &unowned}) {
    change.set_name(target->name());
    change.set_etag(target->etag());
    ExpectNotOwner(UpdateAs({"epeule"}, change, {"telephone"}, &out));
    ExpectNotOwner(WithdrawAs({"epeule"}, target->name(), &out));
    EXPECT_EQ(Get(target->name()).etag(), target->etag()) << "nothing written";
  }
  change.set_name(mine.name());
  change.set_etag(mine.etag());
  ASSERT_TRUE(UpdateAs({"epeule"}, change, {"telephone"}, &out).ok());
  EXPECT_EQ(out.telephone(), "+33320664500");

  // The owner stays the organisation's: not in a mask, not by a full replacement.
  change.set_etag(out.etag());
  change.set_owner_organisation("mediatheque");
  ExpectNotOwner(UpdateAs({"epeule"}, change, {"owner_organisation"}, &out));
  ExpectNotOwner(UpdateAs({"epeule"}, change, {"telephone", "owner_organisation"}, &out));
  v1::Venue replacement = Valid("mine", "Médiathèque renommée");
  replacement.set_name(mine.name());
  replacement.set_owner_organisation("mediatheque");
  ExpectNotOwner(UpdateAs({"epeule"}, replacement, {}, &out));
  replacement.clear_owner_organisation();
  ASSERT_TRUE(UpdateAs({"epeule"}, replacement, {}, &out).ok());
  EXPECT_EQ(out.nom(), "Médiathèque renommée");
  EXPECT_EQ(out.owner_organisation(), "epeule") << "a replacement keeps the caller's ownership";

  // A request id is bound to the organisation that sent it: another one's copy is no retry.
  change.clear_owner_organisation();
  change.set_etag("");
  change.set_telephone("03 20 00 00 00");
  ASSERT_TRUE(UpdateAs({"epeule"}, change, {"telephone"}, &out, "req-owner-1").ok());
  grpc::Status reused = UpdateAs({"mediatheque"}, change, {"telephone"}, &out, "req-owner-1");
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(reused), "REQUEST_ID_REUSED");

  // Without the metadata nothing changes: an internal caller updates and withdraws any venue.
  change.set_name(theirs.name());
  ASSERT_TRUE(UpdateAs({}, change, {"telephone"}, &out).ok());
  ASSERT_TRUE(WithdrawAs({"epeule"}, mine.name(), &out).ok());
  EXPECT_EQ(out.state(), v1::WITHDRAWN);
  ExpectNotOwner(WithdrawAs({"mediatheque"}, mine.name(), &out));
}

// The owner check and the write are one: once another caller has moved the venue to another
// organisation, no write of the former owner lands, however the two race.
TEST_F(OwnersTest, TheOwnerIsCheckedInTheWritesTransaction) {
  v1::Venue venue;
  ASSERT_TRUE(CreateAs({"epeule"}, Valid("contested"), &venue).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> landed{0}, refused{0}, other{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        v1::Venue change;
        change.set_name(venue.name());
        change.set_presentation_resume(absl::StrCat("Écrit par l'Épeule ", t, "-", i));
        v1::Venue out;
        grpc::Status st = UpdateAs({"epeule"}, change, {"presentation_resume"}, &out);
        if (st.ok()) {
          ++landed;
        } else if (st.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  ASSERT_TRUE(testing::WaitFor([&] { return landed >= 20; }, std::chrono::seconds(30)));
  v1::Venue move;
  move.set_name(venue.name());
  move.set_owner_organisation("mediatheque");
  v1::Venue moved;
  ASSERT_TRUE(UpdateAs({}, move, {"owner_organisation"}, &moved).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return refused >= 20; }, std::chrono::seconds(30)));
  stop = true;
  for (auto& w : writers) w.join();
  EXPECT_EQ(other, 0);
  const v1::Venue now = Get(venue.name());
  EXPECT_EQ(now.owner_organisation(), "mediatheque");
  EXPECT_EQ(now.etag(), moved.etag()) << "a write of the former owner landed after the move";
}

TEST_F(OwnersTest, BatchWritesRefuseOrganisationKeys) {
  Register("partenaire");
  {
    grpc::ClientContext ctx;
    Acting(&ctx, {"epeule"});
    v1::BatchUpsertVenuesRequest req;
    req.set_source("partenaire");
    v1::Venue owned = Valid("b1");
    owned.set_owner_organisation("epeule");
    *req.add_venues() = owned;
    v1::BatchUpsertVenuesResponse resp;
    grpc::Status st = stub_->BatchUpsertVenues(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(Reason(st), "BATCH_WRITE_NOT_ALLOWED");
  }
  {
    grpc::ClientContext ctx;
    Acting(&ctx, {"epeule"});
    v1::ImportVenuesResponse resp;
    auto writer = stub_->ImportVenues(&ctx, &resp);
    v1::ImportVenuesChunk chunk;
    chunk.set_source("partenaire");
    chunk.set_data(
        "id,pivot,nom,commune,code_postal,adresse,date_maj\n"
        "imp-1,21590512800017,A,Roubaix,59100,1 rue,2024-01-01\n");
    writer->Write(chunk);
    writer->WritesDone();
    grpc::Status st = writer->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(Reason(st), "BATCH_WRITE_NOT_ALLOWED");
  }
  v1::ListVenuesResponse listed;
  ASSERT_TRUE(List("", &listed).ok());
  EXPECT_EQ(listed.venues_size(), 0);
  // The same batch without the metadata (a partner key, the sync) lands.
  v1::BatchUpsertVenuesResponse resp;
  ASSERT_TRUE(Batch("partenaire", {Valid("b1")}, &resp).ok());
  EXPECT_EQ(resp.results(0).outcome(), v1::CREATED);
}

// A request id is its caller's own (the gateway's key id, `x-passerelle-key-id`): another key's
// same id neither is refused as reused, nor answers the first key's venue; each key's retries
// still answer its own first result, and internal callers (no key) keep their own id space.
TEST_F(OwnersTest, RequestIdsAreEachCallersOwn) {
  auto create = [&](const std::string& key, const v1::Venue& v, v1::Venue* out) {
    grpc::ClientContext ctx;
    if (!key.empty()) {
      ctx.AddMetadata("x-passerelle-key-id", key);
      ctx.AddMetadata("x-passerelle-scopes", "admin");
    }
    v1::CreateVenueRequest req;
    *req.mutable_venue() = v;
    req.set_request_id("shared-1");
    return stub_->CreateVenue(&ctx, req, out);
  };
  v1::Venue first, second, internal, again;
  ASSERT_TRUE(create("keyaaaaaaaaa", Valid("first"), &first).ok());
  // Another key, another request under the same id: created, not REQUEST_ID_REUSED.
  grpc::Status st = create("keybbbbbbbbb", Valid("second"), &second);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_NE(second.name(), first.name());
  // Another key sending the first key's very request is not answered the first key's venue:
  // its own create of that venue, which exists.
  v1::Venue leaked;
  st = create("keycccccccccc", Valid("first"), &leaked);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS) << st.error_message();
  EXPECT_EQ(leaked.name(), "");
  // The internal callers' ids are theirs too.
  st = create("", Valid("internal"), &internal);
  ASSERT_TRUE(st.ok()) << st.error_message();
  // Each caller's retry answers its own first result.
  ASSERT_TRUE(create("keyaaaaaaaaa", Valid("first"), &again).ok());
  EXPECT_EQ(again.name(), first.name());
  ASSERT_TRUE(create("keybbbbbbbbb", Valid("second"), &again).ok());
  EXPECT_EQ(again.name(), second.name());
  ASSERT_TRUE(create("", Valid("internal"), &again).ok());
  EXPECT_EQ(again.name(), internal.name());
  // Reuse with other content stays a mistake within one caller.
  st = create("keyaaaaaaaaa", Valid("other"), &again);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Reason(st), "REQUEST_ID_REUSED");
  v1::ListVenuesResponse listed;
  ASSERT_TRUE(List("", &listed).ok());
  EXPECT_EQ(listed.venues_size(), 3);
}

// Owners are set by administrators and by each organisation for itself: a partner key's batch
// names none. A row that does is rejected, naming the field; the rest of the batch lands, and
// a row naming no owner keeps the stored one.
TEST_F(OwnersTest, APartnersBatchNamesNoOwner) {
  Register("partenaire");
  auto batch = [&](const std::string& scopes, const std::vector<v1::Venue>& rows,
                   v1::BatchUpsertVenuesResponse* resp) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-passerelle-key-id", scopes == "admin" ? "adminkey2345" : "partnerkey23");
    ctx.AddMetadata("x-passerelle-scopes", scopes);
    v1::BatchUpsertVenuesRequest req;
    req.set_source("partenaire");
    for (const auto& r : rows) *req.add_venues() = r;
    return stub_->BatchUpsertVenues(&ctx, req, resp);
  };
  v1::Venue owned = Valid("p1");
  owned.set_owner_organisation("epeule");
  v1::BatchUpsertVenuesResponse resp;
  ASSERT_TRUE(batch("admin", {owned}, &resp).ok()) << "an administrator sets owners";
  ASSERT_EQ(resp.results(0).outcome(), v1::CREATED);
  const std::string name = resp.results(0).name();

  v1::Venue taken = Valid("p1");
  taken.set_owner_organisation("mediatheque");
  v1::Venue same_owner = Valid("p1");
  same_owner.set_owner_organisation("epeule");
  v1::Venue kept = Valid("p1");
  kept.set_telephone("03 20 66 45 00");
  v1::Venue fresh = Valid("p2");
  fresh.set_owner_organisation("mediatheque");
  resp.Clear();
  ASSERT_TRUE(batch("partner", {taken, same_owner, Valid("p3")}, &resp).ok());
  for (int i : {0, 1}) {
    EXPECT_EQ(resp.results(i).outcome(), v1::REJECTED) << i;
    ASSERT_EQ(resp.results(i).violations_size(), 1) << i;
    EXPECT_EQ(resp.results(i).violations(0).field(), "owner_organisation");
    EXPECT_EQ(resp.results(i).violations(0).rule(), "permission");
  }
  EXPECT_EQ(resp.results(2).outcome(), v1::CREATED) << "the rest of the batch lands";
  EXPECT_EQ(Get(name).owner_organisation(), "epeule");

  resp.Clear();
  ASSERT_TRUE(batch("partner", {kept, fresh}, &resp).ok());
  EXPECT_EQ(resp.results(0).outcome(), v1::UPDATED);
  EXPECT_EQ(resp.results(1).outcome(), v1::REJECTED) << "nor on a new venue";
  const v1::Venue now = Get(name);
  EXPECT_EQ(now.telephone(), "+33320664500");
  EXPECT_EQ(now.owner_organisation(), "epeule") << "a row naming no owner keeps the stored one";
  v1::ListVenuesResponse listed;
  ASSERT_TRUE(List("", &listed).ok());
  EXPECT_EQ(listed.venues_size(), 2);
}

}  // namespace
}  // namespace passerelle::venues
