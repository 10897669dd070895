// gRPC handler of passerelle.indicators.v1.ReportService: wire mapping and the caller's access.
#pragma once

#include "passerelle/indicators/v1/indicators.grpc.pb.h"
#include "services/indicators/reports_service.hpp"

namespace passerelle::indicators::reports {

class ReportsHandler final : public v1::ReportService::Service {
 public:
  explicit ReportsHandler(Reports& reports) : reports_(reports) {}
  grpc::Status SubmitActivityReport(grpc::ServerContext* ctx,
                                    const v1::SubmitActivityReportRequest* req,
                                    v1::ActivityReport* resp) override;
  grpc::Status GetActivityReport(grpc::ServerContext* ctx, const v1::GetActivityReportRequest* req,
                                 v1::ActivityReport* resp) override;
  grpc::Status ListActivityReports(grpc::ServerContext* ctx,
                                   const v1::ListActivityReportsRequest* req,
                                   v1::ListActivityReportsResponse* resp) override;
  grpc::Status ExportActivityReports(grpc::ServerContext* ctx,
                                     const v1::ExportActivityReportsRequest* req,
                                     grpc::ServerWriter<v1::ExportChunk>* writer) override;
  grpc::Status ExportEqualityScores(grpc::ServerContext* ctx,
                                    const v1::ExportEqualityScoresRequest* req,
                                    grpc::ServerWriter<v1::ExportChunk>* writer) override;
  grpc::Status CorrectActivityReport(grpc::ServerContext* ctx,
                                     const v1::CorrectActivityReportRequest* req,
                                     v1::ActivityReport* resp) override;
  grpc::Status WithdrawActivityReport(grpc::ServerContext* ctx,
                                      const v1::WithdrawActivityReportRequest* req,
                                      v1::ActivityReport* resp) override;
  grpc::Status GetBreakdown(grpc::ServerContext* ctx, const v1::GetBreakdownRequest* req,
                            v1::Breakdown* resp) override;
  grpc::Status ExportBreakdown(grpc::ServerContext* ctx, const v1::GetBreakdownRequest* req,
                               grpc::ServerWriter<v1::ExportChunk>* writer) override;
  grpc::Status SubmitEqualityAssessment(grpc::ServerContext* ctx,
                                        const v1::SubmitEqualityAssessmentRequest* req,
                                        v1::EqualityAssessment* resp) override;
  grpc::Status GetEqualityScores(grpc::ServerContext* ctx, const v1::GetEqualityScoresRequest* req,
                                 v1::EqualityScores* resp) override;

 private:
  Reports& reports_;
};

}  // namespace passerelle::indicators::reports
