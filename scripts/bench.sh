#!/usr/bin/env bash
# Runs the inspector benchmark and prints the ratio against `go version -m` measured in the
# same run (target ≥ 10×).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
scripts/build-fixtures.sh >/dev/null
cargo bench --bench inspect -- --noplot "$@"
python3 - <<'PY'
import glob, json, os
for group in sorted(glob.glob("target/criterion/judge_go_nethttp_*")):
    est = lambda f: json.load(open(f"{group}/{f}/new/estimates.json"))["median"]["point_estimate"]
    go, ins, cs = est("baseline_go_version_m"), est("inspect"), est("checksum_whole_file")
    print(f"{os.path.basename(group)}: go version -m {go/1e6:.2f} ms, inspect {ins/1e6:.3f} ms, "
          f"checksum of the whole file {cs/1e6:.3f} ms")
    print(f"inspect is {go/ins:.1f}x faster than go version -m (target >= 10x); "
          f"{ins/cs:.2f}x the time of one pass over the bytes")
PY
