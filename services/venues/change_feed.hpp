// The venues' change feed in SQL: which rows were written by transactions a cursor could not
// see. Read by the search index's refresh (store.cpp) and by duplicate detection
// (duplicate_store.cpp), each with a cursor of its own.
#pragma once

#include <pqxx/pqxx>
#include <string>

#include "services/venues/registry.hpp"

namespace passerelle::venues::change_feed {

/// The cursor for the next read after what `tx`'s snapshot sees: the first transaction id it
/// cannot see (not started yet), and those still running when it was taken.
Repository::ChangeCursor Next(pqxx::work& tx);

/// " FROM venues WHERE <written since the cursor>", with `$1` and `$2` bound to From(cursor)
/// and Running(cursor). Both arms use the change_xid index (BitmapOr); an IN (SubPlan) made
/// every poll a sequential scan of the table.
inline constexpr char kVenuesChanged[] =
    " FROM venues WHERE change_xid >= $1::text::xid8 OR change_xid = "
    "ANY(string_to_array($2, ',')::xid8[])";
std::string From(const Repository::ChangeCursor& cursor);
std::string Running(const Repository::ChangeCursor& cursor);
/// The cursor of From() and Running()'s texts (as saved in a table).
Repository::ChangeCursor Parse(const std::string& from, const std::string& running);

}  // namespace passerelle::venues::change_feed
