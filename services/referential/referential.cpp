// Referential use cases.
#include "services/referential/referential.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "libs/events/event.hpp"
#include "libs/logging/logging.hpp"
#include "libs/server/errors.hpp"
#include "passerelle/referential/v1/events.pb.h"

namespace passerelle::referential {
namespace {

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", p.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string VersionName(const VersionTree& t) {
  return absl::StrCat("nomenclatures/", t.nomenclature, "/versions/", t.version);
}

absl::Status Referential::LoadSeed(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with("nomenclature-") || !file.ends_with(".json")) continue;
    auto nomenclature = ReadFile(entry.path());
    if (!nomenclature.ok()) return nomenclature.status();
    auto tree = ParseSeed(*nomenclature, "");
    if (!tree.ok()) return absl::InvalidArgumentError(absl::StrCat(file, ": ", tree.status().message()));
    std::string enrichment;
    if (auto e = ReadFile(fs::path(dir) / ("items-" + tree->version + ".json")); e.ok()) {
      enrichment = *e;
      tree = ParseSeed(*nomenclature, enrichment);
      if (!tree.ok()) return tree.status();
    }
    v1::VersionPublished payload;
    payload.set_version(VersionName(*tree));
    for (const auto& [id, item] : tree->items) {
      payload.add_items_added("items/" + id);
      auto* m = payload.add_code_mapping();
      m->set_item("items/" + id);
      m->set_new_code(item.code);
    }
    auto event = events::MakeEvent("referential.version.published", "referential",
                                   VersionName(*tree), payload, absl::Now(),
                                   logging::CurrentRequest().trace_id);
    auto inserted = repo_.InsertVersion(*tree, event);
    if (!inserted.ok()) return inserted.status();
    logging::Info(*inserted ? "seed version loaded" : "seed version already present",
                  {{"version", VersionName(*tree)}, {"items", tree->ActiveItemCount()}});
  }
  if (ec) return absl::NotFoundError(absl::StrCat("seed directory ", dir, ": ", ec.message()));
  return Reload();
}

absl::Status Referential::Reload() {
  auto all = repo_.LoadAll();
  if (!all.ok()) return all.status();
  catalog_.Replace(std::move(all).value());
  return absl::OkStatus();
}

absl::StatusOr<const VersionTree*> Referential::ResolveVersion(const Catalog::Snapshot& snap,
                                                               const std::string& name) const {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "nomenclatures" || parts[2] != "versions" ||
      parts[1].empty() || parts[3].empty()) {
    return server::InvalidArgument(
        "invalid version name",
        {{"name", absl::StrCat("must be nomenclatures/{nomenclature}/versions/{version}, got \"",
                               name, "\"")}});
  }
  const VersionTree* t = parts[3] == "-" ? snap.Current(parts[1]) : snap.Find(parts[1], parts[3]);
  if (t == nullptr) return absl::NotFoundError(absl::StrCat(name, " does not exist"));
  return t;
}

}  // namespace passerelle::referential
