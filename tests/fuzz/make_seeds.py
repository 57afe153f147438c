#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

The seeds are committed; rerun this after changing it (it replaces the
seed_* files and leaves any other file, e.g. a minimized crash, alone).
Deterministic: the same script writes the same bytes.
"""
import hashlib
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed_"):
            os.remove(os.path.join(d, name))
    for data in seeds:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        name = "seed_" + hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def multibulk(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


# ---- fuzz_request_parser: 4 header bytes (limits, cutting), then a stream.
# 0x3f/0x3f: the largest limits; 0x00: the smallest. See request_parser_fuzz.cc.
def parser_seeds():
    streams = [
        multibulk("GET", "foo"),
        multibulk("MGET", "a", "b", "c") + multibulk("PING"),
        multibulk("HMGET", b"k\x00\r\nk", ""),
        b"PING\r\n",
        b"GET foo\r\nPING\n",
        b"SET  'a b'  \"c\\x00d\\n\\t\\\\\"\n",
        b"ECHO \"unbalanced\r\n",
        b"ECHO 'x'y\r\n",
        b"\r\n*0\r\n*-1\r\n   \t \n" + multibulk("PING"),
        b"*2\r\n$3\r\nGET\r\n$3\r\nfo",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$01\r\nx\r\n",
        b"*3000000\r\n",
        b"*1\r\nx3\r\nGET\r\n",
        b"*1\r\n$99999999999999999999\r\n",
        b"*-9223372036854775808\r\n",
        b"*\x00\r\n",
        b"PI\x00NG\r\n",
        b"*2\r\n$3\r\nGET\r\n$70000\r\n" + b"v" * 100,
        b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
        multibulk("CLIENT", "SETNAME", "x" * 40) * 3,
        b"A" * 300 + b"\r\n",
    ]
    seeds = []
    for i, s in enumerate(streams):
        for header in (b"\x3f\x3f\x00\x00", b"\x3f\x3f\x01\x07",
                       bytes([i * 37 % 64, i * 11 % 64, i % 16, i])):
            seeds.append(header + s)
    return seeds


# ---- fuzz_reply_writer: a FuzzedDataProvider program; any bytes will do.
def writer_seeds():
    rng = random.Random(1)
    seeds = []
    for n in (8, 32, 64, 128, 256, 512, 1024, 4096):
        for _ in range(3):
            seeds.append(bytes(rng.randrange(256) for _ in range(n)))
    return seeds


# ---- fuzz_config: YAML files.
def config_seeds():
    seeds = [
        "",
        "# only a comment\n",
        "cache:\nlisten:\n",
        "listen:\n  threads: 4\n",
        "redis:\n  address: redis://user:p%40ss@redis:6390/2\n",
        "redis:\n  address: rediss://[::1]:6380/1\n  tls:\n    verify: false\n"
        "    server_name: redis.internal\n",
        "redis:\n  address: unix:///var/run/redis.sock?db=3\n",
        "cache:\n  ttl: 1.5s\n  max_stale: 1m30s\n  max_bytes: 1.5KiB\n"
        "  negative_ttl: 0\n  shards: 3\n",
        "invalidation:\n  tracking_prefixes: [\"user:\", \"item:\"]\n"
        "  channel: \"\"\n",
        "listen:\n  allowed_uids: [0, 1000]\n  socket_mode: \"0o640\"\n"
        "  resp_tcp: \"[::1]:6380\"\n  http_socket: \"\"\n",
        "log: {level: warn, format: text}\n",
        "a: 1\n---\nb: 2\n",
        "cache:\n  ttl: 30s\n  ttl: 40s\n",
        "cahce:\n  tll: 3s\n",
        "listen: [1, 2]\n",
        "redis:\n  address: &a redis://x:1/0\n  username: *a\n",
        "log:\n  level: \"\\x01\"\n",
    ]
    for path in ("config/nearcache.yaml", "deploy/config/nearcache.yaml"):
        full = os.path.join(ROOT, path)
        if os.path.exists(full):
            with open(full, "rb") as f:
                seeds.append(f.read())
    test = os.path.join(ROOT, "tests/config/config_test.cc")
    if os.path.exists(test):
        text = open(test, encoding="utf-8").read()
        start = text.find('kEveryKey[] = R"(')
        if start >= 0:
            start += len('kEveryKey[] = R"(')
            seeds.append(text[start:text.find(')"', start)])
    return seeds


# ---- fuzz_config_values: byte 0 picks the parser (0 duration, 1 size,
# 2 address), the rest is the text.
def value_seeds():
    durations = ["30s", "1m30s", "1.5s", "0", "250ms", ".5h", "0.000001ms",
                 "1h 2m", "8760000h", "1.0000000001s"]
    sizes = ["256MiB", "1.5KiB", "1000", "64KB", "0B", "16TiB", "1.25 GiB",
             "18446744073709551615"]
    addresses = ["redis://localhost:6379/0", "rediss://u:p%41@h:1/15",
                 "redis://[::1]:6380", "unix:///tmp/r.sock?db=2",
                 "redis://h", "REDIS://H:65535/", "redis://:pw@h/0",
                 "redis://u@h?db=1"]
    return ([b"\x00" + d.encode() for d in durations] +
            [b"\x01" + s.encode() for s in sizes] +
            [b"\x02" + a.encode() for a in addresses])


# ---- fuzz_http_api: byte 0 picks the method (0 GET, 1 POST, 2 HEAD, 3 PUT,
# 4 DELETE, 5 OPTIONS, 6 PATCH, 7 a custom one), then "TARGET\nBODY". The
# key's last byte picks what the fake Redis answers (see http_api_fuzz.cc).
def http_seeds():
    get, post = b"\x00", b"\x01"
    return [
        get + b"/v1/keys/user:1",
        get + b"/v1/keys/user%3A2",
        get + b"/v1/keys/a/b%00c",
        get + b"/v1/keys/",
        get + b"/v1/keys/%zz",
        get + b"/v1/hashes/h4",
        get + b"/v1/hashes/h5?fields=f,bin,missing",
        get + b"/v1/hashes/h5?fields=a%2Cb+c&x=1",
        get + b"/v1/hashes/k1",
        get + b"/v1/keys/h4",
        get + b"/v1/keys/k6",
        get + b"/v1/keys/k7",
        get + b"/v1/lookup",
        get + b"/nope",
        post + b"/v1/lookup\n{\"keys\": [\"k1\", \"k2\", \"k3\", \"k6\", \"k7\"]}",
        post + b"/v1/lookup\n{\"keys\": [\"h4\", \"k1\"], \"type\": \"hash\"}",
        post + b"/v1/lookup\n{\"keys\": [\"YQ==\", \"/w==\"], \"encoding\": \"base64\"}",
        post + b"/v1/lookup\n{\"keys\": [1]}",
        post + b"/v1/lookup\n{\"keys\": \"k\"}",
        post + b"/v1/lookup\n[1, 2]",
        post + b"/v1/lookup\n{\"keys\": [\"\\u0000\\ud800\"]}",
        post + b"/v1/lookup\nnot json",
        post + b"/v1/keys/k1",
        b"\x03/v1/keys/k1",
        b"\x07/v1/lookup\n{}",
    ]


# ---- fuzz_resp_handler: byte 0 seeds the read sizes, the rest is what a
# client sends. Keys end in the byte that picks the fake Redis's answer.
def handler_seeds():
    sessions = [
        [("GET", "k1")],
        [("GET", "k1"), ("GET", "k1"), ("MGET", "k0", "k1", "k3", "k6", "k7")],
        [("HGET", "h4", "f"), ("HMGET", "h5", "f", "bin", "x"),
         ("HGETALL", "h4"), ("EXISTS", "k1", "k0", "h4")],
        [("HGET", "k1", "f"), ("GET", "h4"), ("HGETALL", "k6")],
        [("PING",), ("PING", "hi"), ("ECHO", "x"), ("SELECT", "0"),
         ("SELECT", "1")],
        [("HELLO",), ("HELLO", "2"), ("HELLO", "3"),
         ("HELLO", "2", "SETNAME", "n")],
        [("INFO",), ("INFO", "server"), ("INFO", "keyspace", "stats")],
        [("CLIENT", "SETNAME", "me"), ("CLIENT", "GETNAME"), ("CLIENT", "ID"),
         ("CLIENT", "SETINFO", "LIB-NAME", "x"), ("CLIENT", "INFO"),
         ("CLIENT", "NOPE"), ("CLIENT",)],
        [("COMMAND",), ("COMMAND", "COUNT"), ("COMMAND", "DOCS", "get"),
         ("COMMAND", "INFO", "get", "nope")],
        [("SET", "k", "v"), ("TTL", "k"), ("SUBSCRIBE", "c"), ("FOO", "a"),
         ("GET",), ("GET", "a", "b")],
        [("GET", "k1"), ("QUIT",), ("GET", "k2")],
    ]
    seeds = []
    for i, session in enumerate(sessions):
        stream = b"".join(multibulk(*c) for c in session)
        seeds.append(bytes([i]) + stream)
        seeds.append(bytes([2 * i + 1]) + stream)
    seeds.append(b"\x00GET k1\r\nMGET k1 k2\r\nPOST / HTTP/1.1\r\n")
    seeds.append(b"\x01" + multibulk("GET", "k1") + b"*1\r\nx\r\n")
    seeds.append(b"\x00" + multibulk("GET", "k1") + b"$3\r\n")
    return seeds


def main():
    write("fuzz_request_parser", parser_seeds())
    write("fuzz_reply_writer", writer_seeds())
    write("fuzz_config", config_seeds())
    write("fuzz_config_values", value_seeds())
    write("fuzz_http_api", http_seeds())
    write("fuzz_resp_handler", handler_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
