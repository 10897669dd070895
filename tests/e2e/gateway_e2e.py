#!/usr/bin/env python3
"""End to end through the public door, as a partner platform, a mediator's tool and a browser
would: plain HTTP (Python's http.client, and curl) against the real passerelle-gateway in front
of the real venues, referential and sync binaries (real PostgreSQL + PostGIS and NATS from the
test command).

Covers: public reads without a key, ETag and 304, the authorisation matrix (no key, forged,
revoked, partner, organisation, admin) on every route family, create → 201 + Location with the
owner forced to the key's organisation, If-Match → 412, source-bound batch writes, errors as
AIP-193 JSON (malformed JSON with its position, unknown fields and parameters, 404, 405, 413,
415), request ids, streamed exports (chunked, gzip).
"""
import gzip
import http.client
import json
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

from stack import Stack

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else "."
ADMIN_KEY = "psk_e2eadminkey2_" + "A" * 43


def venue_body(i, **extra):
    body = {"id": f"gw-e2e-{i}", "pivot": "21590512800017", "nom": f"Médiathèque {i}",
            "commune": "Roubaix", "codePostal": "59100", "adresse": f"{i} rue Pierre Motte",
            "dateMaj": "2026-11-25", "latitude": 50.69, "longitude": 3.18,
            "services": ["SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES"]}
    body.update(extra)
    return body


class GatewayE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = stack = Stack(BUILD, "gwe2e", page_token_key="gateway-e2e-page-token-key")
        cls.schema = stack.schema
        stack.start("venues")
        stack.start("referential", {"PASSERELLE_SEED_DIR": f"{SOURCE}/services/referential/seed"})
        stack.start("sync", {"PASSERELLE_VENUES_ADDRESS": f"127.0.0.1:{stack.ports['venues']}"})
        cls.gateway = stack.start_gateway(
            ADMIN_KEY, pepper="e2e-pepper",
            # The suite's own pace is not what is tested (the rate limit test starts its own
            # gateway): the defaults' burst of 60 public calls would answer 429 by chance.
            extra={"PASSERELLE_GATEWAY_CORS_ORIGINS": "https://carte.example",
                   "PASSERELLE_GATEWAY_RATE_LIMITS":
                       "public=1000:1000,partner=1000:1000,organisation=1000:1000,"
                       "admin=1000:1000"})
        cls.http_port, cls.grpc_port = stack.http_port, stack.grpc_port
        stack.wait_until_ready("/v1/nomenclatures")
        stack.wait_until_ready("/v1/venues?pageSize=1")  # venues may listen later under load
        for org in ("org-a", "org-b"):
            status, _, body = cls.call("POST", f"/v1/organisations?organisationId={org}",
                                       {"displayName": f"Organisation {org}"}, key=ADMIN_KEY)
            assert status == 201, body
        # A key names an organisation and sources venues knows.
        status, _, body = cls.call("POST", "/v1/sources?sourceId=gw-e2e-source",
                                   {"displayName": "Source e2e"}, key=ADMIN_KEY)
        assert status == 201, body
        cls.partner = cls.make_key(["PARTNER"], sources=["gw-e2e-source"])
        cls.org_a = cls.make_key(["ORGANISATION_WRITE"], organisation="org-a")
        cls.org_b = cls.make_key(["ORGANISATION_WRITE"], organisation="org-b")
        cls.revoked = cls.make_key(["ADMIN"])
        status, _, body = cls.call(
            "POST", f"/v1/apiKeys/{cls.revoked.split('_')[1]}:revoke", {}, key=ADMIN_KEY)
        assert status == 200, body

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()

    @classmethod
    def call(cls, method, path, body=None, key=None, headers=None, raw=None):
        return cls.stack.call(method, path, body, key, headers, raw)

    @classmethod
    def make_key(cls, scopes, organisation="", sources=()):
        return cls.stack.make_key(ADMIN_KEY, scopes, organisation, sources)

    def error(self, payload):
        e = json.loads(payload)["error"]
        self.assertIn("status", e)
        self.assertIn("message", e)
        return e

    def test_public_reads_carry_etags_and_answer_304(self):
        status, headers, body = self.call("GET", "/v1/nomenclatures")
        self.assertEqual(status, 200)
        self.assertIn("nomenclatures", json.loads(body))
        self.assertEqual(headers["cache-control"], "public, max-age=60")
        status, headers2, body = self.call("GET", "/v1/nomenclatures",
                                           headers={"If-None-Match": headers["etag"]})
        self.assertEqual(status, 304)
        self.assertEqual(body, b"")
        self.assertEqual(headers2["etag"], headers["etag"])
        self.assertEqual(headers2["cache-control"], "public, max-age=60")
        # Tags sent on two header lines combine as one list (RFC 9110 5.3).
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        conn.putrequest("GET", "/v1/nomenclatures")
        conn.putheader("If-None-Match", '"autre"')
        conn.putheader("If-None-Match", headers["etag"])
        conn.endheaders()
        resp = conn.getresponse()
        resp.read()
        conn.close()
        self.assertEqual(resp.status, 304)

    def test_a_page_with_a_next_page_keeps_its_etag(self):
        # A partner polling a list page by page gets 304 for every unchanged page, not just the
        # last: the next page's token is the same for the same page.
        for i in ("etag-1", "etag-2"):
            status, _, body = self.call("POST", "/v1/venues", venue_body(i), key=self.org_a)
            self.assertIn(status, (200, 201), body)
        for path in ("/v1/venues?pageSize=1", "/v1/venues:search?pageSize=1"):
            status, headers, body = self.call("GET", path)
            self.assertEqual(status, 200, body)
            self.assertTrue(json.loads(body).get("nextPageToken"), path)
            status, again, body2 = self.call("GET", path)
            self.assertEqual(body2, body, path)
            self.assertEqual(again["etag"], headers["etag"], path)
            status, _, body = self.call("GET", path, headers={"If-None-Match": headers["etag"]})
            self.assertEqual(status, 304, path)

    def test_a_patch_without_a_mask_changes_only_what_its_body_names(self):
        # AIP-134 (tester 25, H1): it replaced the venue and blanked what the body left out.
        status, _, body = self.call(
            "POST", "/v1/venues",
            venue_body("patch-1", telephone="03 20 00 00 09", horaires="Mo 09:00-12:00"),
            key=self.org_a)
        self.assertEqual(status, 201, body)
        name = json.loads(body)["name"]
        status, _, body = self.call("PATCH", f"/v1/{name}", {"nom": "Médiathèque renommée"},
                                    key=self.org_a)
        self.assertEqual(status, 200, body)
        status, _, body = self.call("GET", f"/v1/{name}")
        venue = json.loads(body)
        self.assertEqual(venue["nom"], "Médiathèque renommée")
        self.assertEqual(venue["telephone"], "+33320000009")
        self.assertEqual(venue["horaires"], "Mo 09:00-12:00")
        status, _, body = self.call("PATCH", f"/v1/{name}", {}, key=self.org_a)
        self.assertEqual(status, 400, body)
        self.assertEqual(self.error(body)["details"][0]["fieldViolations"][0]["field"],
                         "updateMask")

    def test_search_in_the_basic_view_carries_the_lists_fields(self):
        basic_fields = {"name", "id", "nom", "adresse", "codePostal", "commune", "latitude",
                        "longitude", "typologie", "services", "fraisACharge", "source", "dateMaj",
                        "acceptsApticPass", "etag", "provenance"}
        status, _, body = self.call("GET", "/v1/venues:search?pageSize=5")
        self.assertEqual(status, 200, body)
        full = json.loads(body)["results"]
        self.assertTrue(full)
        status, _, body = self.call("GET", "/v1/venues:search?pageSize=5&view=VENUE_VIEW_BASIC")
        self.assertEqual(status, 200, body)
        basic = json.loads(body)["results"]
        self.assertEqual([m["venue"]["name"] for m in basic], [m["venue"]["name"] for m in full])
        for b, f in zip(basic, full):
            self.assertLessEqual(set(b["venue"]), basic_fields, b)
            self.assertIn("provenance", f["venue"])
            expected = {k: v for k, v in f["venue"].items() if k in basic_fields}
            expected["provenance"] = {"source": f["venue"]["provenance"]["source"]}
            self.assertEqual(b["venue"], expected)

    def cache_lookups(self, result):
        """The gateway's passerelle_gateway_answer_cache_lookups_total{result=...}."""
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.gateway.metrics_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        for line in text.splitlines():
            if line.startswith("passerelle_gateway_answer_cache_lookups_total") and \
                    f'result="{result}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def test_venue_reads_from_memory_follow_every_change(self):
        import grpc
        from google.protobuf import field_mask_pb2
        from passerelle.venues.v1 import venues_pb2 as pb
        from passerelle.venues.v1 import venues_pb2_grpc as rpc
        status, headers, body = self.call("POST", "/v1/venues", venue_body(90), key=self.org_a)
        self.assertEqual(status, 201, body)
        path = headers["location"]
        name = json.loads(body)["name"]
        hits = self.cache_lookups("hit")
        # The first read goes to venues; a next one is answered by the door, with its age. (The
        # creation's event may reach the door after that first read: it drops what was kept, and
        # the read after it goes to venues again.)
        status, first, body1 = self.call("GET", path)
        self.assertEqual(status, 200, body1)
        self.assertNotIn("age", first)
        deadline = time.time() + 10
        while True:
            status, second, body2 = self.call("GET", path)
            self.assertEqual(status, 200, body2)
            if "age" in second or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(body2, body1)
        self.assertEqual(second["etag"], first["etag"])
        self.assertEqual(second["cache-control"], "public, max-age=60")
        self.assertIn("age", second)
        self.assertGreaterEqual(self.cache_lookups("hit"), hits + 1)
        status, _, empty = self.call("GET", path, headers={"If-None-Match": first["etag"]})
        self.assertEqual((status, empty), (304, b""))
        # A client asking for a checked answer gets one from venues.
        status, checked, _ = self.call("GET", path, headers={"Cache-Control": "no-cache"})
        self.assertEqual(status, 200)
        self.assertNotIn("age", checked)
        # A write through the door is read back at once, before its event arrives.
        status, _, body = self.call("PATCH", f"{path}?updateMask=telephone",
                                    {"telephone": "03 20 00 00 40"}, key=self.org_a)
        self.assertEqual(status, 200, body)
        status, after, body = self.call("GET", path)
        self.assertEqual(json.loads(body)["telephone"], "+33320000040")
        self.assertEqual(after["etag"], 'W/"2"')
        self.call("GET", path)  # kept again
        # A change made elsewhere (a sync run, another door) reaches the door by venues' event.
        channel = grpc.insecure_channel(f"127.0.0.1:{self.stack.ports['venues']}")
        stub = rpc.VenueServiceStub(channel)
        changed = stub.UpdateVenue(pb.UpdateVenueRequest(
            venue=pb.Venue(name=name, telephone="03 20 00 00 41"),
            update_mask=field_mask_pb2.FieldMask(paths=["telephone"])), timeout=10)
        channel.close()
        deadline = time.time() + 5
        while True:
            status, seen, body = self.call("GET", path)
            if seen["etag"] == changed.etag or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(seen["etag"], changed.etag, "the event did not reach the door in 5 s")
        self.assertEqual(json.loads(body)["telephone"], "+33320000041")
        # Withdrawn elsewhere: the door stops serving the active venue.
        channel = grpc.insecure_channel(f"127.0.0.1:{self.stack.ports['venues']}")
        rpc.VenueServiceStub(channel).WithdrawVenue(
            pb.WithdrawVenueRequest(name=name, reason="fermé"), timeout=10)
        channel.close()
        deadline = time.time() + 5
        while True:
            status, _, body = self.call("GET", path)
            if json.loads(body).get("state") != "ACTIVE" or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertNotEqual(json.loads(body).get("state"), "ACTIVE", body)

    def test_authorisation_matrix(self):
        forged = "psk_aaaaaaaaaaaa_" + "B" * 43
        routes = [  # (method, path, body, lowest scope)
            ("GET", "/v1/venues?pageSize=1", None, "public"),
            ("GET", "/v1/items:search?query=caf", None, "public"),
            ("GET", "/v1/venues?showWithdrawn=true", None, "partner"),
            ("GET", "/v1/sources", None, "partner"),
            ("GET", "/v1/duplicateLinks?state=DUPLICATE_PROPOSED", None, "partner"),
            ("POST", "/v1/venues", venue_body("matrix", id="gw-e2e-matrix"), "write"),
            ("GET", "/v1/apiKeys", None, "admin"),
            ("GET", "/v1/sync/sources", None, "admin"),
        ]
        callers = {"none": None, "forged": forged, "revoked": self.revoked,
                   "partner": self.partner, "org": self.org_a, "admin": ADMIN_KEY}
        allowed = {"public": {"none", "partner", "org", "admin"},
                   "partner": {"partner", "admin"}, "write": {"org", "admin"},
                   "admin": {"admin"}}
        for method, path, body, scope in routes:
            for who, key in callers.items():
                b = dict(body, id=f"gw-e2e-m-{who}") if body else None
                status, headers, payload = self.call(method, path, b, key=key)
                with self.subTest(route=f"{method} {path}", caller=who):
                    if who in ("forged", "revoked"):
                        self.assertEqual(status, 401, payload)
                        self.assertIn("www-authenticate", headers)
                    elif who in allowed[scope]:
                        self.assertIn(status, (200, 201), payload)
                    elif who == "none":
                        self.assertEqual(status, 401, payload)
                    else:
                        self.assertEqual(status, 403, payload)
                        self.assertEqual(self.error(payload)["status"], "PERMISSION_DENIED")

    def test_duplicate_links_are_resolved_by_administrators_only(self):
        path = "/v1/duplicateLinks/00000000-0000-4000-8000-000000000000:resolve"
        body = {"resolution": "DUPLICATE_DIFFERENT"}
        for key in (None, self.partner, self.org_a):
            status, _, payload = self.call("POST", path, body, key=key)
            self.assertIn(status, (401, 403), payload)
        status, _, payload = self.call("POST", path, body, key=ADMIN_KEY)
        self.assertEqual(status, 404, payload)  # reached the venues service: no such link
        status, _, payload = self.call("POST", "/v1/duplicateLinks/x:resolve", body, key=ADMIN_KEY)
        self.assertEqual(status, 400, payload)
        self.assertEqual(self.error(payload)["status"], "INVALID_ARGUMENT")
        status, _, payload = self.call("GET", "/v1/duplicateLinks?pageToken=forged",
                                       key=self.partner)
        self.assertEqual(status, 400, payload)

    def violation(self, payload):
        e = self.error(payload)
        for d in e.get("details", []):
            if d.get("fieldViolations"):
                return d["fieldViolations"][0]
        self.fail(f"no field violation in {payload!r}")

    def test_update_mask_refuses_in_rest_what_grpc_refuses(self):
        import grpc
        from google.protobuf import field_mask_pb2
        from passerelle.venues.v1 import venues_pb2 as pb
        from passerelle.venues.v1 import venues_pb2_grpc as rpc
        status, _, body = self.call("POST", "/v1/venues", venue_body(40), key=self.org_a)
        self.assertEqual(status, 201, body)
        name = json.loads(body)["name"]
        channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        stub = rpc.VenueServiceStub(channel)
        auth = [("authorization", f"Bearer {self.org_a}")]
        for mask in ("TELEPHONE", "Telephone", "teLEPHONE", "code_Postal", "nom,TELEPHONE"):
            status, _, payload = self.call("PATCH", f"/v1/{name}?updateMask={mask}",
                                           {"telephone": "03 20 00 00 09"}, key=self.org_a)
            self.assertEqual(status, 400, payload)
            v = self.violation(payload)
            self.assertEqual(v["field"], "updateMask", payload)
            self.assertTrue(v["description"].startswith("[case]"), payload)
            # gRPC takes the paths as they are: refused there too.
            with self.assertRaises(grpc.RpcError) as refused:
                stub.UpdateVenue(pb.UpdateVenueRequest(
                    venue=pb.Venue(name=name, telephone="03 20 00 00 09"),
                    update_mask=field_mask_pb2.FieldMask(paths=mask.split(","))),
                    metadata=auth, timeout=10)
            self.assertEqual(refused.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, mask)
        # The proto name and the exact lowerCamel JSON name are the same path.
        for i, mask in enumerate(("telephone", "codePostal,telephone", "code_postal")):
            status, _, payload = self.call(
                "PATCH", f"/v1/{name}?updateMask={mask}",
                {"telephone": f"03 20 00 00 1{i}", "codePostal": "59100"}, key=self.org_a)
            self.assertEqual(status, 200, payload)
        # A field named twice, in one spelling or both, is refused at its second naming, and the
        # venue is left as it was; gRPC the same.
        for mask in ("telephone,telephone", "codePostal,code_postal"):
            status, _, payload = self.call("PATCH", f"/v1/{name}?updateMask={mask}",
                                           {"telephone": "03 20 00 00 99", "codePostal": "59100"},
                                           key=self.org_a)
            self.assertEqual(status, 400, payload)
            v = self.violation(payload)
            self.assertEqual(v["field"], "update_mask.paths[1]", payload)
            self.assertIn("[unique]", v["description"], payload)
        status, _, payload = self.call("GET", f"/v1/{name}", key=self.org_a)
        self.assertNotEqual(json.loads(payload).get("telephone"), "+33320000099", payload)
        with self.assertRaises(grpc.RpcError) as refused:
            stub.UpdateVenue(pb.UpdateVenueRequest(
                venue=pb.Venue(name=name, telephone="03 20 00 00 98"),
                update_mask=field_mask_pb2.FieldMask(paths=["telephone", "telephone"])),
                metadata=auth, timeout=10)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(refused.exception.details(), "masque de mise à jour invalide")
        channel.close()

    def test_new_routes_refuse_hostile_input_precisely(self):
        """ListVenueConflicts, RestoreSourceFields and the duplicate links over REST: NUL, invalid
        UTF-8, 100 KB values, unknown enum strings, forged page tokens and huge page sizes are
        each a 4xx naming what was wrong, never a 5xx."""
        status, _, body = self.call("POST", "/v1/venues", venue_body(41), key=self.org_a)
        self.assertEqual(status, 201, body)
        venue = json.loads(body)["name"]
        big = "x" * 100000
        link = "duplicateLinks/00000000-0000-4000-8000-000000000000"

        def refused(method, path, body=None, key=self.partner, field=None, statuses=(400,)):
            status, _, payload = self.call(method, path, body, key=key)
            self.assertIn(status, statuses, (path[:80], payload[:300]))
            if status == 400:
                e = self.error(payload)
                self.assertEqual(e["status"], "INVALID_ARGUMENT", payload[:300])
                if field is not None:
                    self.assertEqual(self.violation(payload)["field"], field, payload[:300])
            self.assertLess(len(payload), 8000, path[:80])

        # Paths: NUL, invalid UTF-8, a 100 KB segment (over the door's 4 KiB target: 414, though
        # it passes the whole head's 8 KiB too).
        for segment in ("%00", "a%00b", "%ff%fe", "%c3%28"):
            refused("GET", f"/v1/venues/{segment}/conflicts")
            refused("POST", f"/v1/venues/{segment}:restoreSourceFields", {"fields": ["nom"]},
                    key=self.org_a)
            refused("GET", f"/v1/duplicateLinks/{segment}")
            refused("POST", f"/v1/duplicateLinks/{segment}:resolve",
                    {"resolution": "DUPLICATE_DIFFERENT"}, key=ADMIN_KEY)
        refused("GET", f"/v1/venues/{big}/conflicts", statuses=(414,))
        refused("GET", f"/v1/duplicateLinks/{big}", statuses=(414,))
        # 100 KB in the query: over the 4 KB request target (414); 3 KB values reach the method.
        refused("GET", f"/v1/{venue}/conflicts?filter={big}", statuses=(414,))
        refused("GET", f"/v1/duplicateLinks?venue={big}", statuses=(414,))
        # A venue that does not exist: its conflicts are NOT_FOUND, as GET /v1/venues/{id}.
        status, _, payload = self.call(
            "GET", "/v1/venues/00000000-0000-4000-8000-000000000000/conflicts", key=self.partner)
        self.assertEqual(status, 404, payload)
        # Conflicts: filters, tokens and sizes.
        conflicts = f"/v1/{venue}/conflicts"
        refused("GET", conflicts + "?filter=source%20%3D%20%22a%22%20AND%20source%20%3D%20%22b%22",
                field="filter")
        refused("GET", conflicts + "?filter=source%20%3D%20%22a%00%22", field="filter")
        refused("GET", conflicts + "?filter=source%20%3D%20%22%ff%22", field="filter")
        refused("GET", conflicts + "?filter=" + big[:3000], field="filter")
        refused("GET", conflicts + "?pageToken=forged", field="page_token")
        refused("GET", conflicts + "?pageToken=" + big[:3000], field="page_token")
        refused("GET", conflicts + "?pageSize=-1", field="page_size")
        refused("GET", conflicts + "?pageSize=99999999999", field="pageSize")
        status, _, payload = self.call("GET", conflicts + "?pageSize=2147483647", key=self.partner)
        self.assertEqual(status, 200, payload)
        # Restore: fields with NUL, invalid UTF-8, 100 KB, unknown; an unknown body field.
        restore = f"/v1/{venue}:restoreSourceFields"
        refused("POST", restore, {"fields": ["nom\u0000x"]}, key=self.org_a, field="fields[0]")
        refused("POST", restore, {"fields": [big]}, key=self.org_a, field="fields[0]")
        refused("POST", restore, {"fields": ["couleur"]}, key=self.org_a, field="fields[0]")
        refused("POST", restore, {"fields": []}, key=self.org_a, field="fields")
        refused("POST", restore, {"fields": ["nom"], "etag": big}, key=self.org_a, field="etag")
        status, _, payload = self.call("POST", restore, raw=b'{"fields": ["\xff\xfe"]}',
                                       key=self.org_a,
                                       headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400, payload)
        # Duplicate links: enum strings, sources, venues, tokens, sizes; resolutions.
        links = "/v1/duplicateLinks"
        refused("GET", links + "?state=DUPLICATE_MAYBE", field="state")
        refused("GET", links + "?state=99", field="state")
        refused("GET", links + "?source=sources/a%00b", field="source")
        refused("GET", links + "?source=sources/%ff", field="source")
        refused("GET", links + "?venue=venues/" + big[:3000], field="venue")
        refused("GET", links + "?pageToken=forged", field="page_token")
        refused("GET", links + "?pageSize=-5", field="page_size")
        refused("GET", links + "?pageSize=99999999999", field="pageSize")
        status, _, payload = self.call("GET", links + "?pageSize=2147483647", key=self.partner)
        self.assertEqual(status, 200, payload)
        resolve = f"/v1/{link}:resolve"
        refused("POST", resolve, {"resolution": "DUPLICATE_MAYBE"}, key=ADMIN_KEY)
        refused("POST", resolve, {"resolution": "DUPLICATE_PROPOSED"}, key=ADMIN_KEY,
                field="resolution")
        refused("POST", resolve, {"resolution": "DUPLICATE_SAME", "canonicalVenue": big},
                key=ADMIN_KEY, field="canonical_venue")
        refused("POST", resolve, {"resolution": "DUPLICATE_SAME",
                                  "canonicalVenue": "venues/a\u0000b"},
                key=ADMIN_KEY, field="canonical_venue")
        refused("POST", resolve, {"resolution": "DUPLICATE_DIFFERENT",
                                  "canonicalVenue": venue}, key=ADMIN_KEY,
                field="canonical_venue")
        status, _, payload = self.call("POST", resolve, {"resolution": "DUPLICATE_DIFFERENT"},
                                       key=ADMIN_KEY)
        self.assertEqual(status, 404, payload)

    def test_create_then_conditional_update(self):
        status, headers, body = self.call("POST", "/v1/venues", venue_body(1), key=self.org_a)
        self.assertEqual(status, 201, body)
        created = json.loads(body)
        self.assertEqual(headers["location"], f"/v1/{created['name']}")
        self.assertEqual(created["ownerOrganisation"], "org-a")
        status, headers, body = self.call("GET", headers["location"])
        self.assertEqual(status, 200)
        self.assertEqual(headers["etag"], 'W/"1"')
        path = f"/v1/{created['name']}?updateMask=telephone"
        status, _, body = self.call("PATCH", path, {"telephone": "03 20 00 00 01"},
                                    key=self.org_a, headers={"If-Match": 'W/"7"'})
        self.assertEqual(status, 412, body)
        status, headers, body = self.call("PATCH", path, {"telephone": "03 20 00 00 01"},
                                          key=self.org_a, headers={"If-Match": 'W/"1"'})
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["etag"], 'W/"2"')
        status, _, body = self.call("POST", "/v1/venues",
                                    venue_body(2, ownerOrganisation="org-b"), key=self.org_a)
        self.assertEqual(status, 403, body)
        self.assertIn("NOT_OWNER", body.decode())
        # Another organisation can neither change, give away nor withdraw it.
        status, _, body = self.call("PATCH", path, {"telephone": "03 20 00 00 02"},
                                    key=self.org_b)
        self.assertEqual(status, 403, body)
        self.assertIn("NOT_OWNER", body.decode())
        status, _, body = self.call(
            "PATCH", f"/v1/{created['name']}?updateMask=owner_organisation",
            {"ownerOrganisation": "org-b"}, key=self.org_a)
        self.assertEqual(status, 403, body)
        status, _, body = self.call("POST", f"/v1/{created['name']}:withdraw",
                                    {"reason": "pas à vous"}, key=self.org_b)
        self.assertEqual(status, 403, body)
        status, _, body = self.call("POST", f"/v1/{created['name']}:withdraw",
                                    {"reason": "fermé"}, key=self.org_a)
        self.assertEqual(status, 200, body)

    def test_keys_name_what_exists(self):
        for field, value, reason in (("organisation", "nobody", "ORGANISATION_NOT_FOUND"),
                                     ("sources", ["no-such-source"], "SOURCE_NOT_FOUND")):
            status, _, body = self.call("POST", "/v1/apiKeys", {
                "displayName": "e2e", "scopes": ["PARTNER"], field: value}, key=ADMIN_KEY)
            self.assertEqual(status, 400, body)
            self.assertEqual(self.error(body)["status"], "FAILED_PRECONDITION")
            self.assertIn(reason, body.decode())

    def test_idempotency_keys_are_each_callers_own(self):
        key = f"same-key-{time.time_ns()}"
        answers = []
        for caller in (self.org_a, self.org_b):
            status, _, body = self.call("POST", "/v1/venues", venue_body(f"idem-{caller[-6:]}"),
                                        key=caller, headers={"Idempotency-Key": key})
            self.assertEqual(status, 201, body)
            answers.append(json.loads(body)["name"])
        self.assertNotEqual(answers[0], answers[1])
        # Each caller's retry gets its own first answer back.
        status, _, body = self.call("POST", "/v1/venues", venue_body(f"idem-{self.org_a[-6:]}"),
                                    key=self.org_a, headers={"Idempotency-Key": key})
        self.assertIn(status, (200, 201), body)
        self.assertEqual(json.loads(body)["name"], answers[0])

    def test_partner_writes_only_its_sources(self):
        status, _, body = self.call("POST", "/v1/sources/gw-e2e-source/venues:batchUpsert",
                                    {"venues": [venue_body("b1")]}, key=self.partner)
        self.assertEqual(status, 200, body)
        status, _, body = self.call("POST", "/v1/sources/other/venues:batchUpsert",
                                    {"venues": [venue_body("b2")]}, key=self.partner)
        self.assertEqual(status, 403, body)
        self.assertIn("SOURCE_NOT_BOUND", body.decode())
        # A national-standard CSV file streamed as the request body.
        with open(f"{SOURCE}/services/venues/seed/demo-roubaix.csv", "rb") as f:
            csv = f.read()
        status, _, body = self.call("POST", "/v1/sources/gw-e2e-source/venues:import", raw=csv,
                                    key=self.partner, headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 200, body)
        report = json.loads(body)
        self.assertEqual(report["rows"], csv.count(b"\n") - 1)
        self.assertEqual(report.get("rejected", 0), 0)
        status, _, body = self.call("POST", "/v1/sources/other/venues:import", raw=csv,
                                    key=self.partner, headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 403, body)
        status, _, body = self.call("POST", "/v1/sources/gw-e2e-source/venues:import", raw=csv,
                                    key=self.partner,
                                    headers={"Content-Type": "multipart/form-data; boundary=x"})
        self.assertEqual(status, 415, body)
        # A file declared in another encoding is answered for its declaration, not its bytes.
        status, _, body = self.call("POST", "/v1/sources/gw-e2e-source/venues:import",
                                    raw=csv.decode().encode("utf-16"), key=self.partner,
                                    headers={"Content-Type": "text/csv; charset=UTF-16"})
        self.assertEqual(status, 415, body)
        self.assertIn("[encoding] fichier déclaré en « UTF-16 »", body.decode())
        self.assertIn('"reason":"UNSUPPORTED_MEDIA_TYPE"', body.decode().replace(" ", ""))
        # A quoted `;` is not a parameter's end; a JSON body declared in Latin-1 is told so.
        status, _, body = self.call("POST", "/v1/sources/gw-e2e-source/venues:import", raw=csv,
                                    key=self.partner,
                                    headers={"Content-Type": 'text/csv; x="a;charset=latin1"'})
        self.assertEqual(status, 200, body)
        status, _, body = self.call("POST", "/v1/venues", raw=b'{"nom": "x"}', key=self.org_a,
                                    headers={"Content-Type": "application/json; charset=latin1"})
        self.assertEqual(status, 415, body)
        self.assertIn("[encoding] corps déclaré en « latin1 »", body.decode())
        # Two Content-Types: which one the body is in cannot be told.
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.http_port, timeout=30)
        try:
            conn.putrequest("POST", "/v1/sources/gw-e2e-source/venues:import")
            conn.putheader("Authorization", f"Bearer {self.partner}")
            conn.putheader("Content-Type", "text/csv")
            conn.putheader("Content-Type", "text/csv; charset=utf-16")
            conn.putheader("Content-Length", str(len(csv)))
            conn.endheaders(csv)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 400)
            self.assertIn("content-type donné 2 fois", resp.read().decode())
        finally:
            conn.close()
        status, _, body = self.call("POST", "/v1/sources/gw-e2e-source/venues:import", raw=csv,
                                    key=self.partner,
                                    headers={"Content-Type": 'text/csv; charset="utf-8"'})
        self.assertEqual(status, 200, body)

    def test_bad_requests_get_precise_json_errors(self):
        status, _, body = self.call("POST", "/v1/venues", raw=b'{"nom": }', key=self.org_a,
                                    headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertIn("octet 9", json.dumps(self.error(body), ensure_ascii=False))
        status, _, body = self.call("POST", "/v1/venues", venue_body(3, nomm="x"),
                                    key=self.org_a)
        self.assertEqual(status, 400)
        self.assertIn("nomm", body.decode())
        status, _, body = self.call("POST", "/v1/venues", raw=b"nom=x", key=self.org_a,
                                    headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 415, body)
        status, _, body = self.call("POST", "/v1/venues", raw=b"[" * (2 << 20), key=self.org_a,
                                    headers={"Content-Type": "application/json"})
        self.assertEqual(status, 413)
        status, _, body = self.call("GET", "/v1/venues:search?nearLat=1")
        self.assertEqual(status, 400)
        self.assertEqual(self.error(body)["details"][0]["fieldViolations"][0]["field"],
                         "nearLat")
        status, _, body = self.call("GET", "/v1/venues:search?near.latitude=NaN")
        self.assertEqual(status, 400)
        for view in ("VENUE_VIEW_BOGUS", "7", "VENUE_VIEW_BASIC%00", "%C3%28"):
            status, _, body = self.call("GET", f"/v1/venues:search?view={view}")
            self.assertEqual(status, 400, (view, body))
            self.assertEqual(self.error(body)["details"][0]["fieldViolations"][0]["field"],
                             "view", view)
        status, headers, body = self.call("DELETE", "/v1/venues/abc")
        self.assertEqual(status, 405)
        self.assertIn("GET", headers["allow"])
        status, _, body = self.call("GET", "/v1/nowhere/%ff")
        self.assertEqual(status, 400)
        status, _, body = self.call("GET", "/v1/nowhere")
        self.assertEqual(status, 404)
        self.assertIn("ROUTE_NOT_FOUND", body.decode())
        status, _, body = self.call("GET", "/v1/venues/not-a-uuid")
        self.assertEqual(status, 400, body)
        # A filter cannot widen what the caller may see: withdrawn venues need showWithdrawn.
        status, _, body = self.call("GET", "/v1/venues?filter=state%3D%22withdrawn%22")
        self.assertEqual(status, 400, body)
        status, _, body = self.call(
            "GET", "/v1/venues?showWithdrawn=true&filter=state%3D%22withdrawn%22", key=self.partner)
        self.assertEqual(status, 200, body)

    def test_opening_schedule_and_open_during_over_rest(self):
        # The map's venue page and its « ouvert samedi » filter, through the public door.
        status, _, body = self.call("POST", "/v1/venues",
                                    venue_body("sched", horaires="Sa 10:00-12:00; PH off"),
                                    key=self.org_a)
        self.assertEqual(status, 201, body)
        name = json.loads(body)["name"]
        # Saturday 28 November 2026, 11:00 in Paris (10:00 UTC): open until noon.
        status, headers, body = self.call(
            "GET", f"/v1/{name}/openingSchedule?time=2026-11-28T10:00:00Z&days=2")
        self.assertEqual(status, 200, body)
        self.assertIn("etag", headers)
        sched = json.loads(body)
        self.assertEqual(sched["name"], f"{name}/openingSchedule")
        self.assertEqual(sched["currentState"], "HOURS_STATE_OPEN")
        self.assertEqual(sched["nextCloseTime"], "2026-11-28T11:00:00Z")
        self.assertEqual(sched["timeZone"], "Europe/Paris")
        self.assertEqual([d["date"] for d in sched["days"]], ["2026-11-28", "2026-11-29"])
        self.assertEqual(sched["days"][0]["periods"],
                         [{"start": "10:00", "end": "12:00", "state": "HOURS_STATE_OPEN"}])
        self.assertIn("samedi", sched["description"])
        # Open on that Saturday, not on the Sunday.
        def ids(start, end):
            status, _, body = self.call(
                "GET", f"/v1/venues:search?openDuring.startTime={start}"
                       f"&openDuring.endTime={end}&query=sched&pageSize=100")
            self.assertEqual(status, 200, body)
            return [r["venue"]["name"] for r in json.loads(body).get("results", [])]
        self.assertIn(name, ids("2026-11-27T23:00:00Z", "2026-11-28T23:00:00Z"))
        self.assertNotIn(name, ids("2026-11-28T23:00:00Z", "2026-11-29T23:00:00Z"))
        # Refusals name the field and the rule.
        for path, field in [
                (f"/v1/{name}/openingSchedule?days=32", "days"),
                (f"/v1/{name}/openingSchedule?days=NaN", "days"),
                (f"/v1/{name}/openingSchedule?time=2026-13-01T00:00:00Z", "time"),
                ("/v1/venues:search?openDuring.startTime=2026-11-28T10:00:00Z", "open_during.end_time"),
                ("/v1/venues:search?openDuring.startTime=2026-11-28T10:00:00Z"
                 "&openDuring.endTime=2027-01-28T10:00:00Z", "open_during")]:
            status, _, body = self.call("GET", path)
            self.assertEqual(status, 400, (path, body))
            fields = [v["field"] for d in self.error(body)["details"]
                      for v in d.get("fieldViolations", [])]
            self.assertTrue(any(f.replace("openDuring.", "open_during.")
                                .replace("endTime", "end_time") == field for f in fields),
                            (path, fields))
        status, _, body = self.call(
            "GET", "/v1/venues/00000000-0000-4000-8000-000000000000/openingSchedule")
        self.assertEqual(status, 404, body)

    def test_links_are_re_encoded_and_single_headers_single(self):
        # Raw quotes in the query are percent-encoded in the Link header, never copied.
        status, headers, body = self.call("GET", '/v1/venues?pageSize=1&filter=state="active"')
        self.assertEqual(status, 200, body)
        link = headers["link"]
        self.assertIn("filter=state=%22active%22", link)
        self.assertEqual(link.count('"'), 2, link)  # only rel="next"
        self.assertTrue(link.endswith('rel="next"'), link)
        # A search's second page links back to the first.
        status, headers, body = self.call("GET", "/v1/venues:search?pageSize=1")
        self.assertEqual(status, 200, body)
        token = json.loads(body)["nextPageToken"]
        status, headers, body = self.call("GET", f"/v1/venues:search?pageSize=1&pageToken={token}")
        self.assertEqual(status, 200, body)
        self.assertIn('rel="prev"', headers.get("link", ""), headers)
        # Two Idempotency-Key headers: which one would the retry match? Refused.
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        payload = json.dumps(venue_body("twokeys")).encode()
        conn.putrequest("POST", "/v1/venues")
        for name, value in [("Authorization", f"Bearer {self.org_a}"),
                            ("Content-Type", "application/json"),
                            ("Content-Length", str(len(payload))),
                            ("Idempotency-Key", "k-1"), ("Idempotency-Key", "k-2")]:
            conn.putheader(name, value)
        conn.endheaders(payload)
        answer = conn.getresponse()
        error = json.loads(answer.read())["error"]
        conn.close()
        self.assertEqual(answer.status, 400, error)
        self.assertEqual(error["details"][0]["fieldViolations"][0]["field"], "idempotency-key")

    def test_owner_given_under_both_names_is_refused(self):
        status, _, body = self.call("POST", "/v1/venues", venue_body(
            "twice", ownerOrganisation="org-a", owner_organisation="org-b"), key=self.org_a)
        self.assertEqual(status, 400, body)
        self.assertIn("deux fois", body.decode())

    def test_writes_are_refused_from_the_head_before_the_body(self):
        # An anonymous client announcing a large body gets its 401 at once: it cannot hold the
        # server's body budget.
        s = socket.create_connection(("127.0.0.1", self.http_port), timeout=5)
        s.sendall(b"POST /v1/venues HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000000\r\n\r\n{")
        started = time.time()
        answer = s.recv(4096)
        s.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 401"), answer[:100])
        self.assertLess(time.time() - started, 3)
        # A partner key is refused a write it has no scope for, also before the body.
        s = socket.create_connection(("127.0.0.1", self.http_port), timeout=5)
        s.sendall(b"POST /v1/areaLayers/x:import HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + self.partner.encode() +
                  b"\r\nContent-Length: 60000000\r\n\r\n{")
        answer = s.recv(4096)
        s.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 403"), answer[:100])

    def test_a_cut_import_applies_nothing(self):
        status, _, body = self.call("POST", "/v1/sources?sourceId=gw-e2e-cut",
                                    {"displayName": "Import coupé"}, key=ADMIN_KEY)
        self.assertEqual(status, 201, body)
        header = ('"id","pivot","nom","commune","code_postal","adresse","latitude","longitude",'
                  '"date_maj","services"\n')
        rows = "".join(f'"cut-{i}","21590512800017","Lieu {i}","Roubaix","59100",'
                       f'"{i} rue","50.69","3.18","2026-11-25","Aide aux démarches '
                       f'administratives"\n' for i in range(2000))
        data = (header + rows).encode()
        s = socket.create_connection(("127.0.0.1", self.http_port), timeout=10)
        s.sendall(b"POST /v1/sources/gw-e2e-cut/venues:import HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + ADMIN_KEY.encode() +
                  b"\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n")
        half = data[: len(data) // 2]
        s.sendall(b"%x\r\n" % len(half) + half + b"\r\n")
        time.sleep(0.5)
        s.close()  # the file is cut: no final chunk
        time.sleep(1.5)
        status, _, body = self.call("GET", '/v1/venues?filter=source%3D%22gw-e2e-cut%22',
                                    key=ADMIN_KEY)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body).get("venues", []), [])

    def test_request_ids_are_echoed_only_when_safe(self):
        _, headers, _ = self.call("GET", "/v1/nomenclatures", headers={"X-Request-Id": "abc-1"})
        self.assertEqual(headers["x-request-id"], "abc-1")
        _, headers, _ = self.call("GET", "/v1/nomenclatures",
                                  headers={"X-Request-Id": "bad id <script>"})
        self.assertNotIn("<", headers["x-request-id"])
        self.assertEqual(len(headers["x-request-id"]), 36)

    def test_cors_for_configured_origins(self):
        status, headers, _ = self.call("OPTIONS", "/v1/venues",
                                       headers={"Origin": "https://carte.example",
                                                "Access-Control-Request-Method": "GET"})
        self.assertEqual(status, 204)
        self.assertEqual(headers["access-control-allow-origin"], "https://carte.example")
        _, headers, _ = self.call("GET", "/v1/nomenclatures", headers={"Origin": "https://evil"})
        self.assertNotIn("access-control-allow-origin", headers)

    def test_exports_stream_chunked_and_gzip(self):
        self.call("POST", "/v1/venues", venue_body("export", id="gw-e2e-export"), key=self.org_a)
        status, headers, plain = self.call("GET", "/v1/venues:export?format=NATIONAL_CSV")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("transfer-encoding"), "chunked")
        self.assertIn('filename="venues.csv"', headers["content-disposition"])
        self.assertTrue(plain.startswith(b'"id","pivot","nom"'))
        status, headers, packed = self.call("GET", "/v1/venues:export?format=NATIONAL_CSV",
                                            headers={"Accept-Encoding": "gzip"})
        self.assertEqual(headers.get("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(packed), plain)
        status, headers, ttl = self.call(
            "GET", "/v1/nomenclatures/roubaix-aptic/versions/-:export?format=SKOS_TURTLE")
        self.assertEqual(status, 200, ttl)
        self.assertTrue(headers["content-type"].startswith("text/turtle"))

    def test_rate_limits_answer_429_then_let_through_after_the_wait(self):
        # A second gateway (a replica) with a tight public limit: 1 request/s, burst 2.
        replica = self.stack.start_gateway(
            None, pepper="e2e-pepper", label="gateway2",
            extra={"PASSERELLE_GATEWAY_RATE_LIMITS": "public=1:2"})
        port = replica.http_port

        def get():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/v1/nomenclatures")
            r = conn.getresponse()
            r.read()
            conn.close()
            return r.status, {k.lower(): v for k, v in r.getheaders()}

        try:
            deadline = time.time() + 30
            while True:
                try:
                    status, headers = get()
                    break
                except OSError:
                    self.assertFalse(replica.exited(), replica.log_tail())
                    self.assertLess(time.time(), deadline, "the replica did not start")
                    time.sleep(0.2)
            self.assertEqual(status, 200)
            self.assertEqual(headers["ratelimit-limit"], "2")
            statuses = [get() for _ in range(3)]
            refused = [h for s, h in statuses if s == 429]
            self.assertTrue(refused, [s for s, _ in statuses])
            wait = int(refused[-1]["retry-after"])
            self.assertGreaterEqual(wait, 1)
            time.sleep(wait)
            status, _ = get()
            self.assertEqual(status, 200)
            # Unknown gRPC methods spend the anonymous caller's tokens like any call.
            import grpc
            channel = grpc.insecure_channel(f"127.0.0.1:{replica.grpc_port}")
            hidden = channel.unary_unary("/passerelle.testing.v1.EchoService/Echo")
            codes = []
            for _ in range(4):
                try:
                    hidden(b"", timeout=10)
                except grpc.RpcError as e:
                    codes.append(e.code())
            channel.close()
            self.assertIn(grpc.StatusCode.RESOURCE_EXHAUSTED, codes)
        finally:
            replica.terminate()
            self.assertEqual(replica.wait(timeout=20), 0)

    def test_grpc_door_serves_the_same_public_methods(self):
        import grpc
        from passerelle.venues.v1 import venues_pb2 as pb
        from passerelle.venues.v1 import venues_pb2_grpc as rpc
        channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        stub = rpc.VenueServiceStub(channel)
        found, call = stub.SearchVenues.with_call(
            pb.SearchVenuesRequest(query="mediatheque", page_size=5),
            metadata=[("x-request-id", "grpc-e2e-1")], timeout=10)
        self.assertEqual(dict(call.initial_metadata())["x-request-id"], "grpc-e2e-1")
        # A field that needs a scope of its own (show_withdrawn: partner), read from the wire;
        # with an organisation's key (the anonymous bucket is shared with the REST tests).
        org = [("authorization", f"Bearer {self.org_a}")]
        stub.ListVenues(pb.ListVenuesRequest(page_size=1, show_withdrawn=False), metadata=org,
                        timeout=10)
        with self.assertRaises(grpc.RpcError) as hidden_field:
            stub.ListVenues(pb.ListVenuesRequest(page_size=1, show_withdrawn=True), metadata=org,
                            timeout=10)
        self.assertEqual(hidden_field.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        stub.ListVenues(pb.ListVenuesRequest(page_size=1, show_withdrawn=True),
                        metadata=[("authorization", f"Bearer {self.partner}")], timeout=10)
        # Sent twice, the last value is what parsing reads: true then false is not set...
        raw = channel.unary_unary("/passerelle.venues.v1.VenueService/ListVenues")
        raw(b"\x28\x01\x28\x00", metadata=org, timeout=10)
        # ...and false then true is, as is a value of 2 (any non-zero varint is true).
        for bytes_ in (b"\x28\x00\x28\x01", b"\x28\x02", b"\x28\x80\x01"):
            with self.assertRaises(grpc.RpcError) as twice:
                raw(bytes_, metadata=org, timeout=10)
            self.assertEqual(twice.exception.code(), grpc.StatusCode.PERMISSION_DENIED, bytes_)
        with self.assertRaises(grpc.RpcError) as cut:
            raw(b"\x28", metadata=org, timeout=10)  # a tag without its value
        self.assertEqual(cut.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        # A request whose owner the door fills in is read as the backend would read it: bytes
        # it would refuse (invalid UTF-8 in `nom`) are refused, not re-encoded leniently.
        create = channel.unary_unary("/passerelle.venues.v1.VenueService/CreateVenue")
        venue = b"\x22\x03\xffok"  # nom (4) = "\xffok"
        for bytes_ in (b"\x0a" + bytes([len(venue)]) + venue, b"\x0a\x05\x22\x03ok"):
            with self.assertRaises(grpc.RpcError) as unreadable:
                create(bytes_, metadata=org, timeout=10)
            self.assertEqual(unreadable.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                             unreadable.exception.details())
            self.assertIn("illisible", unreadable.exception.details())
        # And a request that sets a partner-only field is refused when it does not parse, not
        # waved through because its JSON could not be read.
        with self.assertRaises(grpc.RpcError) as unreadable:
            raw(b"\x28\x01\x12\x02\xff\xfe", timeout=10)  # page_token with invalid UTF-8
        self.assertEqual(unreadable.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as refused:
            stub.CreateVenue(pb.CreateVenueRequest(venue=pb.Venue(nom="x")), timeout=10)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        created = stub.CreateVenue(
            pb.CreateVenueRequest(venue=pb.Venue(
                id="gw-e2e-grpc", pivot="21590512800017", nom="Médiathèque gRPC",
                commune="Roubaix", code_postal="59100", adresse="1 rue Pierre Motte",
                date_maj="2026-11-25", latitude=50.69, longitude=3.18,
                services=[pb.SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES])),
            metadata=[("authorization", f"Bearer {self.org_a}")], timeout=10)
        self.assertEqual(created.owner_organisation, "org-a")
        with self.assertRaises(grpc.RpcError) as other:
            stub.CreateVenue(pb.CreateVenueRequest(venue=pb.Venue(owner_organisation="org-b")),
                             metadata=[("x-api-key", self.org_a)], timeout=10)
        self.assertEqual(other.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        chunks = list(stub.ExportVenues(pb.ExportVenuesRequest(format=pb.NATIONAL_CSV),
                                        timeout=30))
        self.assertTrue(b"".join(c.data for c in chunks).startswith(b'"id","pivot"'))
        hidden = channel.unary_unary("/passerelle.testing.v1.EchoService/Echo")
        with self.assertRaises(grpc.RpcError) as unknown:
            hidden(b"", timeout=10)
        self.assertEqual(unknown.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        # The gate comes before the method table: a forged key learns nothing of what exists.
        with self.assertRaises(grpc.RpcError) as forged:
            hidden(b"", metadata=[("authorization", "Bearer psk_forged")], timeout=10)
        self.assertEqual(forged.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        channel.close()

    def test_api_keys_through_the_grpc_door(self):
        import grpc
        from passerelle.gateway.v1 import gateway_pb2 as gpb
        from passerelle.gateway.v1 import gateway_pb2_grpc as grpc_gw
        from passerelle.api.v1 import access_pb2
        channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        keys = grpc_gw.ApiKeyServiceStub(channel)
        admin = [("authorization", f"Bearer {ADMIN_KEY}")]

        def refused(call, code):
            with self.assertRaises(grpc.RpcError) as e:
                call()
            self.assertEqual(e.exception.code(), code, e.exception.details())

        refused(lambda: keys.CreateApiKey(gpb.CreateApiKeyRequest(api_key=gpb.ApiKey(
            display_name="x\u202e", scopes=[access_pb2.ORGANISATION_WRITE])), metadata=admin,
            timeout=10), grpc.StatusCode.INVALID_ARGUMENT)
        refused(lambda: keys.CreateApiKey(gpb.CreateApiKeyRequest(api_key=gpb.ApiKey(
            display_name="x", scopes=[access_pb2.ADMIN])), metadata=[("x-api-key", self.partner)],
            timeout=10), grpc.StatusCode.PERMISSION_DENIED)
        refused(lambda: keys.GetApiKey(gpb.GetApiKeyRequest(name="apiKeys/nosuchkeyzzz"),
                                       metadata=admin, timeout=10), grpc.StatusCode.NOT_FOUND)
        refused(lambda: keys.GetApiKey(gpb.GetApiKeyRequest(name="apiKeys/a/b"),
                                       metadata=admin, timeout=10),
                grpc.StatusCode.INVALID_ARGUMENT)
        refused(lambda: keys.ListApiKeys(gpb.ListApiKeysRequest(page_size=-1), metadata=admin,
                                         timeout=10), grpc.StatusCode.INVALID_ARGUMENT)
        refused(lambda: keys.ListApiKeys(gpb.ListApiKeysRequest(page_token="forged"),
                                         metadata=admin, timeout=10),
                grpc.StatusCode.INVALID_ARGUMENT)
        refused(lambda: keys.RevokeApiKey(gpb.RevokeApiKeyRequest(name="apiKeys/nosuchkeyzzz"),
                                          metadata=admin, timeout=10), grpc.StatusCode.NOT_FOUND)
        refused(lambda: keys.ListApiKeys(gpb.ListApiKeysRequest(), timeout=10),
                grpc.StatusCode.UNAUTHENTICATED)
        made = keys.CreateApiKey(gpb.CreateApiKeyRequest(api_key=gpb.ApiKey(
            display_name="Clé e2e gRPC", scopes=[access_pb2.PARTNER])), metadata=admin, timeout=10)
        self.assertTrue(made.secret.startswith("psk_"))
        page = keys.ListApiKeys(gpb.ListApiKeysRequest(page_size=1), metadata=admin, timeout=10)
        self.assertEqual(len(page.api_keys), 1)
        self.assertTrue(page.next_page_token)
        revoked = keys.RevokeApiKey(gpb.RevokeApiKeyRequest(name=made.api_key.name),
                                    metadata=admin, timeout=10)
        self.assertTrue(revoked.HasField("revoke_time"))
        refused(lambda: keys.ListApiKeys(gpb.ListApiKeysRequest(),
                                         metadata=[("x-api-key", made.secret)], timeout=10),
                grpc.StatusCode.UNAUTHENTICATED)
        channel.close()

    def test_reflection_lists_only_public_services(self):
        import importlib.util
        import grpc
        spec = importlib.util.spec_from_file_location(
            "reflection_pb2",
            f"{BUILD}/python/grpc/reflection/v1alpha/reflection_pb2.py")
        reflection = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(reflection)
        channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        info = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=reflection.ServerReflectionResponse.FromString)
        answers = list(info(iter([
            reflection.ServerReflectionRequest(list_services=""),
            reflection.ServerReflectionRequest(
                file_containing_symbol="passerelle.venues.v1.VenueService"),
            reflection.ServerReflectionRequest(
                file_containing_symbol="passerelle.testing.v1.EchoService"),
        ]), timeout=10))
        names = {s.name for s in answers[0].list_services_response.service}
        self.assertIn("passerelle.venues.v1.VenueService", names)
        self.assertIn("passerelle.gateway.v1.ApiKeyService", names)
        self.assertNotIn("passerelle.testing.v1.EchoService", names)
        self.assertNotIn("grpc.health.v1.Health", names)
        self.assertGreater(len(answers[1].file_descriptor_response.file_descriptor_proto), 1)
        self.assertEqual(answers[2].error_response.error_code, 5)  # NOT_FOUND
        with self.assertRaises(grpc.RpcError) as forged:
            list(info(iter([reflection.ServerReflectionRequest(list_services="")]),
                      metadata=[("x-api-key", "psk_forged")], timeout=10))
        self.assertEqual(forged.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        channel.close()

    def test_curl_reads_like_any_client(self):
        out = subprocess.run(
            ["curl", "-sf", "-H", "Accept-Encoding: gzip", "--compressed",
             f"http://127.0.0.1:{self.http_port}/v1/items:search?query=pronote"],
            capture_output=True, check=True, timeout=30)
        self.assertIn("results", json.loads(out.stdout))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
