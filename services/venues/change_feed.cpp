#include "services/venues/change_feed.hpp"

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace passerelle::venues::change_feed {

Repository::ChangeCursor Next(pqxx::work& tx) {
  auto snapshot = tx.exec1(
      "SELECT pg_snapshot_xmax(s)::text, coalesce((SELECT string_agg(x::text, ',') "
      "FROM pg_snapshot_xip(s) x), '') FROM pg_current_snapshot() s");
  return Parse(snapshot[0].as<std::string>(), snapshot[1].as<std::string>());
}

Repository::ChangeCursor Parse(const std::string& from, const std::string& running) {
  Repository::ChangeCursor out;
  out.next_xid = std::stoull(from);
  for (absl::string_view x : absl::StrSplit(running, ',', absl::SkipEmpty())) {
    out.running.push_back(std::stoull(std::string(x)));
  }
  return out;
}

std::string From(const Repository::ChangeCursor& cursor) { return std::to_string(cursor.next_xid); }

std::string Running(const Repository::ChangeCursor& cursor) {
  return absl::StrJoin(cursor.running, ",");
}

}  // namespace passerelle::venues::change_feed
