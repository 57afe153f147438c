#!/usr/bin/env python3
"""Builds the markdown report of bench/compare.sh from its run directory.

Usage: compare_report.py RUNS_DIR > report.md

RUNS_DIR holds one file per run, named PHASE.SCENARIO.TARGET.TOOL.rN.EXT:
nc_loadgen JSON (.json), redis-benchmark CSV (.csv), nearcache INFO stats
taken before and after each nearcache run (.before/.after), plus
PHASE.memory.{mem,info,json}, *.todo notes and meta.env. Figures are medians
over the rounds; ratios are nearcache / redis of those medians.
"""

import csv
import glob
import json
import os
import statistics
import sys
from collections import defaultdict

PHASES = {
    "direct": "Direct: redis-server on a Unix socket, no added delay",
    "proxy": "Behind nc_delay_proxy: Redis 0.5 ms away each way "
    "(\"redis\" = the client through the proxy)",
}
SCENARIOS = {
    "hit": "hit path: GET, 10k keys x 1 KiB, all cached",
    "miss": "miss path: GET, 10k keys x 1 KiB, max_bytes 64KiB",
    "zipf": "Zipf mixed: 100k keys, s=0.99, cache ~10% of keys, "
    "95% GET / 5% SET to Redis",
    "http-lookup50": "HTTP: POST /v1/lookup of 50 keys vs MGET of 50",
}


def read_env(path):
    env = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    return env


def read_info(path):
    info = {}
    if os.path.exists(path):
        for line in open(path):
            if ":" in line:
                k, v = line.strip().split(":", 1)
                try:
                    info[k] = int(v)
                except ValueError:
                    pass
    return info


def load_runs(d):
    """Returns {(phase, scenario, target, tool): [run dicts]}."""
    runs = defaultdict(list)
    for path in sorted(glob.glob(os.path.join(d, "*.json"))):
        parts = os.path.basename(path).split(".")
        if len(parts) != 6:
            continue
        phase, scenario, target, tool, rnd, _ = parts
        try:
            j = json.load(open(path))
        except (OSError, ValueError):
            continue
        lat = j.get("latency_us", {})
        runs[(phase, scenario, target, tool)].append({
            "round": rnd,
            "rps": j.get("throughput_rps", 0.0),
            "p50": lat.get("p50", 0) / 1000.0,
            "p99": lat.get("p99", 0) / 1000.0,
            "p999": lat.get("p999", 0) / 1000.0,
            "errors": j.get("errors", 0) + j.get("connection_errors", 0),
            "first_error": j.get("first_error", ""),
            "base": path[: -len(".json")],
        })
    for path in sorted(glob.glob(os.path.join(d, "*.csv"))):
        parts = os.path.basename(path).split(".")
        if len(parts) != 6:
            continue
        phase, scenario, target, tool, rnd, _ = parts
        rows = [r for r in csv.reader(open(path)) if r]
        if len(rows) < 2 or rows[0][0] != "test":
            continue
        row = dict(zip(rows[0], rows[1]))
        runs[(phase, scenario, target, tool)].append({
            "round": rnd,
            "rps": float(row["rps"]),
            "p50": float(row["p50_latency_ms"]),
            "p99": float(row["p99_latency_ms"]),
            "p999": None,
            "errors": 0,
            "first_error": "",
            "base": path[: -len(".csv")],
        })
    return runs


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summary(run_list):
    return {
        "rps": med([r["rps"] for r in run_list]),
        "rps_min": min(r["rps"] for r in run_list),
        "rps_max": max(r["rps"] for r in run_list),
        "p50": med([r["p50"] for r in run_list]),
        "p99": med([r["p99"] for r in run_list]),
        "p999": med([r["p999"] for r in run_list]),
        "errors": sum(r["errors"] for r in run_list),
        "first_error": next((r["first_error"] for r in run_list
                             if r["first_error"]), ""),
        "n": len(run_list),
    }


def hit_ratio(run_list):
    hits = misses = 0
    for r in run_list:
        before = read_info(r["base"] + ".before")
        after = read_info(r["base"] + ".after")
        if not before or not after:
            return None
        hits += after.get("keyspace_hits", 0) - before.get("keyspace_hits", 0)
        misses += after.get("keyspace_misses", 0) - before.get(
            "keyspace_misses", 0)
    return hits / (hits + misses) if hits + misses else None


def fmt_ms(v):
    return "–" if v is None else f"{v:.3f}"


def fmt_ratio(v):
    return "–" if v is None else f"{v:.2f}×"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def memory_section(d, name, w):
    """Writes the table of one memory run; returns its figures or None."""
    mem = read_env(os.path.join(d, f"direct.{name}.mem"))
    if not mem:
        return None
    info = read_info(os.path.join(d, f"direct.{name}.info"))
    entries = info.get("nearcache_cache_entries", 0)
    cache_bytes = info.get("nearcache_cache_bytes", 0)
    max_bytes = int(mem["max_bytes"])
    overhead = int(mem["entry_overhead"])
    base = int(mem["base_rss_kib"]) * 1024
    peak = max(int(mem["max_rss_kib"]), int(mem["hwm_kib"])) * 1024
    end = int(mem["end_rss_kib"]) * 1024
    payload = cache_bytes - entries * overhead
    per_entry = (end - base - payload) / entries if entries else None
    limit = 1.15 * max_bytes + 20 * 2**20
    vmin = mem.get("value_min", "256")
    vmax = mem.get("value_max", "2048")
    lg = {}
    try:
        lg = json.load(open(os.path.join(d, f"direct.{name}.json")))
    except (OSError, ValueError):
        pass
    mib = 2**20
    w(f"### Memory under churn: {vmin}–{vmax}-byte values\n")
    w(f"nearcache with `max_bytes: {max_bytes // mib}MiB`, "
      f"{int(mem['keys']):,} keys of {vmin}–{vmax}-byte values (uniform), "
      f"90% GET to nearcache / 10% SET to Redis for {mem['duration']} s "
      f"(evictions and invalidations all along); "
      f"{lg.get('throughput_rps', 0):,.0f} req/s, "
      f"read p99 {lg.get('latency_us', {}).get('p99', 0) / 1000:.3f} ms.\n")
    w("| | value |")
    w("|---|---:|")
    w(f"| RSS before load | {base / mib:.1f} MiB |")
    w(f"| RSS peak (sampled every 0.25 s, and VmHWM) | {peak / mib:.1f} MiB |")
    w(f"| RSS at end | {end / mib:.1f} MiB |")
    w(f"| limit 1.15 × max_bytes + 20 MiB | {limit / mib:.1f} MiB |")
    w(f"| entries | {entries:,} |")
    w(f"| nearcache_cache_bytes (charged) | {cache_bytes / mib:.1f} MiB |")
    w(f"| keys + values (charged − {overhead} B × entries) "
      f"| {payload / mib:.1f} MiB |")
    w(f"| evictions (size) | {info.get('evicted_keys', 0):,} |")
    if per_entry is not None:
        w(f"| RSS overhead per entry beyond key and value: "
          f"(RSS end − RSS before − keys − values) / entries "
          f"| {per_entry:.0f} B |")
    w("")
    return {"name": f"{vmin}–{vmax} B values", "peak": peak, "limit": limit,
            "per_entry": per_entry}


def main():
    d = sys.argv[1]
    meta = read_env(os.path.join(d, "meta.env"))
    runs = load_runs(d)
    out = []
    w = out.append

    w("## Side by side with redis-server\n")
    w(f"Command: `{meta.get('command', '?')}` "
      f"({meta.get('rounds')} alternating rounds of {meta.get('duration')} s "
      f"per tool and target; {meta.get('connections')} connections, "
      f"{meta.get('value')}-byte values, no pipelining, Unix sockets; "
      f"nearcache `listen.threads: {meta.get('threads')}`; "
      f"run took {meta.get('runtime_s')} s)\n")
    w("| machine | |")
    w("|---|---|")
    for key, label in [("date", "date"), ("cpu", "CPU"), ("cores", "cores"),
                       ("kernel", "kernel"), ("compiler", "compiler"),
                       ("build_type", "build type"),
                       ("nearcache_version", "nearcache"), ("git", "commit"),
                       ("redis", "redis"),
                       ("loadavg_start", "load average at start"),
                       ("loadavg_end", "load average at end")]:
        w(f"| {label} | {meta.get(key, '?')} |")
    w("")
    w("Figures are medians over the rounds (req/s range in brackets). "
      "nc_loadgen measures each request from its write to its parsed reply; "
      "redis-benchmark prints no p99.9. Hit ratio: nearcache's own "
      "keyspace_hits / (hits + misses) over the measured runs.\n")

    summaries = {k: summary(v) for k, v in runs.items()}
    ratios = {}  # (phase, scenario, tool) -> dict
    for phase, phase_title in PHASES.items():
        keys = [k for k in summaries if k[0] == phase]
        if not keys:
            continue
        w(f"### {phase_title}\n")
        w("| scenario | tool | target | req/s | p50 ms | p99 ms | p99.9 ms "
          "| hit ratio | errors |")
        w("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for scenario in SCENARIOS:
            for tool in ("nc_loadgen", "redis-benchmark"):
                for target in ("redis", "nearcache", "nearcache-resp"):
                    k = (phase, scenario, target, tool)
                    if k not in summaries:
                        continue
                    s = summaries[k]
                    hr = hit_ratio(runs[k]) if target != "redis" else None
                    hr_text = "–" if hr is None else f"{hr * 100:.1f}%"
                    tname = {"nearcache-resp": "nearcache (RESP)"}.get(
                        target, target)
                    if scenario == "http-lookup50" and target == "nearcache":
                        tname = "nearcache (HTTP)"
                    err = str(s["errors"])
                    if s["first_error"]:
                        err += f" (`{s['first_error'][:60]}`)"
                    w(f"| {scenario} | {tool} | {tname} | {s['rps']:,.0f} "
                      f"[{s['rps_min']:,.0f}–{s['rps_max']:,.0f}] "
                      f"| {fmt_ms(s['p50'])} | {fmt_ms(s['p99'])} "
                      f"| {fmt_ms(s['p999'])} | {hr_text} | {err} |")
                r = summaries.get((phase, scenario, "redis", tool))
                n = summaries.get((phase, scenario, "nearcache", tool))
                if r and n:
                    ratios[(phase, scenario, tool)] = {
                        "rps": ratio(n["rps"], r["rps"]),
                        "p50": ratio(n["p50"], r["p50"]),
                        "p99": ratio(n["p99"], r["p99"]),
                        "p999": ratio(n["p999"], r["p999"]),
                    }
        todo = os.path.join(d, f"{phase}.http.todo")
        if os.path.exists(todo):
            w(f"| http | – | – | TODO: {open(todo).read().strip()} "
              "| | | | | |")
        w("")
        w("Ratios nearcache / redis (throughput: higher is better; "
          "latency: lower is better):\n")
        w("| scenario | tool | throughput | p50 | p99 | p99.9 |")
        w("|---|---|---:|---:|---:|---:|")
        for (ph, scenario, tool), r in ratios.items():
            if ph != phase:
                continue
            w(f"| {scenario} | {tool} | {fmt_ratio(r['rps'])} "
              f"| {fmt_ratio(r['p50'])} | {fmt_ratio(r['p99'])} "
              f"| {fmt_ratio(r['p999'])} |")
        w("")

    # Memory.
    mem_results = []
    for name in ("memory", "memory-small"):
        r = memory_section(d, name, w)
        if r:
            mem_results.append(r)

    # Invalidation lag (bench/invalidation_lag's own lines).
    lag_rows = []
    refs = []
    for phase in PHASES:
        path = os.path.join(d, f"{phase}.invalidation_lag.txt")
        if not os.path.exists(path):
            continue
        for line in open(path):
            fields = line.split()
            if not fields:
                continue
            if fields[0] == "ref":
                refs.append((phase, line.strip()[3:].strip()))
                continue
            kv = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
            lag_rows.append((phase, fields[0], kv))
    if lag_rows:
        w("### Invalidation lag\n")
        w("`bench/invalidation_lag` against the hit instance: from Redis's "
          "acknowledgement of a SET to the first nearcache GET that answers "
          "the new value (a writer on Redis's own socket; \"loaded\": one "
          "thread GETs other keys through nearcache meanwhile).\n")
        w("| phase | mode | samples | p50 ms | p90 ms | p99 ms | p99.9 ms "
          "| max ms | samples with old reads |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|")

        def ms(kv, k):
            try:
                return f"{float(kv[k]) / 1000:.3f}"
            except (KeyError, ValueError):
                return "?"

        for phase, mode, kv in lag_rows:
            w(f"| {phase} | {mode} | {kv.get('samples', '?')} "
              f"| {ms(kv, 'p50')} | {ms(kv, 'p90')} | {ms(kv, 'p99')} "
              f"| {ms(kv, 'p99.9')} | {ms(kv, 'max')} "
              f"| {kv.get('samples_with_old_reads', '?')} |")
        w("")
        for phase, text in refs:
            w(f"- {phase}, for reference (one connection, idle): {text}")
        if refs:
            w("")

    # Targets.
    w("### Targets\n")
    w("| target | measured | holds? |")
    w("|---|---|---|")

    def verdict(ok):
        return "–" if ok is None else ("yes" if ok else "**no**")

    for tool in ("nc_loadgen", "redis-benchmark"):
        r = ratios.get(("direct", "hit", tool))
        if r:
            ok = None if r["rps"] is None else r["rps"] >= 1.0
            w(f"| hit throughput ≥ 1.0× redis ({tool}) | {fmt_ratio(r['rps'])} "
              f"| {verdict(ok)} |")
            ok = None if r["p99"] is None else r["p99"] <= 1.0
            w(f"| hit p99 ≤ 1.0× redis ({tool}) | {fmt_ratio(r['p99'])} "
              f"| {verdict(ok)} |")
    for tool in ("nc_loadgen", "redis-benchmark"):
        r = ratios.get(("direct", "miss", tool))
        if r:
            for q in ("p50", "p99"):
                ok = None if r[q] is None else r[q] <= 1.3
                w(f"| miss {q} ≤ 1.3× direct GET ({tool}) | {fmt_ratio(r[q])} "
                  f"| {verdict(ok)} |")
    for tool in ("nc_loadgen", "redis-benchmark"):
        r = ratios.get(("proxy", "hit", tool))
        if r and r["p99"]:
            x = 1 / r["p99"]
            w(f"| behind the proxy: hit p99 ≥ 10× lower than direct through "
              f"the proxy ({tool}) | {x:.1f}× lower | {verdict(x >= 10)} |")
    for m in mem_results:
        mib = 2**20
        w(f"| RSS ≤ 1.15 × max_bytes + 20 MiB under churn ({m['name']}) "
          f"| {m['peak'] / mib:.1f} MiB of {m['limit'] / mib:.1f} MiB "
          f"| {verdict(m['peak'] <= m['limit'])} |")
        if m["per_entry"] is not None:
            w(f"| memory overhead ≤ 64 B per entry beyond key and value "
              f"({m['name']}) | {m['per_entry']:.0f} B "
              f"| {verdict(m['per_entry'] <= 64)} |")
    w("")

    notes = []
    for path in sorted(glob.glob(os.path.join(d, "*.todo"))):
        name = os.path.basename(path)[: -len(".todo")]
        if name.endswith(".http"):
            continue
        notes.append(f"- TODO {name}: {open(path).read().strip()}")
    skipped = os.path.join(d, "skipped.txt")
    if os.path.exists(skipped):
        notes.append("- skipped at the time limit: " +
                     ", ".join(open(skipped).read().split("\n")).strip(", "))
    notes.append("- memory is measured in the direct phase only: "
                 "the added delay changes no allocation.")
    notes.append("- the zipf scenario runs nc_loadgen only: redis-benchmark "
                 "has neither Zipf keys nor a read/write mix.")
    w("Notes:\n")
    w("\n".join(notes))
    w("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
