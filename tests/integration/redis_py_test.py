"""redis-py against nearcache, as a model container (and Feast) uses it.

Starts its own redis-server and nearcache (the binary path is the
--nearcache argument) on temporary unix sockets, and compares what redis-py
gets from nearcache with what it gets from Redis directly.

Run with Debian's /usr/bin/python3, which has python3-redis:
  /usr/bin/python3 redis_py_test.py --nearcache build/src/app/nearcache
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

import redis

NEARCACHE = None
REDIS_SERVER = os.environ.get("NEARCACHE_REDIS_SERVER", "/usr/bin/redis-server")
START_TIMEOUT = 20.0
CLIENT_TIMEOUT = 10.0


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (redis.exceptions.RedisError, OSError) as e:
            last = e
        time.sleep(0.02)
    raise AssertionError(f"{what} within {timeout}s (last error: {last})")


def murmur3_32(data, seed=0):
    """Feast's field-name hash (mmh3.hash(..., signed=False) as 4 LE bytes)."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed
    n = len(data) // 4
    for i in range(n):
        k = struct.unpack_from("<I", data, i * 4)[0]
        k = (k * c1) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        k = (k * c2) & 0xFFFFFFFF
        h ^= k
        h = ((h << 13) | (h >> 19)) & 0xFFFFFFFF
        h = (h * 5 + 0xE6546B64) & 0xFFFFFFFF
    tail = data[n * 4:]
    k = 0
    for i, b in enumerate(tail):
        k |= b << (8 * i)
    if tail:
        k = (k * c1) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        k = (k * c2) & 0xFFFFFFFF
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return struct.pack("<I", h)


def entity_key(project, driver_id):
    """A Feast-style serialized entity key: binary, with NUL bytes."""
    name = b"driver_id"
    return (struct.pack("<I", 2) + struct.pack("<I", len(name)) + name +
            struct.pack("<I", 4) + struct.pack("<I", 8) +
            struct.pack("<q", driver_id) + project.encode())


class Servers:
    """A redis-server and a nearcache in front of it, on temporary sockets."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nearcache-py-")
        self.redis_sock = os.path.join(self.dir, "redis.sock")
        self.nc_sock = os.path.join(self.dir, "nearcache.sock")
        self.redis_proc = None
        self.nc_proc = None
        self.nc_log = os.path.join(self.dir, "nearcache.log")

    def start(self):
        self.start_redis()
        config = os.path.join(self.dir, "nearcache.yaml")
        with open(config, "w") as f:
            f.write(f"""listen:
  resp_socket: "{self.nc_sock}"
  http_socket: ""
admin:
  address: 127.0.0.1:{_free_port()}
redis:
  address: "unix://{self.redis_sock}"
  command_timeout: 2s
  connect_timeout: 2s
  reconnect_min: 20ms
  reconnect_max: 200ms
cache:
  ttl: 30s
  max_stale: 10m
invalidation:
  tracking: false
  channel: ""
log:
  format: text
""")
        log = open(self.nc_log, "ab")
        self.nc_proc = subprocess.Popen([NEARCACHE, "--config", config],
                                        stdout=log, stderr=log,
                                        preexec_fn=_die_with_parent)
        log.close()
        probe = redis.Redis(unix_socket_path=self.nc_sock,
                            socket_timeout=CLIENT_TIMEOUT)

        def ready():
            if self.nc_proc.poll() is not None:
                raise AssertionError(
                    f"nearcache exited ({self.nc_proc.returncode}): {self.log()}")
            probe.get("__redis_py_ready__")  # raises until Redis is reachable
            return True

        _wait_until(ready, START_TIMEOUT, "nearcache answering and reaching Redis")
        probe.close()

    def start_redis(self):
        self.redis_proc = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", self.redis_sock,
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        r = redis.Redis(unix_socket_path=self.redis_sock, socket_timeout=1)
        _wait_until(r.ping, START_TIMEOUT, "redis-server answering PING")
        r.close()

    def kill_redis(self):
        if self.redis_proc is not None:
            self.redis_proc.kill()
            self.redis_proc.wait()
            self.redis_proc = None

    def log(self):
        try:
            with open(self.nc_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM nearcache; returns its exit code."""
        code = None
        if self.nc_proc is not None:
            self.nc_proc.send_signal(signal.SIGTERM)
            try:
                code = self.nc_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.nc_proc.kill()
                self.nc_proc.wait()
            self.nc_proc = None
        self.kill_redis()
        return code

    def cleanup(self):
        if self.nc_proc is not None:
            self.nc_proc.kill()
            self.nc_proc.wait()
        self.kill_redis()
        shutil.rmtree(self.dir, ignore_errors=True)


def _die_with_parent():
    # PR_SET_PDEATHSIG: a crashed test run leaves no server behind.
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except OSError:
        pass


FEATURES = [f"conv_rate_{i}" for i in range(6)]
VIEW = "driver_hourly_stats"


class RedisPyTest(unittest.TestCase):

    def setUp(self):
        # redis-py's pools close their sockets lazily.
        warnings.simplefilter("ignore", ResourceWarning)
        self._problems_before = self._problems()
        self.servers = Servers()
        self.servers.start()
        self.direct = redis.Redis(unix_socket_path=self.servers.redis_sock,
                                  socket_timeout=CLIENT_TIMEOUT)
        self.nc = redis.Redis(unix_socket_path=self.servers.nc_sock,
                              socket_timeout=CLIENT_TIMEOUT)
        self.load()

    def _problems(self):
        result = self._outcome.result
        return len(result.failures) + len(result.errors)

    def _failed(self):
        outcome = self._outcome
        if hasattr(outcome, "errors"):  # Python <= 3.10 adds them later
            return any(exc for _, exc in outcome.errors)
        return self._problems() > self._problems_before

    def tearDown(self):
        failed = self._failed()
        self.nc.close()
        self.direct.close()
        if failed:
            sys.stderr.write("---- nearcache log ----\n" + self.servers.log() +
                             "---- end of nearcache log ----\n")
        self.servers.cleanup()

    def load(self):
        d = self.direct
        d.set("s", "hello")
        d.set(b"bin\x00key\r\n", b"\x00\xff\r\nvalue")
        d.hset("h", mapping={"a": "1", "b": "2", b"c\x00": b"\x00"})
        d.set("n", 42)
        self.fields = [murmur3_32(f"{VIEW}:{f}".encode()) for f in FEATURES]
        # Feast's layout: one hash per entity, a field per feature (murmur3
        # of "view:feature") and the view's timestamp under "_ts:<view>".
        self.entities = [entity_key("proj", i) for i in range(200)]
        pipe = d.pipeline(transaction=False)
        for i, key in enumerate(self.entities):
            if i % 10 == 9:
                continue  # some entities are not materialized
            mapping = {f: struct.pack("<d", i * 0.5 + j)
                       for j, f in enumerate(self.fields)}
            mapping[f"_ts:{VIEW}".encode()] = struct.pack("<q", 1700000000 + i)
            pipe.hset(key, mapping=mapping)
        pipe.execute()

    def feast_read(self, client):
        pipe = client.pipeline(transaction=False)
        for key in self.entities:
            pipe.hmget(key, self.fields + [f"_ts:{VIEW}".encode()])
        return pipe.execute()

    def test_basic_commands_match_redis(self):
        for c in (self.nc, self.direct):
            self.assertTrue(c.ping())
        self.assertEqual(self.nc.get("s"), b"hello")
        self.assertIsNone(self.nc.get("missing"))
        self.assertEqual(self.nc.get(b"bin\x00key\r\n"), b"\x00\xff\r\nvalue")
        self.assertEqual(self.nc.get("n"), b"42")
        for _ in range(2):  # a miss, then a hit
            self.assertEqual(self.nc.mget(["s", "missing", "n"]),
                             self.direct.mget(["s", "missing", "n"]))
            self.assertEqual(self.nc.hget("h", "a"), b"1")
            self.assertIsNone(self.nc.hget("h", "zz"))
            self.assertEqual(self.nc.hmget("h", ["b", "zz", b"c\x00"]),
                             [b"2", None, b"\x00"])
            self.assertEqual(self.nc.hgetall("h"), self.direct.hgetall("h"))
            self.assertEqual(self.nc.hgetall("missing"), {})
            self.assertEqual(self.nc.exists("s", "s", "h", "missing"), 3)
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            self.nc.get("h")
        self.assertIn("WRONGTYPE", str(cm.exception))
        info = self.nc.info()
        self.assertIn("redis_version", info)
        self.assertIsInstance(self.nc.info("stats"), dict)
        self.assertTrue(self.nc.client_setname("model"))
        self.assertIn(self.nc.client_getname(), ("model", b"model"))
        self.assertIsInstance(self.nc.client_id(), int)
        self.assertTrue(self.nc.execute_command("SELECT", 0))

    def test_feast_pipeline_matches_redis(self):
        want = self.feast_read(self.direct)
        self.assertEqual(len(want), 200)
        self.assertEqual(want[9], [None] * (len(FEATURES) + 1))
        self.assertEqual(self.feast_read(self.nc), want)  # misses
        gets = self.direct.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0)
        self.assertEqual(self.feast_read(self.nc), want)  # hits
        after = self.direct.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0)
        self.assertEqual(after, gets, "the second pipeline read from Redis")
        # A pipeline mixing commands, like a model that reads several views.
        pipe = self.nc.pipeline(transaction=False)
        pipe.get("s").hgetall("h").mget("s", "missing").exists("s").ping()
        self.assertEqual(pipe.execute(),
                         [b"hello", self.direct.hgetall("h"), [b"hello", None], 1, True])

    def test_writes_raise_read_only_errors(self):
        for write in (lambda: self.nc.set("s", "changed"),
                      lambda: self.nc.delete("s"),
                      lambda: self.nc.hset("h", "a", "9"),
                      lambda: self.nc.incr("n")):
            with self.assertRaises(redis.exceptions.ResponseError) as cm:
                write()
            self.assertIn("read-only", str(cm.exception))
            self.assertEqual(self.nc.get("s"), b"hello")  # still usable
        self.assertEqual(self.direct.get("s"), b"hello")
        self.assertEqual(self.direct.hget("h", "a"), b"1")
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            self.nc.execute_command("FROBNICATE")
        self.assertIn("read-only", str(cm.exception))
        # A transactional pipeline (MULTI) is refused, not half-applied.
        with self.assertRaises(redis.exceptions.ResponseError):
            self.nc.pipeline(transaction=True).get("s").execute()
        self.assertEqual(self.nc.get("s"), b"hello")

    def test_cached_answers_survive_redis_death(self):
        want = self.feast_read(self.direct)
        self.assertEqual(self.feast_read(self.nc), want)
        hash_want = self.direct.hgetall("h")
        self.assertEqual(self.nc.get("s"), b"hello")
        self.assertEqual(self.nc.hgetall("h"), hash_want)
        self.servers.kill_redis()
        # Everything read before is still served, by a new client as well.
        for client in (self.nc, redis.Redis(unix_socket_path=self.servers.nc_sock,
                                            socket_timeout=CLIENT_TIMEOUT)):
            self.assertEqual(self.feast_read(client), want)
            self.assertEqual(client.get("s"), b"hello")
            self.assertEqual(client.hgetall("h"), hash_want)
            self.assertEqual(client.mget(["s", "s"]), [b"hello", b"hello"])
            self.assertTrue(client.ping())
            # What was never read fails clearly, and quickly.
            with self.assertRaises(redis.exceptions.ResponseError) as cm:
                client.get("never-read")
            self.assertIn("nearcache", str(cm.exception))
            client.close()
        self.assertEqual(self.servers.stop(), 0)
        self.assertFalse(os.path.exists(self.servers.nc_sock))


def main():
    global NEARCACHE
    parser = argparse.ArgumentParser()
    parser.add_argument("--nearcache", required=True)
    args, rest = parser.parse_known_args()
    NEARCACHE = os.path.abspath(args.nearcache)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
