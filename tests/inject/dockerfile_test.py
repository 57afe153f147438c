#!/usr/bin/env python3
"""deploy/Dockerfile without a Docker engine.

Static checks: a builder stage on debian:bookworm, a runtime stage on
debian:bookworm-slim, no ADD of URLs or :latest, apt installs that skip
recommends and clean up, a numeric non-root USER, an exec-form ENTRYPOINT
(nearcache is PID 1 and must receive SIGTERM itself), COPY sources that exist
and pass the .dockerignore.

The runtime stage's essence, checked for real: every shared library the
built binary loads (ldd) belongs (dpkg -S) to a package the runtime stage
installs, to one of their dependencies, or to the base image; and every
library package installed there is needed by the binary.

Usage: dockerfile_test.py --dockerfile deploy/Dockerfile --nearcache BINARY
"""
import argparse
import fnmatch
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import unittest

ARGS = None

# What debian:bookworm-slim already has that a C++ binary loads.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
# Installed in the runtime stage for something other than a library.
DATA_PACKAGES = {"ca-certificates"}


def instructions(text):
    """[(INSTRUCTION, args)] with continuation lines joined, comments gone."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued RUN
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def stages(instrs):
    result = []
    for word, args in instrs:
        if word == "FROM":
            result.append({"from": args, "instrs": []})
        elif result:
            result[-1]["instrs"].append((word, args))
    return result


def apt_packages(run_args):
    """Packages named by `apt-get install` commands in a RUN."""
    packages = []
    for command in re.split(r"&&|;", run_args):
        words = command.split()
        if words[:2] == ["apt-get", "install"]:
            packages += [w for w in words[2:] if not w.startswith("-")]
    return packages


def stage_packages(stage):
    return [p for word, args in stage["instrs"] if word == "RUN"
            for p in apt_packages(args)]


class DockerfileStaticTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = pathlib.Path(ARGS.dockerfile)
        cls.root = cls.path.parent.parent
        cls.instrs = instructions(cls.path.read_text())
        cls.stages = stages(cls.instrs)

    def test_two_stages_builder_then_bookworm_slim(self):
        self.assertEqual(len(self.stages), 2, [s["from"] for s in self.stages])
        self.assertRegex(self.stages[0]["from"],
                         r"^debian:bookworm(@sha256:[0-9a-f]{64})?\s+(?i:as)\s+builder$")
        self.assertRegex(self.stages[1]["from"],
                         r"^debian:bookworm-slim(@sha256:[0-9a-f]{64})?$")
        for s in self.stages:
            self.assertNotIn(":latest", s["from"])

    def test_no_add_of_urls(self):
        for word, args in self.instrs:
            if word == "ADD":
                self.assertNotRegex(args, r"(https?|ftp|git)://",
                                    "ADD of a URL: fetch in a RUN with a checksum")

    def test_builds_release_with_cmake(self):
        runs = " ".join(a for w, a in self.stages[0]["instrs"] if w == "RUN")
        self.assertIn("-DCMAKE_BUILD_TYPE=Release", runs)
        self.assertIn("cmake --build", runs)

    def test_apt_installs_are_lean_and_cleaned(self):
        for stage in self.stages:
            for word, args in stage["instrs"]:
                if word == "RUN" and "apt-get install" in args:
                    self.assertIn("--no-install-recommends", args)
                    self.assertIn("-y", args.split())
                    self.assertIn("rm -rf /var/lib/apt/lists/*", args)
                    self.assertIn("apt-get update", args)
                    self.assertNotIn("apt-get upgrade", args)

    def test_runtime_stage_has_no_build_packages(self):
        for p in stage_packages(self.stages[1]):
            self.assertFalse(p.endswith("-dev") or p in (
                "build-essential", "cmake", "ninja-build", "g++", "gcc"), p)

    def test_runtime_runs_as_numeric_non_root_user(self):
        users = [a for w, a in self.stages[1]["instrs"] if w == "USER"]
        self.assertTrue(users, "no USER in the runtime stage")
        uid, _, gid = users[-1].partition(":")
        self.assertRegex(uid, r"^\d+$", "USER must be numeric for runAsNonRoot")
        self.assertNotEqual(int(uid), 0)
        self.assertEqual(int(uid), 65532)
        if gid:
            self.assertNotEqual(int(gid), 0)
        # Nothing runs as root after the switch.
        words = [w for w, _ in self.stages[1]["instrs"]]
        last_user = len(words) - 1 - words[::-1].index("USER")
        self.assertNotIn("RUN", words[last_user:])

    def test_entrypoint_is_exec_form(self):
        entry = [a for w, a in self.stages[1]["instrs"] if w == "ENTRYPOINT"]
        self.assertEqual(len(entry), 1)
        argv = json.loads(entry[0])  # shell form is not JSON
        self.assertIsInstance(argv, list)
        self.assertTrue(all(isinstance(a, str) for a in argv))
        self.assertEqual(argv, ["/usr/local/bin/nearcache"])
        for w, a in self.stages[1]["instrs"]:
            if w == "CMD":
                self.assertIsInstance(json.loads(a), list, "CMD in shell form")

    def test_binary_and_config_copied_into_the_runtime(self):
        copies = [a for w, a in self.stages[1]["instrs"] if w == "COPY"]
        self.assertTrue(any(a.startswith("--from=builder ") and
                            a.endswith(" /usr/local/bin/nearcache")
                            for a in copies), copies)

    def test_copy_sources_exist_and_pass_the_dockerignore(self):
        ignore = self.path.with_name(self.path.name + ".dockerignore")
        patterns = [l.strip() for l in ignore.read_text().splitlines()
                    if l.strip() and not l.startswith("#")]

        def included(rel):
            keep = True
            for p in patterns:
                negate = p.startswith("!")
                p = p.lstrip("!").rstrip("/")
                if fnmatch.fnmatch(rel, p) or rel.startswith(p + "/"):
                    keep = negate
            return keep

        for stage in self.stages:
            for word, args in stage["instrs"]:
                if word != "COPY" or args.startswith("--from="):
                    continue
                sources = args.split()[:-1]
                for src in sources:
                    rel = src.rstrip("/")
                    self.assertTrue((self.root / rel).exists(), src)
                    self.assertTrue(included(rel), f"{src} is .dockerignored")


def owning_packages(paths):
    """{path: the Debian package that ships it} (usrmerge-aware: dpkg may
    know /lib/x/libfoo.so as /usr/lib/x/libfoo.so or the other way round,
    and ldd may print a symlink). One dpkg call for all of them."""
    variants = {}
    for path in paths:
        for p in (path, os.path.realpath(path)):
            variants.setdefault(p, path)
            other = p[len("/usr"):] if p.startswith("/usr/") else "/usr" + p
            variants.setdefault(other, path)
    r = subprocess.run(["dpkg", "-S", *variants], capture_output=True,
                       text=True)
    owners = {}
    for line in r.stdout.splitlines():
        package, _, file = line.partition(": ")
        if file in variants:
            owners.setdefault(variants[file], package.split(":")[0].strip())
    return owners


def depends(package):
    """Names in Depends and Pre-Depends of an installed package."""
    r = subprocess.run(["dpkg-query", "-W", "-f",
                        "${Depends}, ${Pre-Depends}", package],
                       capture_output=True, text=True)
    names = set()
    for dep in r.stdout.split(","):
        for alternative in dep.split("|"):
            name = alternative.strip().split(" ")[0].split(":")[0]
            if name:
                names.add(name)
    return names


def closure(packages):
    seen, todo = set(), list(packages)
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo += depends(p)
    return seen


def package_known(package):
    for cmd in (["dpkg-query", "-W", package], ["apt-cache", "show", package]):
        if subprocess.run(cmd, capture_output=True).returncode == 0:
            return True
    return False


@unittest.skipUnless(shutil.which("dpkg") and shutil.which("ldd"),
                     "needs a Debian system with dpkg and ldd")
class RuntimeLibrariesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        all_stages = stages(instructions(pathlib.Path(ARGS.dockerfile).read_text()))
        cls.builder = stage_packages(all_stages[0])
        cls.runtime = stage_packages(all_stages[1])
        out = subprocess.run(["ldd", ARGS.nearcache], capture_output=True,
                             text=True, check=True).stdout
        cls.libs = {}
        for line in out.splitlines():
            m = re.match(r"\s*(\S+)\s+=>\s+(\S+)", line)
            if m:
                cls.libs[m.group(1)] = m.group(2)
            elif "ld-linux" in line:
                path = line.split()[0]
                cls.libs[os.path.basename(path)] = path
        cls.owners = owning_packages(cls.libs.values())
        if any(n.startswith(("libasan", "libubsan", "libtsan"))
               for n in cls.libs):
            raise unittest.SkipTest("a sanitizer build: the image is not one")

    def test_every_library_resolves(self):
        missing = [n for n, p in self.libs.items() if p == "not"]
        self.assertEqual(missing, [], "ldd: not found")
        self.assertTrue(self.libs)

    def test_packages_exist_in_debian(self):
        for p in self.builder + self.runtime:
            self.assertTrue(package_known(p), f"unknown Debian package {p}")

    def test_runtime_stage_provides_every_library(self):
        provided = closure(self.runtime) | BASE_IMAGE_PACKAGES
        unprovided = {}
        for name, path in self.libs.items():
            package = self.owners.get(path)
            self.assertIsNotNone(package, f"no package ships {path}")
            if package not in provided:
                unprovided[name] = package
        self.assertEqual(unprovided, {},
                         "add these packages to the runtime stage of "
                         "deploy/Dockerfile")

    def test_runtime_stage_installs_nothing_unneeded(self):
        needed = set(self.owners.values())
        for p in self.runtime:
            if p not in DATA_PACKAGES:
                self.assertIn(p, needed,
                              f"{p} is installed but the binary loads nothing "
                              "from it")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--dockerfile", required=True)
    parser.add_argument("--nearcache", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
