"""The stack the gateway's Python tests run against, written once: the real passerelle binaries
(venues, referential, sync, gateway) on free ports, each in its own schema of the test
command's throw-away PostgreSQL and under its own NATS prefix, plus the plain HTTP calls every
script makes (a request, an API key, waiting for the door to answer).

Used by tests/e2e/*.py and tests/perf/gateway_bench.py (which adds this directory to sys.path):

    stack = Stack(BUILD, "gwe2e", page_token_key="...")
    stack.start("venues")
    stack.start_gateway(ADMIN_KEY, pepper="...")
    stack.wait_until_ready("/v1/nomenclatures")
    status, headers, body = stack.call("GET", "/v1/venues", key=ADMIN_KEY)
    ...
    stack.stop()   # SIGTERM, exit codes checked, schemas dropped
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time


_given_ports = set()


def free_port():
    """A port a server may bind. Taken below the kernel's ephemeral range (32768-60999 on
    Debian): a port the kernel handed out by bind(0) and freed at once may be handed out again
    to any client connection before the server binds it (a map_e2e start failed so). Random,
    checked free, and never given twice by one process."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        if port in _given_ports:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _given_ports.add(port)
        return port
    raise RuntimeError("no free port between 20000 and 32000")


def http_call(port, method, path, body=None, key=None, headers=None, raw=None, timeout=30):
    """One request on a fresh connection: (status, lower-cased headers, body bytes). `body` is
    sent as JSON, `raw` as it is."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = dict(headers or {})
        if key:
            h["Authorization"] = f"Bearer {key}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
    finally:
        conn.close()


class Process:
    """One started binary: its Popen, its log file and the address it serves."""

    def __init__(self, label, popen, log, log_path):
        self.label, self.popen, self.log, self.log_path = label, popen, log, log_path
        self.killed = False  # SIGKILLed on purpose: its exit code is not a failure

    @property
    def pid(self):
        return self.popen.pid

    def exited(self):
        return self.popen.poll() is not None

    def log_tail(self, chars=3000):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-chars:]

    def kill(self):
        """SIGKILL: the crash of a process, nothing flushed, nothing closed."""
        self.killed = True
        self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait(timeout=30)

    def thread_dump(self):
        """Every thread's stack (gdb attached for a moment): what a process that will not stop
        waits for."""
        if shutil.which("gdb") is None:
            return "(no gdb to show them)"
        try:
            out = subprocess.run(["gdb", "-p", str(self.pid), "-batch", "-nx",
                                  "-ex", "thread apply all bt 25"],
                                 capture_output=True, text=True, timeout=60).stdout
        except subprocess.TimeoutExpired:
            return "(gdb did not answer within 60 s)"
        return "\n".join(line for line in out.splitlines()
                         if line.startswith(("Thread ", "#")))

    def terminate(self):
        if not self.exited():
            self.popen.terminate()

    def wait(self, timeout=30):
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            threads = self.thread_dump()
            self.popen.kill()
            self.popen.wait()
            return f"still running after {timeout} s (killed); its threads:\n{threads}"
        finally:
            self.log.close()


class Stack:
    """Binaries of one build tree sharing a schema prefix `<prefix>_<pid>_<random>`: service
    `name` uses schema `<prefix>_…_<name>` (a gateway replica shares its schema with the first
    gateway)."""

    def __init__(self, build, prefix, page_token_key, log_dir="/tmp", env=None):
        self.build = build
        self.schema = f"{prefix}_{os.getpid()}_{random.randint(0, 99999)}"
        self.page_token_key = page_token_key
        self.log_dir = log_dir
        self.common_env = dict(env or {})
        self.procs = []  # every Process started, in order
        self.ports = {}  # service name -> internal gRPC port of its first instance
        self.schemas = set()
        self.http_port = None  # the first gateway's doors
        self.grpc_port = None

    def start(self, name, extra=None, label=None, grpc_port=None):
        """Starts passerelle-<name> with `extra` environment; `label` names its log (default:
        the name). The first instance of a service gets self.ports[name]."""
        label = label or name
        if grpc_port is None:
            grpc_port = self.ports.get(name) if label == name else None
            grpc_port = grpc_port or free_port()
        self.ports.setdefault(name, grpc_port)
        self.schemas.add(name)
        metrics_port = free_port()
        env = dict(os.environ,
                   PASSERELLE_DATABASE_URL=os.environ["PASSERELLE_TEST_DATABASE_URL"],
                   PASSERELLE_DATABASE_SCHEMA=f"{self.schema}_{name}",
                   PASSERELLE_NATS_URL=os.environ["PASSERELLE_TEST_NATS_URL"],
                   PASSERELLE_NATS_PREFIX=self.schema,
                   PASSERELLE_PAGE_TOKEN_KEY=self.page_token_key,
                   PASSERELLE_GRPC_ADDRESS=f"127.0.0.1:{grpc_port}",
                   PASSERELLE_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}",
                   **self.common_env)
        env.update(extra or {})
        log_path = f"{self.log_dir}/{self.schema}_{label}.log"
        log = open(log_path, "a")
        popen = subprocess.Popen([f"{self.build}/services/{name}/passerelle-{name}"], env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
        proc = Process(label, popen, log, log_path)
        proc.metrics_port = int(env["PASSERELLE_METRICS_ADDRESS"].rsplit(":", 1)[1])
        self.procs.append(proc)
        return proc

    def backend_addresses(self):
        """The gateway's backends: the services started so far (an unreachable port for the
        others)."""
        return {f"PASSERELLE_{n.upper()}_ADDRESS":
                f"127.0.0.1:{self.ports[n]}" if n in self.ports else "127.0.0.1:1"
                for n in ("venues", "referential", "sync", "notifications", "indicators")}

    def start_gateway(self, admin_key, pepper, extra=None, label="gateway", http_port=None,
                      grpc_port=None, internal_port=None):
        """A gateway in front of the services started so far. The first one's doors are
        self.http_port and self.grpc_port; pass the same ports to restart it in place."""
        http_port = http_port or free_port()
        grpc_port = grpc_port or free_port()
        env = dict(self.backend_addresses(),
                   PASSERELLE_GATEWAY_HTTP_ADDRESS=f"127.0.0.1:{http_port}",
                   PASSERELLE_GATEWAY_GRPC_ADDRESS=f"127.0.0.1:{grpc_port}",
                   PASSERELLE_GATEWAY_KEY_PEPPER=pepper)
        if admin_key:
            env["PASSERELLE_GATEWAY_BOOTSTRAP_KEY"] = admin_key
        env.update(extra or {})
        if self.http_port is None:
            self.http_port, self.grpc_port = http_port, grpc_port
        proc = self.start("gateway", env, label=label, grpc_port=internal_port)
        proc.http_port, proc.grpc_port = http_port, grpc_port
        return proc

    def wait_until_ready(self, path, key=None, port=None, timeout=60, procs=None):
        """Polls GET `path` on the REST door until it answers 200; fails with the log of a
        process that exited meanwhile."""
        port = port or self.http_port
        deadline = time.time() + timeout
        while True:
            try:
                if http_call(port, "GET", path, key=key, timeout=10)[0] == 200:
                    return
            except OSError:
                pass
            for proc in procs or self.procs:
                if proc.exited():
                    raise RuntimeError(f"{proc.label} exited at start:\n{proc.log_tail()}")
            if time.time() > deadline:
                raise RuntimeError(f"the gateway on port {port} did not answer within "
                                   f"{timeout} s")
            time.sleep(0.2)

    def call(self, method, path, body=None, key=None, headers=None, raw=None, timeout=30,
             port=None):
        return http_call(port or self.http_port, method, path, body, key, headers, raw, timeout)

    def make_key(self, admin_key, scopes, organisation="", sources=()):
        """A new API key's secret (POST /v1/apiKeys with the administrator key)."""
        status, _, body = self.call("POST", "/v1/apiKeys", {
            "displayName": "e2e", "scopes": scopes, "organisation": organisation,
            "sources": list(sources)}, key=admin_key)
        assert status == 201, body
        return json.loads(body)["secret"]

    def stop(self, check=True, timeout=20):
        """SIGTERM to every process still running (last started first), then drops the schemas.
        With `check`, fails unless each one stopped cleanly (exit code 0), except those killed
        on purpose."""
        for proc in reversed(self.procs):
            proc.terminate()
        failed = []
        for proc in self.procs:
            code = proc.wait(timeout=timeout)
            if code != 0 and not proc.killed:
                failed.append(f"{proc.label} did not stop cleanly ({code}):\n"
                              f"{proc.log_tail(1500)}")
        for name in sorted(self.schemas):
            subprocess.run(["psql", os.environ["PASSERELLE_TEST_DATABASE_URL"], "-qc",
                            f"SET client_min_messages = warning; "
                            f'DROP SCHEMA IF EXISTS "{self.schema}_{name}" CASCADE'],
                           check=check)
        if check and failed:
            raise AssertionError("\n".join(failed))
