#!/usr/bin/env python3
"""`nearcache inject` as a command.

- Every testdata/NAME.yaml injects to testdata/NAME.golden.yaml, read from a
  file (-f), from stdin, and again from the golden (idempotent).
- Nothing but the injection changes, types included: both the input and the
  output are read with PyYAML (YAML 1.1, as Kubernetes' reader), the
  injected parts are taken out of both, and what is left must be equal, so
  a quoted "0755" or "yes" must still be a string and 80 still a number.
- Bad input exits 1 with a message naming the document and nothing on
  stdout; bad usage exits 2.

Usage: inject_cli_test.py --nearcache BINARY --testdata DIR
"""
import argparse
import copy
import pathlib
import subprocess
import sys
import unittest

import yaml

ARGS = None
IMAGE = "nearcache:0.1.0"  # what the goldens were made with

INJECTED_ENV = {
    "NEARCACHE_SOCKET": "/var/run/nearcache/redis.sock",
    "NEARCACHE_HTTP_SOCKET": "/var/run/nearcache/http.sock",
}


def run(*args, stdin=None):
    return subprocess.run([ARGS.nearcache, "inject", *args], input=stdin,
                          capture_output=True, timeout=60)


def pod_templates(obj):
    """The pod templates (dicts with metadata/spec) inside a manifest."""
    if not isinstance(obj, dict):
        return []
    kind = obj.get("kind")
    if kind == "List":
        return [t for item in obj.get("items") or [] for t in pod_templates(item)]
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return [obj]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                "ReplicationController", "Job"):
        return [spec.get("template") or {}]
    if kind == "CronJob":
        return [((spec.get("jobTemplate") or {}).get("spec") or {})
                .get("template") or {}]
    return []


def drop_if_empty(parent, key):
    if key in parent and parent[key] in ({}, [], None):
        del parent[key]


def strip_injection(doc):
    """`doc` without what the injector adds (and the containers it made)."""
    doc = copy.deepcopy(doc)
    for pod in pod_templates(doc):
        meta = pod.get("metadata") or {}
        (meta.get("labels") or {}).pop("nearcache.io/sidecar", None)
        drop_if_empty(meta, "labels")
        spec = pod.get("spec") or {}
        if "initContainers" in spec:
            spec["initContainers"] = [c for c in spec["initContainers"]
                                      if c.get("name") != "nearcache"]
            drop_if_empty(spec, "initContainers")
        if "volumes" in spec:
            spec["volumes"] = [v for v in spec["volumes"] if v.get("name") not in
                               ("nearcache-sockets", "nearcache-config")]
            drop_if_empty(spec, "volumes")
        for c in spec.get("containers") or []:
            if "env" in c:
                c["env"] = [e for e in c["env"]
                            if INJECTED_ENV.get(e.get("name")) != e.get("value")]
                drop_if_empty(c, "env")
            if "volumeMounts" in c:
                c["volumeMounts"] = [m for m in c["volumeMounts"]
                                     if m.get("name") != "nearcache-sockets"]
                drop_if_empty(c, "volumeMounts")
    return doc


def inputs():
    return sorted(p for p in pathlib.Path(ARGS.testdata).glob("*.yaml")
                  if not p.name.endswith(".golden.yaml"))


class InjectCliTest(unittest.TestCase):
    def test_goldens_from_file_stdin_and_again(self):
        for path in inputs():
            golden = path.with_name(path.stem + ".golden.yaml").read_bytes()
            with self.subTest(path.name):
                out = run("-f", str(path), "--image", IMAGE)
                self.assertEqual(out.returncode, 0, out.stderr.decode())
                self.assertEqual(out.stdout.decode(), golden.decode())
                self.assertEqual(out.stderr, b"")
                from_stdin = run("--image", IMAGE, stdin=path.read_bytes())
                self.assertEqual(from_stdin.stdout, golden)
                dash = run("-f", "-", f"--image={IMAGE}", stdin=path.read_bytes())
                self.assertEqual(dash.stdout, golden)
                again = run("--image", IMAGE, stdin=golden)
                self.assertEqual(again.stdout, golden, "not idempotent")

    def test_only_the_injection_changes_and_types_survive(self):
        for path in inputs():
            with self.subTest(path.name):
                before = list(yaml.safe_load_all(path.read_text()))
                out = run("-f", str(path), "--image", IMAGE)
                self.assertEqual(out.returncode, 0, out.stderr.decode())
                after = list(yaml.safe_load_all(out.stdout.decode()))
                self.assertEqual(len(after), len(before))
                for b, a in zip(before, after):
                    self.assertEqual(strip_injection(a), strip_injection(b))

    def test_quoted_scalars_keep_their_type(self):
        out = run("-f", str(pathlib.Path(ARGS.testdata) / "quoting.yaml"))
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        rs = yaml.safe_load(out.stdout.decode())
        notes = rs["spec"]["template"]["metadata"]["annotations"]
        for key, value in {"answers": "yes", "toggle": "on", "nothing": "null",
                           "tilde": "~", "empty": "", "sci": "1e3",
                           "hex": "0x1F", "time": "12:30",
                           "date": "2024-01-02"}.items():
            self.assertEqual(notes[key], value, key)
        self.assertEqual(rs["metadata"]["labels"]["octal"], "0755")
        self.assertEqual(rs["spec"]["replicas"], 2)
        app = rs["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(app["ports"][0]["containerPort"], 8080)
        self.assertIs(app["tty"], True)
        sidecar = rs["spec"]["template"]["spec"]["initContainers"][0]
        self.assertEqual(sidecar["ports"][0]["containerPort"], 9464)
        self.assertIs(sidecar["securityContext"]["runAsNonRoot"], True)

    def test_bad_input_exits_1_and_names_the_document(self):
        out = run(stdin=b"kind: Service\n---\nkind: Pod\nspec: [1,\n")
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stdout, b"")
        self.assertIn(b"stdin: document 2 (line", out.stderr)

        out = run(stdin=b"kind: Pod\nmetadata:\n  name: p\n  annotations:\n"
                        b"    nearcache.io/inject: 'true'\n"
                        b"    nearcache.io/config-map: Not_A_Name\n"
                        b"spec: {containers: [{name: a}]}\n")
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"document 1 (Pod p): nearcache.io/config-map", out.stderr)

        out = run("-f", "/nonexistent/manifests.yaml")
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"/nonexistent/manifests.yaml", out.stderr)

    def test_usage(self):
        self.assertEqual(run("--bogus").returncode, 2)
        self.assertEqual(run("-f").returncode, 2)
        self.assertEqual(run("-f", "a", "-f", "b").returncode, 2)
        out = run("--help")
        self.assertEqual(out.returncode, 0)
        self.assertIn(b"nearcache.io/max-bytes", out.stdout)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--nearcache", required=True)
    parser.add_argument("--testdata", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
