// The referential's API against hostile and mistaken requests, through the real binary: field
// paths of violations, bounds of every field, unknown enum values, capped page sizes, sealed
// page tokens, NUL bytes and invalid UTF-8; what happens to open proposals when a version is
// published; and a second replica that sees a version the first one published.
#include <grpcpp/grpcpp.h>

#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "libs/testing/testing.hpp"
#include "passerelle/referential/v1/referential.grpc.pb.h"

namespace passerelle::referential {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Le;

constexpr char kParent[] = "nomenclatures/roubaix-aptic";
constexpr char kSeedVersion[] = "nomenclatures/roubaix-aptic/versions/2023-02-03";

std::map<std::string, std::string> SeedEnv() {
  return {{"PASSERELLE_SEED_DIR", testing::SourceDir() + "/services/referential/seed"},
          {"PASSERELLE_REFERENTIAL_RELOAD_EVERY", "200ms"}};
}

std::unique_ptr<v1::ReferentialService::Stub> StubAt(const std::string& address) {
  return v1::ReferentialService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

// The fields named by the google.rpc.BadRequest of a status (empty when none).
std::set<std::string> Fields(const grpc::Status& st) {
  std::set<std::string> out;
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(st.error_details())) return out;
  for (const auto& any : rpc.details()) {
    google::rpc::BadRequest br;
    if (!any.UnpackTo(&br)) continue;
    for (const auto& f : br.field_violations()) out.insert(f.field());
  }
  return out;
}

// An INVALID_ARGUMENT naming `field`, whose message and details quote only a short prefix.
void ExpectRefused(const grpc::Status& st, const std::string& field) {
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(Fields(st), Contains(field)) << st.error_message();
  EXPECT_THAT(st.error_message().size(), Le(1000u));
  EXPECT_THAT(st.error_details().size(), Le(2000u));
}

// One binary for every request below: they are refused or only read, so they share it.
class ReferentialApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    binary_ = new testing::ServiceBinary("services/referential/passerelle-referential", SeedEnv());
    process_ = binary_->Start().release();
  }
  static void TearDownTestSuite() {
    delete process_;
    delete binary_;
  }
  void SetUp() override { stub_ = StubAt(binary_->grpc_address()); }

  v1::Proposal Proposal(int number) {
    grpc::ClientContext ctx;
    v1::GetProposalRequest req;
    req.set_name(std::string(kParent) + "/proposals/" + std::to_string(number));
    v1::Proposal out;
    EXPECT_TRUE(stub_->GetProposal(&ctx, req, &out).ok());
    return out;
  }
  grpc::Status Comment(const std::string& author, const std::string& text, int number = 2) {
    grpc::ClientContext ctx;
    v1::CommentProposalRequest req;
    req.set_name(std::string(kParent) + "/proposals/" + std::to_string(number));
    req.set_author(author);
    req.set_text(text);
    v1::Proposal out;
    return stub_->CommentProposal(&ctx, req, &out);
  }
  grpc::Status Amend(const v1::AmendProposalRequest& req) {
    grpc::ClientContext ctx;
    v1::Proposal out;
    return stub_->AmendProposal(&ctx, req, &out);
  }
  v1::AmendProposalRequest AmendOne(const v1::Operation& op) {
    v1::AmendProposalRequest req;
    req.set_name(std::string(kParent) + "/proposals/3");
    *req.add_operations() = op;
    return req;
  }
  grpc::Status Decide(bool accept, const std::string& name, const std::string& reason,
                      const std::string& etag = "") {
    grpc::ClientContext ctx;
    v1::DecideProposalRequest req;
    req.set_name(name);
    req.set_reason(reason);
    req.set_etag(etag);
    v1::Proposal out;
    return accept ? stub_->AcceptProposal(&ctx, req, &out) : stub_->RejectProposal(&ctx, req, &out);
  }
  grpc::Status ListProposals(const v1::ListProposalsRequest& req, v1::ListProposalsResponse* resp) {
    grpc::ClientContext ctx;
    return stub_->ListProposals(&ctx, req, resp);
  }
  grpc::Status ListNomenclatures(int page_size, const std::string& token,
                                 v1::ListNomenclaturesResponse* resp) {
    grpc::ClientContext ctx;
    v1::ListNomenclaturesRequest req;
    req.set_page_size(page_size);
    req.set_page_token(token);
    return stub_->ListNomenclatures(&ctx, req, resp);
  }
  grpc::Status Search(const v1::SearchItemsRequest& req, v1::SearchItemsResponse* resp) {
    grpc::ClientContext ctx;
    return stub_->SearchItems(&ctx, req, resp);
  }
  grpc::Status Export(const std::string& name, int format, std::string* doc) {
    grpc::ClientContext ctx;
    v1::ExportVersionRequest req;
    req.set_name(name);
    req.set_format(static_cast<v1::ExportFormat>(format));
    auto reader = stub_->ExportVersion(&ctx, req);
    v1::ExportChunk chunk;
    while (reader->Read(&chunk)) *doc += chunk.data();
    return reader->Finish();
  }
  grpc::Status Diff(const std::string& from, const std::string& to, v1::VersionDiff* out) {
    grpc::ClientContext ctx;
    v1::DiffVersionsRequest req;
    req.set_from_version(from);
    req.set_to_version(to);
    return stub_->DiffVersions(&ctx, req, out);
  }
  grpc::Status Publish(const std::string& parent, const std::string& version_id) {
    grpc::ClientContext ctx;
    v1::PublishVersionRequest req;
    req.set_parent(parent);
    req.set_version_id(version_id);
    v1::PublishVersionResponse out;
    return stub_->PublishVersion(&ctx, req, &out);
  }

  static testing::ServiceBinary* binary_;
  static testing::Process* process_;
  std::unique_ptr<v1::ReferentialService::Stub> stub_;
};
testing::ServiceBinary* ReferentialApiTest::binary_ = nullptr;
testing::Process* ReferentialApiTest::process_ = nullptr;

// Finding 15: the version of GetItem and SearchItems was reported as `name`.
TEST_F(ReferentialApiTest, VersionErrorsNameTheVersionField) {
  {
    grpc::ClientContext ctx;
    v1::GetItemRequest req;
    req.set_name("items/it-77");
    req.set_version("versions/2023-02-03");
    v1::Item out;
    grpc::Status st = stub_->GetItem(&ctx, req, &out);
    ExpectRefused(st, "version");
    EXPECT_EQ(Fields(st).count("name"), 0u);
  }
  {
    v1::SearchItemsRequest req;
    req.set_query("whatsapp");
    req.set_version("nomenclatures/roubaix-aptic");
    v1::SearchItemsResponse out;
    grpc::Status st = Search(req, &out);
    ExpectRefused(st, "version");
    EXPECT_EQ(Fields(st).count("name"), 0u);
  }
  {  // An item name that is not one, and an item a version does not hold.
    grpc::ClientContext ctx;
    v1::GetItemRequest req;
    req.set_name("it-77");
    v1::Item out;
    ExpectRefused(stub_->GetItem(&ctx, req, &out), "name");
    grpc::ClientContext ctx2;
    req.set_name("items/it-9999");
    EXPECT_EQ(stub_->GetItem(&ctx2, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

// Finding 15: an amendment with an unknown kind was reported as `operations[0].op`.
TEST_F(ReferentialApiTest, UnknownOperationKindNamesTheKindField) {
  v1::Operation op;
  op.set_kind(static_cast<v1::OperationKind>(99));
  op.set_target("item:18");
  grpc::Status st = Amend(AmendOne(op));
  ExpectRefused(st, "operations[0].kind");
  EXPECT_EQ(Fields(st).count("operations[0].op"), 0u);
  op.set_kind(v1::OPERATION_KIND_UNSPECIFIED);
  ExpectRefused(Amend(AmendOne(op)), "operations[0].kind");
  op.set_kind(v1::MOVE_LEVEL);  // a required field left out, and a negative position
  op.set_position(-3);
  ExpectRefused(Amend(AmendOne(op)), "operations[0].position");
}

// Finding 15: unknown enum values were silently defaulted (format 99 exported JSON).
TEST_F(ReferentialApiTest, UnknownEnumValuesAreRefused) {
  std::string doc;
  grpc::Status st = Export(kSeedVersion, 99, &doc);
  ExpectRefused(st, "format");
  EXPECT_TRUE(doc.empty());
  v1::SearchItemsRequest req;
  req.set_query("whatsapp");
  req.set_audience(static_cast<v1::Audience>(7));
  v1::SearchItemsResponse out;
  ExpectRefused(Search(req, &out), "audience");
  // Defined values still work, including the unspecified one.
  doc.clear();
  ASSERT_TRUE(Export(kSeedVersion, v1::EXPORT_FORMAT_UNSPECIFIED, &doc).ok());
  EXPECT_EQ(doc.front(), '{');
}

// Finding 15: page_size above the maximum was refused instead of capped (AIP-158).
TEST_F(ReferentialApiTest, PageSizeAboveTheMaximumIsCapped) {
  v1::SearchItemsRequest search;
  search.set_query("numerique");
  search.set_page_size(100000);
  v1::SearchItemsResponse found;
  grpc::Status st = Search(search, &found);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_GT(found.results_size(), 10);
  EXPECT_LE(found.results_size(), 100);

  v1::ListProposalsRequest list;
  list.set_parent(kParent);
  list.set_page_size(1 << 30);
  v1::ListProposalsResponse proposals;
  ASSERT_TRUE(ListProposals(list, &proposals).ok());
  EXPECT_EQ(proposals.proposals_size(), 43);
  EXPECT_TRUE(proposals.next_page_token().empty());

  v1::ListNomenclaturesResponse nomenclatures;
  ASSERT_TRUE(ListNomenclatures(1 << 30, "", &nomenclatures).ok());
  ASSERT_EQ(nomenclatures.nomenclatures_size(), 1);
  EXPECT_EQ(nomenclatures.nomenclatures(0).name(), kParent);
  EXPECT_EQ(nomenclatures.nomenclatures(0).current_version(), kSeedVersion);

  // Negative sizes stay errors, on every list.
  search.set_page_size(-1);
  ExpectRefused(Search(search, &found), "page_size");
  list.set_page_size(-1);
  ExpectRefused(ListProposals(list, &proposals), "page_size");
  ExpectRefused(ListNomenclatures(-1, "", &nomenclatures), "page_size");
}

// Finding 15: ListProposals on a nomenclature that does not exist answered OK.
TEST_F(ReferentialApiTest, ProposalsOfAMissingNomenclatureAreNotFound) {
  v1::ListProposalsRequest req;
  req.set_parent("nomenclatures/nope");
  v1::ListProposalsResponse resp;
  EXPECT_EQ(ListProposals(req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  req.set_parent("nomenclatures");
  ExpectRefused(ListProposals(req, &resp), "parent");
  grpc::ClientContext ctx;
  v1::GetProposalRequest get;
  get.set_name("nomenclatures/roubaix-aptic/proposals/999");
  v1::Proposal out;
  EXPECT_EQ(stub_->GetProposal(&ctx, get, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext ctx2;
  get.set_name("nomenclatures/roubaix-aptic/proposals/-1");
  ExpectRefused(stub_->GetProposal(&ctx2, get, &out), "name");
}

// A proposal has one name: `proposals/01` and `proposals/+1` are not `proposals/1`.
TEST_F(ReferentialApiTest, ProposalNumbersHaveOneSpelling) {
  for (const std::string number : {"01", "+1", "1.0", "0x1"}) {
    grpc::ClientContext ctx;
    v1::GetProposalRequest get;
    get.set_name(std::string(kParent) + "/proposals/" + number);
    v1::Proposal out;
    ExpectRefused(stub_->GetProposal(&ctx, get, &out), "name");
    ExpectRefused(Decide(true, get.name(), "oui"), "name");
  }
  EXPECT_EQ(Proposal(1).name(), std::string(kParent) + "/proposals/1");
}

// Finding 11: page tokens were readable base64 of a number or a name; "garbage" was accepted.
TEST_F(ReferentialApiTest, PageTokensAreSealedAndBoundToTheirList) {
  v1::ListNomenclaturesResponse nomenclatures;
  ExpectRefused(ListNomenclatures(0, "garbage", &nomenclatures), "page_token");
  ExpectRefused(ListNomenclatures(0, absl::WebSafeBase64Escape("nomenclatures/a"), &nomenclatures),
                "page_token");

  v1::ListProposalsRequest req;
  req.set_parent(kParent);
  req.set_page_token(absl::WebSafeBase64Escape("5"));  // "NQ": what the old tokens were
  v1::ListProposalsResponse resp;
  ExpectRefused(ListProposals(req, &resp), "page_token");

  // A real token: opaque, works for its own request, refused with another filter or list.
  req.set_page_token("");
  req.set_page_size(10);
  ASSERT_TRUE(ListProposals(req, &resp).ok());
  const std::string token = resp.next_page_token();
  ASSERT_FALSE(token.empty());
  std::string decoded;
  if (absl::WebSafeBase64Unescape(token, &decoded)) {
    EXPECT_THAT(decoded, ::testing::Not(HasSubstr("10")));
  }
  req.set_page_token(token);
  v1::ListProposalsResponse second;
  ASSERT_TRUE(ListProposals(req, &second).ok());
  ASSERT_EQ(second.proposals_size(), 10);
  EXPECT_EQ(second.proposals(0).name(), std::string(kParent) + "/proposals/11");
  req.set_filter("state = OPEN");
  ExpectRefused(ListProposals(req, &resp), "page_token");
  ExpectRefused(ListNomenclatures(0, token, &nomenclatures), "page_token");
  req.set_filter("");
  req.set_page_token(token.substr(0, token.size() - 2));
  ExpectRefused(ListProposals(req, &resp), "page_token");
  req.set_page_token(std::string(100000, 'A'));
  ExpectRefused(ListProposals(req, &resp), "page_token");
}

TEST_F(ReferentialApiTest, FiltersOutsideTheSubsetAreRefusedWithThePosition) {
  v1::ListProposalsRequest req;
  req.set_parent(kParent);
  v1::ListProposalsResponse resp;
  req.set_filter("state = OPEN");
  ASSERT_TRUE(ListProposals(req, &resp).ok());
  EXPECT_EQ(resp.proposals_size(), 43);
  for (const auto& [bad, says] : std::vector<std::pair<std::string, std::string>>{
           {"state = OPEN OR state = APPLIED", "[filter] position 14 : OR"},
           {"state = SOON", "[enum] position 1 : état « SOON » inconnu"},
           {"state = OPEN AND kind = add", "[field] position 18 : champ « kind » inconnu"},
           {"state != OPEN", "[filter] position 1 : state ne prend que ="},
           {"state =", "[filter] position 8 : valeur manquante"},
           {"state = OPEN AND state = CLOSED", "[unique] position 18 : state se nomme une fois"}}) {
    req.set_filter(bad);
    grpc::Status st = ListProposals(req, &resp);
    ExpectRefused(st, "filter");
    EXPECT_THAT(st.error_details(), HasSubstr(says)) << bad;
  }
  req.set_filter(std::string(100000, 's'));
  ExpectRefused(ListProposals(req, &resp), "filter");
}

// Finding 20: no field had a bound; errors echoed the whole input.
TEST_F(ReferentialApiTest, EveryFieldIsBoundedAndErrorsQuoteAShortPrefix) {
  const std::string huge(100 * 1024, 'x');
  ExpectRefused(Comment(huge, "Bonjour"), "author");
  ExpectRefused(Comment("Table ronde 1", std::string(3 * 1024 * 1024, 'y')), "text");
  ExpectRefused(Decide(false, std::string(kParent) + "/proposals/2", huge), "reason");
  ExpectRefused(Decide(false, std::string(kParent) + "/proposals/2", "non", huge), "etag");
  ExpectRefused(Decide(false, huge, "non"), "name");
  ExpectRefused(Publish(kParent, huge), "version_id");
  ExpectRefused(Publish(huge, "2030-01-01"), "parent");
  {
    grpc::ClientContext ctx;
    v1::GetVersionRequest req;
    req.set_name("nomenclatures/roubaix-aptic/versions/" + huge);
    v1::Version out;
    ExpectRefused(stub_->GetVersion(&ctx, req, &out), "name");
  }
  {
    v1::SearchItemsRequest req;
    req.set_query(huge);
    v1::SearchItemsResponse out;
    ExpectRefused(Search(req, &out), "query");
  }
  {  // 5,000 operations in one amendment.
    v1::AmendProposalRequest req;
    req.set_name(std::string(kParent) + "/proposals/3");
    for (int i = 0; i < 5000; ++i) {
      auto* op = req.add_operations();
      op->set_kind(v1::ADD_KEYWORDS);
      op->set_target("all");
      op->add_keywords("mot");
    }
    ExpectRefused(Amend(req), "operations");
  }
  v1::Operation op;
  op.set_kind(v1::ADD_ITEM);
  op.set_category("2.2");
  op.set_label(huge);
  ExpectRefused(Amend(AmendOne(op)), "operations[0].label");
  op.set_label("Un libellé");
  op.set_category(huge);
  ExpectRefused(Amend(AmendOne(op)), "operations[0].category");
  op.set_category("2.2");
  for (int i = 0; i < 60; ++i) op.add_keywords("mot");
  ExpectRefused(Amend(AmendOne(op)), "operations[0].keywords");
  op.clear_keywords();
  op.add_keywords(huge);
  ExpectRefused(Amend(AmendOne(op)), "operations[0].keywords[0]");
  // Nothing of it was stored.
  EXPECT_EQ(Proposal(2).comments_size(), 0);
  EXPECT_EQ(Proposal(3).operations(0).label(), "Démarches de justice en ligne");
}

// Findings 5/6: a NUL byte gave INTERNAL from PostgreSQL; invalid UTF-8 too.
TEST_F(ReferentialApiTest, NulBytesAndInvalidUtf8NameTheField) {
  const std::string nul("Bon\0jour", 8);
  const std::string invalid = "Bon\xFF\xFEjour";
  const std::string cut = "caf\xC3";
  ExpectRefused(Comment("Table ronde 1", nul), "text");
  ExpectRefused(Comment(nul, "Bonjour"), "author");
  ExpectRefused(Comment("Table ronde 1", invalid), "text");
  ExpectRefused(Comment(cut, "Bonjour"), "author");
  ExpectRefused(Decide(false, std::string(kParent) + "/proposals/2", nul), "reason");
  ExpectRefused(Decide(true, std::string(kParent) + "/proposals/2", invalid), "reason");
  v1::Operation op;
  op.set_kind(v1::ADD_ITEM);
  op.set_category("2.2");
  op.set_label(nul);
  ExpectRefused(Amend(AmendOne(op)), "operations[0].label");
  op.set_label("Un libellé");
  op.add_keywords(invalid);
  ExpectRefused(Amend(AmendOne(op)), "operations[0].keywords[0]");
  op.clear_keywords();
  op.set_label("Ligne 1\nLigne 2");
  ExpectRefused(Amend(AmendOne(op)), "operations[0].label");
  for (const std::string& q : {nul, invalid, std::string("\x01whatsapp")}) {
    v1::SearchItemsRequest req;
    req.set_query(q);
    v1::SearchItemsResponse out;
    ExpectRefused(Search(req, &out), "query");
  }
  {
    grpc::ClientContext ctx;
    v1::GetProposalRequest req;
    req.set_name(std::string(kParent) + "/proposals/" + invalid);
    v1::Proposal out;
    ExpectRefused(stub_->GetProposal(&ctx, req, &out), "name");
  }
  EXPECT_EQ(Proposal(2).comments_size(), 0);
  // Multi-line comments with accents and emoji are fine.
  EXPECT_TRUE(Comment("Table ronde 1", "Très bien 👍\nÀ garder.", 4).ok());
}

// A comment made through the gateway with a key is signed by the key (its display name, from
// the gateway's `x-passerelle-key-name-bin` metadata): an empty author becomes the key's name,
// another one is refused; internal callers name the author themselves.
TEST_F(ReferentialApiTest, AKeysCommentIsSignedByTheKey) {
  const std::string key_name = "Centre social de l'Épeule — médiation";
  auto comment = [&](const std::string& author, const std::string& text, v1::Proposal* out) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-passerelle-key-id", "keyepeule234");
    ctx.AddMetadata("x-passerelle-scopes", "partner");
    ctx.AddMetadata("x-passerelle-key-name-bin", key_name);
    v1::CommentProposalRequest req;
    req.set_name(std::string(kParent) + "/proposals/4");
    req.set_author(author);
    req.set_text(text);
    return stub_->CommentProposal(&ctx, req, out);
  };
  v1::Proposal out;
  grpc::Status st = comment("", "Signé par la clé", &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_GT(out.comments_size(), 0);
  EXPECT_EQ(out.comments(out.comments_size() - 1).author(), key_name);
  EXPECT_EQ(out.comments(out.comments_size() - 1).text(), "Signé par la clé");
  ASSERT_TRUE(comment(key_name, "Le même nom", &out).ok());
  EXPECT_EQ(out.comments(out.comments_size() - 1).author(), key_name);

  const int before = Proposal(4).comments_size();
  st = comment("Préfecture du Nord", "Usurpé", &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("author"));
  EXPECT_EQ(Proposal(4).comments_size(), before) << "nothing written";
  // Without the gateway's metadata (an internal caller), the author is the one written.
  ASSERT_TRUE(Comment("Table ronde 2", "Interne", 4).ok());
  const v1::Proposal now = Proposal(4);
  EXPECT_EQ(now.comments(now.comments_size() - 1).author(), "Table ronde 2");
}

// Finding 13 (part): version_id "-" passed validation and shadowed the current version.
TEST_F(ReferentialApiTest, VersionIdsAreStrict) {
  for (const char* bad :
       {"-", "--", "-2023", "2023-", "2023--03", "2023/03", "V2", "2023 03", ""}) {
    ExpectRefused(Publish(kParent, bad), "version_id");
  }
  // A well-formed id with nothing accepted is refused for that reason, not the id.
  grpc::Status st = Publish(kParent, "2030-01-01");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_EQ(Publish("nomenclatures/nope", "2030-01-01").error_code(), grpc::StatusCode::NOT_FOUND);
}

// Every RPC never called by an error-path test before: DiffVersions and ListNomenclatures.
TEST_F(ReferentialApiTest, DiffVersionsNamesEachBadVersion) {
  v1::VersionDiff diff;
  ASSERT_TRUE(Diff(kSeedVersion, "nomenclatures/roubaix-aptic/versions/-", &diff).ok());
  EXPECT_EQ(diff.from_version(), kSeedVersion);
  EXPECT_EQ(diff.to_version(), kSeedVersion);
  EXPECT_EQ(diff.items_added_size(), 0);
  EXPECT_EQ(diff.code_changes_size(), 137);
  ExpectRefused(Diff("2023-02-03", kSeedVersion, &diff), "from_version");
  ExpectRefused(Diff(kSeedVersion, "", &diff), "to_version");
  EXPECT_EQ(
      Diff(kSeedVersion, "nomenclatures/roubaix-aptic/versions/2099-01-01", &diff).error_code(),
      grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Diff("nomenclatures/nope/versions/-", kSeedVersion, &diff).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReferentialApiTest, ExportAndGetVersionErrors) {
  std::string doc;
  EXPECT_EQ(Export("nomenclatures/roubaix-aptic/versions/2099-01-01", v1::CSV, &doc).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ExpectRefused(Export("roubaix-aptic", v1::CSV, &doc), "name");
  grpc::ClientContext ctx;
  v1::GetVersionRequest req;
  req.set_name("nomenclatures/nope/versions/-");
  v1::Version out;
  EXPECT_EQ(stub_->GetVersion(&ctx, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReferentialApiTest, DecisionsAndAmendmentsCheckTheirPreconditions) {
  // A stale etag, a malformed one, and a proposal that does not exist.
  v1::Proposal p = Proposal(5);
  EXPECT_EQ(Decide(true, p.name(), "oui", "W/\"999\"").error_code(), grpc::StatusCode::ABORTED);
  ExpectRefused(Decide(false, p.name(), "non", "yesterday"), "etag");
  EXPECT_EQ(Decide(true, std::string(kParent) + "/proposals/999", "oui").error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::Operation op;
  op.set_kind(v1::RETIRE_ITEM);
  op.set_target("item:9999");
  grpc::Status st = Amend(AmendOne(op));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("item:9999"));
}

// A binary of its own per test below: they publish.
class ReferentialPublishTest : public ::testing::Test {
 protected:
  ReferentialPublishTest() : binary_("services/referential/passerelle-referential", SeedEnv()) {}

  v1::Proposal Get(v1::ReferentialService::Stub& stub, int number) {
    grpc::ClientContext ctx;
    v1::GetProposalRequest req;
    req.set_name(std::string(kParent) + "/proposals/" + std::to_string(number));
    v1::Proposal out;
    grpc::Status st = stub.GetProposal(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }
  grpc::Status Accept(v1::ReferentialService::Stub& stub, int number) {
    v1::Proposal p = Get(stub, number);
    grpc::ClientContext ctx;
    v1::DecideProposalRequest req;
    req.set_name(p.name());
    req.set_reason("Validé en comité");
    req.set_etag(p.etag());
    v1::Proposal out;
    return stub.AcceptProposal(&ctx, req, &out);
  }
  grpc::Status Publish(v1::ReferentialService::Stub& stub, const std::string& id,
                       v1::PublishVersionResponse* out) {
    grpc::ClientContext ctx;
    v1::PublishVersionRequest req;
    req.set_parent(kParent);
    req.set_version_id(id);
    return stub.PublishVersion(&ctx, req, out);
  }
  absl::StatusOr<v1::Item> Item(v1::ReferentialService::Stub& stub, const std::string& id,
                                const std::string& version = "") {
    grpc::ClientContext ctx;
    v1::GetItemRequest req;
    req.set_name("items/" + id);
    req.set_version(version);
    v1::Item out;
    grpc::Status st = stub.GetItem(&ctx, req, &out);
    if (!st.ok()) return absl::UnknownError(st.error_message());
    return out;
  }
  std::string CurrentVersion(v1::ReferentialService::Stub& stub) {
    grpc::ClientContext ctx;
    v1::GetVersionRequest req;
    req.set_name("nomenclatures/roubaix-aptic/versions/-");
    v1::Version out;
    if (!stub.GetVersion(&ctx, req, &out).ok()) return "";
    return out.name();
  }

  testing::ServiceBinary binary_;
};

// Finding 13: proposals made on the old version could be accepted after a publication but were
// stranded ("no accepted proposal"). Now open proposals are carried to the new version with
// their nodes renumbered, or closed with the reason when they no longer apply.
TEST_F(ReferentialPublishTest, OpenProposalsAreCarriedToTheNewVersionOrClosed) {
  auto p = binary_.Start();
  auto stub = StubAt(binary_.grpc_address());
  // Proposal 40 (a note on item 18) is amended to act on item 18, which proposal 7 retires.
  {
    v1::Proposal note = Get(*stub, 40);
    grpc::ClientContext ctx;
    v1::AmendProposalRequest req;
    req.set_name(note.name());
    req.set_etag(note.etag());
    auto* op = req.add_operations();
    op->set_kind(v1::ADD_KEYWORDS);
    op->set_target("item:18");
    op->add_keywords("Chorus");
    v1::Proposal out;
    grpc::Status st = stub->AmendProposal(&ctx, req, &out);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  ASSERT_TRUE(Accept(*stub, 2).ok());  // adds an item at the end of 2.2
  ASSERT_TRUE(Accept(*stub, 7).ok());  // retires item 18: items 19 to 95 move down by one
  v1::PublishVersionResponse first;
  grpc::Status st = Publish(*stub, "2023-03-01", &first);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(first.diff().items_retired_size(), 1);

  // Proposal 42 (keywords for item 66) now speaks the new version's codes.
  auto item66 = Item(*stub, "it-66");
  ASSERT_TRUE(item66.ok());
  ASSERT_EQ(item66->code(), "65");
  v1::Proposal carried = Get(*stub, 42);
  EXPECT_EQ(carried.state(), v1::OPEN);
  EXPECT_EQ(carried.base_version(), "nomenclatures/roubaix-aptic/versions/2023-03-01");
  ASSERT_EQ(carried.operations_size(), 1);
  EXPECT_EQ(carried.operations(0).target(), "item:65");
  // Proposal 31 (item 3, before the retired one) keeps its code: renamed by node, not offset.
  EXPECT_EQ(Get(*stub, 31).operations(0).target(), "item:3");
  // Proposals 22 to 26 fill a category 22 adds: still open together.
  EXPECT_EQ(Get(*stub, 23).state(), v1::OPEN);

  // Proposal 40 acted on a retired item: closed, saying which version and why.
  v1::Proposal closed = Get(*stub, 40);
  EXPECT_EQ(closed.state(), v1::CLOSED);
  EXPECT_THAT(closed.decision_reason(), HasSubstr("2023-03-01"));
  EXPECT_THAT(closed.decision_reason(), HasSubstr("item:18"));
  {
    grpc::ClientContext ctx;
    v1::DecideProposalRequest req;
    req.set_name(closed.name());
    req.set_etag(closed.etag());
    v1::Proposal out;
    EXPECT_EQ(stub->AcceptProposal(&ctx, req, &out).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  {  // The filter knows the new state.
    grpc::ClientContext ctx;
    v1::ListProposalsRequest req;
    req.set_parent(kParent);
    req.set_filter("state = CLOSED");
    v1::ListProposalsResponse resp;
    ASSERT_TRUE(stub->ListProposals(&ctx, req, &resp).ok());
    std::string reasons;
    for (const auto& pr : resp.proposals())
      reasons += pr.name() + ": " + pr.decision_reason() + "\n";
    ASSERT_EQ(resp.proposals_size(), 1) << reasons;
    EXPECT_EQ(resp.proposals(0).name(), closed.name());
  }

  // The carried proposal is accepted and published in the next version.
  ASSERT_TRUE(Accept(*stub, 42).ok());
  v1::PublishVersionResponse second;
  st = Publish(*stub, "2023-03-02", &second);
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto enriched = Item(*stub, "it-66");
  ASSERT_TRUE(enriched.ok());
  EXPECT_THAT(enriched->keywords(), Contains("LibreOffice"));
  v1::Proposal applied = Get(*stub, 42);
  EXPECT_EQ(applied.state(), v1::APPLIED);
  EXPECT_EQ(applied.applied_in(), "nomenclatures/roubaix-aptic/versions/2023-03-02");
  // Still open ones moved along again.
  EXPECT_EQ(Get(*stub, 41).base_version(), "nomenclatures/roubaix-aptic/versions/2023-03-02");
}

// Engineering issue: other replicas never reloaded after a publish.
TEST_F(ReferentialPublishTest, AnotherReplicaServesAVersionPublishedOnTheFirst) {
  auto first = binary_.Start();
  auto env = binary_.Env();
  const int grpc_port = testing::FreePort();
  env["PASSERELLE_GRPC_ADDRESS"] = "127.0.0.1:" + std::to_string(grpc_port);
  env["PASSERELLE_METRICS_ADDRESS"] = "127.0.0.1:" + std::to_string(testing::FreePort());
  auto second = testing::Process::Start({binary_.path()}, env);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return second->Output().find("\"message\":\"ready\"") != std::string::npos; }, 20s))
      << second->Output();
  auto one = StubAt(binary_.grpc_address());
  auto two = StubAt("127.0.0.1:" + std::to_string(grpc_port));
  ASSERT_EQ(CurrentVersion(*two), kSeedVersion);

  ASSERT_TRUE(Accept(*one, 7).ok());
  v1::PublishVersionResponse published;
  grpc::Status st = Publish(*one, "2023-03-01", &published);
  ASSERT_TRUE(st.ok()) << st.error_message();

  const std::string next = "nomenclatures/roubaix-aptic/versions/2023-03-01";
  EXPECT_TRUE(testing::WaitFor([&] { return CurrentVersion(*two) == next; }, 10s))
      << "the second replica still serves " << CurrentVersion(*two);
  auto retired = Item(*two, "it-18");
  ASSERT_TRUE(retired.ok());
  EXPECT_TRUE(retired->retired());
  // A publication retried on the other replica answers with the same version.
  v1::PublishVersionResponse again;
  st = Publish(*two, "2023-03-01", &again);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.version().name(), next);
  EXPECT_EQ(again.diff().items_retired_size(), 1);
}

}  // namespace
}  // namespace passerelle::referential
