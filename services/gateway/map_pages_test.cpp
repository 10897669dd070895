// The map's page set without a server: what a tile URL allows in the CSP, which paths are
// answered, and the answers' caching headers (map_e2e drives the same through HTTP).
#include "services/gateway/map_pages.hpp"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/http/gzip.hpp"
#include "services/gateway/recording_exchange.hpp"

namespace passerelle::gateway {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(TileOrigin, KeepsSchemeHostAndPortWithSubdomainsAsWildcard) {
  EXPECT_EQ(*TileOrigin("https://{s}.tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png"),
            "https://*.tile.openstreetmap.fr");
  EXPECT_EQ(*TileOrigin("http://tiles.example:8080/{z}/{x}/{y}.png?key=abc"),
            "http://tiles.example:8080");
}

TEST(TileOrigin, RefusesWhatIsNotATileUrl) {
  for (const char* bad :
       {"", "tiles.example/{z}/{x}/{y}.png", "ftp://tiles.example/{z}/{x}/{y}.png",
        "javascript:alert(1)//{z}/{x}/{y}", "https://tiles.example", "https:///{z}/{x}/{y}",
        "https://Tiles.Example/{z}/{x}/{y}.png", "https://x.{s}.example/{z}/{x}/{y}.png",
        "https://tiles.example:/{z}/{x}/{y}.png", "https://tiles.example:123456/{z}/{x}/{y}",
        "https://tiles.example/{z}/{x}.png", "https://tiles.example/{z}/{x}/{y}.png; script-src *",
        "https://tiles.example/{z}/{x}/{y}.png 'unsafe-inline'",
        "https://tiles.example/{z}/{x}/{y}\\", "https://user@tiles.example/{z}/{x}/{y}.png",
        "https://tiles.example/{z}/{x}/{y}.png,x", "https://tiles.example/{z}/{x}/{y}\xc3\xa9"}) {
    absl::StatusOr<std::string> origin = TileOrigin(bad);
    ASSERT_FALSE(origin.ok()) << bad << " gave " << *origin;
    EXPECT_THAT(origin.status().message(), HasSubstr("PASSERELLE_GATEWAY_MAP_TILES_URL")) << bad;
  }
}

class MapPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("map_pages_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(dir_ / "web" / "sub");
    Write("web/index.html", "<!DOCTYPE html><html lang=\"fr\"></html>");
    Write("web/app.js", std::string(4000, 'x'));  // compressible, over 1 KiB
    Write("web/sub/hidden.js", "below");
    Write("web/.env", "secret");
    fs::create_symlink("/etc/hostname", dir_ / "web" / "lien.txt");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
  }
  std::unique_ptr<MapPages> Create(std::string tiles = "") {
    MapOptions o;
    o.web_dir = (dir_ / "web").string();
    o.leaflet_dir = (dir_ / "leaflet").string();  // absent
    o.tiles_url = std::move(tiles);
    absl::StatusOr<std::unique_ptr<MapPages>> pages = MapPages::Create(o);
    EXPECT_TRUE(pages.ok()) << pages.status();
    return pages.ok() ? *std::move(pages) : nullptr;
  }
  http::Response Get(MapPages& pages, std::string target, std::vector<http::Header> headers = {}) {
    http::Request r;
    r.method = "GET";
    r.target = std::move(target);
    r.headers = std::move(headers);
    auto exchange = std::make_shared<RecordingExchange>(std::move(r));
    pages.Serve(exchange, {"rid", {}});
    EXPECT_EQ(exchange->responses.size(), 1u);
    return exchange->responses.empty() ? http::Response{} : exchange->responses[0];
  }
  fs::path dir_;
};

TEST_F(MapPagesTest, AnswersExactlyTheFilesReadAtStart) {
  std::unique_ptr<MapPages> pages = Create();
  ASSERT_NE(pages, nullptr);
  EXPECT_EQ(pages->size(), 3u);  // index.html, app.js, config.json
  for (const char* path :
       {"/", "/lieux/abc-123", "/web/index.html", "/web/app.js", "/web/config.json"}) {
    EXPECT_THAT(pages->Allowed(path), ElementsAre("GET", "HEAD")) << path;
  }
  for (const char* path :
       {"/web/sub/hidden.js", "/web/sub", "/web/.env", "/web/lien.txt", "/web/", "/web//app.js",
        "/web/./app.js", "/web/../web/app.js", "/web/%61pp.js", "/web/app.js%00", "/web\\app.js",
        "/lieux/", "/lieux/..", "/lieux/a/b", "/lieux/a%2Fb", "/lieux/%2e%2e",
        "/vendor/leaflet/leaflet.js", "//", "/index.html"}) {
    EXPECT_THAT(pages->Allowed(path), IsEmpty()) << path;
  }
  EXPECT_THAT(pages->Allowed("/lieux/" + std::string(200, 'a')), ElementsAre("GET", "HEAD"));
  EXPECT_THAT(pages->Allowed("/lieux/" + std::string(201, 'a')), IsEmpty());
  Write("web/later.js", "later");
  EXPECT_THAT(pages->Allowed("/web/later.js"), IsEmpty());
  // The API reference's address, only when the app has that page.
  EXPECT_THAT(pages->Allowed("/api"), IsEmpty());
  Write("web/api.html", "<!DOCTYPE html><html lang=\"fr\"><title>API</title></html>");
  pages = Create();
  ASSERT_NE(pages, nullptr);
  EXPECT_THAT(pages->Allowed("/api"), ElementsAre("GET", "HEAD"));
  EXPECT_EQ(Get(*pages, "/api").body, Get(*pages, "/web/api.html").body);
  for (const char* path : {"/api/", "/api/x", "/apix", "/API"}) {
    EXPECT_THAT(pages->Allowed(path), IsEmpty()) << path;
  }
}

TEST_F(MapPagesTest, EtagsGzipAndPolicy) {
  std::unique_ptr<MapPages> pages = Create("https://{s}.tiles.example/{z}/{x}/{y}.png");
  ASSERT_NE(pages, nullptr);
  http::Response plain = Get(*pages, "/web/app.js?v=1");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.body, std::string(4000, 'x'));
  EXPECT_EQ(HeaderOf(plain, "content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(HeaderOf(plain, "content-encoding"), "");
  EXPECT_EQ(HeaderOf(plain, "cache-control"), "public, max-age=300");
  EXPECT_THAT(HeaderOf(plain, "content-security-policy"),
              HasSubstr("img-src 'self' data: https://*.tiles.example;"));

  http::Response zipped = Get(*pages, "/web/app.js", {{"accept-encoding", "br, gzip"}});
  EXPECT_EQ(HeaderOf(zipped, "content-encoding"), "gzip");
  EXPECT_EQ(HeaderOf(zipped, "vary"), "Accept-Encoding");
  EXPECT_EQ(*http::GzipDecompress(zipped.body, 1 << 20), plain.body);
  EXPECT_NE(HeaderOf(zipped, "etag"), HeaderOf(plain, "etag"));
  EXPECT_EQ(Get(*pages, "/web/app.js", {{"accept-encoding", "gzip;q=0"}}).body, plain.body);

  http::Response again = Get(*pages, "/web/app.js", {{"if-none-match", HeaderOf(plain, "etag")}});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.body, "");
  EXPECT_EQ(
      Get(*pages, "/web/app.js", {{"if-none-match", "\"x\", W/" + HeaderOf(plain, "etag")}}).status,
      304);
  EXPECT_EQ(Get(*pages, "/web/app.js", {{"if-none-match", "*"}}).status, 304);
  // Sent on two lines, the tags combine as one list (tester 17, F8).
  EXPECT_EQ(Get(*pages, "/web/app.js",
                {{"if-none-match", "\"x\""}, {"If-None-Match", HeaderOf(plain, "etag")}})
                .status,
            304);
  // The plain variant's tag does not validate the gzip one.
  EXPECT_EQ(Get(*pages, "/web/app.js",
                {{"accept-encoding", "gzip"}, {"if-none-match", HeaderOf(plain, "etag")}})
                .status,
            200);

  http::Response page = Get(*pages, "/lieux/x");
  EXPECT_EQ(page.body, "<!DOCTYPE html><html lang=\"fr\"></html>");
  EXPECT_EQ(HeaderOf(page, "cache-control"), "no-cache");
  http::Response config = Get(*pages, "/web/config.json");
  EXPECT_EQ(config.body,
            R"({"leaflet":false,"tilesAttribution":"© les contributrices et contributeurs )"
            R"(d'OpenStreetMap","tilesUrl":"https://{s}.tiles.example/{z}/{x}/{y}.png"})");
}

// The pages name each asset with its version: a browser keeps those bytes a year and fetches a
// release's new ones at once; any other address of the asset keeps the short cache.
TEST_F(MapPagesTest, PagesNameAssetsByVersionCachedForAYear) {
  Write("web/index.html",
        "<link href=\"/web/style.css\"><script src=\"/web/app.js\"></script>"
        "<a href=\"/web/app.jsx\">");
  Write("web/style.css", "body{}");
  std::unique_ptr<MapPages> pages = Create();
  ASSERT_NE(pages, nullptr);
  const std::string app_tag = HeaderOf(Get(*pages, "/web/app.js"), "etag");
  const std::string app_version = app_tag.substr(1, app_tag.size() - 2);
  const std::string css_tag = HeaderOf(Get(*pages, "/web/style.css"), "etag");
  const std::string page = Get(*pages, "/").body;
  EXPECT_THAT(page, HasSubstr("\"/web/app.js?v=" + app_version + "\""));
  EXPECT_THAT(page,
              HasSubstr("\"/web/style.css?v=" + css_tag.substr(1, css_tag.size() - 2) + "\""));
  EXPECT_THAT(page, HasSubstr("\"/web/app.jsx\""));  // not an asset: left alone
  EXPECT_EQ(HeaderOf(Get(*pages, "/web/app.js?v=" + app_version), "cache-control"),
            "public, max-age=31536000, immutable");
  for (const std::string& other :
       {std::string("/web/app.js"), "/web/app.js?v=" + app_tag, "/web/app.js?v=0" + app_version,
        std::string("/web/app.js?x=1")}) {
    EXPECT_EQ(HeaderOf(Get(*pages, other), "cache-control"), "public, max-age=300") << other;
  }
  EXPECT_EQ(HeaderOf(Get(*pages, "/"), "cache-control"), "no-cache");
}

// A module names the version of the module it imports; its own version changes with it.
TEST_F(MapPagesTest, ModulesImportEachOtherByVersion) {
  Write("web/index.html", "<script type=\"module\" src=\"/web/app.js\"></script>");
  Write("web/app.js", "import { h } from \"./dom.js\";\nh();\n");
  Write("web/dom.js", "export function h() {}\n");
  std::unique_ptr<MapPages> pages = Create();
  ASSERT_NE(pages, nullptr);
  auto version = [&](const std::string& path) {
    const std::string tag = HeaderOf(Get(*pages, path), "etag");
    return tag.substr(1, tag.size() - 2);
  };
  const std::string dom = version("/web/dom.js");
  EXPECT_THAT(Get(*pages, "/web/app.js").body, HasSubstr("from \"./dom.js?v=" + dom + "\""));
  const std::string app = version("/web/app.js");
  EXPECT_THAT(Get(*pages, "/").body, HasSubstr("\"/web/app.js?v=" + app + "\""));

  Write("web/dom.js", "export function h() { return 1; }\n");  // a release changes dom.js only
  pages = Create();
  ASSERT_NE(pages, nullptr);
  EXPECT_NE(version("/web/dom.js"), dom);
  EXPECT_NE(version("/web/app.js"), app);
  EXPECT_THAT(Get(*pages, "/web/app.js").body,
              HasSubstr("from \"./dom.js?v=" + version("/web/dom.js") + "\""));

  // Modules importing each other are still served.
  Write("web/dom.js", "import \"./app.js\";\n");
  pages = Create();
  ASSERT_NE(pages, nullptr);
  EXPECT_EQ(Get(*pages, "/web/dom.js").status, 200);
}

TEST_F(MapPagesTest, LeafletFromItsPackageDirectory) {
  fs::create_directories(dir_ / "leaflet" / "images");
  fs::create_directories(dir_ / "dist");
  Write("leaflet/leaflet.esm.min.js", "export var version='1.6.0';");
  Write("dist/leaflet.css", ".leaflet-container{}");
  fs::create_symlink(dir_ / "dist" / "leaflet.css", dir_ / "leaflet" / "leaflet.css");
  Write("leaflet/leaflet.esm.min.js.map", "{}");
  Write("leaflet/images/marker-icon.png", "PNG");
  Write("leaflet/images/notes.txt", "not an image");
  std::unique_ptr<MapPages> pages = Create();
  ASSERT_NE(pages, nullptr);
  for (const char* path : {"/vendor/leaflet/leaflet.esm.min.js", "/vendor/leaflet/leaflet.css",
                           "/vendor/leaflet/images/marker-icon.png"}) {
    EXPECT_THAT(pages->Allowed(path), ElementsAre("GET", "HEAD")) << path;
  }
  for (const char* path :
       {"/vendor/leaflet/leaflet.esm.min.js.map", "/vendor/leaflet/images/notes.txt",
        "/vendor/leaflet/images", "/vendor/leaflet/", "/vendor/dist/leaflet.css"}) {
    EXPECT_THAT(pages->Allowed(path), IsEmpty()) << path;
  }
  http::Response css = Get(*pages, "/vendor/leaflet/leaflet.css");
  EXPECT_EQ(css.body, ".leaflet-container{}");
  EXPECT_EQ(HeaderOf(css, "cache-control"), "public, max-age=604800");
  EXPECT_EQ(HeaderOf(Get(*pages, "/vendor/leaflet/images/marker-icon.png"), "content-type"),
            "image/png");
  EXPECT_THAT(Get(*pages, "/web/config.json").body, HasSubstr(R"("leaflet":true)"));
}

TEST_F(MapPagesTest, StartsOnlyWithAnIndexAndAGoodTileUrl) {
  MapOptions o;
  o.web_dir = (dir_ / "web").string();
  o.tiles_url = "https://tiles.example/{z}/{x}.png";
  EXPECT_TRUE(absl::IsInvalidArgument(MapPages::Create(o).status()));
  o.tiles_url = "";
  fs::remove(dir_ / "web" / "index.html");
  EXPECT_TRUE(absl::IsNotFound(MapPages::Create(o).status()));
  o.web_dir = (dir_ / "absent").string();
  EXPECT_TRUE(absl::IsNotFound(MapPages::Create(o).status()));
}

}  // namespace
}  // namespace passerelle::gateway
