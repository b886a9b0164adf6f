#!/usr/bin/env bash
# Admission webhook load (p99 < 2 ms at 2,000 reviews/s over TLS on loopback, 2
# cores). Starts `fips-operator controller --standalone` with a cached (report) verdict, then
# drives it with oha (a Rust HTTP load generator from crates.io, installed if missing) over
# TLS with keep-alive, as the API server does:
#   1. POST /validate at a fixed 2,000 requests/s for 20 s (latency corrected): p50, p99;
#   2. the same against GET /ready (TLS and HTTP only, no review): the baseline of this run;
#   3. POST /validate as fast as 32 connections go for 10 s: the maximum sustained rate.
#
#   scripts/bench-webhook.sh [SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECS=${1:-20}
command -v oha >/dev/null || cargo install oha --locked
cargo build --release --quiet
BIN=$PWD/target/release/fips-operator
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -nodes -days 1 \
  -subj /CN=bench -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
DIGEST=sha256:$(printf '1%.0s' $(seq 64))
cat >"$WORK/policy.yaml" <<YAML
apiVersion: fips.operator.dev/v1alpha1
kind: FipsPolicy
metadata: {name: bench}
spec: {mode: Enforce}
YAML
cat >"$WORK/reports.yaml" <<YAML
apiVersion: fips.operator.dev/v1alpha1
kind: FipsImageReport
metadata: {name: sha256-1111}
spec: {digest: "$DIGEST"}
status:
  phase: Scanned
  outcome: compliant
  scannerVersion: "0.1.0"
  fipsCapable: [{path: usr/bin/app, verdict: fips-capable, module: "go-native v1.0.0-c2097c7c default-on"}]
YAML
cat >"$WORK/review.json" <<JSON
{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"b0b3",
 "kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
 "name":"web","namespace":"apps","operation":"CREATE","userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller"},
 "object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"apps"},
  "spec":{"containers":[{"name":"web","image":"reg.example/web@$DIGEST"},{"name":"sidecar","image":"reg.example/web@$DIGEST"}]}},
 "dryRun":false}}
JSON
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" controller --standalone --policy "$WORK/policy.yaml" --reports "$WORK/reports.yaml" \
  --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" --webhook-addr "127.0.0.1:$PORT" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
URL=https://127.0.0.1:$PORT
run() { oha --no-tui --insecure --output-format json "$@"; }
# warm-up, and a check that the review is admitted
curl -s --cacert "$WORK/cert.pem" --data-binary @"$WORK/review.json" "$URL/validate" | grep -q '"allowed":true'
run -z 3s -q 500 -m POST -D "$WORK/review.json" -H 'Content-Type: application/json' "$URL/validate" >/dev/null
run -z "${SECS}s" -q 2000 --latency-correction -c 16 -m POST -D "$WORK/review.json" \
  -H 'Content-Type: application/json' "$URL/validate" >"$WORK/fixed.json"
run -z "${SECS}s" -q 2000 --latency-correction -c 16 "$URL/ready" >"$WORK/baseline.json"
run -z 10s -c 32 -m POST -D "$WORK/review.json" -H 'Content-Type: application/json' "$URL/validate" >"$WORK/max.json"
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
def load(n): return json.load(open(f"{w}/{n}.json"))
def pct(d, p):
    lp = d["latencyPercentiles"]
    return lp.get(p, lp.get(p.replace("p", ""))) * 1000
fixed, base, mx = load("fixed"), load("baseline"), load("max")
ok = fixed["statusCodeDistribution"]
print(f"reviews at a fixed 2,000/s: p50 {pct(fixed, 'p50'):.3f} ms, p99 {pct(fixed, 'p99'):.3f} ms "
      f"(target p99 < 2 ms); {fixed['summary']['requestsPerSec']:.0f}/s achieved; status codes {ok}")
print(f"baseline GET /ready at 2,000/s: p50 {pct(base, 'p50'):.3f} ms, p99 {pct(base, 'p99'):.3f} ms")
print(f"ratio review p99 / baseline p99: {pct(fixed, 'p99') / pct(base, 'p99'):.2f}x")
print(f"maximum sustained rate (32 connections, 10 s): {mx['summary']['requestsPerSec']:.0f} reviews/s, "
      f"p99 {pct(mx, 'p99'):.3f} ms; status codes {mx['statusCodeDistribution']}")
PY
