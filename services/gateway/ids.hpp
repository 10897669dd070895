// The identifiers a client may hand the door for its own tracing, checked the same way at both
// doors: what fails is replaced (a request id) or dropped (a trace context), never forwarded.
#pragma once

#include <string_view>

namespace passerelle::gateway {

/// An `X-Request-Id` the door keeps: 1 to 128 of [A-Za-z0-9._:-].
bool ValidRequestId(std::string_view id);

/// A W3C `traceparent` (version 00 form): `vv-<32 hex>-<16 hex>-ff`, lower-case hex, trace and
/// parent ids not all zero, version not ff.
bool ValidTraceparent(std::string_view traceparent);

/// A `tracestate` the door forwards: at most 512 bytes of printable ASCII.
bool ValidTracestate(std::string_view tracestate);

}  // namespace passerelle::gateway
