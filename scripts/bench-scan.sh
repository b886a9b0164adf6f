#!/usr/bin/env bash
# Scan time of large binaries, this tree against an earlier commit measured in the same run:
# the own-implementation markers (issue 19) must keep `scan` of a large binary within 1.2x of
# the time before them.
#
#   scripts/bench-scan.sh [BASE_REV] [FILE...]
#
# BASE_REV (default 9095cda, the last commit before the own-crypto markers) is checked out
# into a temporary worktree and built in release mode into target/bench-base (the first run
# builds its dependencies too: about 7 min on 2 cores; later runs reuse them). Both binaries
# then scan each FILE with --no-cache, alternating, RUNS times (default 15); the median
# wall-clock times and their ratio are printed. Default files: this tree's own release binary
# (a large Rust program, ~34 MB), the static OpenSSL and the Go net/http fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BASE_REV=${1:-9095cda}
shift || true
RUNS=${RUNS:-15}

cargo build --release --locked -q
NEW=$ROOT/target/release/fips-operator
BASE_DIR=$ROOT/target/bench-base
WT=$(mktemp -d)
trap 'git -C "$ROOT" worktree remove --force "$WT" >/dev/null 2>&1 || rm -rf "$WT"' EXIT
git worktree add -q --detach "$WT" "$BASE_REV"
echo "bench-scan: building $BASE_REV into $BASE_DIR" >&2
(cd "$WT" && CARGO_TARGET_DIR=$BASE_DIR cargo build --release --locked -q)
OLD=$BASE_DIR/release/fips-operator

FILES=("$@")
if [ ${#FILES[@]} -eq 0 ]; then
  scripts/build-fixtures.sh c-openssl-static go127-nethttp >/dev/null
  cp "$NEW" "$ROOT/target/bench-scan-subject"
  FILES=("$ROOT/target/bench-scan-subject" "$ROOT/target/fixtures/c-openssl-static" "$ROOT/target/fixtures/go127-nethttp")
fi

python3 - "$OLD" "$NEW" "$RUNS" "${FILES[@]}" <<'PY'
import statistics, subprocess, sys, time, os
old, new, runs, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
def once(binary, f):
    t = time.perf_counter()
    subprocess.run([binary, "scan", "--no-cache", "-o", "json", f],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t
worst = 0.0
for f in files:
    once(old, f); once(new, f)  # warm the page cache
    a, b = [], []
    for _ in range(runs):
        a.append(once(old, f)); b.append(once(new, f))
    mo, mn = statistics.median(a), statistics.median(b)
    worst = max(worst, mn / mo)
    print(f"{os.path.basename(f)} ({os.path.getsize(f) // 1024} KiB): base {mo*1e3:.1f} ms, "
          f"this tree {mn*1e3:.1f} ms, ratio {mn/mo:.2f}x")
print(f"worst ratio {worst:.2f}x (target <= 1.20x)")
PY
