// gRPC server reflection (v1alpha) for the public door, answered from the gateway's own pool:
// tools such as grpcurl list and describe the public services, and nothing internal.
#pragma once

#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.pb.h"
#include "grpcpp/generic/async_generic_service.h"
#include "services/gateway/api_schema.hpp"
#include "services/gateway/routes.hpp"

namespace passerelle::gateway {

/// The method path clients call.
inline constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

class PublicReflection {
 public:
  PublicReflection(const ApiSchema& schema, const RouteTable& routes);
  /// A reactor answering one reflection stream (served through the door's generic service).
  grpc::ServerGenericBidiReactor* NewReactor() const;

  /// The answer to one question.
  passerelle::wire::reflection::v1alpha::ServerReflectionResponse Answer(
      const passerelle::wire::reflection::v1alpha::ServerReflectionRequest& request) const;

 private:
  const ApiSchema& schema_;
  std::vector<std::string> services_;
};

}  // namespace passerelle::gateway
