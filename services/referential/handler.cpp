// gRPC handler of the referential service.
#include "services/referential/handler.hpp"

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/server/errors.hpp"
#include "libs/server/resource.hpp"
#include "libs/server/server.hpp"
#include "absl/strings/numbers.h"
#include "services/referential/exports.hpp"

namespace passerelle::referential {
namespace {

void ToProto(const ItemNode& i, v1::Item* out) {
  out->set_name("items/" + i.id);
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

}  // namespace

grpc::Status Handler::ListNomenclatures(grpc::ServerContext* ctx,
                                        const v1::ListNomenclaturesRequest* req,
                                        v1::ListNomenclaturesResponse* resp) {
  server::RequestScope scope(ctx);
  if (req->page_size() < 0) {
    return server::ToGrpc(server::InvalidArgument(
        "invalid page_size", {{"page_size", "must not be negative"}}));
  }
  std::string after;
  if (!req->page_token().empty() && !absl::WebSafeBase64Unescape(req->page_token(), &after)) {
    return server::ToGrpc(server::InvalidArgument(
        "invalid page_token", {{"page_token", "not a token this service issued"}}));
  }
  const int size = req->page_size() == 0 ? 50 : std::min(req->page_size(), 1000);
  auto snap = domain_.snapshot();
  std::map<std::string, v1::Nomenclature> by_name;
  for (const auto& v : snap->versions) {
    auto& n = by_name["nomenclatures/" + v.nomenclature];
    n.set_name("nomenclatures/" + v.nomenclature);
    n.set_title(v.title);
    n.set_source(v.source);
    n.add_versions(VersionName(v));
    if (const VersionTree* cur = snap->Current(v.nomenclature)) {
      n.set_current_version(VersionName(*cur));
    }
  }
  for (auto it = by_name.upper_bound(after); it != by_name.end(); ++it) {
    if (resp->nomenclatures_size() == size) {
      resp->set_next_page_token(absl::WebSafeBase64Escape(resp->nomenclatures().rbegin()->name()));
      break;
    }
    *resp->add_nomenclatures() = it->second;
  }
  return grpc::Status::OK;
}

static void VersionToProto(const VersionTree& v, v1::Version* resp) {
  resp->set_name(VersionName(v));
  resp->set_state(v.state == "published" ? v1::PUBLISHED : v1::DRAFT);
  if (!v.base_version.empty()) {
    resp->set_base_version(absl::StrCat("nomenclatures/", v.nomenclature, "/versions/",
                                        v.base_version));
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
  if (!req->name().starts_with("items/") || req->name().size() <= 6) {
    return server::ToGrpc(server::InvalidArgument(
        "invalid item name", {{"name", "must be items/{item}, got \"" + req->name() + "\""}}));
  }
  auto snap = domain_.snapshot();
  auto t = domain_.ResolveVersion(*snap, DefaultVersion(req->version()));
  if (!t.ok()) return server::ToGrpc(t.status());
  auto it = (*t)->items.find(req->name().substr(6));
  if (it == (*t)->items.end()) {
    return server::ToGrpc(absl::NotFoundError(
        absl::StrCat(req->name(), " does not exist in ", VersionName(**t))));
  }
  ToProto(it->second, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::SearchItems(grpc::ServerContext* ctx, const v1::SearchItemsRequest* req,
                                  v1::SearchItemsResponse* resp) {
  server::RequestScope scope(ctx);
  std::vector<server::FieldViolation> violations;
  if (req->query().empty()) violations.push_back({"query", "must not be empty"});
  if (req->query().size() > 200) violations.push_back({"query", "must be at most 200 bytes"});
  if (req->page_size() < 0 || req->page_size() > 100) {
    violations.push_back({"page_size", "must be between 0 and 100"});
  }
  if (!violations.empty()) {
    return server::ToGrpc(server::InvalidArgument("invalid search", violations));
  }
  auto snap = domain_.snapshot();
  auto t = domain_.ResolveVersion(*snap, DefaultVersion(req->version()));
  if (!t.ok()) return server::ToGrpc(t.status());
  const auto& index = snap->indexes.at((*t)->nomenclature + "/" + (*t)->version);
  const size_t limit = req->page_size() == 0 ? 10 : static_cast<size_t>(req->page_size());
  for (const auto& hit : index->Search(req->query(), req->audience() == v1::INHABITANT, limit)) {
    auto* r = resp->add_results();
    ToProto(*hit.item, r->mutable_item());
    r->set_score(hit.score);
    for (const auto& m : hit.matched_terms) r->add_matched_terms(m);
  }
  return grpc::Status::OK;
}

namespace {

v1::OperationKind KindToProto(Operation::Kind k) {
  return static_cast<v1::OperationKind>(static_cast<int>(k) + 1);
}

void ProposalToProto(const Proposal& p, v1::Proposal* out) {
  out->set_name(ProposalName(p));
  out->set_round_table(p.table);
  out->set_kind(p.kind);
  out->set_target(p.target);
  out->set_text(p.text);
  for (const auto& k : p.keywords) out->add_keywords(k);
  out->set_base_version(absl::StrCat("nomenclatures/", p.nomenclature, "/versions/",
                                     p.base_version));
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
  out->set_state(static_cast<v1::ProposalState>(static_cast<int>(p.state) + 1));
  out->set_decision_reason(p.decision_reason);
  if (!p.applied_in.empty()) {
    out->set_applied_in(absl::StrCat("nomenclatures/", p.nomenclature, "/versions/", p.applied_in));
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
  for (int i = 0; i < ops.size(); ++i) {
    const auto& o = ops[i];
    if (o.kind() == v1::OPERATION_KIND_UNSPECIFIED) {
      bad.push_back({absl::StrCat("operations[", i, "].kind"), "must be set"});
      continue;
    }
    Operation op{};
    op.kind = static_cast<Operation::Kind>(static_cast<int>(o.kind()) - 1);
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
  if (!bad.empty()) return server::InvalidArgument("invalid operations", bad);
  // Same validation as the JSON form (required fields per kind).
  return ParseOperations(OperationsToJson(out));
}

void DiffToProto(const VersionDiff& d, const std::string& nomenclature, const std::string& from,
                 const std::string& to, v1::VersionDiff* out) {
  out->set_from_version(absl::StrCat("nomenclatures/", nomenclature, "/versions/", from));
  out->set_to_version(absl::StrCat("nomenclatures/", nomenclature, "/versions/", to));
  for (const auto& id : d.added) out->add_items_added("items/" + id);
  for (const auto& id : d.retired) out->add_items_retired("items/" + id);
  for (const auto& id : d.renamed) out->add_items_renamed("items/" + id);
  for (const auto& id : d.moved) out->add_items_moved("items/" + id);
  for (const auto& m : d.mapping) {
    auto* c = out->add_code_changes();
    c->set_old_code(m.old_code);
    c->set_item("items/" + m.item_id);
    c->set_new_code(m.new_code);
  }
}

}  // namespace

grpc::Status Handler::ListProposals(grpc::ServerContext* ctx, const v1::ListProposalsRequest* req,
                                    v1::ListProposalsResponse* resp) {
  server::RequestScope scope(ctx);
  if (req->page_size() < 0) {
    return server::ToGrpc(server::InvalidArgument("invalid page_size",
                                                  {{"page_size", "must not be negative"}}));
  }
  int after = 0;
  if (!req->page_token().empty()) {
    std::string raw;
    if (!absl::WebSafeBase64Unescape(req->page_token(), &raw) || !absl::SimpleAtoi(raw, &after)) {
      return server::ToGrpc(server::InvalidArgument(
          "invalid page_token", {{"page_token", "not a token this service issued"}}));
    }
  }
  auto all = domain_.ListProposals(req->parent(), req->filter());
  if (!all.ok()) return server::ToGrpc(all.status());
  const int size = req->page_size() == 0 ? 50 : std::min(req->page_size(), 200);
  for (const auto& p : *all) {
    if (p.number <= after) continue;
    if (resp->proposals_size() == size) {
      resp->set_next_page_token(absl::WebSafeBase64Escape(std::to_string(after)));
      break;
    }
    ProposalToProto(p, resp->add_proposals());
    after = p.number;
  }
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
  auto p = domain_.Comment(req->name(), req->author(), req->text());
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

grpc::Status Handler::AcceptProposal(grpc::ServerContext* ctx,
                                     const v1::DecideProposalRequest* req, v1::Proposal* resp) {
  server::RequestScope scope(ctx);
  auto p = domain_.Decide(req->name(), true, req->reason(), req->etag());
  if (!p.ok()) return server::ToGrpc(p.status());
  ProposalToProto(*p, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::RejectProposal(grpc::ServerContext* ctx,
                                     const v1::DecideProposalRequest* req, v1::Proposal* resp) {
  server::RequestScope scope(ctx);
  auto p = domain_.Decide(req->name(), false, req->reason(), req->etag());
  if (!p.ok()) return server::ToGrpc(p.status());
  ProposalToProto(*p, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::PublishVersion(grpc::ServerContext* ctx,
                                     const v1::PublishVersionRequest* req,
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
  auto snap = domain_.snapshot();
  const VersionTree* a = *domain_.ResolveVersion(*snap, req->from_version());
  const VersionTree* b = *domain_.ResolveVersion(*snap, req->to_version());
  DiffToProto(*d, a->nomenclature, a->version, b->version, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::ExportVersion(grpc::ServerContext* ctx, const v1::ExportVersionRequest* req,
                                    grpc::ServerWriter<v1::ExportChunk>* writer) {
  server::RequestScope scope(ctx);
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
    default:
      doc = ExportJson(**t);
      type = "application/json";
  }
  return server::WriteChunks(writer, doc, type);
}

}  // namespace passerelle::referential
