#!/usr/bin/env python3
"""deploy/k8s renders with kustomize and says what the design promises.

- `kubectl kustomize deploy/k8s`: the model Deployment has nearcache FIRST
  among its init containers with restartPolicy Always, startup/liveness
  probes on /healthz and readiness on /readyz at the port named admin
  (9464), the socket emptyDir mounted in nearcache and the model, the
  generated ConfigMap and Secret mounted, a locked-down securityContext,
  and a memory limit of at least 1.15 x cache.max_bytes + 64Mi for the
  max_bytes in that ConfigMap. The config passes `nearcache --check-config`.
  The Service, the PodMonitor and the PrometheusRule point at what exists.
- The sidecar of the base and the one `nearcache inject` adds agree.
- `kubectl kustomize deploy/k8s/injector`: the webhook configuration is
  failurePolicy Ignore, sideEffects None, v1 only, and calls the Service.
- make-cert.sh makes a certificate the webhook serves and a client
  verifies for the Service's DNS name with the CA.

Usage: k8s_test.py --deploy DEPLOY_DIR --nearcache BINARY
"""
import argparse
import math
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

ARGS = None
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
MIB = 1 << 20

# design.md, "Metrics", and the series a histogram adds.
METRICS = {
    "nearcache_lookups_total", "nearcache_requests_total",
    "nearcache_request_duration_seconds", "nearcache_cache_entries",
    "nearcache_cache_bytes", "nearcache_cache_max_bytes",
    "nearcache_evictions_total", "nearcache_invalidations_total",
    "nearcache_upstream_requests_total", "nearcache_upstream_duration_seconds",
    "nearcache_redis_up", "nearcache_build_info",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def render(path):
    out = subprocess.run([KUBECTL, "kustomize", str(path)], capture_output=True,
                         text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path}: {out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind):
    found = by_kind(docs, kind)
    assert len(found) == 1, f"{len(found)} {kind}"
    return found[0]


def parse_size(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?", text)
    assert m, f"size {text!r}"
    unit = {"B": 1, None: 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
            "TiB": 1 << 40, "KB": 10**3, "MB": 10**6, "GB": 10**9,
            "TB": 10**12}[m.group(2)]
    return int(float(m.group(1)) * unit)


def parse_quantity(text):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(text))
    assert m, f"quantity {text!r}"
    unit = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30,
            "Ti": 1 << 40, "k": 10**3, "M": 10**6, "G": 10**9,
            "T": 10**12}[m.group(2)]
    return int(m.group(1)) * unit


def named(items, name):
    found = [i for i in items or [] if i.get("name") == name]
    assert len(found) == 1, f"{name} in {[i.get('name') for i in items or []]}"
    return found[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BaseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = render(pathlib.Path(ARGS.deploy) / "k8s")
        cls.deployment = one(cls.docs, "Deployment")
        cls.pod = cls.deployment["spec"]["template"]
        cls.spec = cls.pod["spec"]
        cls.sidecar = cls.spec["initContainers"][0]
        cls.configmap = one(cls.docs, "ConfigMap")
        cls.config = yaml.safe_load(cls.configmap["data"]["nearcache.yaml"])

    def test_renders_every_kind(self):
        self.assertEqual(sorted(d["kind"] for d in self.docs),
                         ["ConfigMap", "Deployment", "PodMonitor",
                          "PrometheusRule", "Secret", "Service"])

    def test_nearcache_is_the_first_init_container_and_a_native_sidecar(self):
        self.assertEqual(self.sidecar["name"], "nearcache")
        self.assertEqual(self.sidecar["restartPolicy"], "Always")
        self.assertEqual(self.sidecar["args"],
                         ["--config", "/etc/nearcache/nearcache.yaml"])
        self.assertEqual(self.sidecar["ports"],
                         [{"name": "admin", "containerPort": 9464,
                           "protocol": "TCP"}])
        self.assertNotIn("nearcache",
                         [c["name"] for c in self.spec["containers"]])

    def test_probes_on_the_admin_port(self):
        for probe, path in (("startupProbe", "/healthz"),
                            ("livenessProbe", "/healthz"),
                            ("readinessProbe", "/readyz")):
            self.assertEqual(self.sidecar[probe]["httpGet"],
                             {"path": path, "port": "admin"}, probe)
        port = int(self.config["admin"]["address"].rsplit(":", 1)[1])
        self.assertEqual(port, 9464)

    def test_socket_volume_is_shared_with_the_model(self):
        volume = named(self.spec["volumes"], "nearcache-sockets")
        self.assertIn("emptyDir", volume)
        self.assertEqual(named(self.sidecar["volumeMounts"],
                               "nearcache-sockets")["mountPath"],
                         "/var/run/nearcache")
        model = named(self.spec["containers"], "model")
        self.assertEqual(named(model["volumeMounts"],
                               "nearcache-sockets")["mountPath"],
                         "/var/run/nearcache")
        env = {e["name"]: e["value"] for e in model["env"]}
        self.assertEqual(env["NEARCACHE_SOCKET"],
                         self.config["listen"]["resp_socket"])
        self.assertEqual(env["NEARCACHE_HTTP_SOCKET"],
                         self.config["listen"]["http_socket"])
        for path in env.values():
            self.assertTrue(path.startswith("/var/run/nearcache/"), path)

    def test_generated_config_and_secret_are_mounted(self):
        config_volume = named(self.spec["volumes"], "nearcache-config")
        self.assertEqual(config_volume["configMap"]["name"],
                         self.configmap["metadata"]["name"])
        self.assertTrue(self.configmap["metadata"]["name"]
                        .startswith("nearcache-config-"), "hash suffix")
        self.assertEqual(named(self.sidecar["volumeMounts"],
                               "nearcache-config")["mountPath"],
                         "/etc/nearcache")
        secret = one(self.docs, "Secret")
        secret_volume = named(self.spec["volumes"], "nearcache-redis")
        self.assertEqual(secret_volume["secret"]["secretName"],
                         secret["metadata"]["name"])
        mount = named(self.sidecar["volumeMounts"], "nearcache-redis")
        self.assertEqual(self.config["redis"]["password_file"],
                         mount["mountPath"] + "/password")
        self.assertIn("password", secret["data"])

    def test_locked_down(self):
        sc = self.sidecar["securityContext"]
        self.assertIs(sc["runAsNonRoot"], True)
        self.assertIs(sc["readOnlyRootFilesystem"], True)
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertEqual(sc["seccompProfile"]["type"], "RuntimeDefault")
        self.assertNotEqual(sc.get("runAsUser", 65532), 0)
        # The model shares the sockets' group.
        self.assertEqual(self.spec["securityContext"]["fsGroup"], 65532)

    def test_memory_limit_follows_the_sizing_rule(self):
        max_bytes = parse_size(self.config["cache"]["max_bytes"])
        resources = self.sidecar["resources"]
        limit = parse_quantity(resources["limits"]["memory"])
        self.assertGreaterEqual(limit, math.ceil(1.15 * max_bytes) + 64 * MIB)
        self.assertEqual(resources["requests"]["memory"],
                         resources["limits"]["memory"])
        self.assertIn("cpu", resources["requests"])
        self.assertNotIn("cpu", resources["limits"])

    def test_config_passes_check_config(self):
        with tempfile.TemporaryDirectory() as d:
            password = pathlib.Path(d) / "password"
            password.write_text("secret\n")
            text = self.configmap["data"]["nearcache.yaml"].replace(
                self.config["redis"]["password_file"], str(password))
            path = pathlib.Path(d) / "nearcache.yaml"
            path.write_text(text)
            out = subprocess.run([ARGS.nearcache, "--check-config", str(path)],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)

    def test_service_selects_the_pods_on_the_admin_port(self):
        service = one(self.docs, "Service")
        labels = self.pod["metadata"]["labels"]
        for k, v in service["spec"]["selector"].items():
            self.assertEqual(labels.get(k), v)
        port = named(service["spec"]["ports"], "admin")
        self.assertEqual(port["port"], 9464)
        # A number: named ports of native sidecars resolve only from 1.32.
        self.assertEqual(port["targetPort"], 9464)

    def test_podmonitor_scrapes_the_sidecar(self):
        monitor = one(self.docs, "PodMonitor")
        self.assertEqual(monitor["apiVersion"], "monitoring.coreos.com/v1")
        labels = self.pod["metadata"]["labels"]
        for k, v in monitor["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(k), v)
        endpoint = monitor["spec"]["podMetricsEndpoints"][0]
        self.assertEqual(endpoint["port"], "admin")
        self.assertEqual(endpoint["path"], "/metrics")

    def test_alerts_use_the_metrics_nearcache_exports(self):
        rule = one(self.docs, "PrometheusRule")
        rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
        alerts = {r["alert"]: r for r in rules if "alert" in r}
        for name in ("NearcacheRedisDown", "NearcacheServingStale",
                     "NearcacheLowHitRatio", "NearcacheHighEvictionRate"):
            self.assertIn(name, alerts)
        self.assertIn('nearcache_lookups_total{result="stale"}',
                      alerts["NearcacheServingStale"]["expr"])
        self.assertIn("nearcache_redis_up == 0",
                      alerts["NearcacheRedisDown"]["expr"])
        self.assertIn('nearcache_evictions_total{reason="size"}',
                      alerts["NearcacheHighEvictionRate"]["expr"])
        records = {r["record"] for r in rules if "record" in r}
        for r in rules:
            expr = r["expr"]
            self.assertEqual(expr.count("("), expr.count(")"), expr)
            self.assertEqual(expr.count("{"), expr.count("}"), expr)
            for metric in re.findall(r"(?<![:\w])nearcache_[a-z_]+", expr):
                base = metric
                for suffix in HISTOGRAM_SUFFIXES:
                    if base.endswith(suffix) and base[:-len(suffix)] in METRICS:
                        base = base[:-len(suffix)]
                self.assertIn(base, METRICS, f"unknown metric in {expr}")
            for record in re.findall(r"\b[a-z_]+:nearcache_[a-z_:0-9]+", expr):
                self.assertIn(record, records)
            for label in re.findall(r'result=~?"([^"]+)"', expr):
                for value in label.split("|"):
                    self.assertIn(value, ("hit", "miss", "stale",
                                          "negative_hit", "error"))
            if "alert" in r:
                self.assertIn(r["labels"]["severity"], ("warning", "critical"))
                self.assertIn("docs/operations.md#",
                              r["annotations"]["description"])

    def test_runbook_anchors_exist(self):
        ops = pathlib.Path(ARGS.deploy).parent / "docs" / "operations.md"
        anchors = set()
        for line in ops.read_text().splitlines():
            if line.startswith("#"):
                title = line.lstrip("#").strip().lower()
                anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
        rule = one(self.docs, "PrometheusRule")
        for g in rule["spec"]["groups"]:
            for r in g["rules"]:
                for anchor in re.findall(r"operations\.md#([a-z0-9-]+)",
                                         r.get("annotations", {})
                                         .get("description", "")):
                    self.assertIn(anchor, anchors, r.get("alert"))

    def test_injected_sidecar_matches_the_base(self):
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "p",
                            "annotations": {"nearcache.io/inject": "true"}},
               "spec": {"containers": [{"name": "model", "image": "m"}]}}
        out = subprocess.run([ARGS.nearcache, "inject"],
                             input=yaml.safe_dump(pod), capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        injected = yaml.safe_load(out.stdout)["spec"]["initContainers"][0]
        for key in ("name", "args", "restartPolicy", "ports", "startupProbe",
                    "readinessProbe", "livenessProbe"):
            self.assertEqual(injected[key], self.sidecar[key], key)
        for key, value in injected["securityContext"].items():
            self.assertEqual(self.sidecar["securityContext"][key], value, key)
        self.assertEqual(injected["resources"]["limits"]["memory"], "359Mi")


class InjectorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = pathlib.Path(ARGS.deploy) / "k8s" / "injector"
        cls.docs = render(cls.dir)

    def test_webhook_configuration(self):
        config = one(self.docs, "MutatingWebhookConfiguration")
        self.assertEqual(config["apiVersion"], "admissionregistration.k8s.io/v1")
        hook = config["webhooks"][0]
        self.assertEqual(hook["failurePolicy"], "Ignore")
        self.assertEqual(hook["sideEffects"], "None")
        self.assertEqual(hook["admissionReviewVersions"], ["v1"])
        self.assertLessEqual(hook["timeoutSeconds"], 10)
        self.assertEqual(hook["rules"], [{
            "operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
            "resources": ["pods"], "scope": "Namespaced"}])
        self.assertIn("nearcache.io/injection",
                      hook["namespaceSelector"]["matchLabels"])
        service = one(self.docs, "Service")
        ref = hook["clientConfig"]["service"]
        self.assertEqual(ref["name"], service["metadata"]["name"])
        self.assertEqual(ref["namespace"], service["metadata"]["namespace"])
        self.assertEqual(ref["path"], "/mutate")
        self.assertEqual(ref["port"], service["spec"]["ports"][0]["port"])
        # The injector's own namespace is never injected.
        namespace = one(self.docs, "Namespace")
        self.assertNotEqual(namespace["metadata"]["labels"]
                            .get("nearcache.io/injection"), "enabled")

    def test_deployment_runs_the_webhook_with_its_certificate(self):
        deployment = one(self.docs, "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        args = container["args"]
        self.assertEqual(args[0], "webhook")
        flags = dict(a[2:].split("=", 1) for a in args[1:])
        mount = named(container["volumeMounts"], "tls")["mountPath"]
        self.assertEqual(flags["tls-cert"], mount + "/tls.crt")
        self.assertEqual(flags["tls-key"], mount + "/tls.key")
        port = int(flags["listen"].rsplit(":", 1)[1])
        self.assertEqual(named(container["ports"], "https")["containerPort"], port)
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertEqual(container[probe]["httpGet"]["scheme"], "HTTPS")
            self.assertEqual(container[probe]["httpGet"]["path"], "/healthz")
        self.assertIs(container["securityContext"]["readOnlyRootFilesystem"], True)

    def test_make_cert_output_is_served_and_verified(self):
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([str(self.dir / "make-cert.sh"), d], check=True,
                           timeout=120)
            host = "nearcache-injector.nearcache-system.svc"
            verify = subprocess.run(
                ["openssl", "verify", "-CAfile", f"{d}/ca.crt",
                 "-purpose", "sslserver", f"{d}/tls.crt"],
                capture_output=True, text=True)
            self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
            port = free_port()
            proc = subprocess.Popen(
                [ARGS.nearcache, "webhook", "--listen", f"127.0.0.1:{port}",
                 "--tls-cert", f"{d}/tls.crt", "--tls-key", f"{d}/tls.key"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                deadline = time.time() + 20
                while True:
                    r = subprocess.run(
                        ["curl", "-sS", "--max-time", "5", "--cacert",
                         f"{d}/ca.crt", "--resolve", f"{host}:{port}:127.0.0.1",
                         f"https://{host}:{port}/healthz"],
                        capture_output=True, timeout=30)
                    if r.returncode == 0:
                        break
                    if proc.poll() is not None:
                        self.fail("webhook exited: " + proc.stderr.read().decode())
                    self.assertLess(time.time(), deadline, r.stderr)
                    time.sleep(0.1)
                self.assertEqual(r.stdout, b"ok\n")
            finally:
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(timeout=15)
                proc.stderr.close()
            self.assertEqual(code, 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--deploy", required=True)
    parser.add_argument("--nearcache", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
