// SearchVenues responses written from the index's serialized venues.
#pragma once

#include <string>

#include "services/venues/registry.hpp"

namespace passerelle::venues {

/// The bytes of a `v1::SearchVenuesResponse` for `result`, written around each hit's stored
/// `v1::Venue` bytes: what the generated code would write for the same message, without
/// copying twenty venues into messages and encoding them again on every request. `basic`: each
/// venue in the BASIC view (IndexedVenue::basic) instead of the full one.
std::string EncodeSearchResponse(const Registry::SearchResult& result, bool basic = false);

}  // namespace passerelle::venues
