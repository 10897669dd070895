// The map's static files, held in memory.
#include "services/gateway/map_pages.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "libs/http/gzip.hpp"
#include "libs/text/split.hpp"
#include "nlohmann/json.hpp"

namespace passerelle::gateway {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxFileBytes = size_t{4} << 20;
constexpr size_t kMaxVenueIdBytes = 200;
// The server gzips what it sends from this size on (libs/http): below it, no variant is kept.
constexpr size_t kGzipMinBytes = 1024;

constexpr std::string_view kPageCache = "no-cache";            // revalidated each time
constexpr std::string_view kAppCache = "public, max-age=300";  // changes with a release
// An asset asked with its version (`/web/app.js?v=<version>`, as the pages name it): those
// bytes never change under that address.
constexpr std::string_view kVersionedCache = "public, max-age=31536000, immutable";
constexpr std::string_view kVendorCache = "public, max-age=604800";  // Debian's package

// std::string_view helpers (Debian's Abseil has a string_view of its own).
bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (!s->starts_with(prefix)) return false;
  s->remove_prefix(prefix.size());
  return true;
}

bool SafeName(std::string_view name) {
  if (name.empty() || !absl::ascii_isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char ch : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' &&
        ch != '-') {
      return false;
    }
  }
  return true;
}

std::string ContentType(std::string_view path) {
  static const std::map<std::string_view, std::string_view> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  };
  size_t dot = path.rfind('.');
  if (dot != std::string_view::npos) {
    auto it = kTypes.find(path.substr(dot));
    if (it != kTypes.end()) return std::string(it->second);
  }
  return "application/octet-stream";
}

std::string Etag(std::string_view body, std::string_view suffix) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (int i = 0; i < 10; ++i) {
    tag += kHex[digest[i] >> 4];
    tag += kHex[digest[i] & 15];
  }
  tag += suffix;
  tag += '"';
  return tag;
}

// Reads a regular file of at most kMaxFileBytes; through a symbolic link only when
// `follow_links` (Debian's packages may link their files; the app's directory may not).
absl::StatusOr<std::string> ReadFile(const fs::path& path, bool follow_links) {
  std::error_code ec;
  fs::file_status st = follow_links ? fs::status(path, ec) : fs::symlink_status(path, ec);
  if (ec || !fs::is_regular_file(st)) {
    return absl::FailedPreconditionError(absl::StrCat(path.string(), " is not a regular file"));
  }
  uintmax_t size = fs::file_size(path, ec);
  if (ec || size > kMaxFileBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat(path.string(), ": unreadable or over ", kMaxFileBytes, " bytes"));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return absl::FailedPreconditionError(absl::StrCat(path.string(), ": read failed"));
  }
  return out.str();
}

// Whether an If-None-Match value names `etag` (weak comparison, `*` matching any).
bool NoneMatch(std::string_view header, std::string_view etag) {
  for (std::string_view tag : text::Split(header, ',')) {
    tag = text::StripSpaces(tag);
    if (tag == "*") return true;
    ConsumePrefix(&tag, "W/");
    if (tag == etag) return true;
  }
  return false;
}

bool HostLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  for (char ch : label) {
    if (!absl::ascii_islower(static_cast<unsigned char>(ch)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(ch)) && ch != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> TileOrigin(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("PASSERELLE_GATEWAY_MAP_TILES_URL: ", std::string(why),
                     " (expected e.g. https://{s}.tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png)"));
  };
  std::string_view rest = url;
  std::string scheme;
  if (ConsumePrefix(&rest, "https://")) {
    scheme = "https";
  } else if (ConsumePrefix(&rest, "http://")) {
    scheme = "http";
  } else {
    return bad("not an http(s) URL");
  }
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return bad("no path");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = rest.substr(slash);
  std::string_view host = authority;
  std::string_view port;
  if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      return bad("bad port");
    }
  }
  std::vector<std::string_view> labels = text::Split(host, '.');
  std::string origin_host;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i == 0 && labels[i] == "{s}") {
      origin_host = "*";
    } else if (HostLabel(labels[i])) {
      absl::StrAppend(&origin_host, i == 0 ? "" : ".", std::string(labels[i]));
    } else {
      return bad("bad host (lower-case letters, digits, '-', '.', and {s} first only)");
    }
  }
  for (char ch : path) {
    if (static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) >= 0x7f ||
        ch == '"' || ch == '\'' || ch == ';' || ch == ',' || ch == '\\') {
      return bad("the path has a space, a quote, ';', ',', '\\' or a non-ASCII byte");
    }
  }
  for (std::string_view needed : {"{z}", "{x}", "{y}"}) {
    if (path.find(needed) == std::string_view::npos) {
      return bad(absl::StrCat("no ", std::string(needed), " in the path"));
    }
  }
  return absl::StrCat(scheme, "://", origin_host, port.empty() ? "" : ":", std::string(port));
}

absl::Status MapPages::Add(std::string path, std::string body, std::string_view cache_control) {
  Asset a;
  a.content_type = ContentType(path);
  a.cache_control = std::string(cache_control);
  a.etag = Etag(body, "");
  a.version = std::string(absl::StripSuffix(absl::StripPrefix(a.etag, "\""), "\""));
  if (body.size() >= kGzipMinBytes && http::IsCompressible(a.content_type)) {
    absl::StatusOr<std::string> gz = http::GzipCompress(body);
    if (!gz.ok()) return gz.status();
    if (gz->size() < body.size()) {
      a.gzip = *std::move(gz);
      a.gzip_etag = Etag(body, "-gz");
    }
  }
  a.body = std::move(body);
  assets_[std::move(path)] = std::move(a);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<MapPages>> MapPages::Create(const MapOptions& options) {
  std::unique_ptr<MapPages> pages(new MapPages());
  std::string tile_origin;
  if (!options.tiles_url.empty()) {
    absl::StatusOr<std::string> origin = TileOrigin(options.tiles_url);
    if (!origin.ok()) return origin.status();
    tile_origin = absl::StrCat(" ", *origin);
  }
  // Only this origin and the tile server: no inline script or style, no frames, no plug-ins.
  pages->csp_ = absl::StrCat(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:", tile_origin,
      "; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
      "frame-ancestors 'none'");

  const fs::path web(options.web_dir);
  std::error_code ec;
  if (!fs::exists(web / "index.html", ec)) {
    return absl::NotFoundError(
        absl::StrCat("PASSERELLE_GATEWAY_WEB_DIR: no index.html in ", options.web_dir));
  }
  std::map<std::string, std::string> html;     // pages, added once the assets they name are known
  std::map<std::string, std::string> scripts;  // modules, added once those they import are
  for (const fs::directory_entry& entry : fs::directory_iterator(web, ec)) {
    std::string name = entry.path().filename().string();
    if (!SafeName(name) || !entry.is_regular_file() || entry.is_symlink()) continue;
    if (name == "config.json") continue;  // generated below
    absl::StatusOr<std::string> body = ReadFile(entry.path(), /*follow_links=*/false);
    if (!body.ok()) return body.status();
    if (name.ends_with(".html")) {
      html[name] = *std::move(body);
      continue;
    }
    if (name.ends_with(".js")) {
      scripts[name] = *std::move(body);
      continue;
    }
    if (absl::Status s = pages->Add(absl::StrCat("/web/", name), *std::move(body), kAppCache);
        !s.ok()) {
      return s;
    }
  }
  // Modules import each other ("./dom.js"): each import names the version too, so a release
  // never runs a year-cached app.js with the dom.js of another release. A module is added once
  // the modules it imports are (its version then covers theirs); a cycle is added as it is.
  while (!scripts.empty()) {
    bool progress = false;
    for (auto it = scripts.begin(); it != scripts.end();) {
      bool waits = false;
      for (const auto& [other, unused] : scripts) {
        waits = waits || (other != it->first &&
                          absl::StrContains(it->second, absl::StrCat("\"./", other, "\"")));
      }
      if (waits) {
        ++it;
        continue;
      }
      for (const auto& [path, asset] : pages->assets_) {
        if (!path.starts_with("/web/") || !path.ends_with(".js")) continue;
        const std::string file = path.substr(5);
        it->second = absl::StrReplaceAll(
            it->second, {{absl::StrCat("\"./", file, "\""),
                          absl::StrCat("\"./", file, "?v=", asset.version, "\"")}});
      }
      if (absl::Status s =
              pages->Add(absl::StrCat("/web/", it->first), std::move(it->second), kAppCache);
          !s.ok()) {
        return s;
      }
      it = scripts.erase(it);
      progress = true;
    }
    if (!progress) {
      for (auto& [name, body] : scripts) {
        if (absl::Status s = pages->Add(absl::StrCat("/web/", name), std::move(body), kAppCache);
            !s.ok()) {
          return s;
        }
      }
      scripts.clear();
    }
  }
  // The pages name each asset with its version ("/web/app.js" -> "/web/app.js?v=…"), so that a
  // browser keeps it for a year and still fetches a release's new bytes at once.
  for (auto& [name, body] : html) {
    for (const auto& [path, asset] : pages->assets_) {
      const std::string quoted = absl::StrCat("\"", path, "\"");
      body = absl::StrReplaceAll(body,
                                 {{quoted, absl::StrCat("\"", path, "?v=", asset.version, "\"")}});
    }
    if (absl::Status s = pages->Add(absl::StrCat("/web/", name), std::move(body), kPageCache);
        !s.ok()) {
      return s;
    }
  }
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("PASSERELLE_GATEWAY_WEB_DIR ", options.web_dir, ": ", ec.message()));
  }
  nlohmann::json config = {
      {"tilesUrl", options.tiles_url},
      {"tilesAttribution", options.tiles_url.empty() ? std::string() : options.tiles_attribution},
      {"leaflet", false}};

  const fs::path leaflet(options.leaflet_dir);
  if (!options.leaflet_dir.empty() && fs::is_directory(leaflet, ec)) {
    for (std::string_view file :
         {"leaflet.js", "leaflet.min.js", "leaflet.esm.min.js", "leaflet.esm.js", "leaflet.css"}) {
      if (!fs::exists(leaflet / file, ec)) continue;
      absl::StatusOr<std::string> body = ReadFile(leaflet / file, /*follow_links=*/true);
      if (!body.ok()) return body.status();
      if (absl::Status s = pages->Add(absl::StrCat("/vendor/leaflet/", std::string(file)),
                                      *std::move(body), kVendorCache);
          !s.ok()) {
        return s;
      }
    }
    if (fs::is_directory(leaflet / "images", ec)) {
      for (const fs::directory_entry& entry : fs::directory_iterator(leaflet / "images", ec)) {
        std::string name = entry.path().filename().string();
        if (!SafeName(name) || !name.ends_with(".png") || !entry.is_regular_file()) {
          continue;
        }
        absl::StatusOr<std::string> body = ReadFile(entry.path(), /*follow_links=*/true);
        if (!body.ok()) return body.status();
        if (absl::Status s = pages->Add(absl::StrCat("/vendor/leaflet/images/", name),
                                        *std::move(body), kVendorCache);
            !s.ok()) {
          return s;
        }
      }
    }
    config["leaflet"] = pages->assets_.count("/vendor/leaflet/leaflet.esm.min.js") > 0;
  }
  if (absl::Status s = pages->Add("/web/config.json", config.dump(), kPageCache); !s.ok()) {
    return s;
  }
  return pages;
}

const MapPages::Asset* MapPages::Find(std::string_view path) const {
  if (path == "/") return Find("/web/index.html");
  if (path == "/api") return Find("/web/api.html");  // the public API's reference, for people
  if (ConsumePrefix(&path, "/lieux/")) {
    // A venue's own address: its id in plain characters (nothing to decode, no `/`).
    if (path.empty() || path.size() > kMaxVenueIdBytes || path == "." || path == ".." ||
        !std::all_of(path.begin(), path.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                 c == '.' || c == '~';
        })) {
      return nullptr;
    }
    // The venue page's own frame when the app has one (no search view to hide), else the page.
    const Asset* venue_page = Find("/web/lieu.html");
    return venue_page != nullptr ? venue_page : Find("/web/index.html");
  }
  auto it = assets_.find(path);
  return it == assets_.end() ? nullptr : &it->second;
}

std::vector<std::string> MapPages::Allowed(std::string_view path) const {
  if (Find(path) == nullptr) return {};
  return {"GET", "HEAD"};
}

bool MapPages::ServeNotFound(const std::shared_ptr<http::Exchange>& exchange,
                             PageRequest& request) {
  // Static: nothing of the request is written into it.
  static constexpr std::string_view kPage =
      "<!doctype html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>Page introuvable — Passerelle</title>\n"
      "<link rel=\"stylesheet\" href=\"/web/style.css\">\n</head>\n<body>\n<main>\n"
      "<h1>Page introuvable</h1>\n"
      "<p>Cette adresse ne mène à aucun lieu ni à aucune page de la carte. Le lien est peut-être "
      "incomplet, ou le lieu a été retiré.</p>\n"
      "<p><a href=\"/\">Chercher un lieu d'aide au numérique</a></p>\n"
      "</main>\n</body>\n</html>\n";
  http::Response r;
  r.status = 404;
  r.headers = std::move(request.headers);
  r.headers.push_back({"content-type", "text/html; charset=utf-8"});
  r.headers.push_back({"cache-control", "no-store"});
  r.headers.push_back({"x-content-type-options", "nosniff"});
  r.headers.push_back({"referrer-policy", "strict-origin"});
  r.headers.push_back({"content-security-policy", csp_});
  r.body = std::string(kPage);
  exchange->Respond(std::move(r));
  return true;
}

void MapPages::Serve(const std::shared_ptr<http::Exchange>& exchange, PageRequest request) {
  const http::Request& req = exchange->request();
  const Asset* a = Find(req.target.substr(0, req.target.find('?')));
  http::Response r;
  r.headers = std::move(request.headers);
  if (a == nullptr) {  // Allowed said yes: cannot happen, the table does not change
    r.status = 404;
    r.headers.push_back({"content-type", "text/plain; charset=utf-8"});
    r.body = "Page introuvable";
    exchange->Respond(std::move(r));
    return;
  }
  std::optional<std::string_view> accept = req.Find("accept-encoding");
  const bool gzip = !a->gzip.empty() && accept && http::AcceptsGzip(*accept);
  const std::string& etag = gzip ? a->gzip_etag : a->etag;
  r.headers.push_back({"etag", etag});
  const size_t q = req.target.find('?');
  const bool versioned = q != std::string_view::npos && !a->version.empty() &&
                         req.target.substr(q + 1) == absl::StrCat("v=", a->version);
  r.headers.push_back(
      {"cache-control", versioned ? std::string(kVersionedCache) : a->cache_control});
  r.headers.push_back({"x-content-type-options", "nosniff"});
  r.headers.push_back({"referrer-policy", "strict-origin"});
  r.headers.push_back({"content-security-policy", csp_});
  // Vary on the gzip variant and on a 304; a plain 200 of a compressible type gets it from the
  // server (which would gzip it for a client that asks).
  std::optional<std::string> inm = req.FindList("if-none-match");
  const bool not_modified = inm && NoneMatch(*inm, etag);
  if (!a->gzip.empty() && (gzip || not_modified)) r.headers.push_back({"vary", "Accept-Encoding"});
  if (not_modified) {
    r.status = 304;
    exchange->Respond(std::move(r));
    return;
  }
  r.headers.push_back({"content-type", a->content_type});
  if (gzip) {
    r.headers.push_back({"content-encoding", "gzip"});
    r.body = a->gzip;
  } else {
    r.body = a->body;
  }
  exchange->Respond(std::move(r));
}

}  // namespace passerelle::gateway
