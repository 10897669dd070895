// Versioned SQL migrations, applied at start, per service schema and component.
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/status.h"

namespace passerelle::db {

/// One migration: a version (the NNNN of its file name), a label, its SQL. The SQL names no
/// schema: it runs with `search_path = <schema>, public`, so the same history serves the
/// service's schema in production and a throw-away schema per test.
struct Migration {
  int version;
  std::string name;
  std::string sql;
};

/// A named history within a schema: the service's own tables, or a shared library's
/// (`outbox`, `inbox`) that several services embed.
struct Component {
  std::string name;
  std::vector<Migration> migrations;
};

/// Applies what is missing of each component, in one transaction under an advisory lock, so
/// several replicas starting at once apply each migration exactly once.
/// Fails with FAILED_PRECONDITION when the database holds a version this binary does not know
/// (a newer binary migrated it) or when an applied migration's text changed since.
absl::Status Migrate(pqxx::connection& conn, const std::string& schema,
                     const std::vector<Component>& components);

/// Stable 64-bit FNV-1a of a text, in hex (migration checksums).
std::string Fingerprint(std::string_view text);

}  // namespace passerelle::db
