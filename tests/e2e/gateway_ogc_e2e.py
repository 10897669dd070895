#!/usr/bin/env python3
"""OGC API – Features through the real passerelle-gateway, read as the city's GIS team reads it:
GDAL's OAPIF driver (Debian gdal-bin: ogrinfo, ogr2ogr) counting the venues, counting them in a
box, filtering on a standard property and copying one venue, listing the area layers as layers
and reading one; then plain HTTP (http.client and curl) for what GDAL does not show: content
types, absolute links, paging by `next` and back by `prev`, `datetime` on the venues' date_maj,
the area layers' collections, items and features, one venue, `resultType=hits`, and hostile
parameters refused with 400 naming the parameter.

Real venues, referential and sync binaries behind the gateway, on the PostgreSQL and NATS the
test command starts.
"""
import json
import re
import subprocess
import sys
import time
import unittest
import urllib.parse

from stack import Stack, free_port

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else "."
ADMIN_KEY = "psk_ogce2eadmin2_" + "A" * 43
SOURCE_ID = "ogc-e2e"
LOCATED = 24  # venues with coordinates, on a diagonal north-east of Roubaix's centre
SERVICES = ["SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES", "SERVICE_LOISIRS_ET_CREATIONS_NUMERIQUES"]


def date_maj(i):
    return "2025-06-01" if i % 4 == 0 else "2026-11-25"


def square(code, name, west, south, side):
    ring = [[west, south], [west + side, south], [west + side, south + side],
            [west, south + side], [west, south]]
    return {"type": "Feature", "properties": {"code": code, "name": name},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


# Two area layers: `qpv`, one square holding venues 0 to 4; `quartiers`, five squares along the
# venues' diagonal (Q0 holds venues 0 to 4, Q1 5 to 9...).
LAYERS = {
    "qpv": ("Quartiers prioritaires (e2e)", [square("QN59001", "Alma (e2e)", 3.095, 50.595, 0.05)]),
    "quartiers": ("Quartiers de Roubaix (e2e)",
                  [square(f"Q{k}", f"Quartier {k}", 3.095 + k * 0.05, 50.595 + k * 0.05, 0.05)
                   for k in range(5)]),
}


def venue(i, located=True):
    v = {"id": f"ogc-e2e-{i:02d}", "pivot": "21590512800017", "nom": f"Lieu OGC {i:02d}",
         "commune": "Roubaix", "codePostal": "59100", "adresse": f"{i} rue de l'Épeule",
         "dateMaj": date_maj(i), "typologie": ["CCAS"] if i % 2 else ["ASSO", "TIERS_LIEUX"],
         "services": SERVICES[: 1 + i % 2],
         "fraisACharge": ["FRAIS_PAYANT"] if i % 3 == 0 else ["FRAIS_GRATUIT"]}
    if located:
        v["latitude"] = round(50.600 + i * 0.01, 6)
        v["longitude"] = round(3.100 + i * 0.01, 6)
    return v


class GatewayOgcE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = stack = Stack(BUILD, "ogce2e", page_token_key="gateway-ogc-e2e-page-token-key")
        cls.http_port = free_port()
        cls.base = f"http://127.0.0.1:{cls.http_port}"
        stack.start("venues")
        stack.start("referential", {"PASSERELLE_SEED_DIR": f"{SOURCE}/services/referential/seed"})
        stack.start("sync", {"PASSERELLE_VENUES_ADDRESS": f"127.0.0.1:{stack.ports['venues']}"})
        stack.start_gateway(ADMIN_KEY, pepper="ogc-e2e-pepper", http_port=cls.http_port, extra={
            "PASSERELLE_GATEWAY_PUBLIC_URL": cls.base,
            # GDAL's many small reads must not meet the anonymous rate limit.
            "PASSERELLE_GATEWAY_RATE_LIMITS": "public=1000:1000"})
        stack.wait_until_ready("/v1/nomenclatures")
        stack.wait_until_ready("/v1/venues?pageSize=1")  # venues may listen later under load

        # The data: LOCATED venues with coordinates, one without, one withdrawn.
        status, _, body = cls.call("POST", f"/v1/sources?sourceId={SOURCE_ID}",
                                   {"displayName": "Source OGC e2e"}, key=ADMIN_KEY)
        assert status == 201, body
        rows = [venue(i) for i in range(LOCATED)] + [venue(90, located=False), venue(91)]
        status, _, body = cls.call("POST", f"/v1/sources/{SOURCE_ID}/venues:batchUpsert",
                                   {"venues": rows}, key=ADMIN_KEY)
        assert status == 200, body
        results = json.loads(body)["results"]
        assert all(r["outcome"] == "CREATED" for r in results), body
        cls.names = {r["sourceId"]: r["name"] for r in results}
        cls.withdrawn = cls.names["ogc-e2e-91"].split("/")[1]
        status, _, body = cls.call("POST", f"/v1/{cls.names['ogc-e2e-91']}:withdraw",
                                   {"reason": "fermé (test)"}, key=ADMIN_KEY)
        assert status == 200, body
        cls.published = LOCATED + 1
        for layer, (title, features) in LAYERS.items():
            geojson = json.dumps({"type": "FeatureCollection", "features": features}).encode()
            status, _, body = cls.call(
                "POST", f"/v1/areaLayers/{layer}:import?title={urllib.parse.quote(title)}",
                raw=geojson, key=ADMIN_KEY, headers={"Content-Type": "application/geo+json"})
            assert status == 200, body
        # The search index follows the writes within a poll: wait for the published count.
        deadline = time.time() + 30
        while cls.items("limit=1&resultType=hits")["numberMatched"] != cls.published:
            assert time.time() < deadline, "the venues never all reached the search"
            time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    @classmethod
    def call(cls, method, path, body=None, key=None, headers=None, raw=None):
        return cls.stack.call(method, path, body, key, headers, raw)

    @classmethod
    def items(cls, query, collection="venues"):
        status, headers, body = cls.call("GET", f"/ogc/collections/{collection}/items?{query}")
        assert status == 200, body
        assert headers["content-type"] == "application/geo+json", headers
        return json.loads(body)

    def refused(self, path, parameter):
        status, headers, body = self.call("GET", path)
        self.assertEqual(status, 400, f"{path}: {body[:300]}")
        self.assertEqual(headers["content-type"], "application/json")
        error = json.loads(body)["error"]
        fields = [v["field"] for d in error.get("details", []) for v in d.get("fieldViolations", [])]
        self.assertEqual(fields, [parameter], f"{path}: {error}")
        return error

    def gdal(self, *args):
        out = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn("ERROR", out.stderr, out.stderr)
        return out.stdout

    def ogrinfo(self, *args):
        out = self.gdal("ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=100", *args,
                        f"OAPIF:{self.base}/ogc", "venues")
        count = re.search(r"^Feature Count: (\d+)$", out, re.M)
        self.assertIsNotNone(count, out)
        print(f"ogrinfo {' '.join(args)} -> {count.group(0)}", file=sys.stderr)
        return int(count.group(1)), out

    # --- GDAL ---

    def test_ogrinfo_counts_the_published_venues(self):
        count, out = self.ogrinfo()
        self.assertEqual(count, self.published)  # withdrawn left out, unlocated kept
        self.assertIn("Geometry: Point", out)
        self.assertIn("services: String", out)

    def test_ogrinfo_counts_a_bounding_box(self):
        # Venues 0 to 9 lie in [3.10, 3.19] x [50.60, 50.69].
        count, _ = self.ogrinfo("-spat", "3.095", "50.595", "3.195", "50.695")
        self.assertEqual(count, 10)

    def test_ogrinfo_filters_a_standard_property_on_the_server(self):
        # frais_a_charge is a parameter of the items (/ogc/api): GDAL sends it, the search filters.
        count, _ = self.ogrinfo("-where", "frais_a_charge = 'Payant'")
        self.assertEqual(count, len([i for i in range(LOCATED) if i % 3 == 0]) + 1)  # + venue 90
        # The server's reading of a list: venues having ASSO among their types ("ASSO|TIERS_LIEUX"),
        # which GDAL's own equality on the joined text would not find.
        count, _ = self.ogrinfo("-where", "typologie = 'ASSO'")
        self.assertEqual(count, len([i for i in range(LOCATED) if i % 2 == 0]) + 1)

    def test_ogrinfo_compares_date_maj(self):
        # GDAL types date_maj as a Date; whether it sends the comparison as `datetime` or
        # evaluates it on the downloaded features, the count is the same.
        early = len([i for i in range(LOCATED) if date_maj(i) == "2025-06-01"])
        count, _ = self.ogrinfo("-where", "date_maj >= '2026-01-01'")
        self.assertEqual(count, self.published - early)
        count, _ = self.ogrinfo("-where", "date_maj < '2026-01-01'")
        self.assertEqual(count, early)

    def test_ogr2ogr_copies_one_venue_with_its_fields(self):
        out = self.gdal("ogr2ogr", "-f", "GeoJSON", "/vsistdout/", "-oo", "PAGE_SIZE=100",
                        f"OAPIF:{self.base}/ogc", "venues", "-where", "nom = 'Lieu OGC 07'")
        features = json.loads(out)["features"]
        self.assertEqual(len(features), 1, out)
        f = features[0]
        created = venue(7)
        self.assertEqual(f["geometry"]["coordinates"], [created["longitude"], created["latitude"]])
        p = f["properties"]
        self.assertEqual(p["name"], self.names["ogc-e2e-07"])
        # Qualified by its source, as every export writes it (tester 25, M5): the GeoJSON
        # export's id for the same venue, so the two join in QGIS.
        self.assertEqual(p["id"], f"{SOURCE_ID}:ogc-e2e-07")
        status, _, exported = self.call("GET", "/v1/venues:export?format=GEOJSON")
        self.assertEqual(status, 200)
        (same,) = [e for e in json.loads(exported)["features"]
                   if e["properties"]["name"] == p["name"]]
        self.assertEqual(same["properties"]["id"], p["id"])
        self.assertEqual(p["nom"], "Lieu OGC 07")
        self.assertEqual(p["commune"], "Roubaix")
        self.assertEqual(p["code_postal"], "59100")
        self.assertEqual(p["adresse"], "7 rue de l'Épeule")
        self.assertEqual(p["typologie"], "CCAS")
        self.assertEqual(p["services"],
                         "Aide aux démarches administratives|Loisirs et créations numériques")
        self.assertEqual(p["frais_a_charge"], "Gratuit")
        self.assertEqual(p["date_maj"], date_maj(7))  # a Date field for GDAL, written back
        self.assertEqual(p["accepts_aptic_pass"], False)

    def test_ogrinfo_lists_the_area_layers_and_reads_one(self):
        out = self.gdal("ogrinfo", "-ro", "-oo", "PAGE_SIZE=100", f"OAPIF:{self.base}/ogc")
        layers = re.findall(r"^\d+: (\S+)", out, re.M)
        self.assertEqual(sorted(layers), ["qpv", "quartiers", "venues"], out)
        out = self.gdal("ogrinfo", "-ro", "-oo", "PAGE_SIZE=2", f"OAPIF:{self.base}/ogc",
                        "quartiers")
        self.assertRegex(out, r"Geometry: Multi Polygon")
        self.assertRegex(out, r"(?m)^Feature Count: 5$")
        self.assertEqual(re.findall(r"(?m)^\s+label \(String\) = (.*)$", out),
                         [f"Quartier {k}" for k in range(5)])
        self.assertEqual(re.findall(r"(?m)^\s+venue_count \(Integer\) = (\d+)$", out),
                         ["5", "5", "5", "5", "4"])  # 24 located venues, five per square
        self.assertIn("MULTIPOLYGON (((3.095 50.595,", out)
        # A box GDAL sends as bbox: the squares it touches.
        out = self.gdal("ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=100", "-spat", "3.16", "50.66",
                        "3.2", "50.7", f"OAPIF:{self.base}/ogc", "quartiers")
        self.assertRegex(out, r"(?m)^Feature Count: 2$")

    # --- HTTP ---

    def test_landing_conformance_and_collections_link_absolutely(self):
        status, headers, body = self.call("GET", "/ogc")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        links = {l["rel"]: l for l in json.loads(body)["links"]}
        for rel in ("self", "service-desc", "conformance", "data"):
            self.assertTrue(links[rel]["href"].startswith(f"{self.base}/ogc"), links[rel])
        self.assertEqual(links["service-desc"]["type"],
                         "application/vnd.oai.openapi+json;version=3.0")
        status, headers, body = self.call("GET", "/ogc/api")
        self.assertEqual(status, 200)
        api = json.loads(body)
        self.assertEqual(api["openapi"], "3.0.3")
        names = [p["name"] for p in api["paths"]["/collections/venues/items"]["get"]["parameters"]]
        self.assertIn("bbox", names)
        self.assertIn("services", names)
        status, _, body = self.call("GET", "/ogc/conformance")
        self.assertEqual(status, 200)
        classes = json.loads(body)["conformsTo"]
        self.assertIn("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core", classes)
        self.assertIn("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson", classes)
        status, headers, body = self.call("GET", "/ogc/collections")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        collection, *layers = json.loads(body)["collections"]
        self.assertEqual([c["id"] for c in layers], ["qpv", "quartiers"])
        self.assertEqual(layers[0]["title"], "Quartiers prioritaires (e2e)")
        self.assertEqual([round(x, 9) for x in layers[1]["extent"]["spatial"]["bbox"][0]],
                         [3.095, 50.595, 3.345, 50.845])
        self.assertEqual(collection["id"], "venues")
        self.assertEqual(collection["extent"]["temporal"]["interval"], [[None, None]])
        self.assertEqual(collection["crs"], ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"])
        self.assertEqual(len(collection["extent"]["spatial"]["bbox"][0]), 4)
        items = [l for l in collection["links"] if l["rel"] == "items"]
        self.assertEqual(items[0]["href"], f"{self.base}/ogc/collections/venues/items")
        self.assertEqual(items[0]["type"], "application/geo+json")
        status, _, body = self.call("GET", "/ogc/collections/venues")
        self.assertEqual(json.loads(body), collection)
        status, _, _ = self.call("GET", "/ogc/collections/areas")
        self.assertEqual(status, 404)

    def test_items_page_by_next_links(self):
        page = self.items("limit=7")
        self.assertEqual(page["numberMatched"], self.published)
        self.assertEqual(page["numberReturned"], 7)
        self.assertRegex(page["timeStamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        seen = []
        while True:
            seen += [f["id"] for f in page["features"]]
            nexts = [l["href"] for l in page["links"] if l["rel"] == "next"]
            if not nexts:
                break
            url = urllib.parse.urlsplit(nexts[0])
            self.assertEqual(f"{url.scheme}://{url.netloc}", self.base)
            self.assertIn("limit=7", url.query)
            page = self.items(url.query)
        self.assertEqual(len(seen), self.published)
        self.assertEqual(len(set(seen)), self.published)
        self.assertNotIn(self.withdrawn, seen)

    def test_items_page_back_by_prev_links(self):
        page, pages = self.items("limit=4"), []
        while True:
            pages.append([f["id"] for f in page["features"]])
            nexts = [l["href"] for l in page["links"] if l["rel"] == "next"]
            if not nexts:
                break
            page = self.items(urllib.parse.urlsplit(nexts[0]).query)
        self.assertEqual(len(pages), 7)  # 25 venues by 4
        back = []
        while True:
            prevs = [l["href"] for l in page["links"] if l["rel"] == "prev"]
            if not prevs:
                break
            self.assertIn("limit=4", prevs[0])
            page = self.items(urllib.parse.urlsplit(prevs[0]).query)
            back.insert(0, [f["id"] for f in page["features"]])
            self.assertEqual(page["numberMatched"], self.published)
        self.assertEqual(back, pages[:-1])

    def test_datetime_filters_on_date_maj(self):
        early = len([i for i in range(LOCATED) if date_maj(i) == "2025-06-01"])
        for datetime, count in [
                ("2025-01-01T00:00:00Z/2025-12-31T23:59:59Z", early),
                ("2025-06-01", early),
                ("../2025-06-01T12:00:00Z", early),
                ("2025-06-02T00:00:00Z/..", self.published - early),
                ("2026-11-25T10:00:00%2B01:00", self.published - early),
                ("2026-11-26T00:00:00Z/..", 0)]:
            with self.subTest(datetime=datetime):
                page = self.items(f"datetime={datetime}&limit=100")
                self.assertEqual(page["numberMatched"], count)
                self.assertEqual(len(page["features"]), count)
                self.assertTrue(all(f["properties"]["date_maj"] == date_maj(int(
                    f["properties"]["id"][-2:])) for f in page["features"]))
        # Paging keeps the filter: the next link repeats it.
        page = self.items("datetime=2026-11-25&limit=10")
        (next_link,) = [l["href"] for l in page["links"] if l["rel"] == "next"]
        self.assertIn("datetime=2026-11-25", next_link)
        self.assertEqual(self.items(urllib.parse.urlsplit(next_link).query)["numberReturned"],
                         self.published - early - 10)

    def test_area_layers_are_collections(self):
        status, headers, body = self.call("GET", "/ogc/collections/quartiers")
        self.assertEqual(status, 200, body)
        c = json.loads(body)
        self.assertEqual(c["id"], "quartiers")
        self.assertEqual(c["itemType"], "feature")
        self.assertIn("5 zones", c["description"])
        items = [l["href"] for l in c["links"] if l["rel"] == "items"]
        self.assertEqual(items, [f"{self.base}/ogc/collections/quartiers/items"])
        page = self.items("limit=2", collection="quartiers")
        self.assertEqual(page["numberMatched"], 5)
        self.assertEqual([f["id"] for f in page["features"]], ["Q0", "Q1"])
        f = page["features"][0]
        self.assertEqual(f["geometry"]["type"], "MultiPolygon")
        self.assertEqual([round(x, 9) for x in f["bbox"]], [3.095, 50.595, 3.145, 50.645])
        self.assertEqual(f["properties"], {"name": "areaLayers/quartiers/areas/Q0", "code": "Q0",
                                           "label": "Quartier 0", "venue_count": 5})
        rels = {l["rel"]: l["href"] for l in page["links"]}
        self.assertNotIn("prev", rels)
        page = self.items(urllib.parse.urlsplit(rels["next"]).query, collection="quartiers")
        self.assertEqual([f["id"] for f in page["features"]], ["Q2", "Q3"])
        rels = {l["rel"]: l["href"] for l in page["links"]}
        back = self.items(urllib.parse.urlsplit(rels["prev"]).query, collection="quartiers")
        self.assertEqual([f["id"] for f in back["features"]], ["Q0", "Q1"])
        boxed = self.items("bbox=3.16,50.66,3.2,50.7", collection="quartiers")
        self.assertEqual([f["id"] for f in boxed["features"]], ["Q1", "Q2"])
        hits = self.items("resultType=hits", collection="quartiers")
        self.assertEqual((hits["numberMatched"], hits["features"]), (5, []))
        status, headers, body = self.call("GET", "/ogc/collections/qpv/items/QN59001")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"], "application/geo+json")
        f = json.loads(body)
        self.assertEqual((f["id"], f["properties"]["venue_count"]), ("QN59001", 5))
        self.assertIn({"href": f"{self.base}/ogc/collections/qpv/items/QN59001", "rel": "self",
                       "type": "application/geo+json", "title": "Cette zone"}, f["links"])
        for path in ("/ogc/collections/qpv/items/NOPE", "/ogc/collections/nowhere",
                     "/ogc/collections/nowhere/items", "/ogc/collections/QPV/items",
                     "/ogc/collections/qpv/items/a%20b", "/ogc/collections/qpv/other"):
            with self.subTest(path=path):
                status, headers, body = self.call("GET", path)
                self.assertEqual(status, 404, body)
                self.assertEqual(json.loads(body)["error"]["status"], "NOT_FOUND")
        self.refused("/ogc/collections/qpv/items/%00", "featureId")
        self.refused("/ogc/collections/qpv/items?datetime=2026-01-01", "datetime")
        self.refused("/ogc/collections/qpv/items?services=Payant", "services")
        self.refused("/ogc/collections/qpv/items?bbox=3,51,4,50", "bbox")
        self.refused("/ogc/collections/qpv/items?page_token=forged", "page_token")
        self.refused("/ogc/collections/qpv?limit=1", "limit")

    def test_items_filter_and_count(self):
        page = self.items("limit=100&bbox=3.095,50.595,3.195,50.695&services=Loisirs%20et%20"
                          "cr%C3%A9ations%20num%C3%A9riques")
        self.assertEqual(page["numberMatched"], 5)  # odd venues of 0..9
        self.assertEqual({f["properties"]["id"] for f in page["features"]},
                         {f"{SOURCE_ID}:ogc-e2e-{i:02d}" for i in range(1, 10, 2)})
        hits = self.items("resultType=hits&typologie=ASSO|CCAS")
        self.assertEqual(hits["numberMatched"], self.published)
        self.assertEqual(hits["numberReturned"], 0)
        self.assertEqual(hits["features"], [])
        # The limit above the search's cap is lowered, as the standard asks.
        self.assertEqual(self.items("limit=1000")["numberReturned"], self.published)

    def test_one_feature_and_its_absence(self):
        uuid = self.names["ogc-e2e-90"].split("/")[1]
        status, headers, body = self.call("GET", f"/ogc/collections/venues/items/{uuid}")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"], "application/geo+json")
        f = json.loads(body)
        self.assertEqual(f["id"], uuid)
        self.assertIsNone(f["geometry"])
        self.assertEqual(f["properties"]["nom"], "Lieu OGC 90")
        self.assertIn({"href": f"{self.base}/ogc/collections/venues/items/{uuid}", "rel": "self",
                       "type": "application/geo+json", "title": "Ce lieu"}, f["links"])
        for missing in (self.withdrawn, "00000000-0000-4000-8000-000000000000", "ogc-e2e-07"):
            status, headers, body = self.call("GET", f"/ogc/collections/venues/items/{missing}")
            self.assertEqual(status, 404, body)
            self.assertEqual(headers["content-type"], "application/json")
            self.assertEqual(json.loads(body)["error"]["status"], "NOT_FOUND")
        self.refused("/ogc/collections/venues/items/%00", "featureId")
        self.refused("/ogc/collections/venues/items/ab%FF%FE", "featureId")

    def test_hostile_parameters_are_refused_naming_them(self):
        items = "/ogc/collections/venues/items?"
        for query, parameter in [
                ("bbox=nan,50,3,51", "bbox"), ("bbox=3,50,inf,51", "bbox"),
                ("bbox=1e308,50,3,51", "bbox"), ("bbox=3,51,4,50", "bbox"),
                ("bbox=3,50,4", "bbox"), ("bbox=0x10,50,4,51", "bbox"),
                ("limit=0", "limit"), ("limit=-1", "limit"), ("limit=1e9", "limit"),
                ("limit=abc", "limit"), ("datetime=2026-13-01", "datetime"),
                ("datetime=2026-01-01T00:00:00", "datetime"), ("datetime=now", "datetime"),
                ("datetime=2026-02-01/2026-01-01", "datetime"), ("datetime=a/b/c", "datetime"),
                ("datetime=2026-01-01T00:00:00Z%00", "datetime"), ("datetime=%FF", "datetime"),
                ("datetime=..", "datetime"),
                ("colour=blue", "colour"), ("limit=5&limit=6", "limit"),
                ("services=Cuisine", "services"), ("page_token=forged", "page_token"),
                ("typologie=%00", "typologie"), ("%FF=1", "query")]:
            with self.subTest(query=query):
                self.refused(items + query, parameter)
        self.assertIn("inversé",
                      self.refused(items + "datetime=2026-02-01/2026-01-01", "datetime")["message"])
        self.refused("/ogc/collections?limit=3", "limit")
        status, headers, _ = self.call("POST", "/ogc/collections/venues/items", {})
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "GET, HEAD, OPTIONS")
        # OPTIONS answers for the tree's paths only; every answer carries the caller's rate.
        status, headers, _ = self.call("OPTIONS", "/ogc/collections/venues/items", None)
        self.assertEqual(status, 204)
        self.assertEqual(headers["allow"], "GET, HEAD, OPTIONS")
        status, _, _ = self.call("OPTIONS", "/ogc/nothing/here", None)
        self.assertEqual(status, 404)
        status, headers, _ = self.call("GET", "/ogc/conformance", None)
        self.assertEqual(status, 200)
        self.assertIn("ratelimit-remaining", headers)

    def test_curl_reads_the_items(self):
        out = subprocess.run(
            ["curl", "-sf", "-H", "Accept: application/geo+json",
             f"{self.base}/ogc/collections/venues/items?limit=2&f=json"],
            capture_output=True, check=True, timeout=30)
        page = json.loads(out.stdout)
        self.assertEqual(page["type"], "FeatureCollection")
        self.assertEqual(len(page["features"]), 2)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
