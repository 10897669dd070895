// gRPC handler of the referential service.
#include "services/referential/handler.hpp"

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/server/errors.hpp"
#include "libs/server/server.hpp"

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

grpc::Status Handler::GetVersion(grpc::ServerContext* ctx, const v1::GetVersionRequest* req,
                                 v1::Version* resp) {
  server::RequestScope scope(ctx);
  auto snap = domain_.snapshot();
  auto t = domain_.ResolveVersion(*snap, req->name());
  if (!t.ok()) return server::ToGrpc(t.status());
  const VersionTree& v = **t;
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

}  // namespace passerelle::referential
