// gRPC handler of passerelle.venues.v1.VenueService: wire mapping only.
#pragma once

#include <optional>

#include "absl/time/time.h"
#include "libs/metrics/metrics.hpp"
#include "passerelle/venues/v1/venues.grpc.pb.h"
#include "services/venues/metrics.hpp"
#include "services/venues/registry.hpp"
#include "services/venues/work_queue.hpp"

namespace passerelle::venues {

/// gRPC metadata the gateway sets on writes made with an `organisation:write` key (it strips
/// any `x-passerelle-*` a client sends): the id of the organisation the key belongs to.
inline constexpr char kActingOrganisationHeader[] = "x-passerelle-organisation";

/// The organisation a call acts for (kActingOrganisationHeader), or nullopt for internal and
/// admin callers. PERMISSION_DENIED (NOT_OWNER) when the metadata is given more than once.
absl::StatusOr<std::optional<std::string>> ActingOrganisation(
    const grpc::ServerContextBase& context);

class Handler final
    : public v1::VenueService::WithRawCallbackMethod_GetVenue<
          v1::VenueService::WithRawCallbackMethod_SearchVenues<v1::VenueService::Service>> {
 public:
  /// `paris`: Europe/Paris from tzdata, loaded at start (open_at is local time).
  /// `calls` (null without metrics): GetVenue and SearchVenues record their calls with it
  /// themselves, without gRPC's interception hooks (GrpcServerMetricsFactory::RecordedByHandler).
  Handler(Registry& registry, VenueMetrics& metrics, absl::TimeZone paris,
          metrics::GrpcServerMetricsFactory* calls = nullptr);

  /// A callback method on raw bytes, as SearchVenues: an active venue is answered from the
  /// index's serialized message on gRPC's own thread; any other name is read from the store on
  /// `store_reads_`.
  grpc::ServerUnaryReactor* GetVenue(grpc::CallbackServerContext* ctx,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::Status GetOpeningSchedule(grpc::ServerContext* ctx,
                                  const v1::GetOpeningScheduleRequest* req,
                                  v1::OpeningSchedule* resp) override;
  grpc::Status ListVenues(grpc::ServerContext* ctx, const v1::ListVenuesRequest* req,
                          v1::ListVenuesResponse* resp) override;
  grpc::Status CreateVenue(grpc::ServerContext* ctx, const v1::CreateVenueRequest* req,
                           v1::Venue* resp) override;
  grpc::Status UpdateVenue(grpc::ServerContext* ctx, const v1::UpdateVenueRequest* req,
                           v1::Venue* resp) override;
  grpc::Status WithdrawVenue(grpc::ServerContext* ctx, const v1::WithdrawVenueRequest* req,
                             v1::Venue* resp) override;
  grpc::Status BatchUpsertVenues(grpc::ServerContext* ctx, const v1::BatchUpsertVenuesRequest* req,
                                 v1::BatchUpsertVenuesResponse* resp) override;
  grpc::Status ImportVenues(grpc::ServerContext* ctx,
                            grpc::ServerReader<v1::ImportVenuesChunk>* reader,
                            v1::ImportVenuesResponse* resp) override;
  grpc::Status ExportVenues(grpc::ServerContext* ctx, const v1::ExportVenuesRequest* req,
                            grpc::ServerWriter<v1::ExportVenuesChunk>* writer) override;
  grpc::Status ImportAreaLayer(grpc::ServerContext* ctx, const v1::ImportAreaLayerRequest* req,
                               v1::AreaLayer* resp) override;
  grpc::Status ListAreas(grpc::ServerContext* ctx, const v1::ListAreasRequest* req,
                         v1::ListAreasResponse* resp) override;
  grpc::Status ListAreaLayers(grpc::ServerContext* ctx, const v1::ListAreaLayersRequest* req,
                              v1::ListAreaLayersResponse* resp) override;
  grpc::Status GetAreaLayer(grpc::ServerContext* ctx, const v1::GetAreaLayerRequest* req,
                            v1::AreaLayer* resp) override;
  grpc::Status GetArea(grpc::ServerContext* ctx, const v1::GetAreaRequest* req,
                       v1::Area* resp) override;
  grpc::Status CreateSource(grpc::ServerContext* ctx, const v1::CreateSourceRequest* req,
                            v1::Source* resp) override;
  grpc::Status GetSource(grpc::ServerContext* ctx, const v1::GetSourceRequest* req,
                         v1::Source* resp) override;
  grpc::Status ListSources(grpc::ServerContext* ctx, const v1::ListSourcesRequest* req,
                           v1::ListSourcesResponse* resp) override;
  grpc::Status RestoreSourceFields(grpc::ServerContext* ctx,
                                   const v1::RestoreSourceFieldsRequest* req,
                                   v1::Venue* resp) override;
  grpc::Status ListVenueConflicts(grpc::ServerContext* ctx,
                                  const v1::ListVenueConflictsRequest* req,
                                  v1::ListVenueConflictsResponse* resp) override;
  grpc::ServerUnaryReactor* SearchVenues(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;

 private:
  grpc::Status Search(const v1::SearchVenuesRequest& request, grpc::ByteBuffer* response);
  using Call = std::optional<metrics::GrpcServerMetricsFactory::Call>;
  Call BeginCall(const char* full_method) const;
  Registry& registry_;
  VenueMetrics& metrics_;
  absl::TimeZone paris_;
  metrics::GrpcServerMetricsFactory* calls_;
  /// The schema fields of SearchVenues' enumeration filters, found once rather than by name on
  /// every search.
  struct EnumFilters {
    const standard::FieldSpec *services, *dispositifs, *publics, *prises_en_charge, *frais,
        *modalites_acces, *modalites_accompagnement;
  };
  EnumFilters enum_filters_;
  /// GetVenue's store reads (withdrawn or unknown venues), off gRPC's callback threads; as
  /// many threads as the pool's default size, and a bounded wait (RESOURCE_EXHAUSTED past it).
  WorkQueue store_reads_{8, 1000};
};

}  // namespace passerelle::venues
