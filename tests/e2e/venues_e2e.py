#!/usr/bin/env python3
"""End to end, as a partner platform would: Debian's python3-grpcio against the real
passerelle-venues binary (real PostgreSQL + PostGIS and NATS from the test command).

Creates venues, searches them, updates with a stale etag (ABORTED), and pages through every
result without loss or duplicates while another client writes.
"""
import os
import random
import subprocess
import sys
import threading
import time
import unittest

import grpc
from google.protobuf import field_mask_pb2

from passerelle.venues.v1 import venues_pb2 as pb
from passerelle.venues.v1 import venues_pb2_grpc as rpc
from stack import free_port

BINARY = sys.argv[1] if len(sys.argv) > 1 else "build/services/venues/passerelle-venues"




def venue(i, lat=50.69, lon=3.18, nom=None):
    return pb.Venue(
        id=f"e2e-{i}", pivot="21590512800017", nom=nom or f"Médiathèque numéro {i}",
        commune="Roubaix", code_postal="59100", adresse=f"{i} rue Pierre Motte",
        date_maj="2026-11-25", latitude=lat, longitude=lon,
        services=[pb.SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES])


class VenuesE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.schema = f"e2e_{os.getpid()}_{random.randint(0, 99999)}"
        cls.port = free_port()
        env = dict(os.environ,
                   PASSERELLE_DATABASE_URL=os.environ["PASSERELLE_TEST_DATABASE_URL"],
                   PASSERELLE_DATABASE_SCHEMA=cls.schema,
                   PASSERELLE_NATS_URL=os.environ["PASSERELLE_TEST_NATS_URL"],
                   PASSERELLE_NATS_PREFIX=cls.schema,
                   PASSERELLE_GRPC_ADDRESS=f"127.0.0.1:{cls.port}",
                   PASSERELLE_METRICS_ADDRESS=f"127.0.0.1:{free_port()}")
        cls.log = open(f"/tmp/{cls.schema}.log", "w+")
        cls.proc = subprocess.Popen([BINARY], env=env, stdout=cls.log, stderr=subprocess.STDOUT)
        cls.channel = grpc.insecure_channel(f"127.0.0.1:{cls.port}")
        grpc.channel_ready_future(cls.channel).result(timeout=30)
        cls.stub = rpc.VenueServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        assert cls.proc.wait(timeout=15) == 0, "the service did not stop cleanly"
        cls.channel.close()
        subprocess.run(["psql", os.environ["PASSERELLE_TEST_DATABASE_URL"], "-qc",
                        f'DROP SCHEMA IF EXISTS "{cls.schema}" CASCADE'], check=True)

    def test_1_create_search_and_stale_etag(self):
        created = self.stub.CreateVenue(pb.CreateVenueRequest(
            venue=venue(1, nom="Médiathèque de l'Épeule"), request_id="e2e-create-1"))
        self.assertTrue(created.name.startswith("venues/"))
        found = self.stub.SearchVenues(pb.SearchVenuesRequest(
            near=pb.Circle(latitude=50.69, longitude=3.18, radius_meters=1000),
            services=[pb.SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES], query="mediatheque epeule"))
        self.assertEqual([m.venue.name for m in found.results], [created.name])
        self.assertAlmostEqual(found.results[0].distance_meters, 0, delta=1)

        updated = self.stub.UpdateVenue(pb.UpdateVenueRequest(
            venue=pb.Venue(name=created.name, etag=created.etag, telephone="03 20 00 00 01"),
            update_mask=field_mask_pb2.FieldMask(paths=["telephone"])))
        self.assertEqual(updated.telephone, "+33320000001")
        with self.assertRaises(grpc.RpcError) as stale:
            self.stub.UpdateVenue(pb.UpdateVenueRequest(
                venue=pb.Venue(name=created.name, etag=created.etag, telephone="03 20 00 00 02"),
                update_mask=field_mask_pb2.FieldMask(paths=["telephone"])))
        self.assertEqual(stale.exception.code(), grpc.StatusCode.ABORTED)

        with self.assertRaises(grpc.RpcError) as bad:
            self.stub.CreateVenue(pb.CreateVenueRequest(venue=pb.Venue(id="x")))
        self.assertEqual(bad.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_2_paging_is_exact_while_others_write(self):
        rows = [venue(100 + i, lat=50.69 + i * 1e-4) for i in range(150)]
        with self.assertRaises(grpc.RpcError) as unknown:  # a producer registers its source first
            self.stub.BatchUpsertVenues(pb.BatchUpsertVenuesRequest(source="e2e", venues=rows))
        self.assertEqual(unknown.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.stub.CreateSource(pb.CreateSourceRequest(source_id="e2e"))
        resp = self.stub.BatchUpsertVenues(pb.BatchUpsertVenuesRequest(source="e2e", venues=rows))
        self.assertEqual({r.outcome for r in resp.results}, {pb.CREATED})
        expected = {r.name for r in resp.results}

        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set() and i < 300:
                self.stub.CreateVenue(pb.CreateVenueRequest(venue=venue(1000 + i, lat=48.0)))
                self.stub.BatchUpsertVenues(pb.BatchUpsertVenuesRequest(
                    source="e2e", venues=[venue(100 + i % 150, lat=50.69 + (i % 150) * 1e-4,
                                                nom=f"Renommé {i}")]))
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        seen, token, pages = [], "", 0
        try:
            while True:
                page = self.stub.ListVenues(pb.ListVenuesRequest(
                    page_size=9, page_token=token, filter='source = "e2e"'))
                seen += [v.name for v in page.venues]
                token, pages = page.next_page_token, pages + 1
                time.sleep(0.005)
                if not token:
                    break
            # Search pages too, around the batch (the writer's new venues are far away).
            found, token = [], ""
            while True:
                page = self.stub.SearchVenues(pb.SearchVenuesRequest(
                    near=pb.Circle(latitude=50.69, longitude=3.18, radius_meters=5000),
                    page_size=11, page_token=token))
                found += [m.venue.name for m in page.results]
                token = page.next_page_token
                if not token:
                    break
        finally:
            stop.set()
            t.join()
        self.assertEqual(len(seen), len(set(seen)), "a venue came twice")
        self.assertEqual(set(seen), expected, "a venue was lost")
        self.assertGreaterEqual(pages, 17)
        self.assertEqual(len(found), len(set(found)))
        self.assertTrue(expected <= set(found))

    def test_3_quickstart_example_runs(self):
        """examples/venues_quickstart.py, as the docs tell partners to run it, works."""
        script = os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                              "venues_quickstart.py")
        done = subprocess.run([sys.executable, script, f"127.0.0.1:{self.port}"],
                              capture_output=True, text=True, timeout=60, env=os.environ)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("stale etag: ABORTED", done.stdout)
        self.assertIn("code_postal:", done.stdout)


if __name__ == "__main__":
    result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
