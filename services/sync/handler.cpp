// gRPC handler of the sync service.
#include "services/sync/handler.hpp"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/server/errors.hpp"
#include "libs/server/server.hpp"

namespace passerelle::sync {
namespace {

constexpr int kMaxPage = 1000;

grpc::Status BadToken() {
  return server::ToGrpc(server::InvalidArgument(
      "page_token invalide", {{"page_token", "[token] ce jeton ne vient pas de cette liste"}}));
}

SourceRecord FromProto(const v1::Source& s) {
  return {.display_name = s.display_name(),
          .url = s.url(),
          .refresh_seconds = s.refresh_interval().seconds(),
          .refresh_nanos = s.refresh_interval().nanos(),
          .max_withdraw_fraction = s.max_withdraw_fraction(),
          .authorization = s.authorization(),
          .profile = s.profile()};
}

}  // namespace

grpc::Status Handler::WithLastRuns(const std::vector<SourceRecord>& sources,
                                   google::protobuf::RepeatedPtrField<v1::Source>* out) {
  std::vector<std::string> ids;
  for (const auto& s : sources) ids.push_back(s.id);
  auto last = syncer_.LastRuns(ids);
  if (!last.ok()) return server::ToGrpc(last.status());
  for (const auto& s : sources) {
    v1::Source* source = out->Add();
    ToProto(s, source);
    if (auto it = last->find(s.id); it != last->end())
      ToProto(it->second, source->mutable_last_run());
  }
  return grpc::Status::OK;
}

grpc::Status Handler::WithLastRun(const SourceRecord& source, v1::Source* out) {
  google::protobuf::RepeatedPtrField<v1::Source> one;
  if (grpc::Status st = WithLastRuns({source}, &one); !st.ok()) return st;
  out->Swap(one.Mutable(0));
  return grpc::Status::OK;
}

grpc::Status Handler::CreateSource(grpc::ServerContext* ctx, const v1::CreateSourceRequest* req,
                                   v1::Source* resp) {
  server::RequestScope scope(ctx);
  auto created = syncer_.CreateSource(req->source_id(), FromProto(req->source()), req->force());
  if (!created.ok()) return server::ToGrpc(created.status());
  ToProto(*created, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::GetSource(grpc::ServerContext* ctx, const v1::GetSourceRequest* req,
                                v1::Source* resp) {
  server::RequestScope scope(ctx);
  auto s = syncer_.GetSource(req->name());
  if (!s.ok()) return server::ToGrpc(s.status());
  return WithLastRun(*s, resp);
}

grpc::Status Handler::ListSources(grpc::ServerContext* ctx, const v1::ListSourcesRequest* req,
                                  v1::ListSourcesResponse* resp) {
  server::RequestScope scope(ctx);
  auto page_size = api::PageSize(req->page_size(), 50, kMaxPage);
  if (!page_size.ok()) return server::ToGrpc(page_size.status());
  const int size = *page_size;
  // The cursor: the last source id of the previous page.
  const std::string params = api::BindParameters({});
  std::string after;
  if (!req->page_token().empty()) {
    auto cursor = tokens_.Open("sync.ListSources", params, req->page_token());
    if (!cursor.ok()) return server::ToGrpc(cursor.status());
    after = *cursor;
  }
  auto sources = syncer_.ListSources(after, size + 1);
  if (!sources.ok()) return server::ToGrpc(sources.status());
  const bool more = static_cast<int>(sources->size()) > size;
  if (more) sources->resize(size);
  if (grpc::Status st = WithLastRuns(*sources, resp->mutable_sources()); !st.ok()) return st;
  if (more) resp->set_next_page_token(tokens_.Seal("sync.ListSources", params, sources->back().id));
  return grpc::Status::OK;
}

grpc::Status Handler::UpdateSource(grpc::ServerContext* ctx, const v1::UpdateSourceRequest* req,
                                   v1::Source* resp) {
  server::RequestScope scope(ctx);
  const SourceRecord values = FromProto(req->source());
  std::vector<std::string> mask(req->update_mask().paths().begin(),
                                req->update_mask().paths().end());
  auto updated = syncer_.UpdateSource(req->source().name(), values, mask, req->force());
  if (!updated.ok()) return server::ToGrpc(updated.status());
  return WithLastRun(*updated, resp);
}

grpc::Status Handler::StartRun(grpc::ServerContext* ctx, const v1::StartRunRequest* req,
                               v1::Run* resp) {
  server::RequestScope scope(ctx);
  auto run = syncer_.StartRun(req->name(), RunTrigger::kManual);
  if (!run.ok()) return server::ToGrpc(run.status());
  ToProto(*run, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::GetRun(grpc::ServerContext* ctx, const v1::GetRunRequest* req,
                             v1::Run* resp) {
  server::RequestScope scope(ctx);
  auto run = syncer_.GetRun(req->name());
  if (!run.ok()) return server::ToGrpc(run.status());
  ToProto(*run, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::ListRuns(grpc::ServerContext* ctx, const v1::ListRunsRequest* req,
                               v1::ListRunsResponse* resp) {
  server::RequestScope scope(ctx);
  auto source = syncer_.GetSource(req->parent());
  if (!source.ok()) return server::ToGrpc(source.status());
  auto page_size = api::PageSize(req->page_size(), 50, kMaxPage);
  if (!page_size.ok()) return server::ToGrpc(page_size.status());
  const int size = *page_size;
  // The cursor: the id of the last run of the previous page.
  const std::string params = api::BindParameters({req->parent()});
  int64_t before = 0;
  if (!req->page_token().empty()) {
    auto cursor = tokens_.Open("sync.ListRuns", params, req->page_token());
    if (!cursor.ok()) return server::ToGrpc(cursor.status());
    if (!absl::SimpleAtoi(*cursor, &before) || before <= 0) return BadToken();
  }
  auto runs = syncer_.ListRuns(*source, before, size + 1);
  if (!runs.ok()) return server::ToGrpc(runs.status());
  for (int i = 0; i < std::min<int>(size, runs->size()); ++i) ToProto((*runs)[i], resp->add_runs());
  if (static_cast<int>(runs->size()) > size) {
    resp->set_next_page_token(
        tokens_.Seal("sync.ListRuns", params, absl::StrCat((*runs)[size - 1].id)));
  }
  return grpc::Status::OK;
}

grpc::Status Handler::ListRunErrors(grpc::ServerContext* ctx, const v1::ListRunErrorsRequest* req,
                                    v1::ListRunErrorsResponse* resp) {
  server::RequestScope scope(ctx);
  if (auto run = syncer_.GetRun(req->parent()); !run.ok()) return server::ToGrpc(run.status());
  auto page_size = api::PageSize(req->page_size(), 100, kMaxPage);
  if (!page_size.ok()) return server::ToGrpc(page_size.status());
  const int size = *page_size;
  // The cursor: `<line>:<error id>` of the last error of the previous page.
  const std::string params = api::BindParameters({req->parent()});
  int after_line = 0;
  int64_t after_id = 0;
  if (!req->page_token().empty()) {
    auto cursor = tokens_.Open("sync.ListRunErrors", params, req->page_token());
    if (!cursor.ok()) return server::ToGrpc(cursor.status());
    std::pair<std::string, std::string> parts = absl::StrSplit(*cursor, ':');
    if (!absl::SimpleAtoi(parts.first, &after_line) || !absl::SimpleAtoi(parts.second, &after_id)) {
      return BadToken();
    }
  }
  auto errors = syncer_.ListErrors(req->parent(), after_line, after_id, size + 1);
  if (!errors.ok()) return server::ToGrpc(errors.status());
  for (int i = 0; i < std::min<int>(size, errors->size()); ++i) {
    ToProto((*errors)[i].second, resp->add_errors());
  }
  if (static_cast<int>(errors->size()) > size) {
    const auto& [last_id, last] = (*errors)[size - 1];
    resp->set_next_page_token(
        tokens_.Seal("sync.ListRunErrors", params, absl::StrCat(last.line, ":", last_id)));
  }
  return grpc::Status::OK;
}

grpc::Status Handler::PreviewSource(grpc::ServerContext* ctx, const v1::PreviewSourceRequest* req,
                                    v1::PreviewSourceResponse* resp) {
  server::RequestScope scope(ctx);
  auto preview = syncer_.PreviewSource(req->name(), req->has_profile() ? &req->profile() : nullptr,
                                       req->sample(), req->row_count());
  if (!preview.ok()) return server::ToGrpc(preview.status());
  resp->Swap(&*preview);
  return grpc::Status::OK;
}

}  // namespace passerelle::sync
