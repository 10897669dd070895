// The interactive map's static files (docs/map.md): `/` answers the page (index.html),
// `/lieux/<venue id>` a venue's page (lieu.html, else index.html), `/web/<file>` the app's own
// files, `/web/config.json` the settings the page reads (the tile server), `/vendor/leaflet/…`
// Debian's Leaflet. Every file is read once at start into memory (with its gzip precomputed): a
// request is an exact lookup in a table, so no path a client writes ever reaches the file system.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/gateway/rest_handler.hpp"

namespace passerelle::gateway {

struct MapOptions {
  /// The app's files (index.html, app.js, style.css…): the regular files directly in it whose
  /// names are `[A-Za-z0-9][A-Za-z0-9._-]*`; index.html must be one.
  std::string web_dir;
  /// Debian's libjs-leaflet (`/usr/share/javascript/leaflet`): leaflet.js, leaflet.min.js,
  /// leaflet.esm.min.js, leaflet.css and images/*.png are served when present (symbolic links
  /// followed: a system package's own directory, unlike web_dir). A missing
  /// directory serves none (the page then shows the list without the map).
  std::string leaflet_dir;
  /// Raster tile URL template (`https://{s}.tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png`);
  /// empty: no tiles (tests, offline). Its origin is the only other one the page may reach.
  std::string tiles_url;
  /// The tiles' attribution shown on the map (plain text).
  std::string tiles_attribution = "© les contributrices et contributeurs d'OpenStreetMap";
};

/// The `Content-Security-Policy` origin of a tile URL template: `scheme://host[:port]`, `{s}`
/// (Leaflet's subdomains) becoming `*`. INVALID_ARGUMENT unless the template is http(s), its host
/// letters, digits, `-` and `.` (with `{s}` only as its first label), its path without spaces,
/// quotes or `;`, and it names `{z}`, `{x}` and `{y}`.
absl::StatusOr<std::string> TileOrigin(std::string_view tiles_url);

class MapPages final : public ExtraPages {
 public:
  /// The prefixes to register with the door (each served by this page set).
  static std::vector<std::string> Prefixes() { return {"/", "/lieux", "/api", "/web", "/vendor"}; }

  /// Reads every file. INVALID_ARGUMENT for a bad tile URL; NOT_FOUND when web_dir has no
  /// index.html; FAILED_PRECONDITION for a file that cannot be read or passes 4 MiB.
  static absl::StatusOr<std::unique_ptr<MapPages>> Create(const MapOptions& options);

  std::vector<std::string> Allowed(std::string_view path) const override;
  void Serve(const std::shared_ptr<http::Exchange>& exchange, PageRequest request) override;
  /// A page in French saying the address leads nowhere, with a link to the map (404).
  bool ServeNotFound(const std::shared_ptr<http::Exchange>& exchange,
                     PageRequest& request) override;

  /// How many files are held (for the start log).
  size_t size() const { return assets_.size(); }

 private:
  struct Asset {
    std::string content_type;
    std::string cache_control;
    std::string body;
    std::string etag;
    std::string gzip;  // empty: sent as it is
    std::string gzip_etag;
    std::string version;  // of the bytes (the etag's), for versioned addresses
  };
  MapPages() = default;
  absl::Status Add(std::string path, std::string body, std::string_view cache_control);
  const Asset* Find(std::string_view path) const;

  std::map<std::string, Asset, std::less<>> assets_;  // by URL path
  std::string csp_;
};

}  // namespace passerelle::gateway
