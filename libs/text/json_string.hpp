// JSON string literals written straight into an output buffer, for the printers that build JSON
// by hand on hot paths (the gateway's proto3 printer, the OGC features).
#pragma once

#include <string>
#include <string_view>

namespace passerelle::text {

/// Appends `s` as a JSON string literal (quotes, `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other
/// controls and DEL as `\u00XX`); false, with nothing written, when `s` is not valid UTF-8.
bool AppendJsonString(std::string* out, std::string_view s);

/// As AppendJsonString, with invalid UTF-8 sequences replaced by U+FFFD first.
void AppendJsonStringRepaired(std::string* out, std::string_view s);

}  // namespace passerelle::text
