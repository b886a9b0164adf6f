//! Judging one Go binary must be ≥ 10× faster than `go version -m` on the same
//! file, while deciding more. Both run in this one process on the same file; the ratio is
//! printed by `scripts/bench.sh`. A plain checksum of the file's bytes is measured too, for
//! scale.
//!
//! Needs `target/fixtures/go127-nethttp` (scripts/build-fixtures.sh) and the Go 1.27 toolchain
//! (scripts/install-test-deps.sh).

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use fips_operator::image::mmap::map_file;
use fips_operator::inspect::{self, Day, ModuleRegistry};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    })
}

fn go_binary() -> PathBuf {
    let go = repo().join("target/tools/venv/bin/go");
    assert!(
        go.is_file(),
        "Go 1.27 missing: run scripts/install-test-deps.sh"
    );
    go
}

fn bench_go_binary(c: &mut Criterion) {
    let file = repo().join("target/fixtures/go127-nethttp");
    assert!(
        file.is_file(),
        "fixture missing: run scripts/build-fixtures.sh"
    );
    let go = go_binary();
    let registry = ModuleRegistry::built_in();
    let today = Day {
        year: 2026,
        month: 11,
        day: 26,
    };
    let size = std::fs::metadata(&file).expect("stat").len();

    let mut g = c.benchmark_group(format!("judge_go_nethttp_{}KiB", size / 1024));
    g.sample_size(30);
    g.bench_function("baseline_go_version_m", |b| {
        b.iter(|| {
            let out = Command::new(&go)
                .args(["version", "-m"])
                .arg(&file)
                .env("GOTOOLCHAIN", "local")
                .output()
                .expect("go version -m");
            assert!(out.status.success());
            black_box(out.stdout.len())
        })
    });
    g.bench_function("inspect", |b| {
        b.iter(|| {
            let data = map_file(black_box(&file)).expect("map");
            let f = inspect::analyze(&data, "go127-nethttp");
            let v = inspect::judge("go127-nethttp", &f, &registry, today);
            assert_eq!(v.verdict, inspect::Verdict::NotFipsCapable);
            black_box(v)
        })
    });
    g.bench_function("checksum_whole_file", |b| {
        b.iter(|| {
            let data = map_file(black_box(&file)).expect("map");
            black_box(checksum(&data))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_go_binary);
criterion_main!(benches);
