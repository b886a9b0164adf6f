#!/usr/bin/env python3
"""Benchmarks on the real control plane (scripts/dev-cluster.sh): prints a Markdown table.

1. Time from a FipsPolicy's creation (server-side apply) to its Ready condition, as the
   API server reports it (polled every 50 ms), over several policies.
2. The webhook's added latency on pod creation at a steady 50 creations/s: the API server's
   own apiserver_admission_webhook_admission_duration_seconds (p50/p99 estimated from its
   buckets, the calls of this step only), and the client-side creation latency (p50/p99) in a
   namespace the webhook judges against kube-system, which the webhook never sees, in the
   same run: the ratio is the cost of admission.
3. The leading controller's resident memory (VmRSS and its peak VmHWM) with 3 Nodes and
   500 running pods, after its status pass.

    scripts/bench-control-plane.py [--pods 500] [--rate 50]

Uses its own state directory (target/dev-cluster-bench) and stops the cluster at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("FIPS_DEV_DIR", str(REPO / "target/dev-cluster-bench"))
import dev_cluster as dc  # noqa: E402


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def buckets_of(metrics: str, name: str, match: str) -> dict[float, float]:
    merged: dict[float, float] = {}
    for line in metrics.splitlines():
        if line.startswith(name + "_bucket{") and match in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            key = float("inf") if le == "+Inf" else float(le)
            merged[key] = merged.get(key, 0) + float(line.rsplit(" ", 1)[1])
    return merged


def histogram_quantile(metrics: str, name: str, q: float, match: str = "",
                       before: str = "") -> tuple[float, int]:
    """The q-quantile of the calls counted in `metrics` and not yet in `before`."""
    merged = buckets_of(metrics, name, match)
    for le, n in buckets_of(before, name, match).items():
        merged[le] = merged.get(le, 0) - n
    items = sorted(merged.items())
    total = items[-1][1] if items else 0
    if total == 0:
        return float("nan"), 0
    want = q * total
    prev_le, prev_n = 0.0, 0.0
    for le, n in items:
        if n >= want:
            if le == float("inf"):
                return prev_le, int(total)
            # Linear inside the bucket, as Prometheus' histogram_quantile does.
            return prev_le + (le - prev_le) * ((want - prev_n) / max(n - prev_n, 1e-9)), int(total)
        prev_le, prev_n = le, n
    return items[-1][0], int(total)


def create_pods(api: dc.Api, ns: str, image: str, count: int, rate: float, prefix: str) -> list[float]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{prefix}-{i}", "namespace": ns},
                "spec": {"containers": [{"name": "app", "image": image}]}}
        t = time.perf_counter()
        try:
            api.request("POST", f"/api/v1/namespaces/{ns}/pods", body)
            with lock:
                latencies.append(time.perf_counter() - t)
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(str(e))

    threads = []
    start = time.perf_counter()
    for i in range(count):
        target = start + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        th = threading.Thread(target=one, args=(i,))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    if errors:
        dc.die(f"{len(errors)} pod creations failed in {ns}, e.g. {errors[0]}")
    return latencies


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=500)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--policies", type=int, default=5)
    args = ap.parse_args()

    subprocess.run([str(REPO / "scripts/install-test-deps.sh")], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([str(REPO / "scripts/build-fixtures.sh"), "go127-fips-certified"], check=True,
                   stdout=subprocess.DEVNULL)
    try:
        out = subprocess.run([sys.executable, str(REPO / "scripts/dev_cluster.py"), "up"], check=True,
                             stdout=subprocess.PIPE).stdout.decode()
        state = dc.State(dc.state_dir())
        api = dc.Api(state.data["ports"]["apiserver"], state.dir / "pki")
        registry = state.data["registry"]
        digest = dc.push_image(registry, "bench/fips-app:1",
                               {"usr/bin/app": (REPO / "target/fixtures/go127-fips-certified", 0o755)},
                               "/usr/bin/app", state.dir)
        image = f"{registry}/bench/fips-app@{digest}"
        rows = []

        # 1. apply -> Ready
        for ns, labels in (("bench-judged", {"bench": "judged"}),):
            api.apply(f"/api/v1/namespaces/{ns}", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": ns, "labels": labels}})
        times = []
        for i in range(args.policies):
            name = f"bench-{i}"
            t = time.perf_counter()
            api.apply(f"/apis/fips.operator.dev/v1alpha1/fipspolicies/{name}", {
                "apiVersion": "fips.operator.dev/v1alpha1", "kind": "FipsPolicy",
                "metadata": {"name": name},
                "spec": {"mode": "Enforce", "namespaceSelector": {"matchLabels": {"bench": "judged"}},
                         "images": {"unknownAction": "Allow"}}})
            while True:
                p = api.get(f"/apis/fips.operator.dev/v1alpha1/fipspolicies/{name}")
                conds = {c["type"]: c for c in p.get("status", {}).get("conditions", [])}
                if "Ready" in conds and p["status"].get("observedGeneration") == p["metadata"]["generation"]:
                    break
                if time.perf_counter() - t > 120:
                    dc.die(f"{name} got no Ready condition in 120 s: {p.get('status')}")
                time.sleep(0.05)
            times.append(time.perf_counter() - t)
        rows.append(("FipsPolicy apply → Ready condition (median of %d)" % args.policies,
                     f"{statistics.median(times) * 1000:.0f} ms", f"min {min(times) * 1000:.0f} ms, "
                     f"max {max(times) * 1000:.0f} ms"))

        # Let the image get its report, so admissions below are cached verdicts: a real create
        # (a dry run requests no scan), admitted by unknownAction Allow.
        probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "warm", "namespace": "bench-judged"},
                 "spec": {"containers": [{"name": "app", "image": image}]}}
        api.request("POST", "/api/v1/namespaces/bench-judged/pods", probe)
        deadline = time.time() + 180
        while True:
            try:
                report = api.get_opt("/apis/fips.operator.dev/v1alpha1/fipsimagereports/"
                                     + digest.replace(":", "-"))
                if report and report.get("status", {}).get("phase") == "Scanned":
                    break
            except dc.ApiError:
                pass
            if time.time() > deadline:
                dc.die("the benchmark image was never scanned")
            time.sleep(1)

        # 2. 50 creations/s, without the webhook then with it.
        half = args.pods // 2
        base = create_pods(api, "kube-system", image, half, args.rate, "bench-base")
        before = api.request("GET", "/metrics").decode()
        judged = create_pods(api, "bench-judged", image, args.pods - half, args.rate, "judged")
        after = api.request("GET", "/metrics").decode()
        name = "apiserver_admission_webhook_admission_duration_seconds"
        match = 'name="workloads.fips.operator.dev"'
        p50, n = histogram_quantile(after, name, 0.5, match, before)
        p99, _ = histogram_quantile(after, name, 0.99, match, before)
        rows.append((f"webhook admission duration (API server histogram, {n} calls)",
                     f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms", ""))
        b50, b99 = quantile(base, 0.5), quantile(base, 0.99)
        j50, j99 = quantile(judged, 0.5), quantile(judged, 0.99)
        rows.append((f"pod creation at {args.rate:.0f}/s without the webhook ({len(base)} pods)",
                     f"p50 {b50 * 1000:.1f} ms, p99 {b99 * 1000:.1f} ms", "baseline"))
        rows.append((f"pod creation at {args.rate:.0f}/s judged by the webhook ({len(judged)} pods)",
                     f"p50 {j50 * 1000:.1f} ms, p99 {j99 * 1000:.1f} ms",
                     f"{j50 / b50:.2f}x p50, {j99 / b99:.2f}x p99 of the baseline"))

        # 3. Controller memory with 3 Nodes and the pods running.
        def running() -> int:
            pods = api.get("/api/v1/pods?fieldSelector=status.phase%3DRunning")["items"]
            return sum(1 for p in pods if p["metadata"]["name"].startswith(("bench-base-", "judged-")))
        deadline = time.time() + 120
        while running() < args.pods and time.time() < deadline:
            time.sleep(1)
        time.sleep(10)
        lease = api.get("/apis/coordination.k8s.io/v1/namespaces/fips-operator/leases/fips-operator-controller")
        holder = lease["spec"]["holderIdentity"]
        proc = f"controller-{holder.rsplit('-', 1)[1]}"
        pid = dc.State(dc.state_dir()).procs[proc]["pid"]
        status = Path(f"/proc/{pid}/status").read_text()
        mem = {k: v.strip() for k, v in (l.split(":", 1) for l in status.splitlines() if l.startswith("Vm"))}
        rows.append((f"leading controller memory, 3 Nodes, {running()} running pods",
                     f"VmRSS {mem['VmRSS']}", f"peak VmHWM {mem['VmHWM']}"))

        print("| what | measured | note |\n|---|---|---|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} |")
    finally:
        subprocess.run([sys.executable, str(REPO / "scripts/dev_cluster.py"), "down"])


if __name__ == "__main__":
    main()
