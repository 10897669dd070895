#!/usr/bin/env python3
"""Benchmark of the public door: the gateway in front of the real venues binary, N synthetic
venues imported through REST, then, in the same run and on the same machine:

  - REST GET /v1/venues/{id} on random ids among all N (wrk, 64 connections)
                                                             goal >= 12,000 req/s, p99 < 5 ms
    with the share answered from the door's memory (docs/gateway.md, Answer cache), and the
    same with `Cache-Control: no-cache` (venues asked every time) as the reference
  - REST search, 5 km around central Paris + one service     goal >= 4,000 req/s, p99 < 10 ms
  - the same two with 16 connections: at 64, Little's law alone puts the mean latency at
    64 / throughput (5.3 ms at 12,000 req/s), so the latency goals are judged at 16
  - OGC API items, a page of 100 (wrk, 64 connections)       goal >= 1,000 req/s
  - gRPC SearchVenues through the gateway vs direct to venues (h2load, 8 connections)
  - REST search vs gRPC search through the gateway
  - the gateway's resident memory                           goal < 100 MB

Each figure is printed next to its reference from the same run. The short run in the test command
keeps the benchmark working (goals printed, not enforced: the machine is shared); the full run
(25,000 venues, 20 s per scenario) is manual, its figures go to docs/performance.md:

  deploy/local/passerelle test -R gateway_bench   # short
  PASSERELLE_BENCH_FULL=1 deploy/local/passerelle test -R gateway_bench -V
"""
import csv
import io
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack  # noqa: E402  (tests/e2e/stack.py)

BUILD, SOURCE = sys.argv[1], sys.argv[2]
FULL = os.environ.get("PASSERELLE_BENCH_FULL") == "1"
N = 25000 if FULL else 2000
SECONDS = 20 if FULL else 3
ADMIN_KEY = "psk_benchadmink2_" + "b" * 43
CITIES = [("Paris", 48.8566, 2.3522, 30), ("Marseille", 43.2965, 5.3698, 9),
          ("Lyon", 45.7640, 4.8357, 9), ("Toulouse", 43.6047, 1.4442, 7),
          ("Lille", 50.6292, 3.0573, 7), ("Bordeaux", 44.8378, -0.5792, 6),
          ("Nantes", 47.2184, -1.5536, 5), ("Roubaix", 50.6942, 3.1746, 3)]
SERVICES = ["Aide aux démarches administratives", "Maîtrise des outils numériques du quotidien",
            "Utilisation sécurisée du numérique", "Loisirs et créations numériques"]


def national_csv(n):
    with open(f"{SOURCE}/services/venues/seed/demo-roubaix.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0].keys())
    rng = random.Random(42)
    weights = [c[3] for c in CITIES]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writeheader()
    for i in range(n):
        name, lat, lon, _ = rng.choices(CITIES, weights)[0]
        row = dict(rows[i % len(rows)])
        row.update(id=f"bench-{i}", nom=f"Lieu {i} de {name}", commune=name,
                   latitude=f"{lat + rng.gauss(0, 0.06):.6f}",
                   longitude=f"{lon + rng.gauss(0, 0.09):.6f}",
                   services="|".join(rng.sample(SERVICES, 2)))
        w.writerow(row)
    return out.getvalue().encode()


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wrk(url, script, seconds, connections=64):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", script, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def cache_lookups(port):
    """(hits, misses) of the gateway's answer cache so far."""
    found = {"hit": 0.0, "miss": 0.0}
    for line in metrics(port).splitlines():
        m = re.match(r'passerelle_gateway_answer_cache_lookups_total\{result="(\w+)"\} (\S+)',
                     line)
        if m and m.group(1) in found:
            found[m.group(1)] = float(m.group(2))
    return found["hit"], found["miss"]


def cache_mb(port):
    for line in metrics(port).splitlines():
        if line.startswith("passerelle_gateway_answer_cache_bytes "):
            return float(line.split()[1]) / 1e6
    return 0.0


def h2load(port, body_file, seconds, connections=8):
    out = subprocess.run(["h2load", f"-c{connections}", "-m1", "-t2", f"-D{seconds}",
                          "-H", "content-type: application/grpc", "-H", "te: trailers",
                          "-d", body_file,
                          f"http://127.0.0.1:{port}/passerelle.venues.v1.VenueService/SearchVenues"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    ok = int(re.search(r"(\d+) succeeded", out).group(1))
    return rps, ok


def main():
    tmp = tempfile.mkdtemp(prefix="gwbench")
    stack = Stack(BUILD, "gwbench", page_token_key="bench", log_dir=tmp,
                  env={"PASSERELLE_LOG_LEVEL": "warn"})
    ports = stack.ports
    stack.start("venues")
    gateway = stack.start_gateway(ADMIN_KEY, pepper="bench", extra={
        "PASSERELLE_GATEWAY_RATE_LIMITS": "public=1000000:1000000,admin=1000000:1000000"})
    http_port, grpc_port = stack.http_port, stack.grpc_port
    try:
        def call(method, path, body=None, headers=None):
            status, _, data = stack.call(method, path, raw=body, key=ADMIN_KEY, headers=headers,
                                         timeout=600)
            return status, data

        try:
            stack.wait_until_ready("/v1/venues?pageSize=1", key=ADMIN_KEY)
        except RuntimeError as e:
            raise RuntimeError(f"the stack did not start (logs in {tmp}): {e}")
        status, body = call("POST", "/v1/sources?sourceId=bench",
                            json.dumps({"displayName": "Benchmark"}),
                            {"Content-Type": "application/json"})
        assert status == 201, body
        data = national_csv(N)
        t0 = time.time()
        status, body = call("POST", "/v1/sources/bench/venues:import", data,
                            {"Content-Type": "text/csv"})
        import_seconds = time.time() - t0
        assert status == 200, body
        report = json.loads(body)
        assert report.get("created", 0) == N, report

        # Venue names for GET by id, every one of them, from the list (keyset pages of 500).
        names, token = [], ""
        while len(names) < N:
            status, body = call("GET", f"/v1/venues?pageSize=500&pageToken={token}")
            page = json.loads(body)
            names += [v["name"] for v in page["venues"]]
            token = page.get("nextPageToken", "")
            if not token:
                break
        with open(f"{tmp}/ids.txt", "w") as f:
            f.write("\n".join(names) + "\n")
        with open(f"{tmp}/get.lua", "w") as f:
            f.write('local ids = {}\nfor l in io.lines("%s/ids.txt") do ids[#ids+1] = l end\n'
                    'request = function() return wrk.format("GET", "/v1/" .. ids[math.random(#ids)]) end\n'
                    % tmp)
        with open(f"{tmp}/get_nocache.lua", "w") as f:
            f.write('local ids = {}\nfor l in io.lines("%s/ids.txt") do ids[#ids+1] = l end\n'
                    'local h = {["Cache-Control"] = "no-cache"}\n'
                    'request = function() return wrk.format("GET", "/v1/" .. ids[math.random(#ids)], h) end\n'
                    % tmp)
        search = ("/v1/venues:search?near.latitude=48.8566&near.longitude=2.3522"
                  "&near.radiusMeters=5000&services=SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES"
                  "&pageSize=20")
        with open(f"{tmp}/search.lua", "w") as f:
            f.write('request = function() return wrk.format("GET", "%s") end\n' % search)
        status, body = call("GET", search)
        assert status == 200 and len(json.loads(body).get("results", [])) == 20, body[:300]

        # An OGC API items page of 100 (what QGIS asks for while panning), first page.
        ogc = "/ogc/collections/venues/items?limit=100"
        with open(f"{tmp}/ogc.lua", "w") as f:
            f.write('request = function() return wrk.format("GET", "%s") end\n' % ogc)
        status, body = call("GET", ogc)
        assert status == 200 and len(json.loads(body).get("features", [])) == 100, body[:300]

        # The same search as a gRPC frame for h2load.
        sys.path.insert(0, f"{BUILD}/python")
        from passerelle.venues.v1 import venues_pb2 as pb
        req = pb.SearchVenuesRequest(
            near=pb.Circle(latitude=48.8566, longitude=2.3522, radius_meters=5000),
            services=[pb.SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES], page_size=20)
        payload = req.SerializeToString()
        with open(f"{tmp}/body.bin", "wb") as f:
            f.write(b"\x00" + struct.pack(">I", len(payload)) + payload)

        lookups = cache_lookups(gateway.metrics_port)
        get_rps, get_p99, get_bad = wrk(f"http://127.0.0.1:{http_port}", f"{tmp}/get.lua", SECONDS)
        after = cache_lookups(gateway.metrics_port)
        hits, misses = after[0] - lookups[0], after[1] - lookups[1]
        hit_share = hits / max(1.0, hits + misses)
        nocache_rps, nocache_p99, nocache_bad = wrk(f"http://127.0.0.1:{http_port}",
                                                    f"{tmp}/get_nocache.lua", SECONDS)
        rest_rps, rest_p99, rest_bad = wrk(f"http://127.0.0.1:{http_port}", f"{tmp}/search.lua",
                                           SECONDS)
        get16_rps, get16_p99, get16_bad = wrk(f"http://127.0.0.1:{http_port}", f"{tmp}/get.lua",
                                              SECONDS, connections=16)
        rest16_rps, rest16_p99, rest16_bad = wrk(f"http://127.0.0.1:{http_port}",
                                                 f"{tmp}/search.lua", SECONDS, connections=16)
        ogc_rps, ogc_p99, ogc_bad = wrk(f"http://127.0.0.1:{http_port}", f"{tmp}/ogc.lua", SECONDS)
        gw_grpc, gw_ok = h2load(grpc_port, f"{tmp}/body.bin", SECONDS)
        direct_grpc, direct_ok = h2load(ports["venues"], f"{tmp}/body.bin", SECONDS)
        memory = rss_mb(gateway.pid)

        def goal(ok):
            return "meets the goal" if ok else "BELOW the goal"

        print(f"gateway benchmark: {N} venues, {SECONDS} s per scenario, 2 shared cores")
        print(f"  import of {N} rows through REST:         {import_seconds:8.1f} s "
              f"({N / import_seconds:,.0f} rows/s)")
        print(f"  REST GET /v1/venues/{{id}} (wrk, 64 conn): {get_rps:10,.0f} req/s  p99 "
              f"{get_p99:6.2f} ms  non-2xx {get_bad}  -> {goal(get_rps >= 12000)}"
              " (>= 12,000/s; its p99 judged at 16 connections)")
        print(f"    answered from the door's memory:       {100 * hit_share:9.1f} % of "
              f"{hits + misses:,.0f} reads (cache {cache_mb(gateway.metrics_port):.1f} MB after)")
        print(f"  REST GET by id, no-cache (venues asked): {nocache_rps:10,.0f} req/s  p99 "
              f"{nocache_p99:6.2f} ms  non-2xx {nocache_bad}  -> with the cache "
              f"{get_rps / nocache_rps:.2f}x")
        print(f"  REST search 5 km Paris + service (wrk):  {rest_rps:10,.0f} req/s  p99 "
              f"{rest_p99:6.2f} ms  non-2xx {rest_bad}  -> "
              f"{goal(rest_rps >= 4000)} (>= 4,000/s; its p99 judged at 16 connections)")
        print(f"  REST GET by id, 16 connections:          {get16_rps:10,.0f} req/s  p99 "
              f"{get16_p99:6.2f} ms  non-2xx {get16_bad}  -> "
              f"{goal(get16_p99 < 5)} (p99 < 5 ms)")
        print(f"  REST search, 16 connections:             {rest16_rps:10,.0f} req/s  p99 "
              f"{rest16_p99:6.2f} ms  non-2xx {rest16_bad}  -> "
              f"{goal(rest16_p99 < 10)} (p99 < 10 ms)")
        print(f"  OGC items page of 100 (wrk):              {ogc_rps:10,.0f} req/s  p99 "
              f"{ogc_p99:6.2f} ms  non-2xx {ogc_bad}  -> {goal(ogc_rps >= 1000)} (>= 1,000/s)")
        print(f"  gRPC search through the gateway (h2load): {gw_grpc:9,.0f} req/s ({gw_ok} ok)")
        print(f"  gRPC search direct to venues (h2load):    {direct_grpc:9,.0f} req/s ({direct_ok} ok)")
        print(f"  gateway / direct (gRPC):                  {gw_grpc / direct_grpc:9.2f}x")
        print(f"  REST / gRPC through the gateway:          {rest_rps / gw_grpc:9.2f}x")
        print(f"  gateway resident memory:                  {memory:9.1f} MB -> "
              f"{goal(memory < 100)} (< 100 MB)")
        try:
            assert get_bad == 0 and rest_bad == 0 and ogc_bad == 0, "error answers under load"
            assert nocache_bad == 0, "error answers under load"
            assert hits > 0, "no read was answered from the door's memory"
            assert get16_bad == 0 and rest16_bad == 0, "error answers under load"
            assert gw_ok > 0 and direct_ok > 0
        except AssertionError:
            # What the services said about the errors (they log every 5xx).
            for proc in stack.procs:
                print(f"--- {proc.label} log tail ---\n{proc.log_tail()}")
            raise
    finally:
        stack.stop(check=False, timeout=30)


if __name__ == "__main__":
    main()
