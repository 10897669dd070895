#!/usr/bin/env python3
"""Faults at the public door, against the real passerelle-gateway in front of the real venues
binary (real PostgreSQL and NATS from the test command). The test owns the gateway process.

- Killed (SIGKILL, twice) and restarted on the same ports while client threads create venues
  through REST, each retrying the same request with the same Idempotency-Key on connection
  errors and 5xx: every acknowledged write is in venues exactly once, with the body sent, and a
  retried key answers the same resource. Stopped once with SIGTERM: a request in flight (its
  head read, its body still to come) is answered, the gateway exits 0, nothing acknowledged is
  lost.
- Slow clients: 50 connections sending a request head one byte a second (the HTTP server has 2
  threads) do not slow other clients, and are closed without an answer once the header timeout
  (PASSERELLE_GATEWAY_HEADER_TIMEOUT, 5 s here) passes. A client reading a big export one byte a
  second does not stop others either, and is cut by the write timeout (truncated transfer).
- Deadlines through both doors, with venues frozen (SIGSTOP) so that only a deadline can end a
  call: a 0.5 s gRPC deadline is DEADLINE_EXCEEDED; a caller's 30 s deadline (gRPC) or
  X-Server-Timeout: 60 (REST) is capped by the gateway's backend timeout (3 s here):
  DEADLINE_EXCEEDED / 504 long before 30 s; X-Server-Timeout: 1 is a 504 too.
"""
import http.client
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import unittest
import uuid

from stack import Stack

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else "."
ADMIN_KEY = "psk_faultsadmin2_" + "F" * 43
HEADER_TIMEOUT = 5  # seconds, PASSERELLE_GATEWAY_HEADER_TIMEOUT
WRITE_TIMEOUT = 3  # seconds, PASSERELLE_GATEWAY_WRITE_TIMEOUT
BACKEND_TIMEOUT = 3  # seconds, PASSERELLE_GATEWAY_BACKEND_TIMEOUT
# Latency allowed to a normal request while slow clients are held; the sanitizer tier's
# binaries are several times slower.
FAST = float(os.environ.get("PASSERELLE_FAULTS_FAST_SECONDS", "1.0"))
UNLIMITED = ",".join(f"{s}=100000:100000" for s in ("public", "partner", "organisation", "admin"))


def wait_for(condition, timeout, what):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def venue_body(source_id):
    return {"id": source_id, "pivot": "21590512800017", "nom": f"Lieu {source_id}",
            "commune": "Roubaix", "codePostal": "59100", "adresse": f"{source_id} rue de Lannoy",
            "dateMaj": "2026-11-30", "latitude": 50.69, "longitude": 3.18,
            "services": ["SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES"]}


class Writers:
    """Client threads creating venues through REST. A logical write is one body and one
    Idempotency-Key; it is retried, same request, on connection errors and 5xx until a 2xx
    (acknowledged) or its 90 s run out (given up)."""

    def __init__(self, stack, key, threads=4):
        self.stack, self.key = stack, key
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = []  # (source id, idempotency key, body, name, attempts)
        self.refused = []  # (source id, status, body): an answer that is neither 2xx nor 5xx
        self.given_up = []
        self.connection_errors = 0
        self.cut = 0  # connection errors other than a refused connection: a request cut short
        self.server_errors = 0
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)
            assert not t.is_alive(), "a writer is stuck"

    def count(self):
        with self.lock:
            return len(self.acked)

    def run(self, thread):
        n = 0
        while not self.stop.is_set():
            source_id = f"faults-{thread}-{n}"
            n += 1
            self.write(source_id, str(uuid.uuid4()), venue_body(source_id))

    def write(self, source_id, key, body):
        deadline = time.time() + 90
        attempts = 0
        while time.time() < deadline:
            attempts += 1
            try:
                status, _, answer = self.stack.call(
                    "POST", "/v1/venues", body, key=self.key, timeout=15,
                    headers={"Idempotency-Key": key})
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.connection_errors += 1
                    self.cut += not isinstance(e, ConnectionRefusedError)
                time.sleep(0.05)
                continue
            if status >= 500:
                with self.lock:
                    self.server_errors += 1
                time.sleep(0.05)
                continue
            with self.lock:
                if status in (200, 201):
                    self.acked.append((source_id, key, body, json.loads(answer)["name"],
                                       attempts))
                else:
                    self.refused.append((source_id, status, answer[:300]))
            return
        with self.lock:
            self.given_up.append(source_id)


class GatewayFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(BUILD, "gwfaults", page_token_key="gateway-faults-page-token")
        try:
            cls.start_stack(cls.stack)
        except BaseException:
            cls.stack.stop(check=False)  # no process left behind
            raise

    @classmethod
    def start_stack(cls, stack):
        cls.venues = stack.start("venues")
        cls.env = {"PASSERELLE_GATEWAY_RATE_LIMITS": UNLIMITED,
                   "PASSERELLE_GATEWAY_HEADER_TIMEOUT": f"{HEADER_TIMEOUT}s",
                   "PASSERELLE_GATEWAY_WRITE_TIMEOUT": f"{WRITE_TIMEOUT}s",
                   "PASSERELLE_GATEWAY_BACKEND_TIMEOUT": f"{BACKEND_TIMEOUT}s"}
        cls.gateway = stack.start_gateway(ADMIN_KEY, pepper="faults-pepper", extra=cls.env)
        cls.internal_port = stack.ports["gateway"]
        stack.wait_until_ready("/v1/venues?pageSize=1")
        status, _, body = cls.call("POST", "/v1/organisations?organisationId=org-faults",
                                   {"displayName": "Organisation des pannes"}, key=ADMIN_KEY)
        assert status == 201, body
        cls.org_key = stack.make_key(ADMIN_KEY, ["ORGANISATION_WRITE"], organisation="org-faults")
        status, _, body = cls.call("POST", "/v1/venues", venue_body("faults-reference"),
                                   key=cls.org_key)
        assert status == 201, body
        cls.reference = json.loads(body)["name"]

    @classmethod
    def tearDownClass(cls):
        os.kill(cls.venues.pid, signal.SIGCONT)
        cls.stack.stop()

    @classmethod
    def call(cls, method, path, body=None, key=None, headers=None, raw=None, timeout=30):
        return cls.stack.call(method, path, body, key, headers, raw, timeout)

    @classmethod
    def restart_gateway(cls):
        cls.gateway = cls.stack.start_gateway(
            ADMIN_KEY, pepper="faults-pepper", extra=cls.env, http_port=cls.stack.http_port,
            grpc_port=cls.stack.grpc_port, internal_port=cls.internal_port)
        cls.stack.wait_until_ready("/v1/venues?pageSize=1", procs=[cls.venues, cls.gateway])

    def list_venues(self):
        venues, token = [], ""
        while True:
            status, _, body = self.call("GET", f"/v1/venues?pageSize=500&pageToken={token}",
                                        key=ADMIN_KEY)
            self.assertEqual(status, 200, body)
            page = json.loads(body)
            venues += page.get("venues", [])
            token = page.get("nextPageToken", "")
            if not token:
                return venues

    def in_flight_write_survives_sigterm(self):
        """A create whose head the gateway has read (100 Continue) and whose body comes after
        SIGTERM closed the door: answered 201 with Connection: close. Returns the write."""
        source_id = "faults-drain"
        key = str(uuid.uuid4())
        body = json.dumps(venue_body(source_id)).encode()
        s = socket.create_connection(("127.0.0.1", self.stack.http_port), timeout=30)
        try:
            s.sendall(b"POST /v1/venues HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Authorization: Bearer " + self.org_key.encode() + b"\r\n"
                      b"Idempotency-Key: " + key.encode() + b"\r\n"
                      b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
            self.assertEqual(s.recv(4096), b"HTTP/1.1 100 Continue\r\n\r\n")
            self.gateway.popen.send_signal(signal.SIGTERM)

            def door_closed():
                try:
                    socket.create_connection(("127.0.0.1", self.stack.http_port),
                                             timeout=1).close()
                    return False
                except OSError:
                    return True

            wait_for(door_closed, 20, "the REST door closed after SIGTERM")
            s.sendall(body)
            answer = b""
            while b"\r\n\r\n" not in answer:
                piece = s.recv(65536)
                self.assertTrue(piece, f"connection closed before the answer: {answer!r}")
                answer += piece
        finally:
            s.close()
        head = answer.split(b"\r\n\r\n")[0].decode().lower()
        self.assertTrue(head.startswith("http/1.1 201"), answer[:500])
        self.assertIn("connection: close", head)
        code = self.gateway.wait(timeout=30)
        self.assertEqual(code, 0, self.gateway.log_tail())
        return source_id, key, json.loads(body)

    def test_1_kill_and_restart_under_load_loses_no_acknowledged_write(self):
        writers = Writers(self.stack, self.org_key)
        started = time.time()
        writers.start()
        kills = []
        try:
            for _ in range(2):
                floor = writers.count() + 15
                wait_for(lambda: writers.count() >= floor, 60, "writes acknowledged")
                kills.append(writers.count())
                self.assertEqual(self.gateway.kill(), -signal.SIGKILL)
                self.restart_gateway()
            floor = writers.count() + 15
            wait_for(lambda: writers.count() >= floor, 60, "writes acknowledged")
            cut_before = writers.cut
            drained = self.in_flight_write_survives_sigterm()
            self.restart_gateway()
            cut_by_sigterm = writers.cut - cut_before
            floor = writers.count() + 15
            wait_for(lambda: writers.count() >= floor, 60, "writes acknowledged after SIGTERM")
        finally:
            writers.join()
        retried = [a for a in writers.acked if a[4] > 1]
        print(f"\n  {len(writers.acked)} writes acknowledged in {time.time() - started:.1f} s, "
              f"SIGKILL at {kills} acknowledged, then SIGTERM (which cut {cut_by_sigterm}); "
              f"{len(retried)} needed a retry "
              f"({writers.connection_errors} connection errors of which {writers.cut} cut a "
              f"request, {writers.server_errors} 5xx), "
              f"{len(writers.refused)} refused, {len(writers.given_up)} given up",
              file=sys.stderr)
        self.assertEqual(writers.refused, [])
        self.assertEqual(writers.given_up, [])
        self.assertGreater(writers.cut, 0, "no request was cut by a kill: the test tested nothing")
        self.assertTrue(retried)

        # The drained write was answered: it is acknowledged like the others.
        source_id, key, body = drained
        status, _, answer = self.call("POST", "/v1/venues", body, key=self.org_key,
                                      headers={"Idempotency-Key": key})
        self.assertIn(status, (200, 201), answer)
        acked = writers.acked + [(source_id, key, body, json.loads(answer)["name"], 1)]

        # A retried key answers the same resource, again.
        for source_id, key, body, name, _ in acked:
            status, _, answer = self.call("POST", "/v1/venues", body, key=self.org_key,
                                          headers={"Idempotency-Key": key})
            self.assertIn(status, (200, 201), answer)
            self.assertEqual(json.loads(answer)["name"], name, source_id)

        # Every acknowledged write is in venues exactly once, as sent; nothing else is.
        names = {name for _, _, _, name, _ in acked}
        wait_for(lambda: names <= {v["name"] for v in self.list_venues()}, 30,
                 "every acknowledged venue listed")
        found = {}
        for v in self.list_venues():
            if v.get("id", "").startswith("faults-") and v["id"] != "faults-reference":
                found.setdefault(v["id"], []).append(v)
        duplicates = {k: len(v) for k, v in found.items() if len(v) > 1}
        print(f"  {len(found)} venues read back, {len(duplicates)} duplicated", file=sys.stderr)
        self.assertEqual(duplicates, {})
        self.assertEqual(sorted(found), sorted(a[0] for a in acked))
        for source_id, _, body, name, _ in acked:
            (stored,) = found[source_id]
            self.assertEqual(stored["name"], name)
            self.assertEqual(stored["ownerOrganisation"], "org-faults")
            for field, value in body.items():
                self.assertEqual(stored.get(field), value, f"{source_id}.{field}")

    def normal_requests(self, seconds):
        """GET one venue and a search, again and again for `seconds`: every answer 200 and
        faster than FAST. Returns (count, slowest)."""
        count, slowest = 0, 0.0
        until = time.time() + seconds
        while time.time() < until:
            for path in (f"/v1/{self.reference}", "/v1/venues:search?query=lannoy&pageSize=5"):
                t0 = time.time()
                status, _, body = self.call("GET", path, timeout=10)
                took = time.time() - t0
                self.assertEqual(status, 200, body)
                self.assertLess(took, FAST, f"{path} took {took:.2f} s")
                count, slowest = count + 1, max(slowest, took)
        return count, slowest

    def test_2_slow_heads_hold_no_worker_and_are_closed_at_the_header_timeout(self):
        head = b"GET /v1/venues?pageSize=1 HTTP/1.1\r\nHost: lent.example\r\n\r\n"  # > 50 s
        slow = [socket.create_connection(("127.0.0.1", self.stack.http_port), timeout=10)
                for _ in range(50)]
        opened = time.time()
        closed = {}  # socket index -> (seconds after opening, bytes received)
        stop = threading.Event()

        def trickle():
            for i in range(len(head)):
                for n, s in enumerate(slow):
                    if n not in closed:
                        try:
                            s.send(head[i:i + 1])
                        except OSError:
                            pass  # seen as closed by the reader below
                if stop.wait(1.0):
                    return

        sender = threading.Thread(target=trickle)
        sender.start()
        try:
            count, slowest = self.normal_requests(HEADER_TIMEOUT - 2)
            # Still open (held by the server) while the normal requests were answered.
            self.assertEqual(select.select(slow, [], [], 0)[0], [])
            deadline = opened + HEADER_TIMEOUT + 15
            while len(closed) < len(slow) and time.time() < deadline:
                waiting = [s for n, s in enumerate(slow) if n not in closed]
                readable, _, _ = select.select(waiting, [], [], 0.5)
                for s in readable:
                    n = slow.index(s)
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    closed[n] = (time.time() - opened, data)
        finally:
            stop.set()
            sender.join()
            for s in slow:
                s.close()
        print(f"\n  {count} normal requests beside 50 slow heads, slowest {slowest * 1000:.0f} ms; "
              f"slow heads closed after {min(t for t, _ in closed.values()):.1f}"
              f"–{max(t for t, _ in closed.values()):.1f} s", file=sys.stderr)
        self.assertEqual(len(closed), len(slow), "slow heads still open")
        for t, data in closed.values():
            self.assertEqual(data, b"")  # closed without an answer
            self.assertGreater(t, HEADER_TIMEOUT - 0.5)

    def test_3_a_slow_reader_of_an_export_holds_no_worker_and_is_cut(self):
        status, _, body = self.call("POST", "/v1/sources?sourceId=faults-export",
                                    {"displayName": "Export lent"}, key=ADMIN_KEY)
        self.assertEqual(status, 201, body)
        # Bigger than every buffer between the gateway and the reader: the kernel's send buffer
        # grows up to tcp_wmem's maximum (4 MiB on Debian) on the loopback.
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            buffers = int(f.read().split()[2]) + (1 << 20)
        detail = "Accompagnement aux démarches en ligne, ateliers et prêt de matériel. " * 28
        header = ('"id","pivot","nom","commune","code_postal","adresse","latitude","longitude",'
                  '"date_maj","services","presentation_detail"\n')
        rows = "".join(f'"export-{i}","21590512800017","Lieu exporté {i}","Roubaix","59100",'
                       f'"{i} boulevard de Belfort","50.69","3.18","2026-11-30",'
                       f'"Aide aux démarches administratives","{detail}"\n'
                       for i in range(buffers // len(detail) + 500))
        status, _, body = self.call("POST", "/v1/sources/faults-export/venues:import",
                                    raw=(header + rows).encode(), key=ADMIN_KEY,
                                    headers={"Content-Type": "text/csv"}, timeout=120)
        self.assertEqual(status, 200, body)
        status, _, full = self.call("GET", "/v1/venues:export?format=NATIONAL_CSV", timeout=60)
        self.assertEqual(status, 200)
        self.assertGreater(len(full), buffers)

        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.stack.http_port))
        received = b""
        try:
            s.sendall(b"GET /v1/venues:export?format=NATIONAL_CSV HTTP/1.1\r\nHost: x\r\n\r\n")
            received = s.recv(1)
            started = time.time()
            stop = threading.Event()

            def read_slowly():
                nonlocal received
                while not stop.wait(1.0):
                    received += s.recv(1)

            reader = threading.Thread(target=read_slowly)
            reader.start()
            try:
                count, slowest = self.normal_requests(2)
                # The reader keeps reading a byte a second until the write timeout has long
                # passed for the write the gateway was blocked on.
                stop.wait(max(0.0, started + 2 * WRITE_TIMEOUT - time.time()))
            finally:
                stop.set()
                reader.join()
            while True:
                piece = s.recv(65536)
                if not piece:
                    break
                received += piece
        finally:
            s.close()
        head, _, chunked = received.partition(b"\r\n\r\n")
        print(f"\n  {count} normal requests beside a slow export reader, slowest "
              f"{slowest * 1000:.0f} ms; the reader got {len(chunked)} of {len(full)} bytes",
              file=sys.stderr)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertIn(b"transfer-encoding: chunked", head.lower())
        self.assertFalse(chunked.endswith(b"\r\n0\r\n\r\n"), "the slow reader got it all")
        self.assertLess(len(chunked), len(full) // 2)

    def test_4_deadlines_through_both_doors(self):
        import grpc
        from passerelle.venues.v1 import venues_pb2 as pb
        from passerelle.venues.v1 import venues_pb2_grpc as rpc
        channel = grpc.insecure_channel(f"127.0.0.1:{self.stack.grpc_port}")
        stub = rpc.VenueServiceStub(channel)
        request = pb.GetVenueRequest(name=self.reference)
        self.assertEqual(stub.GetVenue(request, timeout=30).name, self.reference)
        # Read once over REST: the door keeps the answer (docs/gateway.md, Answer cache).
        self.assertEqual(self.call("GET", f"/v1/{self.reference}")[0], 200)

        # Venues frozen: no call can succeed; only a deadline ends it. (A deadline already
        # spent is not asserted: gRPC may finish a fast call before its expired timer fires.)
        os.kill(self.venues.pid, signal.SIGSTOP)
        try:
            # SIGSTOP is delivered asynchronously: on a loaded machine a thread of venues could
            # still answer one call. Wait until every thread shows as stopped.
            deadline = time.time() + 10
            while not all(open(f"/proc/{self.venues.pid}/task/{t}/stat").read()
                          .rsplit(")", 1)[1].split()[0] == "T"
                          for t in os.listdir(f"/proc/{self.venues.pid}/task")):
                self.assertLess(time.time(), deadline, "venues never stopped")
                time.sleep(0.01)
            with self.assertRaises(grpc.RpcError) as short:
                stub.GetVenue(request, timeout=0.5)
            self.assertEqual(short.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            # The caller's 30 s is capped by the gateway's backend timeout.
            t0 = time.time()
            with self.assertRaises(grpc.RpcError) as capped:
                stub.GetVenue(request, timeout=30)
            grpc_took = time.time() - t0
            self.assertEqual(capped.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            # The door still answers a public read it kept, without asking venues.
            status, kept, _ = self.call("GET", f"/v1/{self.reference}", timeout=10)
            self.assertEqual(status, 200)
            self.assertIn("age", kept)
            # Asked for a checked answer, the door waits for venues until the deadline.
            t0 = time.time()
            status, _, body = self.call("GET", f"/v1/{self.reference}", timeout=60,
                                        headers={"X-Server-Timeout": "60",
                                                 "Cache-Control": "no-cache"})
            rest_took = time.time() - t0
            self.assertEqual(status, 504, body)
            self.assertEqual(json.loads(body)["error"]["status"], "DEADLINE_EXCEEDED")
            t0 = time.time()
            status, _, body = self.call("GET", f"/v1/{self.reference}", timeout=60,
                                        headers={"X-Server-Timeout": "1",
                                                 "Cache-Control": "no-cache"})
            short_took = time.time() - t0
            self.assertEqual(status, 504, body)
        finally:
            os.kill(self.venues.pid, signal.SIGCONT)
        print(f"\n  venues frozen: gRPC 30 s deadline answered in {grpc_took:.1f} s, REST "
              f"X-Server-Timeout 60 in {rest_took:.1f} s, X-Server-Timeout 1 in "
              f"{short_took:.1f} s (backend timeout {BACKEND_TIMEOUT} s)", file=sys.stderr)
        self.assertGreater(grpc_took, BACKEND_TIMEOUT - 0.5)
        self.assertLess(grpc_took, 20)
        self.assertGreater(rest_took, BACKEND_TIMEOUT - 0.5)
        self.assertLess(rest_took, 20)
        self.assertLess(short_took, BACKEND_TIMEOUT + 10)
        # Thawed, the same call works again.
        wait_for(lambda: self.call("GET", f"/v1/{self.reference}",
                                   headers={"Cache-Control": "no-cache"})[0] == 200, 30,
                 "venues answering again")
        channel.close()


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
