#!/usr/bin/env python3
"""A local Kubernetes control plane with fips-operator installed: the engine behind
scripts/dev-cluster.sh (see its header for the interface).

Everything runs on this machine and listens on 127.0.0.1 only, on free ports:
etcd, kube-apiserver, kube-controller-manager and kube-scheduler (built from Kubernetes' Go
modules by scripts/build-control-plane.sh), a plain-HTTP docker-registry, three Nodes kept
Ready by a small stand-in for the kubelet (this script's `kubelet` role: it gives the pods
the scheduler binds to those Nodes a running status with image IDs by digest, and finishes
their deletion), the operator's chart applied server-side, and the operator's processes: two
controller replicas and one probe per Node, each with a kubeconfig holding a token of the
chart's own ServiceAccount (TokenRequest API), so every call they make is judged by the
chart's RBAC.

State (process ids, ports, certificates, logs) lives in $FIPS_DEV_DIR, default
target/dev-cluster/. Only the standard library is used.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAMESPACE = "fips-operator"
RELEASE = "fips-operator"
K8S_VERSION = "v1.37.2"
# Node name -> (architecture, FIPS mode of its host root).
NODES = {
    "dev-amd64-fips": ("amd64", True),
    "dev-amd64-plain": ("amd64", False),
    "dev-arm64-plain": ("arm64", False),
}
FIELD_MANAGER = "fips-operator-dev-cluster"
KUBELET_MANAGER = "fips-operator-dev-kubelet"


def log(msg: str) -> None:
    print(f"dev-cluster: {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> None:
    log(f"error: {msg}")
    sys.exit(1)


def state_dir() -> Path:
    d = os.environ.get("FIPS_DEV_DIR")
    return Path(d).resolve() if d else REPO / "target/dev-cluster"


def egress_socket(d: Path) -> Path:
    """A unix socket path short enough (108 bytes) wherever the state directory is."""
    tag = hashlib.sha256(str(d).encode()).hexdigest()[:12]
    return Path(f"/tmp/fips-dev-{os.getuid()}-{tag}.sock")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], *, input: bytes | None = None, check: bool = True,
        env: dict | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, input=input, capture_output=True, env=env)
    if check and p.returncode != 0:
        die(f"`{' '.join(map(str, cmd))}` failed ({p.returncode}):\n"
            f"{p.stderr.decode(errors='replace')}{p.stdout.decode(errors='replace')[-2000:]}")
    return p


# ---------------------------------------------------------------------------------------
# State


class State:
    def __init__(self, d: Path):
        self.dir = d
        self.file = d / "state.json"
        self.data = json.loads(self.file.read_text()) if self.file.exists() else {}

    def save(self) -> None:
        # A temporary file per process: `up` and the stand-in kubelet may save at once.
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, indent=2))
        tmp.replace(self.file)

    @property
    def procs(self) -> dict:
        return self.data.setdefault("processes", {})

    def port(self, name: str) -> int:
        ports = self.data.setdefault("ports", {})
        if name not in ports:
            ports[name] = free_port()
            self.save()
        return ports[name]


def start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot) and this boot's id: together they
    tell our process from a later one that reuses its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie of ours counts as gone
        return None
    return f"{boot}/{fields[19]}"


def alive(pid: int, started: str | None = None) -> bool:
    now = start_time(pid)
    return now is not None and (started is None or now == started)


def proc_alive(info: dict) -> bool:
    return alive(info["pid"], info.get("started"))


def start(state: State, name: str, cmd: list[str], env: dict | None = None) -> int:
    """Starts `cmd` in a session of its own, logging to logs/NAME.log; kept in the state."""
    old = state.procs.get(name)
    if old and proc_alive(old):
        return old["pid"]
    logs = state.dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out = open(logs / f"{name}.log", "ab")
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=full_env, start_new_session=True,
                         cwd=state.dir)
    state.procs[name] = {"pid": p.pid, "started": start_time(p.pid), "cmd": [str(c) for c in cmd],
                         "env": env or {}}
    state.save()
    return p.pid


def stop(state: State, name: str, grace: float = 10.0) -> bool:
    """Stops a process of ours (its whole session) by pid: SIGTERM, SIGKILL after `grace`.
    Forgets it once it is gone; True when it is."""
    info = state.procs.get(name)
    if not info:
        return True
    pid = info["pid"]
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not proc_alive(info):
            break
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        deadline = time.time() + wait
        while time.time() < deadline and proc_alive(info):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)
    if proc_alive(info):
        return False
    state.procs.pop(name, None)
    state.save()
    return True


def wait_until(what: str, secs: float, check, log_name: str | None = None, state: State | None = None):
    deadline = time.time() + secs
    last = None
    while time.time() < deadline:
        try:
            r = check()
            if r:
                return r
        except Exception as e:  # noqa: BLE001 - shown if it never succeeds
            last = e
        if state and log_name:
            info = state.procs.get(log_name)
            if info and not proc_alive(info):
                tail = (state.dir / "logs" / f"{log_name}.log").read_text(errors="replace")[-3000:]
                die(f"{log_name} exited while waiting for {what}:\n{tail}")
        time.sleep(0.25)
    tail = ""
    if state and log_name:
        tail = "\n" + (state.dir / "logs" / f"{log_name}.log").read_text(errors="replace")[-3000:]
    die(f"timed out after {secs:.0f} s waiting for {what} ({last}){tail}")


# ---------------------------------------------------------------------------------------
# PKI (openssl's command line: nothing to install beyond Debian's openssl)


def pki(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    if (d / "done").exists():
        return

    def ec_key(name: str) -> None:
        run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(d / f"{name}.key")])

    ec_key("ca")
    run(["openssl", "req", "-x509", "-new", "-key", str(d / "ca.key"), "-sha256", "-days", "3650",
         "-subj", "/CN=fips-operator-dev-ca", "-out", str(d / "ca.crt")])

    def leaf(name: str, subj: str, ext: str) -> None:
        ec_key(name)
        run(["openssl", "req", "-new", "-key", str(d / f"{name}.key"), "-subj", subj,
             "-out", str(d / f"{name}.csr")])
        (d / f"{name}.ext").write_text(ext)
        run(["openssl", "x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"),
             "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-sha256", "-days", "365",
             "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.crt")])

    leaf("apiserver", "/CN=kube-apiserver",
         "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
         "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,"
         "DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n")
    leaf("admin", "/O=system:masters/CN=dev-admin",
         "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
    leaf("front-proxy", "/CN=front-proxy-client",
         "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
    # The ServiceAccount token signing key.
    run(["openssl", "genrsa", "-out", str(d / "sa.key"), "2048"])
    run(["openssl", "rsa", "-in", str(d / "sa.key"), "-pubout", "-out", str(d / "sa.pub")])
    (d / "done").write_text("ok\n")


# ---------------------------------------------------------------------------------------
# A minimal API client (admin client certificate, or a bearer token)


class Api:
    def __init__(self, port: int, pki_dir: Path, token: str | None = None):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
        if token is None:
            self.ctx.load_cert_chain(str(pki_dir / "admin.crt"), str(pki_dir / "admin.key"))
        self.token = token

    def request(self, method: str, path: str, body=None, content_type: str = "application/json",
                ok=(200, 201, 202)):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        if resp.status not in ok:
            raise ApiError(resp.status, f"{method} {path}: {resp.status} {raw[:500].decode(errors='replace')}")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def get(self, path: str):
        return self.request("GET", path)

    def get_opt(self, path: str):
        try:
            return self.get(path)
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    def apply(self, path: str, obj: dict, manager: str = FIELD_MANAGER):
        q = urllib.parse.urlencode({"fieldManager": manager, "force": "true"})
        return self.request("PATCH", f"{path}?{q}", obj, "application/apply-patch+yaml")


class ApiError(Exception):
    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status = status


def kubeconfig(path: Path, port: int, pki_dir: Path, user: dict) -> None:
    ca = base64.b64encode((pki_dir / "ca.crt").read_bytes()).decode()
    cfg = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "fips-dev", "cluster": {"server": f"https://127.0.0.1:{port}",
                                                      "certificate-authority-data": ca}}],
        "users": [{"name": "user", "user": user}],
        "contexts": [{"name": "fips-dev", "context": {"cluster": "fips-dev", "user": "user"}}],
        "current-context": "fips-dev",
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cfg, indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


# ---------------------------------------------------------------------------------------
# Binaries


def control_plane_bin() -> Path:
    p = run([str(REPO / "scripts/build-control-plane.sh")], check=False)
    sys.stderr.write(p.stderr.decode(errors="replace"))
    if p.returncode != 0:
        die("building the control plane failed (scripts/build-control-plane.sh)")
    return Path(p.stdout.decode().strip().splitlines()[-1])


def operator_bin() -> Path:
    given = os.environ.get("FIPS_OPERATOR_BIN")
    if given:
        b = Path(given).resolve()
        if not os.access(b, os.X_OK):
            die(f"FIPS_OPERATOR_BIN={given} is not an executable file")
        return b
    log("building fips-operator (cargo build --release --bin fips-operator)")
    p = subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "fips-operator"], cwd=REPO)
    if p.returncode != 0:
        die("cargo build failed")
    return REPO / "target/release/fips-operator"


# ---------------------------------------------------------------------------------------
# Images: OCI layouts written here, pushed to the local registry with skopeo


def push_image(registry: str, name: str, files: dict[str, tuple[Path, int]], entrypoint: str,
               workdir: Path, arch: str = "amd64") -> str:
    """Builds a one-layer image holding `files` (path in image -> (source, mode)) and pushes it
    as REGISTRY/NAME; returns the manifest digest."""
    layout = workdir / "oci" / name.replace("/", "_").replace(":", "_")
    shutil.rmtree(layout, ignore_errors=True)
    (layout / "blobs/sha256").mkdir(parents=True)

    def blob(data: bytes) -> tuple[str, int]:
        h = hashlib.sha256(data).hexdigest()
        (layout / "blobs/sha256" / h).write_bytes(data)
        return f"sha256:{h}", len(data)

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for dest in sorted(files):
            parts = dest.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type = tarfile.DIRTYPE
                    ti.mode = 0o755
                    tar.addfile(ti)
            src, mode = files[dest]
            ti = tar.gettarinfo(str(src), arcname=dest.strip("/"))
            ti.mode = mode
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            ti.mtime = 0
            with open(src, "rb") as f:
                tar.addfile(ti, f)
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    layer_digest, layer_size = blob(gzip.compress(raw.getvalue(), compresslevel=1, mtime=0))
    config = {"architecture": arch, "os": "linux",
              "config": {"Entrypoint": [entrypoint], "User": "65532"},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    config_digest, config_size = blob(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": config_digest, "size": config_size},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": layer_digest, "size": layer_size}]}
    manifest_bytes = json.dumps(manifest).encode()
    manifest_digest, manifest_size = blob(manifest_bytes)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": manifest_size,
                       "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    run(["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
         "--preserve-digests", f"oci:{layout}:latest", f"docker://{registry}/{name}"])
    return manifest_digest


def registry_digest(registry: str, image: str) -> str | None:
    """The manifest digest of `image` (REGISTRY/REPO[:TAG][@DIGEST]) in the local registry."""
    rest = image[len(registry) + 1:]
    if "@" in rest:
        return rest.split("@", 1)[1]
    repo, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    host, port = registry.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("HEAD", f"/v2/{repo}/manifests/{tag}", headers={"Accept": ", ".join([
            "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.distribution.manifest.list.v2+json"])})
        r = conn.getresponse()
        r.read()
        return r.getheader("Docker-Content-Digest") if r.status == 200 else None
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------
# up


def up() -> None:
    d = state_dir()
    d.mkdir(parents=True, exist_ok=True)
    state = State(d)
    etcd = state.procs.get("etcd")
    if not (etcd and proc_alive(etcd)) and (d / "logs").exists():
        # A new cluster: the previous one's logs (and audit log) move aside.
        shutil.rmtree(d / "logs.previous", ignore_errors=True)
        (d / "logs").rename(d / "logs.previous")
    bins = control_plane_bin()
    operator = operator_bin()
    state.data["bin"] = str(bins)
    state.data["operator"] = str(operator)
    state.save()
    pki_dir = d / "pki"
    pki(pki_dir)

    etcd_port, etcd_peer = state.port("etcd"), state.port("etcd-peer")
    api_port = state.port("apiserver")
    registry_port = state.port("registry")
    registry = f"127.0.0.1:{registry_port}"
    state.data["registry"] = registry
    state.save()

    # etcd
    start(state, "etcd", [bins / "etcd", "--name", "dev", "--data-dir", d / "etcd",
                          "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                          "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                          "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
                          "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
                          "--initial-cluster", f"dev=http://127.0.0.1:{etcd_peer}",
                          "--unsafe-no-fsync", "--log-level", "warn"])

    def etcd_healthy():
        conn = http.client.HTTPConnection("127.0.0.1", etcd_port, timeout=2)
        conn.request("GET", "/health")
        return b'"true"' in conn.getresponse().read()
    wait_until("etcd", 60, etcd_healthy, "etcd", state)

    # The registry: Debian's docker-registry (distribution 2.8), plain HTTP on loopback.
    (d / "registry").mkdir(exist_ok=True)
    (d / "registry.yml").write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {d / 'registry'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{registry_port}\n")
    registry_bin = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    start(state, "registry", [registry_bin, "serve", d / "registry.yml"])

    # The egress proxy, standing in for kube-proxy.
    (d / "egress.yaml").write_text(json.dumps({
        "apiVersion": "apiserver.k8s.io/v1beta1", "kind": "EgressSelectorConfiguration",
        "egressSelections": [{"name": "cluster", "connection": {
            "proxyProtocol": "HTTPConnect", "transport": {"uds": {"udsName": str(egress_socket(d))}}}}]}))
    if not (state.procs.get("egress") and proc_alive(state.procs["egress"])):
        egress_socket(d).unlink(missing_ok=True)
    start(state, "egress", [sys.executable, Path(__file__).resolve(), "egress"],
          env={"FIPS_DEV_DIR": str(d)})
    wait_until("the egress proxy", 30, lambda: egress_socket(d).exists(), "egress", state)

    (d / "audit-policy.yaml").write_text(json.dumps({
        "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
        "rules": [{"level": "Metadata", "userGroups": [f"system:serviceaccounts:{NAMESPACE}"]},
                  {"level": "None"}]}))

    # kube-apiserver
    start(state, "kube-apiserver", [
        bins / "kube-apiserver",
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
        f"--tls-cert-file={pki_dir / 'apiserver.crt'}", f"--tls-private-key-file={pki_dir / 'apiserver.key'}",
        f"--client-ca-file={pki_dir / 'ca.crt'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki_dir / 'sa.pub'}",
        f"--service-account-signing-key-file={pki_dir / 'sa.key'}",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity,"
        "MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy",
        # No kube-proxy here: the API server reaches Services (the webhook's) through an
        # HTTP CONNECT egress proxy of ours that forwards a Service's ClusterIP:port to the
        # processes serving it on 127.0.0.1 (EndpointSlices may not hold loopback addresses).
        f"--egress-selector-config-file={d / 'egress.yaml'}",
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        f"--proxy-client-cert-file={pki_dir / 'front-proxy.crt'}",
        f"--proxy-client-key-file={pki_dir / 'front-proxy.key'}",
        f"--requestheader-client-ca-file={pki_dir / 'ca.crt'}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--profiling=false",
        # Every request of the operator's ServiceAccounts, with its answer: what the tests
        # compare with the chart's RBAC.
        f"--audit-policy-file={d / 'audit-policy.yaml'}", f"--audit-log-path={d / 'logs/audit.log'}",
        "--audit-log-format=json", "--audit-log-mode=blocking",
    ])
    api = Api(api_port, pki_dir)

    def api_ready():
        return api.request("GET", "/readyz", ok=(200,)) == b"ok"
    wait_until("kube-apiserver /readyz", 120, api_ready, "kube-apiserver", state)

    admin_kc = d / "admin.kubeconfig"
    kubeconfig(admin_kc, api_port, pki_dir, {
        "client-certificate-data": base64.b64encode((pki_dir / "admin.crt").read_bytes()).decode(),
        "client-key-data": base64.b64encode((pki_dir / "admin.key").read_bytes()).decode()})
    state.data["kubeconfig"] = str(admin_kc)
    state.save()

    kcm_port, sched_port = state.port("kube-controller-manager"), state.port("kube-scheduler")
    start(state, "kube-controller-manager", [
        bins / "kube-controller-manager", f"--kubeconfig={admin_kc}",
        f"--authentication-kubeconfig={admin_kc}", f"--authorization-kubeconfig={admin_kc}",
        "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={kcm_port}",
        "--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller,"
        "serviceaccount-token-controller,daemonset-controller,deployment-controller,"
        "replicaset-controller,job-controller,statefulset-controller,"
        "root-ca-certificate-publisher-controller",
        f"--service-account-private-key-file={pki_dir / 'sa.key'}",
        f"--root-ca-file={pki_dir / 'ca.crt'}", "--use-service-account-credentials=true",
    ])
    start(state, "kube-scheduler", [
        bins / "kube-scheduler", f"--kubeconfig={admin_kc}",
        f"--authentication-kubeconfig={admin_kc}", f"--authorization-kubeconfig={admin_kc}",
        "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={sched_port}",
    ])
    wait_until("the default ServiceAccount", 60,
               lambda: api.get_opt("/api/v1/namespaces/default/serviceaccounts/default"),
               "kube-controller-manager", state)
    wait_until("registry", 30, lambda: registry_digest(registry, f"{registry}/none:x") is None,
               "registry", state)

    register_nodes(api, d)
    start(state, "kubelet", [sys.executable, Path(__file__).resolve(), "kubelet"],
          env={"FIPS_DEV_DIR": str(d)})

    install_operator(state, api, bins, operator, registry)

    print(f"export KUBECONFIG={admin_kc}")
    print(f"export FIPS_DEV_REGISTRY={registry}")


def node_object(name: str, arch: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch,
            "node-role.kubernetes.io/worker": "",
            "node.kubernetes.io/instance-type": "dev-local"}},
        "spec": {},
    }


def node_status(arch: str) -> dict:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"status": {
        "capacity": {"cpu": "8", "memory": "32Gi", "pods": "250"},
        "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "250"},
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "nodeInfo": {"architecture": arch, "operatingSystem": "linux", "kubeletVersion": K8S_VERSION,
                     "containerRuntimeVersion": "dev-cluster://0", "osImage": "dev-cluster host root",
                     "kernelVersion": os.uname().release, "kubeProxyVersion": "",
                     "machineID": "", "systemUUID": "", "bootID": ""},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "dev-cluster stand-in kubelet", "lastHeartbeatTime": now,
                        "lastTransitionTime": now}],
    }}


def clear_not_ready_taints(api: Api, name: str) -> None:
    """The API server taints a new Node not-ready; the node lifecycle controller lifts that
    once the kubelet reports Ready. This is our stand-in for it (the other taints stay)."""
    node = api.get_opt(f"/api/v1/nodes/{name}")
    if node is None:
        return
    taints = node["spec"].get("taints") or []
    keep = [t for t in taints if not t["key"].startswith(("node.kubernetes.io/not-ready",
                                                          "node.kubernetes.io/unreachable"))]
    if len(keep) != len(taints):
        api.request("PATCH", f"/api/v1/nodes/{name}", [
            {"op": "test", "path": "/metadata/resourceVersion", "value": node["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/spec/taints", "value": keep}], "application/json-patch+json",
            ok=(200, 409, 422))


def register_nodes(api: Api, d: Path) -> None:
    for name, (arch, fips) in NODES.items():
        if api.get_opt(f"/api/v1/nodes/{name}") is None:
            api.request("POST", "/api/v1/nodes", node_object(name, arch))
        api.request("PATCH", f"/api/v1/nodes/{name}/status", node_status(arch),
                    "application/strategic-merge-patch+json")
        clear_not_ready_taints(api, name)
        # The node's host root, as the probe's DaemonSet mounts it: /proc and /etc.
        root = d / "nodes" / name
        (root / "proc/sys/crypto").mkdir(parents=True, exist_ok=True)
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "proc/sys/crypto/fips_enabled").write_text("1\n" if fips else "0\n")
        (root / "proc/cmdline").write_text(
            "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro" + (" fips=1" if fips else "") + "\n")
        (root / "etc/os-release").write_text(
            'NAME="dev-cluster"\nID=dev\nPRETTY_NAME="dev-cluster host root"\n')
        if fips:
            (root / "etc/crypto-policies").mkdir(exist_ok=True)
            (root / "etc/crypto-policies/config").write_text("FIPS\n")


def token_for(api: Api, sa: str, hours: int = 24, node: str | None = None) -> str:
    """A token of ServiceAccount `sa`; with `node`, bound to that Node, so that it names the
    node (authentication.kubernetes.io/node-name) as the kubelet's projected token of a pod on
    it does, and dies with it."""
    spec: dict = {"expirationSeconds": hours * 3600}
    if node is not None:
        uid = api.get(f"/api/v1/nodes/{node}")["metadata"]["uid"]
        spec["boundObjectRef"] = {"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    r = api.request("POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{sa}/token", body)
    return r["status"]["token"]


def render_chart(values: list[str], include_crds: bool) -> bytes:
    cmd = [sys.executable, str(REPO / "scripts/render-chart.py")]
    for v in values:
        cmd += ["--set", v]
    if include_crds:
        cmd.append("--include-crds")
    return run(cmd).stdout


def kubectl(bins: Path, kc: Path, args: list[str], input: bytes | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
    return run([str(bins / "kubectl"), f"--kubeconfig={kc}", *args], input=input, check=check)


def install_operator(state: State, api: Api, bins: Path, operator: Path, registry: str) -> None:
    d = state.dir
    kc = Path(state.data["kubeconfig"])
    # The operator's image, as the chart refers to it: the binary these processes run.
    tag = "dev"
    if state.data.get("operator_image_of") != str(operator) or \
            registry_digest(registry, f"{registry}/fips-operator:{tag}") is None:
        log(f"pushing {registry}/fips-operator:{tag} ({operator})")
        push_image(registry, f"fips-operator:{tag}",
                   {"usr/local/bin/fips-operator": (operator, 0o755)},
                   "/usr/local/bin/fips-operator", d)
        state.data["operator_image_of"] = str(operator)
        state.save()

    values = [f"image.repository={registry}/fips-operator", f"image.tag={tag}",
              "probe.interval=30", "logFormat=text"]
    # The namespace first, labelled for Pod Security as the chart's NOTES ask (the probe
    # needs hostPID and host paths).
    api.apply(f"/api/v1/namespaces/{NAMESPACE}", {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {
            "pod-security.kubernetes.io/enforce": "privileged",
            "pod-security.kubernetes.io/warn": "privileged"}}})
    manifests = render_chart(values, include_crds=True)
    (d / "chart.yaml").write_bytes(manifests)
    p = kubectl(bins, kc, ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}",
                           "-f", str(d / "chart.yaml")])
    (d / "logs" / "chart-apply.log").write_bytes(p.stdout + p.stderr)
    kubectl(bins, kc, ["wait", "--for=condition=Established", "--timeout=60s",
                       "crd/fipspolicies.fips.operator.dev", "crd/fipsstatuses.fips.operator.dev",
                       "crd/fipsimagereports.fips.operator.dev"])

    # The webhook Service reaches the controllers on 127.0.0.1 through the egress proxy.
    service = f"{RELEASE}-webhook"
    svc = api.get(f"/api/v1/namespaces/{NAMESPACE}/services/{service}")
    deploy = api.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{RELEASE}-controller")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    args = list(container.get("args", []))
    controller_sa = deploy["spec"]["template"]["spec"]["serviceAccountName"]
    probe_sa = f"{RELEASE}-probe"
    replicas = int(os.environ.get("FIPS_DEV_CONTROLLERS", "2"))
    backends = [f"127.0.0.1:{state.port(f'controller-{i}-webhook')}" for i in range(replicas)]
    state.data["services"] = {f"{svc['spec']['clusterIP']}:{p['port']}": backends
                              for p in svc["spec"]["ports"]}
    state.save()
    for i in range(replicas):
        name = f"controller-{i}"
        webhook_port, metrics_port = state.port(f"{name}-webhook"), state.port(f"{name}-metrics")
        token = token_for(api, controller_sa)
        ckc = d / f"{name}.kubeconfig"
        kubeconfig(ckc, api.port, d / "pki", {"token": token})
        start(state, name, [operator, *args, "--webhook-addr", f"127.0.0.1:{webhook_port}",
                            "--metrics-addr", f"127.0.0.1:{metrics_port}"],
              env={"KUBECONFIG": str(ckc), "POD_NAMESPACE": NAMESPACE,
                   "POD_NAME": f"{RELEASE}-controller-dev-{i}", "RUST_LOG": "info"})
    for node in NODES:
        name = f"probe-{node}"
        token = token_for(api, probe_sa, node=node)
        pkc = d / f"{name}.kubeconfig"
        kubeconfig(pkc, api.port, d / "pki", {"token": token})
        start(state, name, [operator, "probe", "--host-root", d / "nodes" / node, "--interval", "30s"],
              env={"KUBECONFIG": str(pkc), "NODE_NAME": node, "RUST_LOG": "info"})

    def ready():
        for i in range(replicas):
            conn = http.client.HTTPConnection("127.0.0.1", state.port(f"controller-{i}-metrics"), timeout=2)
            conn.request("GET", "/ready")
            if conn.getresponse().status != 200:
                return False
        vwc = api.get(f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{RELEASE}")
        return all(w["clientConfig"].get("caBundle") for w in vwc["webhooks"])
    wait_until("the controllers to be ready and the webhook's caBundle", 120, ready, "controller-0", state)


# ---------------------------------------------------------------------------------------
# The stand-in kubelet


def kubelet() -> None:
    d = state_dir()
    state = State(d)
    api = Api(state.data["ports"]["apiserver"], d / "pki")
    registry = state.data["registry"]
    stop_now = []
    signal.signal(signal.SIGTERM, lambda *_: stop_now.append(1))
    last_heartbeat = 0.0
    started: dict[str, str] = {}
    while not stop_now:
        try:
            if time.time() - last_heartbeat > 20:
                for name, (arch, _) in NODES.items():
                    if api.get_opt(f"/api/v1/nodes/{name}") is not None:
                        api.request("PATCH", f"/api/v1/nodes/{name}/status", node_status(arch),
                                    "application/strategic-merge-patch+json")
                        clear_not_ready_taints(api, name)
                last_heartbeat = time.time()
            pods = api.get("/api/v1/pods")["items"]
            for pod in pods:
                node = pod["spec"].get("nodeName")
                if node not in NODES:
                    continue
                meta = pod["metadata"]
                path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
                if meta.get("deletionTimestamp"):
                    # Containers stopped: finish the deletion, as a kubelet does.
                    api.request("DELETE", path + "?gracePeriodSeconds=0",
                                {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                                 "preconditions": {"uid": meta["uid"]}}, ok=(200, 202, 404, 409))
                    continue
                if started.get(meta["uid"]) == meta.get("resourceVersion"):
                    continue
                status = pod_status(pod, registry)
                # Written once per change of what a kubelet would report (phase, image IDs,
                # container states), not on every pass.
                if signature(status) != signature(pod.get("status", {})):
                    api.request("PATCH", path + "/status", {"status": status},
                                "application/merge-patch+json", ok=(200, 404, 409))
                if status["phase"] == "Running":
                    started[meta["uid"]] = meta.get("resourceVersion")
                # else: an image not pushed yet is looked up again next pass, as a kubelet retries.
            live = {p["metadata"]["uid"] for p in pods}
            for uid in [u for u in started if u not in live]:
                del started[uid]
        except Exception as e:  # noqa: BLE001 - keep going; the API server may be restarting
            print(f"kubelet: {e}", flush=True)
        time.sleep(0.5)


def signature(status: dict) -> tuple:
    def states(key: str) -> tuple:
        return tuple((c.get("name"), c.get("imageID"), tuple(sorted(c.get("state", {}))))
                     for c in status.get(key) or [])
    return status.get("phase"), states("containerStatuses"), states("initContainerStatuses")


def pod_status(pod: dict, registry: str) -> dict:
    spec = pod["spec"]
    statuses, init_statuses, waiting = [], [], False
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for kind, out in (("initContainers", init_statuses), ("containers", statuses)):
        for c in spec.get(kind, []):
            image = c["image"]
            digest = registry_digest(registry, image) if image.startswith(registry + "/") else None
            cid = hashlib.sha256(f"{pod['metadata']['uid']}/{c['name']}".encode()).hexdigest()
            if digest is None:
                waiting = True
                out.append({"name": c["name"], "image": image, "imageID": "", "ready": False,
                            "restartCount": 0, "started": False,
                            "state": {"waiting": {"reason": "ErrImagePull",
                                                  "message": f"dev-cluster: {image} is not in the local registry"}}})
                continue
            repo = image.split("@")[0]
            if repo.rfind(":") > repo.rfind("/"):
                repo = repo[:repo.rfind(":")]
            done = kind == "initContainers"
            out.append({"name": c["name"], "image": image, "imageID": f"{repo}@{digest}",
                        "containerID": f"containerd://{cid}", "ready": not done, "restartCount": 0,
                        "started": not done,
                        "state": ({"terminated": {"exitCode": 0, "reason": "Completed",
                                                  "startedAt": now, "finishedAt": now,
                                                  "containerID": f"containerd://{cid}"}}
                                  if done else {"running": {"startedAt": now}})})
    ready = "False" if waiting else "True"
    status = {
        "phase": "Pending" if waiting else "Running",
        "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}],
        "containerStatuses": statuses,
        "conditions": [{"type": t, "status": ready if t in ("Ready", "ContainersReady") else "True",
                        "lastTransitionTime": now}
                       for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if not status.get("startTime"):
        status["startTime"] = pod.get("status", {}).get("startTime") or now
    return status


# ---------------------------------------------------------------------------------------
# The egress proxy: HTTP CONNECT on a unix socket, ClusterIP:port -> a live local backend


def egress() -> None:
    import random
    import socketserver
    import threading

    d = state_dir()
    sock_path = egress_socket(d)
    sock_path.unlink(missing_ok=True)

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn = self.request
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode(errors="replace").split()
            target = line[1] if len(line) > 1 and line[0] == "CONNECT" else ""
            backends = list(State(d).data.get("services", {}).get(target, []))
            random.shuffle(backends)
            upstream = None
            for b in backends:
                host, port = b.rsplit(":", 1)
                try:
                    upstream = socket.create_connection((host, int(port)), timeout=2)
                    upstream.settimeout(None)
                    break
                except OSError:
                    continue
            if upstream is None:
                print(f"egress: no live backend for {target!r} ({backends})", flush=True)
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            t = threading.Thread(target=pipe, args=(upstream, conn), daemon=True)
            t.start()
            pipe(conn, upstream)
            t.join()
            upstream.close()

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    with Server(str(sock_path), Handler) as server:
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
        server.serve_forever()
    sock_path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# down, demo


def down() -> None:
    d = state_dir()
    state = State(d)
    order = [n for n in state.procs if n.startswith(("controller-", "probe-"))] + \
        ["kubelet", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "egress", "registry",
         "etcd"]
    order += [n for n in list(state.procs) if n not in order]
    left = [f"{name} (pid {state.procs[name]['pid']})" for name in order
            if name in state.procs and not stop(state, name)]
    if left:
        die(f"still running after SIGKILL: {', '.join(left)}; the cluster's data is kept")
    # Data goes with the processes: the next `up` starts a fresh cluster.
    for sub in ("etcd", "registry", "oci", "nodes"):
        shutil.rmtree(d / sub, ignore_errors=True)
    for key in ("ports", "operator_image_of", "services"):
        state.data.pop(key, None)
    state.save()
    log("stopped; logs kept under " + str(d / "logs"))


def restart(name: str) -> None:
    """Stops one process of the cluster and starts it again with the same command line."""
    state = State(state_dir())
    info = state.procs.get(name)
    if not info:
        die(f"no process {name!r} in {state.file}")
    stop(state, name)
    start(state, name, info["cmd"], env=info.get("env"))
    if name == "kube-apiserver":
        api = Api(state.data["ports"]["apiserver"], state.dir / "pki")
        wait_until("kube-apiserver /readyz", 120, lambda: api.request("GET", "/readyz", ok=(200,)) == b"ok",
                   name, state)
    log(f"restarted {name}")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("up", "down", "kubelet", "egress", "push", "restart"):
        print("usage: dev_cluster.py up|down|push", file=sys.stderr)
        sys.exit(2)
    cmd = sys.argv[1]
    if cmd == "up":
        up()
    elif cmd == "down":
        down()
    elif cmd == "kubelet":
        kubelet()
    elif cmd == "egress":
        egress()
    elif cmd == "restart":
        restart(sys.argv[2])
    elif cmd == "push":
        # push NAME:TAG SRC DEST-IN-IMAGE [ARCH]: a one-binary image in the local registry.
        state = State(state_dir())
        name, src, dest = sys.argv[2:5]
        arch = sys.argv[5] if len(sys.argv) > 5 else "amd64"
        digest = push_image(state.data["registry"], name, {dest: (Path(src), 0o755)}, "/" + dest.strip("/"),
                            state.dir, arch)
        print(f"{state.data['registry']}/{name.split(':')[0]}@{digest}")


if __name__ == "__main__":
    main()
