#!/usr/bin/env python3
"""`nearcache webhook` over real HTTPS.

The test makes a self-signed certificate with openssl, starts the webhook on
127.0.0.1:<free port>, and talks to it with curl as the API server would:
an AdmissionReview for an annotated Pod comes back allowed, with a base64
JSONPatch that, applied to the Pod, gives it the nearcache sidecar first
among its init containers. Also: no patch for a pod that does not ask, 400
for a body that is not an AdmissionReview, TLS really verified, SIGTERM exits
0, and start-up errors.

Usage: webhook_https_test.py --nearcache BINARY
"""
import argparse
import base64
import copy
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def apply_patch(doc, patch):
    """RFC 6902 "add" (all the webhook emits) on a JSON document."""
    doc = copy.deepcopy(doc)
    for op in patch:
        assert op["op"] == "add", op
        tokens = [t.replace("~1", "/").replace("~0", "~")
                  for t in op["path"].split("/")[1:]]
        parent = doc
        for t in tokens[:-1]:
            parent = parent[int(t)] if isinstance(parent, list) else parent[t]
        last = tokens[-1]
        if isinstance(parent, list):
            if last == "-":
                parent.append(op["value"])
            else:
                parent.insert(int(last), op["value"])
        else:
            parent[last] = op["value"]
    return doc


def pod(annotated=True):
    p = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "model-", "namespace": "ml",
                     "labels": {"app": "model"}},
        "spec": {
            "initContainers": [{"name": "migrate", "image": "migrate:1"}],
            "containers": [{"name": "model", "image": "python:3.11-slim"}],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    }
    if annotated:
        p["metadata"]["annotations"] = {"nearcache.io/inject": "true",
                                        "nearcache.io/max-bytes": "512MiB"}
    return p


def review(obj, uid="9c5b3e8a-1111-4c1e-9d7b-000000000001"):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid,
                        "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1",
                                     "resource": "pods"},
                        "namespace": "ml", "operation": "CREATE",
                        "object": obj}}


class WebhookHttpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="nearcache-webhook-")
        d = pathlib.Path(cls.dir.name)
        cls.cert, cls.key = d / "tls.crt", d / "tls.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-days", "1", "-subj", "/CN=nearcache-injector.test",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(cls.key), "-out", str(cls.cert)],
            check=True, capture_output=True, timeout=60)
        cls.port = free_port()
        cls.log = open(d / "webhook.log", "w+b")
        cls.proc = subprocess.Popen(
            [ARGS.nearcache, "webhook", "--listen", f"127.0.0.1:{cls.port}",
             "--tls-cert", str(cls.cert), "--tls-key", str(cls.key),
             "--image", "nearcache:test"],
            stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while True:
            r = cls.curl("GET", "/healthz", check=False)
            if r.returncode == 0 and r.stdout.startswith(b"ok"):
                break
            if cls.proc.poll() is not None or time.time() > deadline:
                cls.log.seek(0)
                raise RuntimeError("webhook did not start:\n" +
                                   cls.log.read().decode(errors="replace"))
            time.sleep(0.1)

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.kill()
            cls.proc.wait()
        cls.log.close()
        cls.dir.cleanup()

    @classmethod
    def curl(cls, method, path, body=None, check=True, extra=()):
        cmd = ["curl", "-sS", "--max-time", "10", "--cacert", str(cls.cert),
               "-X", method, *extra]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json",
                    "--data-binary", "@-"]
        cmd.append(f"https://127.0.0.1:{cls.port}{path}")
        r = subprocess.run(cmd, input=body, capture_output=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"curl failed: {r.stderr.decode()}")
        return r

    def post_review(self, obj):
        r = self.curl("POST", "/mutate?timeout=10s",
                      json.dumps(review(obj)).encode())
        return json.loads(r.stdout)

    def test_annotated_pod_gets_the_sidecar(self):
        answer = self.post_review(pod())
        self.assertEqual(answer["apiVersion"], "admission.k8s.io/v1")
        self.assertEqual(answer["kind"], "AdmissionReview")
        response = answer["response"]
        self.assertEqual(response["uid"], "9c5b3e8a-1111-4c1e-9d7b-000000000001")
        self.assertIs(response["allowed"], True)
        self.assertEqual(response["patchType"], "JSONPatch")
        patch = json.loads(base64.b64decode(response["patch"]))

        out = apply_patch(pod(), patch)
        init = out["spec"]["initContainers"]
        self.assertEqual([c["name"] for c in init], ["nearcache", "migrate"])
        sidecar = init[0]
        self.assertEqual(sidecar["image"], "nearcache:test")
        self.assertEqual(sidecar["restartPolicy"], "Always")
        self.assertEqual(sidecar["args"],
                         ["--config", "/etc/nearcache/nearcache.yaml"])
        self.assertEqual(sidecar["startupProbe"]["httpGet"],
                         {"path": "/healthz", "port": "admin"})
        self.assertEqual(sidecar["readinessProbe"]["httpGet"],
                         {"path": "/readyz", "port": "admin"})
        self.assertEqual(sidecar["livenessProbe"]["httpGet"],
                         {"path": "/healthz", "port": "admin"})
        self.assertEqual(sidecar["resources"]["limits"]["memory"], "653Mi")
        self.assertEqual([v["name"] for v in out["spec"]["volumes"]],
                         ["data", "nearcache-sockets", "nearcache-config"])
        model = out["spec"]["containers"][0]
        self.assertIn({"name": "nearcache-sockets",
                       "mountPath": "/var/run/nearcache"}, model["volumeMounts"])
        self.assertIn({"name": "NEARCACHE_SOCKET",
                       "value": "/var/run/nearcache/redis.sock"}, model["env"])
        self.assertEqual(out["metadata"]["labels"],
                         {"app": "model", "nearcache.io/sidecar": "true"})

        # The patched pod, reviewed again, is left alone.
        again = self.post_review(out)["response"]
        self.assertIs(again["allowed"], True)
        self.assertNotIn("patch", again)

    def test_pod_that_does_not_ask_is_allowed_unchanged(self):
        response = self.post_review(pod(annotated=False))["response"]
        self.assertIs(response["allowed"], True)
        self.assertNotIn("patch", response)
        self.assertNotIn("patchType", response)

    def test_not_an_admission_review_is_400(self):
        r = self.curl("POST", "/mutate", b'{"kind": "Pod"}',
                      extra=("-o", "/dev/null", "-w", "%{http_code}"))
        self.assertEqual(r.stdout, b"400")
        r = self.curl("GET", "/nowhere",
                      extra=("-o", "/dev/null", "-w", "%{http_code}"))
        self.assertEqual(r.stdout, b"404")

    def test_tls_is_verified(self):
        r = subprocess.run(
            ["curl", "-sS", "--max-time", "10",
             f"https://127.0.0.1:{self.port}/healthz"],
            capture_output=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, "a self-signed cert was accepted")

    def test_zz_sigterm_exits_0(self):  # runs last: stops the server
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=15), 0)


class WebhookStartTest(unittest.TestCase):
    def run_webhook(self, *args):
        return subprocess.run([ARGS.nearcache, "webhook", *args],
                              capture_output=True, timeout=30)

    def test_missing_tls_flags_is_usage(self):
        self.assertEqual(self.run_webhook("--listen", "127.0.0.1:0").returncode, 2)

    def test_unreadable_certificate_fails_to_start(self):
        r = self.run_webhook("--listen", "127.0.0.1:0",
                             "--tls-cert", "/nonexistent/tls.crt",
                             "--tls-key", "/nonexistent/tls.key")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"--tls-cert", r.stderr)

    def test_bad_address_fails_to_start(self):
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "c"), os.path.join(d, "k")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                            "-nodes", "-days", "1", "-subj", "/CN=x",
                            "-keyout", key, "-out", cert],
                           check=True, capture_output=True, timeout=60)
            r = self.run_webhook("--listen", "nowhere", "--tls-cert", cert,
                                 "--tls-key", key)
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"--listen", r.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--nearcache", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
