#include "services/indicators/reports_handler.hpp"

#include "libs/server/caller.hpp"
#include "libs/server/errors.hpp"
#include "libs/server/resource.hpp"
#include "libs/server/server.hpp"

namespace passerelle::indicators::reports {
namespace {

// What the gateway says of the caller: internal callers (no key) and administrators see every
// organisation's reports; an organisation key its own; any other key none (refused unless
// `others_allowed`, when it gets an Access of no organisation).
absl::StatusOr<Access> AccessOf(const grpc::ServerContext& ctx, bool others_allowed = false) {
  auto caller = server::CallerOf(ctx);
  if (!caller.ok()) return caller.status();
  Access access;
  access.request_scope = caller->RequestScope();
  // Writes stop at the caller's deadline (at most a minute of work).
  access.budget = server::RemainingBudget(ctx, std::chrono::minutes(1));
  access.budget_spent = access.budget <= std::chrono::milliseconds(0);
  if (caller->internal() || caller->Has("admin")) return access;
  if (caller->key_organisation.empty() && others_allowed) {
    access.all = false;
    return access;
  }
  if (caller->key_organisation.empty()) {
    return absl::PermissionDeniedError(
        "les rapports d'activité sont réservés aux clés d'une organisation");
  }
  access.all = false;
  access.organisation = caller->key_organisation;
  return access;
}

template <typename Out>
grpc::Status Answer(absl::StatusOr<Out> result, Out* resp) {
  if (!result.ok()) return server::ToGrpc(result.status());
  *resp = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ReportsHandler::SubmitActivityReport(grpc::ServerContext* ctx,
                                                  const v1::SubmitActivityReportRequest* req,
                                                  v1::ActivityReport* resp) {
  server::RequestScope scope(ctx);
  auto access = AccessOf(*ctx);
  if (!access.ok()) return server::ToGrpc(access.status());
  return Answer(reports_.Submit(*req, *access), resp);
}

grpc::Status ReportsHandler::GetActivityReport(grpc::ServerContext* ctx,
                                               const v1::GetActivityReportRequest* req,
                                               v1::ActivityReport* resp) {
  server::RequestScope scope(ctx);
  auto access = AccessOf(*ctx);
  if (!access.ok()) return server::ToGrpc(access.status());
  return Answer(reports_.Get(*req, *access), resp);
}

grpc::Status ReportsHandler::ListActivityReports(grpc::ServerContext* ctx,
                                                 const v1::ListActivityReportsRequest* req,
                                                 v1::ListActivityReportsResponse* resp) {
  server::RequestScope scope(ctx);
  auto access = AccessOf(*ctx);
  if (!access.ok()) return server::ToGrpc(access.status());
  return Answer(reports_.List(*req, *access), resp);
}

grpc::Status ReportsHandler::ExportActivityReports(grpc::ServerContext* ctx,
                                                   const v1::ExportActivityReportsRequest* req,
                                                   grpc::ServerWriter<v1::ExportChunk>* writer) {
  server::RequestScope scope(ctx);
  auto access = AccessOf(*ctx);
  if (!access.ok()) return server::ToGrpc(access.status());
  server::ChunkStream<v1::ExportChunk> stream(writer, "text/csv; charset=utf-8");
  absl::Status status = reports_.ExportReports(
      *req, *access, [&](std::string_view piece) { return stream.Append(piece); });
  if (!status.ok()) return server::ToGrpc(status);
  return stream.Finish();
}

grpc::Status ReportsHandler::ExportEqualityScores(grpc::ServerContext* ctx,
                                                  const v1::ExportEqualityScoresRequest* req,
                                                  grpc::ServerWriter<v1::ExportChunk>* writer) {
  server::RequestScope scope(ctx);
  auto access = AccessOf(*ctx, /*others_allowed=*/true);
  if (!access.ok()) return server::ToGrpc(access.status());
  auto csv = reports_.ExportScores(*req, *access);
  if (!csv.ok()) return server::ToGrpc(csv.status());
  return server::WriteChunks(writer, *csv, "text/csv; charset=utf-8");
}

grpc::Status ReportsHandler::CorrectActivityReport(grpc::ServerContext* ctx,
                                                   const v1::CorrectActivityReportRequest* req,
                                                   v1::ActivityReport* resp) {
  server::RequestScope scope(ctx);
  auto access = AccessOf(*ctx);
  if (!access.ok()) return server::ToGrpc(access.status());
  return Answer(reports_.Correct(*req, *access), resp);
}

grpc::Status ReportsHandler::WithdrawActivityReport(grpc::ServerContext* ctx,
                                                    const v1::WithdrawActivityReportRequest* req,
                                                    v1::ActivityReport* resp) {
  server::RequestScope scope(ctx);
  auto access = AccessOf(*ctx);
  if (!access.ok()) return server::ToGrpc(access.status());
  return Answer(reports_.Withdraw(*req, *access), resp);
}

grpc::Status ReportsHandler::GetBreakdown(grpc::ServerContext* ctx,
                                          const v1::GetBreakdownRequest* req, v1::Breakdown* resp) {
  server::RequestScope scope(ctx);
  return Answer(reports_.GetBreakdown(*req), resp);
}

grpc::Status ReportsHandler::ExportBreakdown(grpc::ServerContext* ctx,
                                             const v1::GetBreakdownRequest* req,
                                             grpc::ServerWriter<v1::ExportChunk>* writer) {
  server::RequestScope scope(ctx);
  auto breakdown = reports_.GetBreakdown(*req);
  if (!breakdown.ok()) return server::ToGrpc(breakdown.status());
  server::ChunkStream<v1::ExportChunk> stream(writer, "text/csv; charset=utf-8");
  stream.Append(BreakdownCsv(*breakdown));
  return stream.Finish();
}

grpc::Status ReportsHandler::SubmitEqualityAssessment(
    grpc::ServerContext* ctx, const v1::SubmitEqualityAssessmentRequest* req,
    v1::EqualityAssessment* resp) {
  server::RequestScope scope(ctx);
  auto access = AccessOf(*ctx);
  if (!access.ok()) return server::ToGrpc(access.status());
  return Answer(reports_.SubmitAssessment(*req, *access), resp);
}

grpc::Status ReportsHandler::GetEqualityScores(grpc::ServerContext* ctx,
                                               const v1::GetEqualityScoresRequest* req,
                                               v1::EqualityScores* resp) {
  server::RequestScope scope(ctx);
  auto access = AccessOf(*ctx, /*others_allowed=*/true);
  if (!access.ok()) return server::ToGrpc(access.status());
  return Answer(reports_.Scores(*req, *access), resp);
}

}  // namespace passerelle::indicators::reports
