#include "services/gateway/reflection.hpp"

#include <set>

#include "absl/strings/str_cat.h"
#include "libs/text/utf8.hpp"
#include "services/gateway/byte_buffer.hpp"

namespace passerelle::gateway {
namespace {

namespace rv1 = passerelle::wire::reflection::v1alpha;
using google::protobuf::FileDescriptor;

constexpr char kReflection[] = "grpc.reflection.v1alpha.ServerReflection";

// `file` then every file it needs, each once.
void AddWithDependencies(const FileDescriptor* file, std::set<std::string>* seen,
                         rv1::FileDescriptorResponse* out) {
  if (file == nullptr || !seen->insert(file->name()).second) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  out->add_file_descriptor_proto(proto.SerializeAsString());
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddWithDependencies(file->dependency(i), seen, out);
  }
}

}  // namespace

PublicReflection::PublicReflection(const ApiSchema& schema, const RouteTable& routes)
    : schema_(schema) {
  std::set<std::string> names;
  for (const Route& r : routes.routes()) names.insert(r.method->service()->full_name());
  services_.assign(names.begin(), names.end());
  services_.push_back(kReflection);
}

rv1::ServerReflectionResponse PublicReflection::Answer(
    const rv1::ServerReflectionRequest& request) const {
  rv1::ServerReflectionResponse response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  const google::protobuf::DescriptorPool& pool = schema_.pool();
  // The reflection service itself is described by the generated pool.
  const google::protobuf::DescriptorPool* own = google::protobuf::DescriptorPool::generated_pool();
  auto not_found = [&](const std::string& what) {
    response.mutable_error_response()->set_error_code(grpc::StatusCode::NOT_FOUND);
    response.mutable_error_response()->set_error_message(
        absl::StrCat(text::Quote(what, 200), " n'est pas décrit ici"));
    return response;
  };
  std::set<std::string> seen;
  switch (request.message_request_case()) {
    case rv1::ServerReflectionRequest::kListServices:
      for (const std::string& name : services_) {
        response.mutable_list_services_response()->add_service()->set_name(name);
      }
      return response;
    case rv1::ServerReflectionRequest::kFileByFilename: {
      const FileDescriptor* file = pool.FindFileByName(request.file_by_filename());
      if (file == nullptr &&
          request.file_by_filename() == "grpc/reflection/v1alpha/reflection.proto") {
        file = own->FindFileByName(request.file_by_filename());
      }
      if (file == nullptr) return not_found(request.file_by_filename());
      AddWithDependencies(file, &seen, response.mutable_file_descriptor_response());
      return response;
    }
    case rv1::ServerReflectionRequest::kFileContainingSymbol: {
      const std::string& symbol = request.file_containing_symbol();
      const FileDescriptor* file = pool.FindFileContainingSymbol(symbol);
      if (file == nullptr && symbol.rfind("grpc.reflection.v1alpha.", 0) == 0) {
        file = own->FindFileContainingSymbol(symbol);
      }
      if (file == nullptr) return not_found(symbol);
      AddWithDependencies(file, &seen, response.mutable_file_descriptor_response());
      return response;
    }
    case rv1::ServerReflectionRequest::kFileContainingExtension: {
      const google::protobuf::Descriptor* type =
          pool.FindMessageTypeByName(request.file_containing_extension().containing_type());
      const google::protobuf::FieldDescriptor* ext =
          type == nullptr ? nullptr
                          : pool.FindExtensionByNumber(
                                type, request.file_containing_extension().extension_number());
      if (ext == nullptr) return not_found(request.file_containing_extension().containing_type());
      AddWithDependencies(ext->file(), &seen, response.mutable_file_descriptor_response());
      return response;
    }
    case rv1::ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const google::protobuf::Descriptor* type =
          pool.FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) return not_found(request.all_extension_numbers_of_type());
      std::vector<const google::protobuf::FieldDescriptor*> extensions;
      pool.FindAllExtensions(type, &extensions);
      auto* numbers = response.mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const auto* e : extensions) numbers->add_extension_number(e->number());
      return response;
    }
    case rv1::ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      break;
  }
  response.mutable_error_response()->set_error_code(grpc::StatusCode::INVALID_ARGUMENT);
  response.mutable_error_response()->set_error_message("question vide");
  return response;
}

namespace {

// Reads a question, writes its answer, until the client closes its side.
class ReflectionReactor : public grpc::ServerGenericBidiReactor {
 public:
  explicit ReflectionReactor(const PublicReflection& reflection) : reflection_(reflection) {
    StartRead(&in_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    if (++answered_ > 10000) {
      Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "plus de 10 000 questions sur un flux"));
      return;
    }
    rv1::ServerReflectionRequest request;
    if (!request.ParseFromString(ToString(in_))) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "question illisible"));
      return;
    }
    out_ = ToBuffer(reflection_.Answer(request).SerializeAsString());
    StartWrite(&out_);
  }
  void OnWriteDone(bool ok) override {
    if (ok) {
      StartRead(&in_);
    } else {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client parti"));
    }
  }
  void OnDone() override { delete this; }

 private:
  const PublicReflection& reflection_;
  grpc::ByteBuffer in_;
  grpc::ByteBuffer out_;
  int answered_ = 0;
};

}  // namespace

grpc::ServerGenericBidiReactor* PublicReflection::NewReactor() const {
  return new ReflectionReactor(*this);
}

}  // namespace passerelle::gateway
