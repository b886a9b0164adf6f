#!/usr/bin/env bash
# Image target: scanning an image costs <= 1.3x just decompressing its layers
# (gzip -dc > /dev/null), measured in the same run, with peak memory.
#   scripts/bench-image.sh [RUNS]   (default 3; the median is reported)
# The image: an OCI layout of several hundred MB built from real binaries (the fixtures and
# this machine's /usr/bin and Go 1.19 toolchain), in target/bench-image/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
scripts/install-test-deps.sh
scripts/build-fixtures.sh >/dev/null
cargo build --release --quiet
BIN=target/release/fips-operator
LAYOUT=target/bench-image/layout
[ -x /usr/bin/time ] || { apt-get install -y -qq time >/dev/null; }

if [ ! -f "$LAYOUT/index.json" ]; then
  python3 - "$LAYOUT" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{h}", "wb").write(data)
    return {"digest": f"sha256:{h}", "size": len(data)}
sources = [("target/fixtures", "opt/fixtures"), ("/usr/bin", "usr/bin"), ("/usr/lib/go-1.19", "usr/lib/go-1.19")]
layers, diff_ids = [], []
for src, dest in sources:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for dirpath, _, files in os.walk(src):
            if "/.cache" in dirpath or "/.rust-target" in dirpath:
                continue
            for f in files:
                p = os.path.join(dirpath, f)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                t.add(p, arcname=os.path.join(dest, os.path.relpath(p, src)))
    raw = buf.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    d = blob(gzip.compress(raw, compresslevel=6))
    d["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    layers.append(d)
config = blob(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
config["mediaType"] = "application/vnd.oci.image.config.v1+json"
manifest = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": layers}).encode())
manifest.update({"mediaType": "application/vnd.oci.image.manifest.v1+json", "annotations": {"org.opencontainers.image.ref.name": "bench"}})
json.dump({"schemaVersion": 2, "manifests": [manifest]}, open(f"{out}/index.json", "w"))
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
fi

LAYERS=$(python3 -c "
import json,sys
idx=json.load(open('$LAYOUT/index.json'))
m=json.load(open('$LAYOUT/blobs/sha256/'+idx['manifests'][0]['digest'][7:]))
print(' '.join('$LAYOUT/blobs/sha256/'+l['digest'][7:] for l in m['layers']))")
COMPRESSED=$(du -cb $LAYERS | tail -1 | cut -f1)
UNCOMPRESSED=$(cat $LAYERS | gzip -dc | wc -c)

measure() { # measure CMD... -> prints "seconds peak_kib" of the median run
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o /tmp/bench-time "$@" >/dev/null 2>&1 || true
    tail -1 /tmp/bench-time
  done | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2)'
}
read -r GZ_S GZ_KIB < <(measure sh -c "for l in $LAYERS; do gzip -dc \$l > /dev/null; done")
read -r SCAN_S SCAN_KIB < <(measure "$BIN" scan --no-cache -o json "oci:$LAYOUT:bench")
BINARIES=$( ("$BIN" scan --no-cache -o json "oci:$LAYOUT:bench" || true) | python3 -c "import json,sys; print(len(json.load(sys.stdin)[0]['binaries']))")
LARGEST=$( (find target/fixtures /usr/bin /usr/lib/go-1.19 -path '*/.cache' -prune -o -path '*/.rust-target' -prune -o -type f -printf '%s\n' 2>/dev/null || true) | sort -n | tail -1)
echo "image: $((COMPRESSED >> 20)) MiB compressed, $((UNCOMPRESSED >> 20)) MiB uncompressed, $BINARIES binaries judged; largest file $((LARGEST >> 20)) MiB"
echo "gzip -dc of the layers: ${GZ_S}s, peak ${GZ_KIB} KiB"
echo "fips-operator scan:     ${SCAN_S}s, peak ${SCAN_KIB} KiB"
python3 -c "print(f'scan / gzip -dc = {$SCAN_S/$GZ_S:.2f}x (target <= 1.3x); peak memory {$SCAN_KIB/1024:.0f} MiB')"
