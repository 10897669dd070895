// gRPC handler of the venues service.
#include "services/venues/handler.hpp"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "libs/api/page_token.hpp"
#include "libs/api/resource.hpp"
#include "libs/api/status.hpp"
#include "libs/logging/logging.hpp"
#include "libs/server/caller.hpp"
#include "libs/server/errors.hpp"
#include "libs/server/resource.hpp"
#include "libs/server/server.hpp"
#include "libs/service/memory.hpp"
#include "libs/text/utf8.hpp"
#include "services/venues/organisations.hpp"
#include "services/venues/schedule.hpp"
#include "services/venues/wire.hpp"

namespace passerelle::venues {
namespace {

void AddViolations(const std::vector<standard::Violation>& violations,
                   google::protobuf::RepeatedPtrField<v1::RowViolation>* out) {
  for (const auto& v : violations) {
    auto* x = out->Add();
    x->set_field(v.field);
    x->set_value(v.value);
    x->set_rule(v.rule);
    x->set_description(v.message);
  }
}

// The request of a raw callback method. A caller that leaves before its whole request arrived
// leaves the method an empty buffer: CANCELLED, not a fault of ours (as the interceptor says
// for the synchronous methods). Bytes that do not parse (invalid UTF-8 in a string field) are
// the caller's fault.
template <typename Request>
grpc::Status ParseRequest(const grpc::ByteBuffer* request, Request* out) {
  if (!request->Valid()) {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        "the request did not arrive whole (cancelled or past its deadline)");
  }
  grpc::ByteBuffer copy(*request);  // Deserialize consumes its buffer
  if (!grpc::SerializationTraits<Request>::Deserialize(&copy, out).ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, api::kUnreadableRequest);
  }
  return grpc::Status::OK;
}

v1::UpsertOutcome ToProto(RowResult::Outcome outcome) {
  switch (outcome) {
    case RowResult::Outcome::kCreated:
      return v1::CREATED;
    case RowResult::Outcome::kUpdated:
      return v1::UPDATED;
    case RowResult::Outcome::kUnchanged:
      return v1::UNCHANGED;
    case RowResult::Outcome::kRejected:
      return v1::REJECTED;
  }
  return v1::UPSERT_OUTCOME_UNSPECIFIED;
}

// Whether a timestamp is one the registry reads (1970 to 9999, nanos in range); adds the
// violation when not.
bool ValidTimestamp(const google::protobuf::Timestamp& t, std::string_view field,
                    std::vector<server::FieldViolation>* bad) {
  if (t.seconds() >= 0 && t.seconds() <= 253402300799 && t.nanos() >= 0 && t.nanos() <= 999999999) {
    return true;
  }
  bad->push_back({std::string(field),
                  absl::StrCat("doit être entre 1970 et 9999, nanos dans [0, 999999999] [range] (",
                               t.seconds(), " s, ", t.nanos(), " ns)")});
  return false;
}

// A timestamp that must be given: the violation names it when it is not.
template <typename Message>
bool RequiredTimestamp(const Message& m, bool (Message::*has)() const,
                       const google::protobuf::Timestamp& t, std::string_view field,
                       std::vector<server::FieldViolation>* bad) {
  if (!(m.*has)()) {
    bad->push_back({std::string(field), "[required] est requis"});
    return false;
  }
  return ValidTimestamp(t, field, bad);
}

v1::HoursState ToProto(standard::HoursState state) {
  switch (state) {
    case standard::HoursState::kOpen:
      return v1::HOURS_STATE_OPEN;
    case standard::HoursState::kClosed:
      return v1::HOURS_STATE_CLOSED;
    case standard::HoursState::kUnknown:
      return v1::HOURS_STATE_UNKNOWN;
  }
  return v1::HOURS_STATE_UNSPECIFIED;
}

// A box's four edges, each required: a missing one would be read as 0 (the equator or the
// Greenwich meridian) and the box searched would not be the one meant.
void RequireEdges(const v1::BoundingBox& box, std::vector<server::FieldViolation>* bad) {
  struct Edge {
    bool (v1::BoundingBox::*has)() const;
    const char* field;
    const char* said;
  };
  static constexpr Edge kEdges[] = {
      {&v1::BoundingBox::has_min_latitude, "within.min_latitude", "le bord sud"},
      {&v1::BoundingBox::has_min_longitude, "within.min_longitude", "le bord ouest"},
      {&v1::BoundingBox::has_max_latitude, "within.max_latitude", "le bord nord"},
      {&v1::BoundingBox::has_max_longitude, "within.max_longitude", "le bord est"},
  };
  for (const Edge& e : kEdges) {
    if (!(box.*e.has)()) {
      bad->push_back({e.field, absl::StrCat("[required] ", e.said, " du rectangle manque")});
    }
  }
}

}  // namespace

absl::StatusOr<std::optional<std::string>> ActingOrganisation(
    const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto [first, last] = metadata.equal_range(kActingOrganisationHeader);
  if (first == last) return std::optional<std::string>();
  if (std::next(first) != last) {
    return NotOwner(absl::StrCat(kActingOrganisationHeader, " est donné plusieurs fois"));
  }
  return std::optional<std::string>(std::string(first->second.data(), first->second.size()));
}

namespace {

// A response of bytes the index keeps: the slice holds a reference, nothing is copied.
grpc::ByteBuffer Referencing(std::shared_ptr<const IndexedVenue> venue) {
  auto* owned = new std::shared_ptr<const IndexedVenue>(std::move(venue));
  grpc::Slice slice(
      const_cast<char*>((*owned)->wire.data()), (*owned)->wire.size(),
      [](void* p) { delete static_cast<std::shared_ptr<const IndexedVenue>*>(p); }, owned);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

namespace {

constexpr char kGetVenue[] = "/passerelle.venues.v1.VenueService/GetVenue";
constexpr char kSearchVenues[] = "/passerelle.venues.v1.VenueService/SearchVenues";

// The status a recorded call sends (see Handler::BeginCall), or `status` itself.
grpc::Status Ended(const std::optional<metrics::GrpcServerMetricsFactory::Call>& call,
                   const grpc::Status& status, const std::string& request_id) {
  return call ? call->End(status, request_id) : status;
}

}  // namespace

Handler::Handler(Registry& registry, VenueMetrics& metrics, absl::TimeZone paris,
                 metrics::GrpcServerMetricsFactory* calls)
    : registry_(registry), metrics_(metrics), paris_(paris), calls_(calls) {
  if (calls_ != nullptr) {
    calls_->RecordedByHandler(kGetVenue);
    calls_->RecordedByHandler(kSearchVenues);
  }
  const standard::Standard& st = registry_.standard();
  auto find = [&](const char* field) {
    const standard::FieldSpec* spec = st.Find(field);
    if (spec == nullptr) {
      throw std::logic_error(absl::StrCat("the standard's schema has no field ", field));
    }
    return spec;
  };
  enum_filters_ = {find("services"),
                   find("dispositif_programmes_nationaux"),
                   find("publics_specifiquement_adresses"),
                   find("prise_en_charge_specifique"),
                   find("frais_a_charge"),
                   find("modalites_acces"),
                   find("modalites_accompagnement")};
}

Handler::Call Handler::BeginCall(const char* full_method) const {
  if (calls_ == nullptr) return std::nullopt;
  return calls_->Begin(full_method);
}

grpc::ServerUnaryReactor* Handler::GetVenue(grpc::CallbackServerContext* ctx,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  server::RequestScope scope(ctx);
  const Call call = BeginCall(kGetVenue);
  v1::GetVenueRequest req;
  if (grpc::Status status = ParseRequest(request, &req); !status.ok()) {
    reactor->Finish(Ended(call, status, scope.ids().request_id));
    return reactor;
  }
  if (auto indexed = registry_.FindIndexed(req.name())) {
    *response = Referencing(std::move(indexed));
    reactor->Finish(Ended(call, grpc::Status::OK, scope.ids().request_id));
    return reactor;
  }
  // Withdrawn, unknown or malformed: the store answers, on a thread that may wait for it.
  auto finish = [reactor, call, request_id = scope.ids().request_id](const grpc::Status& status) {
    reactor->Finish(Ended(call, status, request_id));
  };
  const bool queued =
      store_reads_.Post([this, ctx, finish, response, name = req.name(), ids = scope.ids()]() {
        logging::ScopedRequest scoped(ids);
        if (ctx->IsCancelled()) {
          finish(grpc::Status(grpc::StatusCode::CANCELLED, "the caller gave up"));
          return;
        }
        auto v = registry_.Get(name);
        if (!v.ok()) {
          finish(server::ToGrpc(v.status()));
          return;
        }
        auto read = std::make_shared<IndexedVenue>();
        read->name = v->Name();
        v1::Venue message;
        ToProto(registry_.standard(), *v, &message);
        message.SerializeToString(&read->wire);
        *response = Referencing(std::move(read));
        finish(grpc::Status::OK);
      });
  if (!queued) {
    finish(server::ToGrpc(absl::ResourceExhaustedError(
        "too many reads of venues outside the search index at once; retry shortly")));
  }
  return reactor;
}

grpc::Status Handler::GetOpeningSchedule(grpc::ServerContext* ctx,
                                         const v1::GetOpeningScheduleRequest* req,
                                         v1::OpeningSchedule* resp) {
  server::RequestScope scope(ctx);
  constexpr std::string_view kSuffix = "/openingSchedule";
  std::vector<server::FieldViolation> bad;
  std::string venue;
  if (!req->name().ends_with(kSuffix) || !req->name().starts_with("venues/")) {
    bad.push_back({"name", absl::StrCat("doit être venues/{venue}/openingSchedule [format] (",
                                        text::Quote(req->name(), 200), ")")});
  } else {
    venue = req->name().substr(0, req->name().size() - kSuffix.size());
  }
  absl::Time time = absl::Now();
  if (req->has_time() && ValidTimestamp(req->time(), "time", &bad)) {
    time = api::FromTimestamp(req->time());
  }
  if (req->days() < 0 || req->days() > kScheduleMaxDays) {
    bad.push_back({"days", absl::StrCat("[range] de 1 à ", kScheduleMaxDays,
                                        " (0 : 7 jours), reçu ", req->days())});
  }
  if (!bad.empty()) {
    return server::ToGrpc(server::InvalidArgument("demande d'horaires invalide", bad));
  }
  // The venue as GetVenue reads it: from the index when active, else from the store.
  v1::Venue v;
  if (auto indexed = registry_.FindIndexed(venue)) {
    if (!v.ParseFromString(indexed->wire)) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "indexed venue unreadable");
    }
  } else {
    absl::StatusOr<standard::Venue> stored = registry_.Get(venue);
    if (!stored.ok()) return server::ToGrpc(stored.status());
    ToProto(registry_.standard(), *stored, &v);
  }
  const std::optional<standard::OpeningHours> hours =
      v.horaires().empty() ? std::nullopt : standard::OpeningHours::Parse(v.horaires());
  const Schedule s =
      ScheduleOf(hours, absl::ToCivilMinute(time, paris_), req->days() == 0 ? 7 : req->days());
  resp->set_name(req->name());
  resp->set_horaires(v.horaires());
  resp->set_understood(s.understood);
  resp->set_description(s.description.value_or(""));
  resp->set_time_zone("Europe/Paris");
  resp->set_current_state(ToProto(s.state));
  resp->set_current_comment(s.comment);
  auto set_time = [&](absl::CivilMinute local, google::protobuf::Timestamp* out) {
    out->set_seconds(absl::ToUnixSeconds(paris_.At(local).pre));
  };
  if (s.next_open) set_time(*s.next_open, resp->mutable_next_open_time());
  if (s.next_close) set_time(*s.next_close, resp->mutable_next_close_time());
  for (const ScheduleDay& d : s.days) {
    v1::ScheduleDay* day = resp->add_days();
    day->set_date(absl::FormatCivilTime(d.date));
    day->set_public_holiday(d.public_holiday);
    for (const standard::OpeningHours::Period& p : d.periods) {
      v1::SchedulePeriod* period = day->add_periods();
      period->set_start(absl::StrFormat("%02d:%02d", p.from / 60, p.from % 60));
      period->set_end(absl::StrFormat("%02d:%02d", p.to / 60, p.to % 60));
      period->set_state(ToProto(p.state));
      period->set_comment(std::string(p.comment));
    }
  }
  return grpc::Status::OK;
}

grpc::Status Handler::ListVenues(grpc::ServerContext* ctx, const v1::ListVenuesRequest* req,
                                 v1::ListVenuesResponse* resp) {
  server::RequestScope scope(ctx);
  auto q = registry_.ParseListQuery(req->filter(), req->order_by(), req->page_size(),
                                    req->page_token(), req->show_withdrawn());
  if (!q.ok()) return server::ToGrpc(q.status());
  auto page = registry_.List(*q);
  if (!page.ok()) return server::ToGrpc(page.status());
  for (const auto& v : page->venues) ToProto(registry_.standard(), v, resp->add_venues());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status Handler::CreateVenue(grpc::ServerContext* ctx, const v1::CreateVenueRequest* req,
                                  v1::Venue* resp) {
  server::RequestScope scope(ctx);
  auto acting = ActingOrganisation(*ctx);
  if (!acting.ok()) return server::ToGrpc(acting.status());
  auto caller = server::CallerOf(*ctx);
  if (!caller.ok()) return server::ToGrpc(caller.status());
  auto v = registry_.Create(req->venue(), req->request_id(), *acting, caller->RequestScope());
  if (!v.ok()) return server::ToGrpc(v.status());
  ToProto(registry_.standard(), *v, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::UpdateVenue(grpc::ServerContext* ctx, const v1::UpdateVenueRequest* req,
                                  v1::Venue* resp) {
  server::RequestScope scope(ctx);
  std::vector<std::string> mask(req->update_mask().paths().begin(),
                                req->update_mask().paths().end());
  auto acting = ActingOrganisation(*ctx);
  if (!acting.ok()) return server::ToGrpc(acting.status());
  auto caller = server::CallerOf(*ctx);
  if (!caller.ok()) return server::ToGrpc(caller.status());
  auto v = registry_.Update(req->venue(), mask, req->request_id(), *acting, caller->RequestScope());
  if (!v.ok()) return server::ToGrpc(v.status());
  ToProto(registry_.standard(), *v, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::WithdrawVenue(grpc::ServerContext* ctx, const v1::WithdrawVenueRequest* req,
                                    v1::Venue* resp) {
  server::RequestScope scope(ctx);
  auto acting = ActingOrganisation(*ctx);
  if (!acting.ok()) return server::ToGrpc(acting.status());
  auto caller = server::CallerOf(*ctx);
  if (!caller.ok()) return server::ToGrpc(caller.status());
  auto v = registry_.Withdraw(req->name(), req->reason(), req->etag(), req->request_id(), *acting,
                              caller->RequestScope());
  if (!v.ok()) return server::ToGrpc(v.status());
  ToProto(registry_.standard(), *v, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::BatchUpsertVenues(grpc::ServerContext* ctx,
                                        const v1::BatchUpsertVenuesRequest* req,
                                        v1::BatchUpsertVenuesResponse* resp) {
  server::RequestScope scope(ctx);
  auto acting = ActingOrganisation(*ctx);
  if (!acting.ok()) return server::ToGrpc(acting.status());
  auto caller = server::CallerOf(*ctx);
  if (!caller.ok()) return server::ToGrpc(caller.status());
  // Owners are set by administrators and internal callers (organisation keys write no batch).
  const bool may_name_owner = caller->internal() || caller->Has("admin");
  std::vector<v1::Venue> rows(req->venues().begin(), req->venues().end());
  auto results = registry_.BatchUpsert(req->source(), rows, req->reinstate_withdrawn(),
                                       absl::FromChrono(ctx->deadline()), *acting, may_name_owner);
  if (!results.ok()) return server::ToGrpc(results.status());
  int counts[4] = {0, 0, 0, 0};
  for (const RowResult& r : *results) {
    ++counts[static_cast<int>(r.outcome)];
    metrics_.CountViolations(r.violations);
    for (const auto& w : r.warnings) metrics_.CountWarning(w.rule);
  }
  metrics_.CountRows(counts[static_cast<int>(RowResult::Outcome::kCreated)],
                     counts[static_cast<int>(RowResult::Outcome::kUpdated)],
                     counts[static_cast<int>(RowResult::Outcome::kUnchanged)],
                     counts[static_cast<int>(RowResult::Outcome::kRejected)]);
  for (size_t i = 0; i < results->size(); ++i) {
    const RowResult& r = (*results)[i];
    auto* out = resp->add_results();
    out->set_index(static_cast<int32_t>(i));
    out->set_source_id(r.source_id);
    out->set_outcome(ToProto(r.outcome));
    if (!r.id.empty()) out->set_name("venues/" + r.id);
    AddViolations(r.violations, out->mutable_violations());
    for (const auto& c : r.changed_fields) out->add_changed_fields(c);
    AddViolations(r.warnings, out->mutable_warnings());
  }
  return grpc::Status::OK;
}

namespace {

// Enum numbers of a repeated filter to the schema's spelling; an unknown number is a violation
// on `request_field`, never a silently empty filter.
template <typename Repeated>
std::vector<std::string> Spelled(const standard::FieldSpec* spec, const char* request_field,
                                 const Repeated& r, std::vector<server::FieldViolation>* bad) {
  std::vector<std::string> out;
  if (r.size() > 100) {
    bad->push_back({request_field, absl::StrCat("[size] au plus 100 valeurs, reçu ", r.size())});
    return out;
  }
  for (int i = 0; i < r.size(); ++i) {
    const int n = r.Get(i);
    if (n >= 1 && n <= static_cast<int>(spec->values.size())) {
      out.push_back(spec->values[n - 1]);
    } else {
      bad->push_back(
          {absl::StrCat(request_field, "[", i, "]"), absl::StrCat("[enum] valeur inconnue ", n)});
    }
  }
  return out;
}

// A repeated string filter: at most 100 values of bounded, valid text.
template <typename Repeated>
std::vector<std::string> Strings(const char* request_field, const Repeated& r,
                                 std::vector<server::FieldViolation>* bad) {
  if (r.size() > 100) {
    bad->push_back({request_field, absl::StrCat("[size] au plus 100 valeurs, reçu ", r.size())});
    return {};
  }
  for (int i = 0; i < r.size(); ++i) {
    server::CheckText(bad, absl::StrCat(request_field, "[", i, "]"), r.Get(i), 200);
  }
  return {r.begin(), r.end()};
}

}  // namespace

grpc::Status Handler::ImportVenues(grpc::ServerContext* ctx,
                                   grpc::ServerReader<v1::ImportVenuesChunk>* reader,
                                   v1::ImportVenuesResponse* resp) {
  server::RequestScope scope(ctx);
  // An organisation key's import is refused before its file is read.
  auto acting = ActingOrganisation(*ctx);
  if (!acting.ok()) return server::ToGrpc(acting.status());
  if (absl::Status s = Registry::CheckBatchWriter(*acting); !s.ok()) return server::ToGrpc(s);
  constexpr size_t kMaxBytes = 256 * 1024 * 1024;
  std::string source, data;
  v1::ImportVenuesChunk chunk;
  while (reader->Read(&chunk)) {
    if (source.empty()) source = chunk.source();
    data += chunk.data();
    if (data.size() > kMaxBytes) {
      return server::ToGrpc(server::InvalidArgument(
          "file too large", {{"data", "at most 256 MiB per import; split the file"}}));
    }
  }
  // A stream that ended because the client went away or cancelled is a cut file: nothing of it
  // is applied (robustness.md, files).
  if (ctx->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        "import interrompu par le client : rien n'a été écrit");
  }
  auto report = registry_.Import(source, data, absl::FromChrono(ctx->deadline()), *acting);
  data.clear();
  data.shrink_to_fit();
  // A national file is parsed into hundreds of MB of short-lived strings: give the freed memory
  // back to the system instead of keeping it in the allocator's free lists.
  service::ReleaseFreeMemory();
  if (!report.ok()) return server::ToGrpc(report.status());
  metrics_.CountRows(report->created, report->updated, report->unchanged,
                     static_cast<int>(report->rejected.size()));
  for (const auto& r : report->rejected) metrics_.CountViolations(r.violations);
  resp->set_rows(report->rows);
  resp->set_created(report->created);
  resp->set_updated(report->updated);
  resp->set_unchanged(report->unchanged);
  // The report fits in any client's 4 MB default: rejected rows up to 2 MB, rewritings up to
  // 1 MB more, and the totals say what was left out (the rows themselves were written).
  constexpr size_t kRejectedBudget = 2 << 20, kReportBudget = 3 << 20;
  resp->set_rejected_total(static_cast<int32_t>(report->rejected.size()));
  resp->set_normalisations_total(static_cast<int32_t>(report->normalisations.size()));
  for (const auto& c : report->ignored_columns) resp->add_ignored_columns(c);
  size_t size = resp->ByteSizeLong();
  for (const auto& r : report->rejected) {
    v1::RejectedRow row;
    row.set_line(r.line);
    row.set_source_id(r.source_id);
    AddViolations(r.violations, row.mutable_violations());
    size += row.ByteSizeLong() + 8;
    if (size > kRejectedBudget) break;
    *resp->add_rejected() = std::move(row);
  }
  for (const auto& n : report->normalisations) {
    size += n.size() + 8;
    if (size > kReportBudget) break;
    resp->add_normalisations(n);
  }
  // Warnings within 512 KB more: the whole report stays under 3.5 MB.
  constexpr size_t kWarningBudget = kReportBudget + (512 << 10);
  resp->set_warnings_total(static_cast<int32_t>(report->warnings.size()));
  for (const auto& w : report->warnings) {
    v1::RowWarning warning;
    warning.set_line(w.line);
    warning.set_source_id(w.source_id);
    warning.mutable_issue()->set_field(w.issue.field);
    warning.mutable_issue()->set_value(w.issue.value);
    warning.mutable_issue()->set_rule(w.issue.rule);
    warning.mutable_issue()->set_description(w.issue.message);
    size += warning.ByteSizeLong() + 8;
    if (size > kWarningBudget) break;
    *resp->add_warnings() = std::move(warning);
  }
  for (const auto& w : report->warnings) metrics_.CountWarning(w.issue.rule);
  return grpc::Status::OK;
}

grpc::Status Handler::ExportVenues(grpc::ServerContext* ctx, const v1::ExportVenuesRequest* req,
                                   grpc::ServerWriter<v1::ExportVenuesChunk>* writer) {
  server::RequestScope scope(ctx);
  if (!v1::DataInclusionSchema_IsValid(req->data_inclusion_schema())) {
    return server::ToGrpc(server::InvalidArgument(
        "invalid data_inclusion_schema",
        {{"data_inclusion_schema",
          absl::StrCat("révision de schéma inconnue ", req->data_inclusion_schema())}}));
  }
  std::unique_ptr<standard::Exporter> exporter =
      standard::NewExporter(registry_.standard(), req->format(), req->data_inclusion_schema());
  if (exporter == nullptr) {
    return server::ToGrpc(server::InvalidArgument(
        "invalid format", {{"format", absl::StrCat("unknown format ", req->format())}}));
  }
  // One venue parsed at a time from the index's snapshot, one chunk buffered: an export of the
  // whole country holds neither the document nor every venue's message in memory.
  server::ChunkStream<v1::ExportVenuesChunk> stream(writer, exporter->content_type());
  bool open = stream.Append(exporter->Begin());
  v1::Venue venue;
  for (const auto& indexed : registry_.index().Snapshot()) {
    if (!open) break;
    if (!venue.ParseFromString(indexed->wire)) continue;  // the index wrote these bytes
    open = stream.Append(exporter->Add(venue));
  }
  if (open) stream.Append(exporter->End());
  return stream.Finish();
}

namespace {

void ToProto(const Repository::Box& box, v1::BoundingBox* out) {
  out->set_min_longitude(box.min_lon);
  out->set_min_latitude(box.min_lat);
  out->set_max_longitude(box.max_lon);
  out->set_max_latitude(box.max_lat);
}

void ToProto(const Repository::AreaLayerRecord& layer, v1::AreaLayer* out) {
  out->set_name("areaLayers/" + layer.layer);
  out->set_title(layer.title);
  out->set_area_count(layer.area_count);
  server::ToTimestamp(layer.update_time, out->mutable_update_time());
  if (layer.extent) ToProto(*layer.extent, out->mutable_extent());
}

}  // namespace

grpc::Status Handler::ImportAreaLayer(grpc::ServerContext* ctx,
                                      const v1::ImportAreaLayerRequest* req, v1::AreaLayer* resp) {
  server::RequestScope scope(ctx);
  auto changed =
      registry_.ImportAreaLayer(req->layer(), req->title(), req->geojson(), req->code_property(),
                                req->name_property(), absl::FromChrono(ctx->deadline()));
  if (!changed.ok()) return server::ToGrpc(changed.status());
  auto layer = registry_.GetAreaLayer("areaLayers/" + req->layer(), "layer");
  if (!layer.ok()) return server::ToGrpc(layer.status());
  ToProto(*layer, resp);
  resp->set_venues_updated(*changed);
  return grpc::Status::OK;
}

grpc::Status Handler::ListAreas(grpc::ServerContext* ctx, const v1::ListAreasRequest* req,
                                v1::ListAreasResponse* resp) {
  server::RequestScope scope(ctx);
  Registry::AreaListing listing;
  listing.full = req->view() == v1::AREA_VIEW_FULL;
  if (!v1::AreaView_IsValid(req->view())) {
    return server::ToGrpc(api::InvalidArgument(
        "invalid view",
        {{"view", absl::StrCat("[enum] AREA_VIEW_BASIC ou AREA_VIEW_FULL, reçu ", req->view())}}));
  }
  if (req->has_within()) {
    std::vector<server::FieldViolation> missing;
    RequireEdges(req->within(), &missing);
    if (!missing.empty()) {
      return server::ToGrpc(api::InvalidArgument("demande invalide", missing));
    }
    listing.within = Repository::Box{.min_lon = req->within().min_longitude(),
                                     .min_lat = req->within().min_latitude(),
                                     .max_lon = req->within().max_longitude(),
                                     .max_lat = req->within().max_latitude()};
  }
  listing.page_size = req->page_size();
  listing.page_token = req->page_token();
  // The tokens are only valid for the same request: bound to it without token and size.
  v1::ListAreasRequest same = *req;
  same.clear_page_token();
  same.clear_page_size();
  listing.binding = api::BindParameters({same.SerializeAsString()});
  auto found = registry_.ListAreas(req->parent(), std::move(listing));
  if (!found.ok()) return server::ToGrpc(found.status());
  for (const auto& a : found->page.areas) {
    auto* out = resp->add_areas();
    out->set_name(req->parent() + "/areas/" + a.code);
    out->set_code(a.code);
    out->set_label(a.label);
    out->set_venue_count(a.venues);
    if (req->view() == v1::AREA_VIEW_FULL) {
      out->set_geometry(a.geometry_json);
      ToProto(a.extent, out->mutable_extent());
    }
  }
  resp->set_next_page_token(found->next_page_token);
  resp->set_previous_page_token(found->previous_page_token);
  resp->set_total_size(found->page.total);
  return grpc::Status::OK;
}

grpc::Status Handler::ListAreaLayers(grpc::ServerContext* ctx, const v1::ListAreaLayersRequest* req,
                                     v1::ListAreaLayersResponse* resp) {
  server::RequestScope scope(ctx);
  auto page = registry_.ListAreaLayers(req->page_size(), req->page_token());
  if (!page.ok()) return server::ToGrpc(page.status());
  for (const auto& layer : page->layers) ToProto(layer, resp->add_area_layers());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status Handler::GetArea(grpc::ServerContext* ctx, const v1::GetAreaRequest* req,
                              v1::Area* resp) {
  server::RequestScope scope(ctx);
  auto area = registry_.GetArea(req->name());
  if (!area.ok()) return server::ToGrpc(area.status());
  resp->set_name(req->name());
  resp->set_code(area->code);
  resp->set_label(area->label);
  resp->set_venue_count(area->venues);
  resp->set_geometry(area->geometry_json);
  ToProto(area->extent, resp->mutable_extent());
  return grpc::Status::OK;
}

grpc::Status Handler::GetAreaLayer(grpc::ServerContext* ctx, const v1::GetAreaLayerRequest* req,
                                   v1::AreaLayer* resp) {
  server::RequestScope scope(ctx);
  auto layer = registry_.GetAreaLayer(req->name());
  if (!layer.ok()) return server::ToGrpc(layer.status());
  ToProto(*layer, resp);
  return grpc::Status::OK;
}

namespace {

void ToProto(const SourceRecord& s, v1::Source* out) {
  out->set_name(s.Name());
  out->set_display_name(s.display_name);
  server::ToTimestamp(s.create_time, out->mutable_create_time());
  out->set_conflict_policy(s.conflict_policy == ConflictPolicy::kLocalWins ? v1::LOCAL_WINS
                                                                           : v1::SOURCE_WINS);
}

// A stored value as the national CSV writes it: list values joined with `|`.
std::string JoinedValue(const std::optional<std::vector<std::string>>& value) {
  return value ? absl::StrJoin(*value, "|") : "";
}

void ToProto(const ConflictRecord& c, v1::VenueConflict* out) {
  out->set_name(c.Name());
  out->set_source(c.source);
  out->set_field(c.field);
  out->set_local_value(JoinedValue(c.local_value));
  out->set_previous_source_value(JoinedValue(c.previous_source_value));
  out->set_new_source_value(JoinedValue(c.new_source_value));
  out->set_policy(c.policy == ConflictPolicy::kLocalWins ? v1::LOCAL_WINS : v1::SOURCE_WINS);
  server::ToTimestamp(c.create_time, out->mutable_create_time());
}

}  // namespace

grpc::Status Handler::CreateSource(grpc::ServerContext* ctx, const v1::CreateSourceRequest* req,
                                   v1::Source* resp) {
  server::RequestScope scope(ctx);
  auto s = registry_.CreateSource(req->source_id(), req->source().display_name(),
                                  req->source().conflict_policy());
  if (!s.ok()) return server::ToGrpc(s.status());
  ToProto(*s, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::GetSource(grpc::ServerContext* ctx, const v1::GetSourceRequest* req,
                                v1::Source* resp) {
  server::RequestScope scope(ctx);
  auto s = registry_.GetSource(req->name());
  if (!s.ok()) return server::ToGrpc(s.status());
  ToProto(*s, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::ListSources(grpc::ServerContext* ctx, const v1::ListSourcesRequest* req,
                                  v1::ListSourcesResponse* resp) {
  server::RequestScope scope(ctx);
  auto page = registry_.ListSources(req->page_size(), req->page_token());
  if (!page.ok()) return server::ToGrpc(page.status());
  for (const auto& s : page->sources) ToProto(s, resp->add_sources());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status Handler::RestoreSourceFields(grpc::ServerContext* ctx,
                                          const v1::RestoreSourceFieldsRequest* req,
                                          v1::Venue* resp) {
  server::RequestScope scope(ctx);
  auto acting = ActingOrganisation(*ctx);
  if (!acting.ok()) return server::ToGrpc(acting.status());
  auto caller = server::CallerOf(*ctx);
  if (!caller.ok()) return server::ToGrpc(caller.status());
  std::vector<std::string> fields(req->fields().begin(), req->fields().end());
  auto v = registry_.RestoreSourceFields(req->name(), fields, req->etag(), req->request_id(),
                                         *acting, caller->RequestScope());
  if (!v.ok()) return server::ToGrpc(v.status());
  ToProto(registry_.standard(), *v, resp);
  return grpc::Status::OK;
}

grpc::Status Handler::ListVenueConflicts(grpc::ServerContext* ctx,
                                         const v1::ListVenueConflictsRequest* req,
                                         v1::ListVenueConflictsResponse* resp) {
  server::RequestScope scope(ctx);
  auto page =
      registry_.ListConflicts(req->parent(), req->page_size(), req->page_token(), req->filter());
  if (!page.ok()) return server::ToGrpc(page.status());
  for (const auto& c : page->conflicts) ToProto(c, resp->add_conflicts());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

// SearchVenues is a callback method on raw bytes: it runs on gRPC's own threads without a hop to
// the synchronous pool, and its response is written from the venues' stored bytes.
grpc::ServerUnaryReactor* Handler::SearchVenues(grpc::CallbackServerContext* ctx,
                                                const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  server::RequestScope scope(ctx);
  const Call call = BeginCall(kSearchVenues);
  v1::SearchVenuesRequest req;
  grpc::Status status = ParseRequest(request, &req);
  if (status.ok()) status = Search(req, response);
  reactor->Finish(Ended(call, status, scope.ids().request_id));
  return reactor;
}

grpc::Status Handler::Search(const v1::SearchVenuesRequest& request, grpc::ByteBuffer* response) {
  const v1::SearchVenuesRequest* req = &request;
  SearchQuery q;
  if (req->has_near()) {
    q.has_circle = true;
    q.lat = req->near().latitude();
    q.lon = req->near().longitude();
    q.radius_m = req->near().radius_meters();
  } else if (req->has_within()) {
    q.has_box = true;
    q.min_lat = req->within().min_latitude();
    q.min_lon = req->within().min_longitude();
    q.max_lat = req->within().max_latitude();
    q.max_lon = req->within().max_longitude();
  }
  std::vector<server::FieldViolation> bad;
  // A centre without one of its coordinates would be searched around 0: refused instead.
  if (req->has_near() && !req->near().has_latitude()) {
    bad.push_back({"near.latitude", "[required] la latitude du centre manque"});
  }
  if (req->has_near() && !req->near().has_longitude()) {
    bad.push_back({"near.longitude", "[required] la longitude du centre manque"});
  }
  if (req->has_within()) RequireEdges(req->within(), &bad);
  using F = SearchField;
  const EnumFilters& e = enum_filters_;
  q.AnyOf(F::kServices) = Spelled(e.services, "services", req->services(), &bad);
  q.AnyOf(F::kDispositifs) = Spelled(e.dispositifs, "dispositifs", req->dispositifs(), &bad);
  q.AnyOf(F::kPublics) = Spelled(e.publics, "publics", req->publics(), &bad);
  q.AnyOf(F::kPrisesEnCharge) =
      Spelled(e.prises_en_charge, "prises_en_charge", req->prises_en_charge(), &bad);
  q.AnyOf(F::kFrais) = Spelled(e.frais, "frais", req->frais(), &bad);
  q.AnyOf(F::kModalitesAcces) =
      Spelled(e.modalites_acces, "modalites_acces", req->modalites_acces(), &bad);
  q.AnyOf(F::kModalitesAccompagnement) =
      Spelled(e.modalites_accompagnement, "modalites_accompagnement",
              req->modalites_accompagnement(), &bad);
  q.AnyOf(F::kTypologie) = Strings("typologie", req->typologie(), &bad);
  for (std::string& t : q.AnyOf(F::kTypologie)) t = standard::TypologieAsStored(t);
  q.AnyOf(F::kReferentialItems) = Strings("referential_items", req->referential_items(), &bad);
  q.AnyOf(F::kAreas) = Strings("areas", req->areas(), &bad);
  // Names, not free text: a malformed one is a mistake to report, not a filter matching nothing.
  for (int i = 0; i < req->referential_items_size(); ++i) {
    if (!req->referential_items(i).starts_with("items/") || req->referential_items(i).size() < 7) {
      bad.push_back(
          {absl::StrCat("referential_items[", i, "]"), "[pattern] de la forme items/{item}"});
    }
  }
  for (int i = 0; i < req->areas_size(); ++i) {
    const std::string& a = req->areas(i);
    const size_t colon = a.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == a.size() ||
        a.find(':', colon + 1) != std::string::npos ||
        !api::IsLayerId(std::string_view(a).substr(0, colon))) {
      bad.push_back({absl::StrCat("areas[", i, "]"),
                     absl::StrCat("[pattern] de la forme {couche}:{code}, la couche en ",
                                  api::kLayerIdRule, ", par exemple qpv:QN05904M")});
    }
  }
  q.text = req->query();
  if (req->has_open_at() && ValidTimestamp(req->open_at(), "open_at", &bad)) {
    q.open_at = absl::ToCivilMinute(api::FromTimestamp(req->open_at()), paris_);
  }
  if (req->has_open_during()) {
    const v1::TimeSpan& span = req->open_during();
    const bool start_ok = RequiredTimestamp(span, &v1::TimeSpan::has_start_time, span.start_time(),
                                            "open_during.start_time", &bad);
    const bool end_ok = RequiredTimestamp(span, &v1::TimeSpan::has_end_time, span.end_time(),
                                          "open_during.end_time", &bad);
    if (req->has_open_at()) {
      bad.push_back({"open_during", "[exclusive] ne peut pas être donné avec open_at"});
    } else if (start_ok && end_ok) {
      const absl::Time start = api::FromTimestamp(span.start_time());
      const absl::Time end = api::FromTimestamp(span.end_time());
      if (end <= start) {
        bad.push_back({"open_during.end_time", "[order] doit être après start_time"});
      } else if (end - start > absl::Hours(24 * 31)) {
        bad.push_back({"open_during", "[range] ne peut pas dépasser 31 jours"});
      } else {
        q.open_at = absl::ToCivilMinute(start, paris_);
        // Rounded up: a span ending at 10:00:30 includes the minute 10:00.
        // A span across the autumn change of offset may end at an earlier local minute.
        const absl::CivilMinute last = absl::ToCivilMinute(end - absl::Nanoseconds(1), paris_);
        q.open_until = std::max(last + 1, *q.open_at + 1);
      }
    }
  }
  q.min_date_maj = req->min_date_maj();
  q.max_date_maj = req->max_date_maj();
  q.limit = static_cast<size_t>(api::PageSize(&bad, req->page_size(), 20, 100));
  if (!v1::VenueView_IsValid(req->view())) {
    bad.push_back({"view", absl::StrCat("[enum] VENUE_VIEW_BASIC ou VENUE_VIEW_FULL, reçu ",
                                        static_cast<int>(req->view()))});
  }
  if (!bad.empty()) return server::ToGrpc(server::InvalidArgument("recherche invalide", bad));
  // The token is only valid for the same request: its fingerprint is the request minus token,
  // size and view (a list may ask its next page in another view).
  v1::SearchVenuesRequest same = *req;
  same.clear_page_token();
  same.clear_page_size();
  same.clear_view();
  auto found = registry_.Search(q, same.SerializeAsString(), req->page_token());
  if (!found.ok()) return server::ToGrpc(found.status());
  auto* bytes = new std::string(EncodeSearchResponse(*found, req->view() == v1::VENUE_VIEW_BASIC));
  grpc::Slice slice(
      bytes->data(), bytes->size(), [](void* owned) { delete static_cast<std::string*>(owned); },
      bytes);
  *response = grpc::ByteBuffer(&slice, 1);
  return grpc::Status::OK;
}

}  // namespace passerelle::venues
