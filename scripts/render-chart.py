#!/usr/bin/env python3
"""Lints and renders charts/fips-operator with Helm's own engine (PyPI helm-python-sdk, which
bundles Helm's Go SDK as a C library; scripts/install-test-deps.sh installs it in
target/tools/venv), as release `fips-operator` in namespace `fips-operator`.

    scripts/render-chart.py [-f VALUES.yaml]... [--set K=V]... [--set-string K=V]...
                            [--include-crds | --notes]
    scripts/render-chart.py --write-config config

Prints the manifests to stdout, like `helm template`; exits 1 with Helm's message when the
chart does not lint cleanly (warnings included) or does not render, 2 on a usage error.
--write-config copies crds/ into the chart and regenerates the kustomize bases config/crd,
config/rbac, config/manager and config/webhook from the chart's default render, without the
Helm-only labels.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / "target/tools/venv"
VENV_PYTHON = VENV / "bin/python"
CHART = REPO / "charts/fips-operator"
RELEASE = "fips-operator"
NAMESPACE = "fips-operator"
INSTALL_HINT = "run scripts/install-test-deps.sh (it installs helm-python-sdk in target/tools/venv)"

try:
    import helm_python as helm
except ImportError:
    if VENV_PYTHON.is_file() and Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    print(f"render-chart: helm-python-sdk is not installed for {sys.executable}: {INSTALL_HINT}",
          file=sys.stderr)
    sys.exit(2)

# Template -> file of the kustomize bases (--write-config). A template that renders with the
# default values must be listed here, so config/ cannot silently miss an object.
CONFIG_FILES = {
    "serviceaccount.yaml": "rbac/service_account.yaml",
    "rbac-controller.yaml": "rbac/controller.yaml",
    "rbac-probe.yaml": "rbac/probe.yaml",
    "probe-own-node.yaml": "rbac/probe_own_node.yaml",
    "deployment.yaml": "manager/deployment.yaml",
    "pdb.yaml": "manager/pdb.yaml",
    "service-metrics.yaml": "manager/metrics_service.yaml",
    "service-webhook.yaml": "webhook/service.yaml",
    "validatingwebhookconfiguration.yaml": "webhook/validatingwebhookconfiguration.yaml",
}
# Labels only a Helm release carries.
HELM_ONLY_LABELS = ("helm.sh/chart:", "app.kubernetes.io/managed-by:")


def fail(message: str, code: int = 1) -> None:
    print(f"render-chart: {message}", file=sys.stderr)
    sys.exit(code)


def merge(base: dict, override: dict) -> dict:
    """Helm's layering of values: maps merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def user_values(args: argparse.Namespace) -> dict:
    values: dict = {}
    try:
        for path in args.values:
            try:
                text = Path(path).read_text()
            except OSError as e:
                fail(f"cannot read values file {path}: {e.strerror}", 2)
            values = merge(values, helm.values_from_yaml(text) or {})
        for expr in args.set:
            values = merge(values, helm.parse_set_string(expr))
        for expr in args.set_string:
            values = merge(values, helm.parse_set_string_values(expr))
    except helm.HelmError as e:
        fail(f"bad values: {e}", 2)
    return values


def lint(chart: Path, values: dict) -> None:
    """Like `helm lint --strict`: warnings fail too."""
    report = helm.lint(chart, values, namespace=NAMESPACE)
    problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    if problems or report.get("errors"):
        lines = [f"{m.get('path', '?')}: {m.get('error', '').strip()}" for m in problems]
        lines += [e.strip() for e in report.get("errors", []) if e.strip() not in
                  {m.get("error", "").strip() for m in problems}]
        fail(f"helm lint of {chart} failed:\n" + "\n".join(lines))


def render(chart: Path, values: dict) -> dict[str, str]:
    with helm.Chart.load(chart) as loaded:
        return loaded.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def crds(chart: Path) -> list[tuple[str, str]]:
    with helm.Chart.load(chart) as loaded:
        return [(c["filename"], c["data"]) for c in loaded.crds]


def manifests(rendered: dict[str, str]) -> list[tuple[str, str]]:
    """(template path, text) of every non-empty manifest, NOTES.txt left out."""
    out = []
    for path in sorted(rendered):
        text = rendered[path]
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        # A template whose every document is empty renders to separators alone.
        if not any(line.strip() and line.strip() != "---" and not line.lstrip().startswith("#")
                   for line in text.splitlines()):
            continue
        out.append((path, text.strip("\n")))
    return out


def write_config(chart: Path, dest: Path) -> None:
    rendered = manifests(render(chart, {}))
    files: dict[str, list[str]] = {}
    for path, text in rendered:
        name = Path(path).name
        target = CONFIG_FILES.get(name)
        if target is None:
            fail(f"{path} renders with the default values but has no place in config/: "
                 "add it to CONFIG_FILES in scripts/render-chart.py")
        kept = [line for line in text.splitlines()
                if not line.strip().startswith(HELM_ONLY_LABELS)]
        header = [
            "# Generated by `scripts/render-chart.py --write-config config`; do not edit.",
            f"# The chart's {Path(path).relative_to(Path(path).parts[0])} with its default values",
            f"# (release {RELEASE}, namespace {NAMESPACE}).",
        ]
        files[target] = [*header, *kept]
    # crds/ holds `fips-operator crd`'s output: the chart and config/crd carry copies.
    for old in (chart / "crds").glob("*.yaml"):
        old.unlink()
    crd_files = []
    for source in sorted((REPO / "crds").glob("*.yaml")):
        (chart / "crds" / source.name).write_text(source.read_text())
        crd_files.append((f"crd/{source.name}", source.read_text()))
    for sub in ("crd", "rbac", "manager", "webhook"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
        for old in (dest / sub).glob("*.yaml"):
            old.unlink()
    for target, lines in files.items():
        (dest / target).write_text("\n".join(lines) + "\n")
    for target, data in crd_files:
        (dest / target).write_text(data)
    for sub in ("crd", "rbac", "manager", "webhook"):
        names = sorted(p.name for p in (dest / sub).glob("*.yaml"))
        kustomization = [
            "# Generated by `scripts/render-chart.py --write-config config`; do not edit.",
            "apiVersion: kustomize.config.k8s.io/v1beta1",
            "kind: Kustomization",
            "resources:",
            *[f"  - {n}" for n in names],
        ]
        (dest / sub / "kustomization.yaml").write_text("\n".join(kustomization) + "\n")
    print(f"render-chart: wrote {len(files) + len(crd_files)} files under {dest}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chart", type=Path, default=CHART)
    parser.add_argument("-f", "--values", action="append", default=[], metavar="FILE")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--set-string", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--include-crds", action="store_true", help="print crds/ first")
    parser.add_argument("--notes", action="store_true", help="print the rendered NOTES.txt only")
    parser.add_argument("--write-config", type=Path, metavar="DIR",
                        help="regenerate the kustomize bases under DIR from the defaults")
    args = parser.parse_args()
    values = user_values(args)
    try:
        lint(args.chart, values)
        if args.write_config:
            if values:
                fail("--write-config renders the defaults: no values", 2)
            write_config(args.chart, args.write_config)
            return
        rendered = render(args.chart, values)
        if args.notes:
            notes = [t for p, t in rendered.items() if p.endswith("NOTES.txt")]
            sys.stdout.write("".join(notes))
            return
        out = []
        if args.include_crds:
            out += [f"---\n# Source: {name}\n{data.strip()}\n" for name, data in crds(args.chart)]
        out += [f"---\n# Source: {path}\n{text}\n" for path, text in manifests(rendered)]
        sys.stdout.write("".join(out))
    except helm.HelmError as e:
        fail(f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
