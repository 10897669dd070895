#include "services/venues/wire.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstring>

namespace passerelle::venues {

std::string EncodeSearchResponse(const Registry::SearchResult& result, bool basic) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  constexpr auto kLength = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  const uint32_t results_tag =
      WireFormatLite::MakeTag(v1::SearchVenuesResponse::kResultsFieldNumber, kLength);
  const uint32_t venue_tag = WireFormatLite::MakeTag(v1::VenueMatch::kVenueFieldNumber, kLength);
  const uint32_t distance_tag = WireFormatLite::MakeTag(v1::VenueMatch::kDistanceMetersFieldNumber,
                                                        WireFormatLite::WIRETYPE_FIXED64);
  size_t reserve = 16 + result.next_page_token.size() + result.previous_page_token.size();
  for (const auto& hit : result.hits) {
    reserve += (basic ? hit.venue->basic : hit.venue->wire).size() + 24;
  }
  std::string out;
  out.reserve(reserve);
  {
    google::protobuf::io::StringOutputStream stream(&out);
    CodedOutputStream coded(&stream);
    for (const auto& hit : result.hits) {
      const std::string& venue = basic ? hit.venue->basic : hit.venue->wire;
      size_t match_size = CodedOutputStream::VarintSize32(venue_tag) +
                          CodedOutputStream::VarintSize32(static_cast<uint32_t>(venue.size())) +
                          venue.size();
      if (hit.distance_m >= 0) match_size += CodedOutputStream::VarintSize32(distance_tag) + 8;
      coded.WriteTag(results_tag);
      coded.WriteVarint32(static_cast<uint32_t>(match_size));
      coded.WriteTag(venue_tag);
      coded.WriteVarint32(static_cast<uint32_t>(venue.size()));
      coded.WriteRaw(venue.data(), static_cast<int>(venue.size()));
      if (hit.distance_m >= 0) {
        coded.WriteTag(distance_tag);
        coded.WriteLittleEndian64(WireFormatLite::EncodeDouble(hit.distance_m));
      }
    }
    if (result.total != 0) {
      WireFormatLite::WriteInt32(v1::SearchVenuesResponse::kTotalSizeFieldNumber,
                                 static_cast<int32_t>(result.total), &coded);
    }
    if (!result.next_page_token.empty()) {
      WireFormatLite::WriteString(v1::SearchVenuesResponse::kNextPageTokenFieldNumber,
                                  result.next_page_token, &coded);
    }
    if (!result.previous_page_token.empty()) {
      WireFormatLite::WriteString(v1::SearchVenuesResponse::kPreviousPageTokenFieldNumber,
                                  result.previous_page_token, &coded);
    }
    if (result.unknown_hours != 0) {
      WireFormatLite::WriteInt32(v1::SearchVenuesResponse::kUnknownHoursSizeFieldNumber,
                                 static_cast<int32_t>(result.unknown_hours), &coded);
    }
  }
  return out;
}

}  // namespace passerelle::venues
