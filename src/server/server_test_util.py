#!/usr/bin/env python3
"""Shared by the server tests (server_openai_test.py, server_load_test.py): the venv with the
real `openai` client from PyPI, starting `pagedkv serve` on a free port, raw HTTP, /metrics.

    python3 src/server/server_test_util.py     # make the venv only (scripts/test.sh does this)

The venv (.venv-server-test/, git-ignored) is made once under a lock (the two tests may start
together) and reused while its stamp names the pinned packages.
"""
import fcntl
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, ".venv-server-test")
PINNED = ["openai==3.60.0"]
MODEL = ["--model", "testdata/qwen3", "--tokenizer", "testdata/tokenizers/qwen3-tiny"]


def venv_python():
    return os.path.join(VENV, "bin", "python")


def ensure_venv():
    """Makes the venv with the pinned packages unless it is there already."""
    stamp = os.path.join(VENV, "stamp.json")
    with open("/tmp/pagedkv-server-test-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(stamp) as f:
                if json.load(f) == PINNED:
                    return
        except (OSError, ValueError):
            pass
        print(f"server tests: making {VENV} with {' '.join(PINNED)}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", VENV], check=True)
        subprocess.run([venv_python(), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        *PINNED], check=True)
        with open(stamp, "w") as f:
            json.dump(PINNED, f)


def reexec_in_venv():
    """Runs the calling test script again inside the venv (once)."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    ensure_venv()
    os.execv(venv_python(), [venv_python(), *sys.argv])


def sanitized(binary):
    """Whether the binary runs under AddressSanitizer (scripts/test.sh --sanitize): its allocator
    keeps freed memory in quarantine, so resident-memory figures mean nothing there."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return "libasan" in out


class Server:
    """`pagedkv serve` on 127.0.0.1, a free port chosen by the server itself (--port 0)."""

    def __init__(self, pagedkv, *extra, name="tiny-qwen3"):
        self.name = name
        self.proc = subprocess.Popen([pagedkv, "serve", *MODEL, "--port", "0", "--served-model-name", name,
                                      *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.port = None
        self.log = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("pagedkv serve did not start:\n" + "".join(self.log) + self.proc.stderr.read())
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        """SIGTERM, as an operator would; returns the exit code."""
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.append(self.proc.stderr.read())
        return rc

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self, field="VmRSS"):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return -1

    def http(self, method, path, body=None, raw=None, timeout=60):
        """(status, headers, body text) of one request; body is JSON-encoded, raw sent as is."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def metrics(self):
        """/metrics as {name{labels}: value}."""
        status, _, text = self.http("GET", "/metrics")
        assert status == 200, status
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    def wait_metrics(self, cond, timeout=10.0):
        """Polls /metrics until cond(metrics) holds; returns the last metrics and whether it held."""
        deadline = time.time() + timeout
        while True:
            m = self.metrics()
            if cond(m) or time.time() > deadline:
                return m, cond(m)
            time.sleep(0.02)

    def open_stream(self, path, body):
        """A raw socket that has sent one streaming request (the caller reads or drops it)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        data = json.dumps(body).encode()
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        return s


def read_until(sock, marker, limit=1 << 20):
    """Reads from a raw socket until `marker` (bytes) has arrived (or the peer closed); returns it all."""
    buf = b""
    while marker not in buf and len(buf) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


class Checks:
    """Collects failures; each prints what it ran."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.count = 0

    def check(self, cond, what, detail=""):
        self.count += 1
        if not cond:
            self.failures.append(f"{what}\n    {detail}")
        return cond

    def finish(self):
        for f in self.failures:
            print("FAIL:", f)
        print(f"{self.name}: {self.count - len(self.failures)} passed, {len(self.failures)} failed")
        sys.exit(1 if self.failures else 0)


if __name__ == "__main__":
    ensure_venv()
