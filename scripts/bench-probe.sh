#!/usr/bin/env bash
# Probe resources (< 50 MiB resident, < 2% of a core steady state on a node with
# 110 pods). Starts 110 real processes from the fixture binaries (Go FIPS and non-FIPS, C on
# libcrypto), then runs `fips-operator probe --dry-run` for several back-to-back passes over
# the real /proc: the first pass judges every executable, later passes are the steady state
# (judgments are cached by file identity). Baseline, in the same run: a shell pass that only
# reads the same /proc files (exe link, maps, environ, cgroup) of every process.
#
#   scripts/bench-probe.sh [PASSES]      (default 20)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PASSES=${1:-20}
INTERVAL=300

cargo build --release --quiet
BIN=target/release/fips-operator
for f in go127-fips-certified go127-std go119-std go119-boring c-openssl-dynamic; do
  [ -x "target/fixtures/$f" ] || { echo "missing target/fixtures/$f: run scripts/build-fixtures.sh" >&2; exit 1; }
done

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start() { # binary args...: runs until killed (stdin is a pipe that stays open)
  local bin=$1; shift
  (sleep 100000 | "target/fixtures/$bin" "$@" >/dev/null 2>&1) &
  PIDS+=($!)
}
for i in $(seq 1 22); do
  start go127-fips-certified wait
  start go127-std wait
  start go119-std wait
  start go119-boring wait
  start c-openssl-dynamic x --wait
done
sleep 1
NPROC=$(ls -d /proc/[0-9]* | wc -l)

python3 - "$BIN" "$PASSES" "$INTERVAL" "$NPROC" <<'PY'
import os, re, resource, subprocess, sys, time
binary, passes, interval, nproc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

# Baseline: read what the probe reads, with no judging at all, `passes` times.
base_script = 'for p in /proc/[0-9]*; do readlink $p/exe; cat $p/maps $p/environ $p/cgroup; done >/dev/null 2>&1'
c0, t0 = cpu_children(), time.perf_counter()
for _ in range(passes):
    subprocess.run(["bash", "-c", base_script], check=False)
base_wall = (time.perf_counter() - t0) / passes
base_cpu = (cpu_children() - c0) / passes

c0 = cpu_children()
out = subprocess.run([binary, "probe", "--node", "bench", "--dry-run", "--passes", str(passes)],
                     capture_output=True, text=True, check=True)
probe_cpu = cpu_children() - c0
rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
times = [float(m) for m in re.findall(r"pass \d+: ([0-9.]+) ms", out.stderr)]
first, steady = times[0], sorted(times[1:])[len(times[1:]) // 2]
share = steady / 1000 / interval * 100
print(f"processes on the machine: {nproc} (110 started by the benchmark)")
print(f"probe first pass (judges every executable): {first:.1f} ms")
print(f"probe steady pass (median of {len(times) - 1}): {steady:.2f} ms")
print(f"baseline pass (shell reading the same /proc files): {base_wall * 1000:.2f} ms wall, {base_cpu * 1000:.2f} ms CPU")
print(f"ratio steady probe pass / baseline read: {steady / (base_wall * 1000):.2f}x")
print(f"probe CPU for {passes} passes: {probe_cpu * 1000:.0f} ms")
print(f"steady-state CPU at one pass per {interval} s: {share:.4f}% of a core (target < 2%)")
print(f"peak resident memory: {rss_mib:.1f} MiB (target < 50 MiB; includes the baseline shells, whose RSS is smaller)")
PY
