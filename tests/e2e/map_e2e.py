#!/usr/bin/env python3
"""The interactive map (docs/map.md) through the real passerelle-gateway: its static files over
plain HTTP (types, ETag/304, gzip, CSP, hostile paths), then the page itself in Debian's
headless chromium driven by python3-selenium: a need searched with a typo, « Ouvert maintenant »
at a fixed clock, a venue's own page, the professional mode and its CSV, keyboard-only use, the
page without its map, accessibility checks that need no npm (lang, landmarks, labels, alt
texts, contrast computed from the computed styles) and screenshots at phone and desktop widths
written to <build>/map-screenshots/.

Real venues and referential binaries behind the gateway, on the PostgreSQL and NATS the test
command starts.
"""
import base64
import gzip
import http.client
import json
import os
import re
import socket
import sys
import time
import unittest

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.webdriver.support.ui import WebDriverWait

from stack import Stack, free_port, http_call

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else "."
ADMIN_KEY = "psk_mape2eadmin2_" + "A" * 43
SOURCE_ID = "map-e2e"
# Monday 7 December 2026, 11:00 in Roubaix.
CLOCK = "2026-12-07T10:00:00Z"
SHOTS = os.path.join(BUILD, "map-screenshots")


def venue(key, nom, lat, lon, horaires, **extra):
    v = {"id": key, "pivot": "21590512800017", "nom": nom, "commune": "Roubaix",
         "codePostal": "59100", "adresse": f"{len(key)} rue de l'Épeule", "dateMaj": "2026-11-25",
         "latitude": lat, "longitude": lon, "typologie": ["ASSO"],
         "services": ["SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES"], "fraisACharge": ["FRAIS_GRATUIT"]}
    if horaires:
        v["horaires"] = horaires
    v.update(extra)
    return v


def raw_get(port, target, headers=None, method="GET"):
    """A request with its target sent byte for byte as written (str as Latin-1, so "\xff" is the
    byte FF): no client normalises or refuses it first."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method.encode(), target)
    for k, v in (headers or {}).items():
        head += f"{k}: {v}\r\n".encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        sock.sendall(head + b"\r\n")
        r = http.client.HTTPResponse(sock, method=method)
        r.begin()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        sock.close()


def contrast(fg, bg):
    def lum(c):
        def ch(x):
            x /= 255
            return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4
        r, g, b = c
        return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)
    a, b = sorted((lum(fg), lum(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


# Every visible element with its own text: its colour and the first opaque background under it.
TEXT_COLOURS_JS = r"""
function rgba(s) { const m = s.match(/[\d.]+/g) || []; return m.map(Number); }
const out = [];
for (const el of document.querySelectorAll('body *')) {
  const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  if (!own) continue;
  const st = getComputedStyle(el);
  if (st.visibility === 'hidden' || st.display === 'none' || el.getClientRects().length === 0) continue;
  const r = el.getBoundingClientRect();
  if (r.width < 2 || r.height < 2 || r.right < 0 || r.left > innerWidth * 3) continue;
  let bg = [255, 255, 255, 1], e = el;
  while (e) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c.length >= 3 && (c.length === 3 || c[3] > 0)) { bg = c; break; }
    e = e.parentElement;
  }
  out.push({text: el.textContent.trim().slice(0, 40), fg: rgba(st.color), bg: bg});
}
return out;
"""


class MapE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(BUILD, "mape2e", page_token_key="map-e2e-page-token-key")
        cls.driver = None
        try:
            cls.start()
        except BaseException:
            # tearDownClass does not run after a failed setUpClass: stop what started here.
            if cls.driver is not None:
                cls.driver.quit()
            cls.stack.stop(check=False)
            raise

    @classmethod
    def start(cls):
        stack = cls.stack
        cls.port = free_port()
        stack.start("venues")
        stack.start("referential", {"PASSERELLE_SEED_DIR": f"{SOURCE}/services/referential/seed"})
        # The coverage of a need by quartier comes from the indicators service.
        stack.start("indicators", {
            "PASSERELLE_VENUES_ADDRESS": f"127.0.0.1:{stack.ports['venues']}",
            "PASSERELLE_REFERENTIAL_ADDRESS": f"127.0.0.1:{stack.ports['referential']}",
            "PASSERELLE_INDICATORS_AREAS_REFRESH": "1s",
            "PASSERELLE_INDICATORS_UPSTREAM_TIMEOUT": "5s"})
        stack.start_gateway(ADMIN_KEY, pepper="map-e2e-pepper", http_port=cls.port, extra={
            "PASSERELLE_GATEWAY_WEB_DIR": f"{SOURCE}/services/gateway/web",
            "PASSERELLE_GATEWAY_RATE_LIMITS": "public=1000:1000"})
        stack.wait_until_ready("/v1/nomenclatures")
        stack.wait_until_ready("/v1/venues?pageSize=1")

        # The need « Pronote » is an item of the seeded referential.
        status, _, body = stack.call("GET", "/v1/items:search?query=pronote&audience=INHABITANT")
        assert status == 200, body
        cls.pronote = json.loads(body)["results"][0]["item"]
        status, _, body = stack.call("POST", f"/v1/sources?sourceId={SOURCE_ID}",
                                     {"displayName": "Source carte e2e"}, key=ADMIN_KEY)
        assert status == 201, body
        item = cls.pronote["name"]
        rows = [
            venue("ouvert", "Espace numérique de l'Épeule", 50.6920, 3.1700, "Mo-Fr 09:00-12:00",
                  referentialItems=[item], telephone="+33320000001", acceptsApticPass=True,
                  courriels=["contact@epeule.example"], siteWeb=["https://epeule.example/"],
                  formationsLabels=["FORMATION_LABEL_FORME_A_MON_ESPACE_SANTE"]),
            venue("samedi", "Médiathèque du samedi", 50.6950, 3.1800, "Sa 10:00-12:00",
                  referentialItems=[item], fraisACharge=["FRAIS_PAYANT"]),
            venue("sans-horaires", "Centre social sans horaires", 50.6990, 3.1650, ""),
            venue("formule", "=HYPERLIEN(\"x\") atelier", 50.7000, 3.1750, "Mo-Su 08:00-20:00"),
        ]
        status, _, body = stack.call("POST", f"/v1/sources/{SOURCE_ID}/venues:batchUpsert",
                                     {"venues": rows}, key=ADMIN_KEY)
        assert status == 200, body
        results = json.loads(body)["results"]
        assert all(r["outcome"] == "CREATED" for r in results), body
        cls.ids = {r["sourceId"]: r["name"].split("/")[1] for r in results}
        # A quartier around the first venue only, in a layer of its own, and one without any
        # venue, 1.3 km east of the nearest (« Médiathèque du samedi »).
        def square(west, south):
            return [[[west, south], [west + 0.004, south], [west + 0.004, south + 0.004],
                     [west, south + 0.004], [west, south]]]
        layer = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": "EPEULE", "name": "Épeule (e2e)"},
             "geometry": {"type": "Polygon", "coordinates": square(3.168, 50.690)}},
            {"type": "Feature", "properties": {"code": "EST", "name": "Est (e2e)"},
             "geometry": {"type": "Polygon", "coordinates": square(3.196, 50.693)}}]}
        status, _, body = stack.call(
            "POST", "/v1/areaLayers/quartiers:import?title=Quartiers%20(e2e)",
            raw=json.dumps(layer).encode(), key=ADMIN_KEY,
            headers={"Content-Type": "application/geo+json"})
        assert status == 200, body
        deadline = time.time() + 30
        while True:
            status, _, body = stack.call(
                "GET", "/v1/venues:search?near.latitude=50.6942&near.longitude=3.1746"
                       "&near.radiusMeters=5000")
            _, _, inside = stack.call(
                "GET", "/v1/venues:search?near.latitude=50.6942&near.longitude=3.1746"
                       "&near.radiusMeters=5000&areas=quartiers:EPEULE")
            if (status == 200 and len(json.loads(body).get("results", [])) == len(rows)
                    and len(json.loads(inside).get("results", [])) == 1):
                break
            assert time.time() < deadline, f"the venues never all reached the search: {body}"
            time.sleep(0.2)

        os.makedirs(SHOTS, exist_ok=True)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
                  "--window-size=1366,768", "--lang=fr-FR"):
            options.add_argument(a)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        options.add_experimental_option("prefs", {
            "download.default_directory": os.path.abspath(SHOTS),
            "download.prompt_for_download": False})
        cls.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        cls.driver.set_page_load_timeout(30)

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.stack.stop()

    # ---- helpers --------------------------------------------------------------------------------

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def open(self, path, width=1366, height=768, pro=False):
        d = self.driver
        d.set_window_size(width, height)
        d.get(self.url("/web/config.json"))  # same origin, to set the mode before the page runs
        d.execute_script(f"localStorage.setItem('passerelle.pro', '{'1' if pro else '0'}')")
        d.get(self.url(path))

    def wait(self, condition, timeout=15, message=""):
        try:
            return WebDriverWait(self.driver, timeout,
                                 ignored_exceptions=[StaleElementReferenceException]).until(
                lambda d: condition(d))
        except TimeoutException:
            self.fail(f"{message or 'timed out'}; console: {self.console()}")

    def console(self):
        try:
            return [e["message"] for e in self.driver.get_log("browser")]
        except Exception:  # noqa: BLE001 - the log is a diagnostic only
            return []

    def results(self):
        """The names in the results list once it is settled (the status says how many)."""
        self.wait(lambda d: "trouvé" in d.find_element(By.ID, "etat").text
                  or "Aucun lieu" in d.find_element(By.ID, "etat").text, message="no results")
        return self.names()

    def names(self):
        """The result names as shown now, read in one call (the list is replaced as a whole)."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll('#resultats li h3 a')].map(a => a.textContent);")

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(SHOTS, name))

    def check_accessibility(self, state):
        d = self.driver
        self.assertEqual(d.find_element(By.TAG_NAME, "html").get_attribute("lang"), "fr", state)
        for landmark in ("header", "main", "nav", "footer"):
            self.assertTrue(d.find_elements(By.TAG_NAME, landmark), f"{state}: no <{landmark}>")
        self.assertEqual(len([e for e in d.find_elements(By.TAG_NAME, "h1") if e.is_displayed()]),
                         1, f"{state}: one <h1>")
        unlabelled = d.execute_script("""
          return [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                         && !e.getAttribute('aria-labelledby'))
            .map(e => e.outerHTML.slice(0, 80));""")
        self.assertEqual(unlabelled, [], f"{state}: inputs without a label")
        no_alt = d.execute_script(
            "return [...document.querySelectorAll('img')].filter(i => !i.hasAttribute('alt'))"
            ".map(i => i.outerHTML.slice(0, 80));")
        self.assertEqual(no_alt, [], f"{state}: images without alt")
        low = []
        for t in d.execute_script(TEXT_COLOURS_JS):
            fg, bg = t["fg"], t["bg"]
            if len(fg) >= 3 and len(bg) >= 3:
                ratio = contrast(fg[:3], bg[:3])
                if ratio < 4.5:
                    low.append((t["text"], fg, bg, round(ratio, 2)))
        self.assertEqual(low, [], f"{state}: text under 4.5:1")

    # ---- static files over HTTP -------------------------------------------------------------------

    def test_api_reference(self):
        """« API publique » leads to a page listing every operation of the OpenAPI document,
        read in the browser from /v1/openapi.json, and to the document itself for tools."""
        status, _, body = raw_get(self.port, "/v1/openapi.json")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        expected = sum(1 for item in doc["paths"].values() for m in item
                       if m in ("get", "post", "put", "patch", "delete"))
        self.open("/")
        d = self.driver
        d.find_element(By.LINK_TEXT, "API publique").click()
        self.wait(lambda d: d.current_url == self.url("/api"), message="the link is not /api")
        state = self.wait(lambda d: d.find_element(By.ID, "api-etat").get_attribute(
            "data-operations"), message="the reference did not load")
        self.assertEqual(int(state), expected)
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "section.operation")), expected)
        self.assertEqual(d.find_element(By.ID, "api-etat").text, f"{expected} opérations.")
        # One operation as a partner reads it: method, path, scope, gRPC name, its parameters.
        get_venue = [e for e in d.find_elements(By.CSS_SELECTOR, "section.operation h3")
                     if e.text == "GET /v1/venues/{venue}"]
        self.assertEqual(len(get_venue), 1)
        section = get_venue[0].find_element(By.XPATH, "..")
        self.assertIn("Portée : public", section.text)
        self.assertIn("gRPC : /passerelle.venues.v1.VenueService/GetVenue", section.text)
        self.assertIn("venue", [c.text for c in section.find_elements(
            By.CSS_SELECTOR, "table.parametres tbody th")])
        self.assertEqual(d.find_element(By.ID, "openapi-json").get_attribute("href"),
                         self.url("/v1/openapi.json"))
        self.check_accessibility("API reference")
        # A phone's width: the tables scroll inside, not the page.
        d.set_window_size(390, 844)
        self.assertLessEqual(d.execute_script("return document.documentElement.scrollWidth"), 390)
        d.set_window_size(1366, 768)

    def test_static_files(self):
        status, h, body = raw_get(self.port, "/")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertIn(b'<html lang="fr">', body)
        csp = h["content-security-policy"]
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("http", csp)  # no tile server configured: no other origin at all
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertEqual(h["cache-control"], "no-cache")
        etag = h["etag"]
        status, h2, body2 = raw_get(self.port, "/", {"If-None-Match": etag})
        self.assertEqual((status, body2, h2["etag"]), (304, b"", etag))
        status, _, _ = raw_get(self.port, "/", {"If-None-Match": '"autre", W/' + etag})
        self.assertEqual(status, 304)
        status, _, _ = raw_get(self.port, "/", {"If-None-Match": '"autre"'})
        self.assertEqual(status, 200)

        # A venue's own address answers the venue page's frame.
        _, _, venue_page = raw_get(self.port, "/web/lieu.html")
        self.assertIn(b'id="vue-lieu"', venue_page)
        for path in ("/lieux/" + self.ids["ouvert"], "/lieux/nimporte-quoi"):
            status, h, page = raw_get(self.port, path)
            self.assertEqual((status, page), (200, venue_page), path)
            self.assertEqual(h["content-type"], "text/html; charset=utf-8")

        status, h, plain = raw_get(self.port, "/web/app.js")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "text/javascript; charset=utf-8")
        self.assertNotIn("content-encoding", h)
        status, hz, zipped = raw_get(self.port, "/web/app.js", {"Accept-Encoding": "gzip"})
        self.assertEqual(hz["content-encoding"], "gzip")
        self.assertIn("Accept-Encoding", hz["vary"])
        self.assertEqual(gzip.decompress(zipped), plain)
        self.assertLess(len(zipped), len(plain) / 2)
        self.assertNotEqual(hz["etag"], h["etag"])
        status, _, _ = raw_get(self.port, "/web/app.js",
                               {"Accept-Encoding": "gzip", "If-None-Match": hz["etag"]})
        self.assertEqual(status, 304)
        status, h, _ = raw_get(self.port, "/web/style.css")
        self.assertEqual((status, h["content-type"]), (200, "text/css; charset=utf-8"))
        self.assertEqual(h["cache-control"], "public, max-age=300")

        status, h, config = raw_get(self.port, "/web/config.json")
        self.assertEqual((status, h["content-type"]), (200, "application/json"))
        config = json.loads(config)
        self.assertEqual(config["tilesUrl"], "")
        self.assertTrue(config["leaflet"])
        status, h, leaflet = raw_get(self.port, "/vendor/leaflet/leaflet.esm.min.js")
        self.assertEqual((status, h["content-type"]), (200, "text/javascript; charset=utf-8"))
        with open("/usr/share/javascript/leaflet/leaflet.esm.min.js", "rb") as f:
            self.assertEqual(leaflet, f.read())
        status, h, _ = raw_get(self.port, "/vendor/leaflet/images/marker-icon.png")
        self.assertEqual((status, h["content-type"]), (200, "image/png"))
        self.assertEqual(h["cache-control"], "public, max-age=604800")
        status, h, _ = raw_get(self.port, "/web/app.js", {"Origin": "http://ailleurs.example"})
        self.assertEqual(status, 200)

        # HEAD: the head only.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("HEAD", "/web/app.js")
        r = conn.getresponse()
        self.assertEqual((r.status, r.read()), (200, b""))
        self.assertEqual(int(r.getheader("content-length")), len(plain))
        conn.close()
        # Writes are not allowed on the files.
        status, h, _ = http_call(self.port, "POST", "/web/app.js", raw=b"x")
        self.assertEqual(status, 405)
        self.assertIn("GET", h["allow"])

    def test_hostile_paths(self):
        """Nothing outside the served files is ever answered: every file is read at start, a
        request is a lookup in a table."""
        secrets = [b"#include", b"root:", b"passerelle::gateway", b"[Desktop Entry]"]
        for target in [
            "/web/../map_pages.cpp", "/web/%2e%2e/map_pages.cpp", "/web/%2E%2E/map_pages.cpp",
            "/web/..%2fmap_pages.cpp", "/web/..%2Fmap_pages.cpp", "/web/.%2e/map_pages.cpp",
            "/web/app.js%00", "/web/app.js%00.png", "/web/%00", "/web/%FF%FE", "/web/%C3",
            "/web/\xff\xfe", "/lieux/\xc3\xa9", "/web/app\x01.js",
            "/web\\app.js", "/web/..\\..\\map_pages.cpp", "/web/%5c..%5cmap_pages.cpp",
            "/web/", "/web", "/web/inconnu.js", "/web/.hidden", "/web/app.js/",
            "/web/app.js.gz", "/web//app.js", "/web/./app.js", "/web/APP.JS",
            "/vendor/leaflet/../../../../../etc/passwd", "/vendor/leaflet/leaflet.css.map",
            "/vendor/leaflet/leaflet.min.js.gz", "/vendor/leaflet/images/../leaflet.js",
            "/vendor/leaflet/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/vendor/", "/vendor",
            "//etc/passwd", "//", "/lieux/", "/lieux/..", "/lieux/.", "/lieux/a/b",
            "/lieux/a%2fb", "/lieux/%2e%2e", "/lieux/%00", "/lieux/x%20y", "/lieux/" + "a" * 201,
            "/lieux/../web/app.js", "/web/" + "a" * 3000, "/lieux/" + "%2e" * 1000,
        ]:
            status, h, body = raw_get(self.port, target)
            self.assertIn(status, (400, 404), target[:80])
            for s in secrets:
                self.assertNotIn(s, body, target[:80])
        # An address under the map's paths that leads nowhere is a page people can read, in
        # French, with a way back to the map; nothing of the address is written into it.
        for target in ("/lieux/a/b", "/lieux/" + "a" * 201, "/lieux/x%20y", "/lieux/..",
                       "/web/inconnu.js", "/lieux/%3Cscript%3E"):
            status, h, body = raw_get(self.port, target)
            self.assertEqual(status, 404, target[:80])
            self.assertTrue(h.get("content-type", "").startswith("text/html"), (target, h))
            self.assertIn("Page introuvable".encode(), body, target[:80])
            self.assertIn(b'href="/"', body)
            self.assertNotIn(b"script", body.lower(), target[:80])
            self.assertIn("default-src", h.get("content-security-policy", ""), target[:80])
        status, h, _ = raw_get(self.port, "/v1/inconnu")
        self.assertTrue(h.get("content-type", "").startswith("application/json"), h)
        # Long targets are refused by the HTTP layer before any page set: over 4 KiB 414, and a
        # 10 KB one too though it passes the whole head's 8 KiB (the target is what is too long).
        self.assertEqual(raw_get(self.port, "/web/" + "a" * 5000)[0], 414)
        self.assertEqual(raw_get(self.port, "/web/" + "a" * 10240)[0], 414)
        self.assertEqual(raw_get(self.port, "/lieux/" + "a" * 10240)[0], 414)
        # Headers past the head's limit are 431.
        self.assertEqual(raw_get(self.port, "/web/", {"X-Big": "b" * 10240})[0], 431)
        # The API beside the map answers as before.
        for path, want in (("/v1/openapi.json", 200), ("/healthz", 200), ("/ogc", 200),
                           ("/v1/nomenclatures", 200), ("/v1/inconnu", 404)):
            status, _, _ = raw_get(self.port, path)
            self.assertEqual(status, want, path)

    def test_tiles_setting(self):
        """A tile server's origin is the only other one in the CSP and the page's config; a
        template that is not a tile URL stops the gateway at start."""
        port = free_port()
        proc = self.stack.start_gateway(None, pepper="map-e2e-pepper", label="gateway-tiles",
                                        http_port=port, extra={
            "PASSERELLE_GATEWAY_MAP_TILES_URL":
                "https://{s}.tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png",
            "PASSERELLE_GATEWAY_WEB_DIR": f"{SOURCE}/services/gateway/web"})
        self.stack.wait_until_ready("/healthz", port=port, procs=[proc])
        status, h, _ = raw_get(port, "/")
        self.assertEqual(status, 200)
        self.assertIn("img-src 'self' data: https://*.tile.openstreetmap.fr;",
                      h["content-security-policy"])
        self.assertEqual(h["content-security-policy"].count("http"), 1)
        status, _, config = raw_get(port, "/web/config.json")
        self.assertEqual(json.loads(config)["tilesUrl"],
                         "https://{s}.tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png")
        proc.terminate()
        self.assertEqual(proc.wait(), 0)
        for bad in ("javascript:alert(1)//{z}{x}{y}", "https://a.example/{z}/{x}.png",
                    "https://tiles.example/{z}/{x}/{y}.png; script-src *",
                    "https://x.{s}.example/{z}/{x}/{y}.png", "https://tiles.example"):
            proc = self.stack.start_gateway(None, pepper="map-e2e-pepper", label="gateway-bad",
                                            http_port=free_port(), extra={
                "PASSERELLE_GATEWAY_MAP_TILES_URL": bad})
            code = proc.wait(timeout=30)
            self.assertNotEqual(code, 0, bad)
            self.assertIn("PASSERELLE_GATEWAY_MAP_TILES_URL", proc.log_tail(), bad)
            proc.killed = True  # its non-zero exit is the point

    def test_web_dir_read_safely(self):
        """Only regular files directly in the web directory with plain names are served: a
        symbolic link (to /etc/passwd), a subdirectory, a dot file are not; without index.html
        the gateway starts without the map."""
        import tempfile
        with tempfile.TemporaryDirectory() as web:
            with open(os.path.join(web, "index.html"), "w") as f:
                f.write('<!DOCTYPE html><html lang="fr"><title>t</title></html>')
            with open(os.path.join(web, "a.txt"), "w") as f:
                f.write("plain")
            with open(os.path.join(web, ".cache"), "w") as f:
                f.write("dot file")
            os.symlink("/etc/passwd", os.path.join(web, "passwd.txt"))
            os.mkdir(os.path.join(web, "sub"))
            with open(os.path.join(web, "sub", "b.txt"), "w") as f:
                f.write("below")
            port = free_port()
            proc = self.stack.start_gateway(None, pepper="map-e2e-pepper", label="gateway-webdir",
                                            http_port=port, extra={
                "PASSERELLE_GATEWAY_WEB_DIR": web})
            self.stack.wait_until_ready("/healthz", port=port, procs=[proc])
            self.assertEqual(raw_get(port, "/web/a.txt")[:3:2], (200, b"plain"))
            # Without lieu.html, a venue's address answers index.html.
            self.assertEqual(raw_get(port, "/lieux/abc")[2], raw_get(port, "/")[2])
            self.assertEqual(raw_get(port, "/web/a.txt")[1]["content-type"],
                             "text/plain; charset=utf-8")
            for target in ("/web/passwd.txt", "/web/.cache", "/web/sub", "/web/sub/b.txt",
                           "/web/sub%2fb.txt"):
                status, _, body = raw_get(port, target)
                self.assertEqual(status, 404, target)
                self.assertNotIn(b"root:", body)
            # A file added after the start is not served: nothing is read per request.
            with open(os.path.join(web, "later.txt"), "w") as f:
                f.write("later")
            self.assertEqual(raw_get(port, "/web/later.txt")[0], 404)
            proc.terminate()
            self.assertEqual(proc.wait(), 0)

            os.remove(os.path.join(web, "index.html"))
            port = free_port()
            proc = self.stack.start_gateway(None, pepper="map-e2e-pepper", label="gateway-nomap",
                                            http_port=port, extra={
                "PASSERELLE_GATEWAY_WEB_DIR": web})
            self.stack.wait_until_ready("/healthz", port=port, procs=[proc])
            self.assertIn(raw_get(port, "/")[0], (400, 404))  # what `/` answered before the map
            self.assertEqual(raw_get(port, "/web/a.txt")[0], 404)
            self.assertEqual(raw_get(port, "/v1/nomenclatures")[0], 200)
            self.assertIn("map not served", proc.log_tail())
            proc.terminate()
            self.assertEqual(proc.wait(), 0)

    # ---- the page in a browser ------------------------------------------------------------------

    def test_need_with_a_typo(self):
        self.open(f"/?maintenant={CLOCK}&carte=non")
        self.assertEqual(len(self.results()), 4)
        box = self.driver.find_element(By.ID, "besoin")
        box.send_keys("pronot")
        button = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#suggestions button.besoin"),
                           message="no need suggested for « pronot »")[0]
        self.assertEqual(button.get_attribute("data-item"), self.pronote["name"])
        self.assertRegex(self.driver.find_element(By.ID, "suggestions-etat").text,
                         r"^\d+ besoins? trouvés? : choisissez")
        self.assertEqual(button.text, self.pronote["plainLabel"])
        button.click()
        self.wait(lambda d: d.find_element(By.ID, "besoin-libelle").text == self.pronote["plainLabel"])
        self.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#resultats li")) == 2,
                  message="the need does not filter the venues")
        self.assertEqual(sorted(self.results()),
                         ["Espace numérique de l'Épeule", "Médiathèque du samedi"])
        self.check_accessibility("need chosen")
        self.driver.find_element(By.ID, "besoin-retirer").click()
        self.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#resultats li")) == 4)

    def choose_pronote(self):
        self.driver.find_element(By.ID, "besoin").send_keys("pronot")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#suggestions button.besoin"),
                  message="no need suggested for « pronot »")[0].click()

    def test_coverage_of_a_need(self):
        """The chosen need by quartier from the indicators service: a table that works without
        the map, a legend with numbers and words, the quartiers shaded and numbered on the map."""
        item = self.pronote["name"]
        deadline = time.time() + 60
        while True:
            status, _, body = self.stack.call(
                "GET", f"/v1/areaLayers/quartiers/coverage:export?format=GEOJSON&offers={item}")
            if status == 200:
                figures = {f["properties"]["code"]: f["properties"]
                           for f in json.loads(body)["features"]}
                if figures.get("EPEULE", {}).get("offer_venue_count") == 1 and "EST" in figures:
                    break
            self.assertLess(time.time(), deadline, f"coverage never ready: {status} {body[:500]}")
            time.sleep(0.5)
        table_js = ("return [...document.querySelectorAll('#couverture-lignes tr')]"
                    ".map(r => [...r.children].map(c => c.textContent));")
        for carte in ("&carte=non", ""):
            self.open(f"/?maintenant={CLOCK}{carte}")
            self.results()
            self.assertFalse(self.driver.find_element(By.ID, "couverture").is_displayed())
            self.choose_pronote()
            self.wait(lambda d: len(d.execute_script(table_js)) == 2, message="no coverage table")
            hours = {code: f"{round(figures[code]['hours_open_within_reach'])} h"
                     for code in figures}
            # The least covered first; the class's number before the name.
            self.assertEqual(self.driver.execute_script(table_js), [
                ["3. Est (e2e)", "0",
                 f"{figures['EST']['nearest_distance_meters'] / 1000:.1f} km".replace(".", ","),
                 hours["EST"]],
                ["1. Épeule (e2e)", "1", "dans le quartier", hours["EPEULE"]]])
            self.assertTrue(1000 <= figures["EST"]["nearest_distance_meters"] < 2000)
            legend = [li.text for li in
                      self.driver.find_elements(By.CSS_SELECTOR, "#couverture-legende li")]
            self.assertEqual(legend, [
                "1 au moins un lieu dans le quartier : 1 quartier",
                "2 aucun dans le quartier, le plus proche à moins de 1 km : 0 quartier",
                "3 le plus proche entre 1 et 2 km : 1 quartier",
                "4 le plus proche à 2 km ou plus : 0 quartier",
                "5 aucun lieu connu ne le propose : 0 quartier"])
            self.assertEqual(self.driver.find_element(By.ID, "couverture-etat").text,
                             f"« {self.pronote['plainLabel']} » : proposé dans 1 quartier sur 2.")
            self.check_accessibility(f"coverage{carte}")
        # With the map: each quartier shaded by its class and numbered as in the legend.
        self.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#carte path.couverture-dedans")) == 1
                  and len(d.find_elements(By.CSS_SELECTOR, "#carte path.couverture-moyen")) == 1,
                  message="the quartiers are not shaded")
        self.assertEqual(sorted(self.driver.execute_script(
            "return [...document.querySelectorAll('#carte .couverture-numero')]"
            ".map(e => e.textContent);")), ["1", "3"])
        self.shot("couverture-1366x768.png")
        self.driver.find_element(By.ID, "besoin-retirer").click()
        self.wait(lambda d: not d.find_element(By.ID, "couverture").is_displayed()
                  and not d.find_elements(By.CSS_SELECTOR, "#carte path"),
                  message="the coverage stays without a need")

    def test_more_results(self):
        """Pages of 3 (?parPage=3): « Plus de résultats », reached and pressed with the keyboard,
        adds the next page after the first and moves the focus to the first venue added."""
        self.open(f"/?maintenant={CLOCK}&carte=non")
        everything = self.results()
        self.assertEqual(len(everything), 4)
        self.assertFalse(self.driver.find_element(By.ID, "plus").is_displayed())
        self.open(f"/?maintenant={CLOCK}&carte=non&parPage=3")
        self.assertEqual(self.results(), everything[:3])
        self.assertEqual(self.driver.find_element(By.ID, "etat").text,
                         "3 lieux trouvés, les plus proches d'abord. (4 en tout.)")
        # Tab from the last result reaches the button (nothing in between), Enter presses it.
        self.driver.find_elements(By.CSS_SELECTOR, "#resultats li h3 a")[-1].send_keys(Keys.TAB)
        focused = self.driver.switch_to.active_element
        self.assertEqual(focused.get_attribute("id"), "plus")
        self.assertEqual(focused.text, "Plus de résultats")
        focused.send_keys(Keys.ENTER)
        self.wait(lambda d: len(self.names()) == 4, message="no next page")
        self.assertEqual(self.names(), everything)
        self.assertEqual(self.driver.switch_to.active_element.text, everything[3])
        self.assertFalse(self.driver.find_element(By.ID, "plus").is_displayed())
        self.assertEqual(self.driver.find_element(By.ID, "etat").text,
                         "4 lieux trouvés, les plus proches d'abord.")

    def test_professional_item_filter(self):
        """In the professional mode every item of the referential is in a <select>: choosing one
        filters the venues as the search's suggestion does."""
        self.open(f"/?maintenant={CLOCK}&carte=non", pro=True)
        self.assertEqual(len(self.results()), 4)
        item = self.pronote["name"]
        option = self.wait(lambda d: d.find_elements(
            By.CSS_SELECTOR, f"#f-item option[value='{item}']"), message="no item listed")[0]
        self.assertEqual(option.text, f"{self.pronote['code']} {self.pronote['label']}")
        self.assertGreater(len(self.driver.find_elements(By.CSS_SELECTOR, "#f-item option")), 20)
        option.click()
        self.wait(lambda d: sorted(self.names()) == ["Espace numérique de l'Épeule",
                                                     "Médiathèque du samedi"],
                  message="the item does not filter")
        self.assertEqual(self.driver.find_element(By.ID, "besoin-libelle").text, option.text)
        self.driver.find_element(By.ID, "besoin-retirer").click()
        self.wait(lambda d: len(self.names()) == 4)
        self.assertEqual(self.driver.find_element(By.ID, "f-item").get_attribute("value"), "")
        self.check_accessibility("professional item filter")

    def test_open_now_at_a_fixed_clock(self):
        self.open(f"/?maintenant={CLOCK}")
        self.assertEqual(len(self.results()), 4)
        self.driver.find_element(By.ID, "f-ouvert").click()
        self.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#resultats li")) == 2,
                  message="« Ouvert maintenant » does not filter")
        # Monday 11:00: the weekday one and the every-day one; not Saturday's, not the one
        # without hours.
        self.assertEqual(sorted(self.results()),
                         ["=HYPERLIEN(\"x\") atelier", "Espace numérique de l'Épeule"])
        self.assertIn("sans horaires", self.driver.find_element(By.ID, "etat").text)
        # « Ouvert samedi » on that Monday: the venues open at some time next Saturday (it
        # replaces « Ouvert maintenant »).
        self.driver.find_element(By.ID, "f-samedi").click()
        self.assertFalse(self.driver.find_element(By.ID, "f-ouvert").is_selected())
        self.wait(lambda d: sorted(self.names())
                  == ["=HYPERLIEN(\"x\") atelier", "Médiathèque du samedi"],
                  message="« Ouvert samedi »")
        # Saturday 11:00: the Saturday one and the every-day one.
        self.open("/?maintenant=2026-12-12T10:00:00Z&carte=non")
        self.results()
        self.driver.find_element(By.ID, "f-ouvert").click()
        self.wait(lambda d: sorted(self.names())
                  == ["=HYPERLIEN(\"x\") atelier", "Médiathèque du samedi"],
                  message="open on Saturday")
        self.driver.find_element(By.ID, "f-gratuit").click()
        self.wait(lambda d: self.names() == ["=HYPERLIEN(\"x\") atelier"],
                  message="free and open on Saturday")

    def test_venue_page_by_its_address(self):
        vid = self.ids["ouvert"]
        self.open(f"/lieux/{vid}?maintenant={CLOCK}&carte=non")
        h1 = self.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#vue-lieu h1")
                       if d.find_elements(By.CSS_SELECTOR, "#vue-lieu h1") else None)
        self.assertEqual(h1.text, "Espace numérique de l'Épeule")
        self.assertIn("Espace numérique de l'Épeule", self.driver.title)
        d = self.driver
        self.assertEqual(d.find_element(By.CSS_SELECTOR, "a[href^='tel:']").get_attribute("href"),
                         "tel:+33320000001")
        self.assertEqual(d.find_element(By.CSS_SELECTOR, "a[href^='geo:']").get_attribute("href"),
                         "geo:50.692,3.17")
        osm = d.find_element(By.CSS_SELECTOR, "a[href*='openstreetmap.org/directions']")
        self.assertIn("to=50.692%2C3.17", osm.get_attribute("href"))
        self.assertEqual(d.find_element(By.CSS_SELECTOR, "a[href^='mailto:']").text,
                         "contact@epeule.example")
        page = d.find_element(By.ID, "vue-lieu").text
        self.assertIn("Aide pour les démarches en ligne", page)  # services in plain words
        self.assertIn(self.pronote["plainLabel"], page)
        self.assertIn("Gratuit", page)
        self.assertIn("Accepte le pass numérique #APTIC", page)
        # The venues service's schedule at the page's clock (Monday 11:00): open until noon,
        # the hours in words, the seven days.
        self.assertEqual(d.find_element(By.ID, "etat-ouverture").text,
                         "Ouvert en ce moment, jusqu'à 12 h.")
        self.assertIn("du lundi au vendredi 9 h – 12 h", page)
        days = [r.text for r in d.find_elements(By.CSS_SELECTOR, "table.horaires tbody tr")]
        self.assertEqual(len(days), 7, days)
        self.assertEqual(days[0], "lundi 7 décembre 9 h – 12 h")
        self.assertEqual(days[5], "samedi 12 décembre fermé")
        self.assertNotIn("Toutes les données", page)  # the professional table is off
        self.check_accessibility("venue page")
        # Printed for a social worker to hand out: one A4 page, without the site's navigation.
        options = PrintOptions()
        options.page_width, options.page_height = 21.0, 29.7
        options.background = False
        pdf = base64.b64decode(d.print_page(options))
        with open(os.path.join(SHOTS, "lieu-a4.pdf"), "wb") as f:
            f.write(pdf)
        self.assertEqual(len(re.findall(rb"/Type\s*/Page\b", pdf)), 1, "not one A4 page")
        self.shot("lieu-1366x768.png")
        d.set_window_size(390, 844)
        self.shot("lieu-390x844.png")
        # Closed now: when it opens next.
        self.open(f"/lieux/{self.ids['samedi']}?maintenant={CLOCK}&carte=non")
        self.wait(lambda d: d.find_elements(By.ID, "etat-ouverture"))
        self.assertEqual(d.find_element(By.ID, "etat-ouverture").text,
                         "Fermé en ce moment. Ouvre samedi à 10 h.")
        # No hours: said so.
        self.open(f"/lieux/{self.ids['sans-horaires']}?maintenant={CLOCK}&carte=non")
        self.wait(lambda d: "Horaires non renseignés" in d.find_element(By.ID, "vue-lieu").text)
        # An unknown venue: said in French, no crash.
        self.open("/lieux/00000000-0000-0000-0000-000000000000?carte=non")
        self.wait(lambda d: "Lieu introuvable" in d.find_element(By.ID, "vue-lieu").text)

    def test_a_careless_producers_venue(self):
        # Tester 17 (F2, F3, F4): far from Roubaix so the other tests' lists stay as they are.
        long_name = "Médiathèque" + "X" * 180
        row = venue("careless", long_name, 44.1234, 4.5678, "24/7; Dec 25 off",
                    courriels=["a@exemple.fr?cc=autre@ailleurs.example&body=bonjour"],
                    siteWeb=["https://www.roubaix.fr@ailleurs.example/"])
        # Hours in free text: the registry keeps them (with a warning) but cannot read them.
        free_text = venue("texte-libre", "Maison de quartier aux horaires en texte", 44.1300,
                          4.5700, "du lundi au vendredi de 9h à 12h")
        status, _, body = self.stack.call(
            "POST", f"/v1/sources/{SOURCE_ID}/venues:batchUpsert", {"venues": [row, free_text]},
            key=ADMIN_KEY)
        self.assertEqual(status, 200, body)
        vid = json.loads(body)["results"][0]["name"].split("/")[1]
        free_text_id = json.loads(body)["results"][1]["name"].split("/")[1]
        d = self.driver
        try:
            self.open(f"/lieux/{vid}?maintenant={CLOCK}&carte=non", width=390, height=844)
            self.wait(lambda d: d.find_elements(By.ID, "etat-ouverture"))
            # A closing 18 days away is dated, not a bare weekday read as this week's.
            self.assertEqual(d.find_element(By.ID, "etat-ouverture").text,
                             "Ouvert en ce moment, jusqu'à vendredi 25 décembre à minuit.")
            # Understood but not sayable in words (a date): the days say it, never the
            # OpenStreetMap syntax.
            self.assertNotIn("Dec 25 off", d.find_element(By.ID, "vue-lieu").text)
            self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "table.horaires tbody tr")), 7)
            # The address with parameters is shown, not linked; the web address hiding its
            # host behind a user name is not linked either.
            self.assertEqual(d.find_elements(By.CSS_SELECTOR, "a[href^='mailto:']"), [])
            self.assertIn("a@exemple.fr?cc=", d.find_element(By.ID, "vue-lieu").text)
            self.assertEqual(d.find_elements(By.CSS_SELECTOR, "a[href*='ailleurs.example']"), [])
            # One long word does not widen the page past a phone's screen.
            width = d.execute_script("return document.documentElement.scrollWidth")
            wide = d.execute_script(
                "return [...document.querySelectorAll('body *')].filter(e => "
                "e.getBoundingClientRect().right > 400).slice(-3).map(e => "
                "e.tagName + '#' + e.id + '.' + e.className + ' ' + getComputedStyle(e).whiteSpace)")
            self.assertLessEqual(width, 390, f"the page scrolls sideways: {wide}")
            # Hours the registry cannot read: said in French, the published text behind a
            # disclosure, not given as the answer.
            self.open(f"/lieux/{free_text_id}?maintenant={CLOCK}&carte=non", width=390, height=844)
            self.wait(lambda d: d.find_elements(By.ID, "etat-ouverture"))
            self.assertEqual(d.find_element(By.ID, "etat-ouverture").text,
                             "Ces horaires sont écrits d'une façon que nous ne savons pas lire : "
                             "téléphonez avant de venir.")
            published = d.find_element(By.CSS_SELECTOR, "details.horaires-publies")
            self.assertIsNone(published.get_attribute("open"))  # closed until asked
            published.find_element(By.TAG_NAME, "summary").click()
            self.assertIsNotNone(published.get_attribute("open"))
            self.assertEqual(published.find_element(By.TAG_NAME, "code").text,
                             "du lundi au vendredi de 9h à 12h")
            self.check_accessibility("venue page, hours not understood")
        finally:
            d.set_window_size(1366, 768)

    def test_where(self):
        """A quartier from the area layers, then « Autour de moi » with the browser's position
        (given by the driver, as a phone would after the person allows it)."""
        self.open(f"/?maintenant={CLOCK}&carte=non")
        self.assertEqual(len(self.results()), 4)
        d = self.driver
        option = self.wait(lambda d: d.find_elements(
            By.CSS_SELECTOR, "#quartier optgroup[label='Quartiers (e2e)'] option"),
            message="no quartier listed")[0]
        self.assertEqual((option.text, option.get_attribute("value")),
                         ("Épeule (e2e)", "quartiers:EPEULE"))
        option.click()
        self.wait(lambda d: self.names() == ["Espace numérique de l'Épeule"],
                  message="the quartier does not filter")
        d.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": self.url(""), "permissions": ["geolocation"]})
        d.execute_cdp_cmd("Emulation.setGeolocationOverride", {
            "latitude": 50.6991, "longitude": 3.1651, "accuracy": 10})
        d.find_element(By.ID, "autour").click()
        self.wait(lambda d: len(self.names()) == 4, message="« Autour de moi » keeps the quartier")
        self.assertEqual(d.find_element(By.ID, "quartier").get_attribute("value"), "")
        # Nearest first from the person: the centre without hours is 13 m away.
        self.assertEqual(self.names()[0], "Centre social sans horaires")
        self.assertEqual(d.find_element(By.CSS_SELECTOR, "#resultats li .distance").text, "à 10 m")
        self.assertEqual(d.find_element(By.ID, "position").text, "Lieux autour de votre position.")
        d.execute_cdp_cmd("Emulation.clearGeolocationOverride", {})

    def test_professional_mode(self):
        self.open(f"/?maintenant={CLOCK}&carte=non")
        self.results()
        d = self.driver
        self.assertFalse(d.find_element(By.ID, "csv").is_displayed())
        d.find_element(By.ID, "mode-pro").click()
        self.wait(lambda d: d.find_element(By.ID, "csv").is_displayed())
        # The list came in the basic view: the professional mode asks the search again, in full.
        self.wait(lambda d: "trouvés" in d.find_element(By.ID, "etat").text,
                  message="the search was not asked again")
        infos = [p.text for p in d.find_elements(By.CSS_SELECTOR, "#resultats .pro-info")]
        self.assertEqual(len(infos), 4)
        self.assertTrue(any("Source : map-e2e" in t and "2026-11-25" in t and "#APTIC" in t
                            for t in infos), infos)
        target = os.path.join(SHOTS, "lieux-passerelle.csv")
        if os.path.exists(target):
            os.remove(target)
        d.find_element(By.ID, "csv").click()
        self.wait(lambda d: os.path.exists(target) and os.path.getsize(target) > 0,
                  message="no CSV downloaded")
        with open(target, encoding="utf-8-sig", newline="") as f:
            csv = f.read()
        lines = csv.strip("\r\n").split("\r\n")
        self.assertEqual(len(lines), 5)
        self.assertTrue(lines[0].startswith("id,pivot,nom,commune,code_postal"))
        self.assertIn("distance_metres", lines[0])
        formula = [line for line in lines if "HYPERLIEN" in line][0]
        self.assertIn("'=HYPERLIEN", formula)  # neutralised for spreadsheets
        self.assertIn("Formé à « Mon Espace Santé »", csv)  # the standard's spelling
        self.check_accessibility("professional list")
        # The venue page in professional mode: every standard field, codes, source, date_maj.
        d.get(self.url(f"/lieux/{self.ids['ouvert']}?carte=non"))
        table = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "table.pro"),
                          message="no professional table")[0].text
        for field in ("pivot", "21590512800017", "code_postal", "date_maj", "2026-11-25",
                      "accepts_aptic_pass (#APTIC)", "oui", "provenance", "map-e2e",
                      self.pronote["name"]):
            self.assertIn(field, table)
        self.assertIn(f"({self.pronote['code']})", d.find_element(By.ID, "vue-lieu").text)
        self.check_accessibility("professional venue page")
        d.find_element(By.ID, "mode-pro").click()  # back to the inhabitants' view
        self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, "table.pro"))

    def test_keyboard_only(self):
        self.open(f"/?maintenant={CLOCK}&carte=non")
        self.results()
        d = self.driver
        body = d.find_element(By.TAG_NAME, "body")
        body.click()
        reached = None
        for _ in range(60):
            d.switch_to.active_element.send_keys(Keys.TAB)
            el = d.switch_to.active_element
            if el.tag_name == "a" and d.execute_script(
                    "return arguments[0].closest('#resultats') !== null", el):
                reached = el
                break
        self.assertIsNotNone(reached, "Tab never reached a result")
        name = reached.text
        reached.send_keys(Keys.ENTER)
        self.wait(lambda d: "/lieux/" in d.current_url)
        h1 = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#vue-lieu h1"))[0]
        self.assertEqual(h1.text, name)
        # The skip link is the first stop and leads to the content.
        d.get(self.url("/?carte=non"))
        self.results()
        d.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        self.assertEqual(d.switch_to.active_element.get_attribute("class"), "evitement")

    def test_with_and_without_the_map(self):
        # Leaflet loads (no tiles here): one marker per located result, the list still first.
        self.open(f"/?maintenant={CLOCK}")
        self.assertEqual(len(self.results()), 4)
        self.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".leaflet-marker-icon")) == 4,
                  message="no markers on the map")
        self.assertTrue(self.driver.find_element(By.ID, "carte").is_displayed())
        self.check_accessibility("home with the map")
        self.shot("accueil-1366x768.png")
        # On a phone the list comes alone; the map loads when asked for.
        self.open(f"/?maintenant={CLOCK}", 390, 844)
        self.results()
        button = self.wait(lambda d: d.find_element(By.ID, "afficher-carte")
                           if d.find_element(By.ID, "afficher-carte").is_displayed() else None,
                           message="no « Afficher la carte » on a phone")
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, ".leaflet-container"))
        self.check_accessibility("home on a phone, map not loaded")
        button.click()
        self.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".leaflet-marker-icon")) == 4,
                  message="no markers on the phone's map")
        self.shot("accueil-390x844.png")
        self.check_accessibility("home on a phone")
        # ?carte=non: no map at all, and the list works.
        self.open(f"/?maintenant={CLOCK}&carte=non")
        self.assertEqual(len(self.results()), 4)
        self.assertFalse(self.driver.find_element(By.ID, "carte").is_displayed())
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, ".leaflet-container"))
        # Leaflet missing from the server: the page shows its list without the map.
        port = free_port()
        proc = self.stack.start_gateway(None, pepper="map-e2e-pepper", label="gateway-noleaflet",
                                        http_port=port, extra={
            "PASSERELLE_GATEWAY_LEAFLET_DIR": "/nonexistent",
            "PASSERELLE_GATEWAY_WEB_DIR": f"{SOURCE}/services/gateway/web",
            "PASSERELLE_GATEWAY_RATE_LIMITS": "public=1000:1000"})
        self.stack.wait_until_ready("/healthz", port=port, procs=[proc])
        self.assertEqual(raw_get(port, "/vendor/leaflet/leaflet.esm.min.js")[0], 404)
        self.driver.get(f"http://127.0.0.1:{port}/?maintenant={CLOCK}")
        self.assertEqual(len(self.results()), 4)
        self.assertFalse(self.driver.find_element(By.ID, "carte").is_displayed())
        proc.terminate()
        self.assertEqual(proc.wait(), 0)

    def test_no_third_party_request(self):
        self.open(f"/?maintenant={CLOCK}")
        self.results()
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-marker-icon"))
        urls = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name);")
        others = [u for u in urls if not u.startswith(f"http://127.0.0.1:{self.port}/")]
        self.assertEqual(others, [])
        # The home page with its map, before tiles: under 150 KB on the wire (gzip).
        sizes = self.driver.execute_script(
            "return [...performance.getEntriesByType('navigation'),"
            " ...performance.getEntriesByType('resource')].map(e => [e.name, e.transferSize]);")
        total = sum(size for _, size in sizes)
        print(f"home page transferred: {total} bytes in {len(sizes)} requests", file=sys.stderr)
        self.assertGreater(total, 0)
        self.assertLess(total, 150 * 1024, sizes)
        # First results visible within 1 s of the navigation on the local stack (the page marks
        # the moment it shows them).
        first = self.driver.execute_script(
            "return performance.getEntriesByName('premiers-resultats')[0].startTime;")
        print(f"first results shown {first:.0f} ms after navigation", file=sys.stderr)
        self.assertLess(first, 1000)
        errors = [m for m in self.console() if "Content Security Policy" in m]
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
