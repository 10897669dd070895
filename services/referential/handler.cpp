// gRPC handler of the referential service.
#include "services/referential/handler.hpp"

#include <optional>

#include "absl/strings/str_cat.h"
#include "libs/server/caller.hpp"
#include "libs/server/errors.hpp"
#include "libs/server/resource.hpp"
#include "libs/server/server.hpp"
#include "libs/text/utf8.hpp"
#include "services/referential/exports.hpp"
#include "services/referential/request_parse.hpp"

namespace passerelle::referential {
namespace {

void ToProto(const ItemNode& i, v1::Item* out) {
  out->set_name(ItemName(i.id));
  out->set_code(i.code);
  out->set_label(i.label);
  out->set_plain_label(i.plain_label);
  out->set_description(i.description);
  for (const auto& k : i.keywords) out->add_keywords(k);
  for (const auto& s : i.services) out->add_services(s);
  for (const auto& t : i.thematiques) out->add_thematiques(t);
  for (const auto& p : i.pix_competences) out->add_pix_competences(p);
  out->set_category_code(i.category_code);
  out->set_level_code(i.level_code);
  out->set_retired(i.retired);
}

std::string DefaultVersion(const std::string& v) {
  return v.empty() ? "nomenclatures/roubaix-aptic/versions/-" : v;
}

constexpr size_t kMaxQueryLength = 200;
constexpr int kDefaultSearchResults = 10, kMaxSearchResults = 100;

// An enum field holding a number its enum does not define: refused, never defaulted.
server::FieldViolation UnknownEnum(const std::string& field, int value) {
  return {field, absl::StrCat("[enum] valeur inconnue ", value)};
}

}  // namespace

template <typename Request, typename Response>
void Handler::ReadRawRequests(int index,
                              grpc::Status (Handler::*method)(grpc::ServerContext*, const Request*,
                                                              Response*)) {
  // A streamed unary method reads its one request from the call itself (gRPC's "streamed
  // unary"): the same wire protocol for clients, the bytes for us.
  MarkMethodStreamed(
      index, new grpc::internal::StreamedUnaryHandler<grpc::ByteBuffer, Response>(
                 [this, method](grpc::ServerContext* ctx,
                                grpc::ServerUnaryStreamer<grpc::ByteBuffer, Response>* stream) {
                   grpc::ByteBuffer raw;
                   if (!stream->Read(&raw)) {
                     return server::ToGrpc(server::InvalidArgument(
                         "no request", {{"request", "the call carried no message"}}));
                   }
                   Request req;
                   if (absl::Status s = ParseRequest(raw, &req); !s.ok()) {
                     server::RequestScope scope(ctx);
                     return server::ToGrpc(s);
                   }
                   Response resp;
                   grpc::Status st = (this->*method)(ctx, &req, &resp);
                   if (st.ok()) stream->Write(resp);
                   return st;
                 }));
}

Handler::Handler(Referential& domain, std::string base_uri)
    : domain_(domain), base_uri_(std::move(base_uri)) {
  // Indexes are the methods' order in referential.proto (the generated service's order).
  ReadRawRequests(0, &Handler::ListNomenclatures);
  ReadRawRequests(1, &Handler::GetVersion);
  ReadRawRequests(2, &Handler::GetItem);
  ReadRawRequests(3, &Handler::SearchItems);
  ReadRawRequests(4, &Handler::ListProposals);
  ReadRawRequests(5, &Handler::GetProposal);
  ReadRawRequests(6, &Handler::CommentProposal);
  ReadRawRequests(7, &Handler::AmendProposal);
  ReadRawRequests(8, &Handler::AcceptProposal);
  ReadRawRequests(9, &Handler::RejectProposal);
  ReadRawRequests(10, &Handler::PublishVersion);
  ReadRawRequests(11, &Handler::DiffVersions);
  MarkMethodStreamed(
      12, new grpc::internal::SplitServerStreamingHandler<grpc::ByteBuffer, v1::ExportChunk>(
              [this](grpc::ServerContext* ctx,
                     grpc::ServerSplitStreamer<grpc::ByteBuffer, v1::ExportChunk>* stream) {
                grpc::ByteBuffer raw;
                v1::ExportVersionRequest req;
                if (!stream->Read(&raw)) {
                  return server::ToGrpc(server::InvalidArgument(
                      "no request", {{"request", "the call carried no message"}}));
                }
                if (absl::Status s = ParseRequest(raw, &req); !s.ok()) {
                  server::RequestScope scope(ctx);
                  return server::ToGrpc(s);
                }
                return Export(ctx, req, [&](const v1::ExportChunk& c) { return stream->Write(c); });
              }));
}

grpc::Status Handler::ListNomenclatures(grpc::ServerContext* ctx,
                                        const v1::ListNomenclaturesRequest* req,
                                        v1::ListNomenclaturesResponse* resp) {
  server::RequestScope scope(ctx);
  auto page = domain_.ListNomenclatures(req->page_size(), req->page_token());
  if (!page.ok()) return server::ToGrpc(page.status());
  for (const std::string& id : page->nomenclatures) {
    auto* n = resp->add_nomenclatures();
    n->set_name(NomenclatureName(id));
    for (const auto& v : page->snapshot->versions) {  // by version, oldest first
      if (v.nomenclature != id) continue;
      n->set_title(v.title);
      n->set_source(v.source);
      n->add_versions(VersionName(v));
    }
    if (const VersionTree* cur = page->snapshot->Current(id)) {
      n->set_current_version(VersionName(*cur));
    }
  }
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

namespace {

// Every mapping between the domain's enums and the proto's is a switch without `default:`, so
// -Wswitch names the place to update when either side gains a value.
v1::VersionState VersionStateToProto(VersionState s) {
  switch (s) {
    case VersionState::kDraft:
      return v1::DRAFT;
    case VersionState::kPublished:
      return v1::PUBLISHED;
  }
  return v1::VERSION_STATE_UNSPECIFIED;  // not reached: every state is listed
}

v1::ProposalState ProposalStateToProto(ProposalState s) {
  switch (s) {
    case ProposalState::kOpen:
      return v1::OPEN;
    case ProposalState::kAccepted:
      return v1::ACCEPTED;
    case ProposalState::kRejected:
      return v1::REJECTED;
    case ProposalState::kApplied:
      return v1::APPLIED;
    case ProposalState::kClosed:
      return v1::CLOSED;
  }
  return v1::PROPOSAL_STATE_UNSPECIFIED;  // not reached: every state is listed
}

v1::OperationKind KindToProto(Operation::Kind k) {
  switch (k) {
    case Operation::Kind::kAddItem:
      return v1::ADD_ITEM;
    case Operation::Kind::kAddCategory:
      return v1::ADD_CATEGORY;
    case Operation::Kind::kRetireItem:
      return v1::RETIRE_ITEM;
    case Operation::Kind::kSetLabel:
      return v1::SET_LABEL;
    case Operation::Kind::kReplaceInLabel:
      return v1::REPLACE_IN_LABEL;
    case Operation::Kind::kMoveItem:
      return v1::MOVE_ITEM;
    case Operation::Kind::kMoveCategory:
      return v1::MOVE_CATEGORY;
    case Operation::Kind::kMoveLevel:
      return v1::MOVE_LEVEL;
    case Operation::Kind::kAddKeywords:
      return v1::ADD_KEYWORDS;
  }
  return v1::OPERATION_KIND_UNSPECIFIED;  // not reached: every kind is listed
}

/// nullopt for UNSPECIFIED and for numbers the proto does not define.
std::optional<Operation::Kind> KindFromProto(int kind) {
  if (!v1::OperationKind_IsValid(kind)) return std::nullopt;
  switch (static_cast<v1::OperationKind>(kind)) {
    case v1::ADD_ITEM:
      return Operation::Kind::kAddItem;
    case v1::ADD_CATEGORY:
      return Operation::Kind::kAddCategory;
    case v1::RETIRE_ITEM:
      return Operation::Kind::kRetireItem;
    case v1::SET_LABEL:
      return Operation::Kind::kSetLabel;
    case v1::REPLACE_IN_LABEL:
      return Operation::Kind::kReplaceInLabel;
    case v1::MOVE_ITEM:
      return Operation::Kind::kMoveItem;
    case v1::MOVE_CATEGORY:
      return Operation::Kind::kMoveCategory;
    case v1::MOVE_LEVEL:
      return Operation::Kind::kMoveLevel;
    case v1::ADD_KEYWORDS:
      return Operation::Kind::kAddKeywords;
    case v1::OPERATION_KIND_UNSPECIFIED:
    case v1::OperationKind_INT_MIN_SENTINEL_DO_NOT_USE_:
    case v1::OperationKind_INT_MAX_SENTINEL_DO_NOT_USE_:
      return std::nullopt;
  }
  return std::nullopt;
}

void VersionToProto(const VersionTree& v, v1::Version* resp) {
  resp->set_name(VersionName(v));
  resp->set_state(VersionStateToProto(v.state));
  if (!v.base_version.empty()) {
    resp->set_base_version(VersionName(v.nomenclature, v.base_version));
  }
  if (v.publish_time != absl::InfinitePast()) {
    resp->mutable_publish_time()->set_seconds(absl::ToUnixSeconds(v.publish_time));
  }
  resp->set_item_count(v.ActiveItemCount());
  for (const auto& l : v.levels) {
    auto* pl = resp->add_levels();
    pl->set_code(l.code);
    pl->set_label(l.label);
    pl->set_aptic_theme(l.aptic_theme);
    for (const auto& c : l.categories) {
      auto* pc = pl->add_categories();
      pc->set_code(c.code);
      pc->set_label(c.label);
      for (const auto& id : c.item_ids) ToProto(v.items.at(id), pc->add_items());
    }
  }
}

}  // namespace

grpc::Status Handler::GetVersion(grpc::ServerContext* ctx, const v1::GetVersionRequest* req,
                                 v1::Version* resp) {
  server::RequestScope scope(ctx);
  auto snap = domain_.snapshot();
  auto t = domain_.ResolveVersion(*snap, req->name());
  if (!t.ok()) return server::ToGrpc(t.status());
  VersionToProto(**t, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::GetItem(grpc::ServerContext* ctx, const v1::GetItemRequest* req,
                              v1::Item* resp) {
  server::RequestScope scope(ctx);
  auto id = ParseItemName(req->name(), "name");
  if (!id.ok()) return server::ToGrpc(id.status());
  auto snap = domain_.snapshot();
  auto t = domain_.ResolveVersion(*snap, DefaultVersion(req->version()), "version");
  if (!t.ok()) return server::ToGrpc(t.status());
  auto it = (*t)->items.find(*id);
  if (it == (*t)->items.end()) {
    return server::ToGrpc(absl::NotFoundError(
        absl::StrCat(text::Quote(req->name()), " n'existe pas dans ", VersionName(**t))));
  }
  ToProto(it->second, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::SearchItems(grpc::ServerContext* ctx, const v1::SearchItemsRequest* req,
                                  v1::SearchItemsResponse* resp) {
  server::RequestScope scope(ctx);
  std::vector<server::FieldViolation> violations;
  if (req->query().empty()) {
    violations.push_back({"query", "[required] ne peut pas être vide"});
  } else {
    server::CheckText(&violations, "query", req->query(), kMaxQueryLength);
  }
  if (!v1::Audience_IsValid(req->audience())) {
    violations.push_back(UnknownEnum("audience", req->audience()));
  }
  const int limit =
      api::PageSize(&violations, req->page_size(), kDefaultSearchResults, kMaxSearchResults);
  if (!violations.empty()) {
    return server::ToGrpc(server::InvalidArgument("recherche invalide", violations));
  }
  auto snap = domain_.snapshot();
  auto t = domain_.ResolveVersion(*snap, DefaultVersion(req->version()), "version");
  if (!t.ok()) return server::ToGrpc(t.status());
  const auto& index = snap->indexes.at((*t)->nomenclature + "/" + (*t)->version);
  for (const auto& hit : index->Search(req->query(), req->audience() == v1::INHABITANT, limit)) {
    auto* r = resp->add_results();
    ToProto(*hit.item, r->mutable_item());
    r->set_score(hit.score);
    for (const auto& m : hit.matched_terms) r->add_matched_terms(m);
  }
  return grpc::Status::OK;
}

namespace {

void ProposalToProto(const Proposal& p, v1::Proposal* out) {
  out->set_name(ProposalName(p));
  out->set_round_table(p.table);
  out->set_kind(p.kind);
  out->set_target(p.target);
  out->set_text(p.text);
  for (const auto& k : p.keywords) out->add_keywords(k);
  out->set_base_version(VersionName(p.nomenclature, p.base_version));
  for (const auto& op : p.operations) {
    auto* o = out->add_operations();
    o->set_kind(KindToProto(op.kind));
    o->set_target(op.target);
    o->set_category(op.category);
    o->set_level(op.level);
    o->set_code(op.code);
    o->set_label(op.label);
    o->set_from(op.from);
    o->set_to(op.to);
    if (op.position >= 0) o->set_position(op.position);
    for (const auto& k : op.keywords) o->add_keywords(k);
  }
  out->set_state(ProposalStateToProto(p.state));
  out->set_decision_reason(p.decision_reason);
  if (!p.applied_in.empty()) {
    out->set_applied_in(VersionName(p.nomenclature, p.applied_in));
  }
  for (const auto& c : p.comments) {
    auto* pc = out->add_comments();
    pc->set_author(c.author);
    pc->set_text(c.text);
    server::ToTimestamp(c.create_time, pc->mutable_create_time());
  }
  server::ToTimestamp(p.create_time, out->mutable_create_time());
  server::ToTimestamp(p.update_time, out->mutable_update_time());
  out->set_etag(ETag(p));
}

absl::StatusOr<std::vector<Operation>> OperationsFromProto(
    const google::protobuf::RepeatedPtrField<v1::Operation>& ops) {
  std::vector<Operation> out;
  std::vector<server::FieldViolation> bad;
  if (ops.size() > static_cast<int>(kMaxOperations)) {  // before reading any of them
    return server::InvalidArgument(
        "opérations invalides", {{"operations", absl::StrCat("[size] au plus ", kMaxOperations,
                                                             " opérations, reçu ", ops.size())}});
  }
  for (int i = 0; i < ops.size(); ++i) {
    const auto& o = ops[i];
    const std::optional<Operation::Kind> kind = KindFromProto(o.kind());
    if (o.kind() == v1::OPERATION_KIND_UNSPECIFIED) {
      bad.push_back({absl::StrCat("operations[", i, "].kind"), "[required] à renseigner"});
      continue;
    }
    if (!kind) {
      bad.push_back(UnknownEnum(absl::StrCat("operations[", i, "].kind"), o.kind()));
      continue;
    }
    if (o.has_position() && (o.position() < 0 || o.position() > kMaxPosition)) {
      bad.push_back({absl::StrCat("operations[", i, "].position"),
                     absl::StrCat("[range] de 0 à ", kMaxPosition)});
      continue;
    }
    if (o.keywords_size() > static_cast<int>(kMaxOperationKeywords)) {
      bad.push_back(
          {absl::StrCat("operations[", i, "].keywords"),
           absl::StrCat("at most ", kMaxOperationKeywords, " keywords, got ", o.keywords_size())});
      continue;
    }
    Operation op{};
    op.kind = *kind;
    op.target = o.target();
    op.category = o.category();
    op.level = o.level();
    op.code = o.code();
    op.label = o.label();
    op.from = o.from();
    op.to = o.to();
    op.position = o.has_position() ? o.position() : -1;
    op.keywords.assign(o.keywords().begin(), o.keywords().end());
    out.push_back(std::move(op));
  }
  if (!bad.empty()) return server::InvalidArgument("opérations invalides", bad);
  return out;  // the domain checks the rest (required fields per kind, text, bounds)
}

void DiffToProto(const VersionDiff& d, const std::string& nomenclature, const std::string& from,
                 const std::string& to, v1::VersionDiff* out) {
  out->set_from_version(VersionName(nomenclature, from));
  out->set_to_version(VersionName(nomenclature, to));
  for (const auto& id : d.added) out->add_items_added(ItemName(id));
  for (const auto& id : d.retired) out->add_items_retired(ItemName(id));
  for (const auto& id : d.renamed) out->add_items_renamed(ItemName(id));
  for (const auto& id : d.moved) out->add_items_moved(ItemName(id));
  for (const auto& m : d.mapping) {
    auto* c = out->add_code_changes();
    c->set_old_code(m.old_code);
    c->set_item(ItemName(m.item_id));
    c->set_new_code(m.new_code);
  }
}

}  // namespace

grpc::Status Handler::ListProposals(grpc::ServerContext* ctx, const v1::ListProposalsRequest* req,
                                    v1::ListProposalsResponse* resp) {
  server::RequestScope scope(ctx);
  auto page =
      domain_.ListProposals(req->parent(), req->filter(), req->page_size(), req->page_token());
  if (!page.ok()) return server::ToGrpc(page.status());
  for (const auto& p : page->proposals) ProposalToProto(p, resp->add_proposals());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status Handler::GetProposal(grpc::ServerContext* ctx, const v1::GetProposalRequest* req,
                                  v1::Proposal* resp) {
  server::RequestScope scope(ctx);
  auto p = domain_.GetProposal(req->name());
  if (!p.ok()) return server::ToGrpc(p.status());
  ProposalToProto(*p, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::CommentProposal(grpc::ServerContext* ctx,
                                      const v1::CommentProposalRequest* req, v1::Proposal* resp) {
  server::RequestScope scope(ctx);
  auto caller = server::CallerOf(*ctx);
  if (!caller.ok()) return server::ToGrpc(caller.status());
  std::optional<std::string> key_author;
  if (!caller->internal()) {
    key_author = caller->key_name.empty() ? "apiKeys/" + caller->key_id : caller->key_name;
  }
  auto p = domain_.Comment(req->name(), req->author(), req->text(), key_author);
  if (!p.ok()) return server::ToGrpc(p.status());
  ProposalToProto(*p, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::AmendProposal(grpc::ServerContext* ctx, const v1::AmendProposalRequest* req,
                                    v1::Proposal* resp) {
  server::RequestScope scope(ctx);
  auto ops = OperationsFromProto(req->operations());
  if (!ops.ok()) return server::ToGrpc(ops.status());
  auto p = domain_.Amend(req->name(), *std::move(ops), req->etag());
  if (!p.ok()) return server::ToGrpc(p.status());
  ProposalToProto(*p, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::AcceptProposal(grpc::ServerContext* ctx, const v1::DecideProposalRequest* req,
                                     v1::Proposal* resp) {
  server::RequestScope scope(ctx);
  auto p = domain_.Decide(req->name(), true, req->reason(), req->etag());
  if (!p.ok()) return server::ToGrpc(p.status());
  ProposalToProto(*p, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::RejectProposal(grpc::ServerContext* ctx, const v1::DecideProposalRequest* req,
                                     v1::Proposal* resp) {
  server::RequestScope scope(ctx);
  auto p = domain_.Decide(req->name(), false, req->reason(), req->etag());
  if (!p.ok()) return server::ToGrpc(p.status());
  ProposalToProto(*p, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::PublishVersion(grpc::ServerContext* ctx, const v1::PublishVersionRequest* req,
                                     v1::PublishVersionResponse* resp) {
  server::RequestScope scope(ctx);
  auto published = domain_.Publish(req->parent(), req->version_id());
  if (!published.ok()) return server::ToGrpc(published.status());
  VersionToProto(*published->version, resp->mutable_version());
  DiffToProto(published->diff, published->version->nomenclature, published->previous,
              published->version->version, resp->mutable_diff());
  return grpc::Status::OK;
}

grpc::Status Handler::DiffVersions(grpc::ServerContext* ctx, const v1::DiffVersionsRequest* req,
                                   v1::VersionDiff* resp) {
  server::RequestScope scope(ctx);
  auto d = domain_.DiffVersions(req->from_version(), req->to_version());
  if (!d.ok()) return server::ToGrpc(d.status());
  DiffToProto(d->diff, d->nomenclature, d->from, d->to, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::ExportVersion(grpc::ServerContext* ctx, const v1::ExportVersionRequest* req,
                                    grpc::ServerWriter<v1::ExportChunk>* writer) {
  return Export(ctx, *req, [&](const v1::ExportChunk& c) { return writer->Write(c); });
}

grpc::Status Handler::Export(grpc::ServerContext* ctx, const v1::ExportVersionRequest& request,
                             const std::function<bool(const v1::ExportChunk&)>& write) {
  const v1::ExportVersionRequest* req = &request;
  server::RequestScope scope(ctx);
  if (!v1::ExportFormat_IsValid(req->format())) {
    return server::ToGrpc(
        server::InvalidArgument("format invalide", {UnknownEnum("format", req->format())}));
  }
  auto snap = domain_.snapshot();
  auto t = domain_.ResolveVersion(*snap, req->name());
  if (!t.ok()) return server::ToGrpc(t.status());
  std::string doc, type;
  switch (req->format()) {
    case v1::CSV:
      doc = ExportCsv(**t);
      type = "text/csv; charset=utf-8";
      break;
    case v1::SKOS_TURTLE:
      doc = ExportSkosTurtle(**t, base_uri_);
      type = "text/turtle; charset=utf-8";
      break;
    case v1::JSON:
    case v1::EXPORT_FORMAT_UNSPECIFIED:
    // Numbers the proto does not define were refused above.
    case v1::ExportFormat_INT_MIN_SENTINEL_DO_NOT_USE_:
    case v1::ExportFormat_INT_MAX_SENTINEL_DO_NOT_USE_:
      doc = ExportJson(**t);
      type = "application/json";
  }
  server::ChunkStream<v1::ExportChunk> stream(write, type);
  stream.Append(doc);
  return stream.Finish();
}

}  // namespace passerelle::referential
