//! Image scans against real things: layouts written here from real fixture binaries, pushed
//! with skopeo to a real registry on 127.0.0.1 (Debian's docker-registry), and the same
//! images through `oci:` and `docker-archive:`.

mod support;

use std::path::Path;

use serde_json::Value;
use support::oci::{file, skopeo, tar_layer, Entry, Image, Layout, Registry};
use support::synthetic::plain_elf;
use support::{binary, fips_operator, fixture, Run, AS_OF};

const LIB: &str = "usr/lib/x86_64-linux-gnu";

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read")
}

fn scan(target: &str, extra: &[&str]) -> (Run, Value) {
    let mut args = vec!["scan", "-o", "json", "--as-of", AS_OF];
    if !extra.iter().any(|a| a.starts_with("--cache-dir")) {
        args.push("--no-cache");
    }
    args.extend_from_slice(extra);
    args.push(target);
    let run = fips_operator(&args);
    let report = if run.code == 2 {
        Value::Null
    } else {
        run.json()[0].clone()
    };
    (run, report)
}

fn certified_layer() -> Vec<u8> {
    tar_layer(&[file(
        "usr/bin/app",
        bytes(&fixture("go127-fips-certified")),
        0o755,
    )])
}

fn os_release() -> Entry {
    file(
        "etc/os-release",
        b"PRETTY_NAME=\"Test Linux 1\"\nID=test\n".to_vec(),
        0o644,
    )
}

/// An OpenSSL consumer with the host's real libcrypto, and a provider stand-in with a config
/// that activates it (`with_provider`).
fn openssl_layers(with_provider: bool) -> Vec<Vec<u8>> {
    let mut entries = vec![
        file("usr/bin/app", bytes(&fixture("c-openssl-dynamic")), 0o755),
        file(
            &format!("{LIB}/libcrypto.so.3"),
            bytes(Path::new("/usr/lib/x86_64-linux-gnu/libcrypto.so.3")),
            0o644,
        ),
    ];
    if with_provider {
        entries.push(file(
            &format!("{LIB}/ossl-modules/fips.so"),
            plain_elf(
                &[b"OpenSSL FIPS Provider", b"OpenSSL 3.1.2 1 Aug 2023"],
                &["OSSL_provider_init"],
            ),
            0o644,
        ));
        entries.push(file(
            "etc/ssl/openssl.cnf",
            b"openssl_conf = init\n.include /etc/ssl/fipsmodule.cnf\n[init]\nproviders = prov\nalg_section = algs\n[prov]\nfips = fips_sect\n[algs]\ndefault_properties = fips=yes\n".to_vec(),
            0o644,
        ));
        entries.push(file(
            "etc/ssl/fipsmodule.cnf",
            b"[fips_sect]\nactivate = 1\n".to_vec(),
            0o644,
        ));
    }
    vec![tar_layer(&entries)]
}

#[test]
fn registry_layout_and_archive_agree_on_a_scratch_fips_image() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(&dir.path().join("layout"));
    let digest = layout.tag("v1", &Image::new(vec![certified_layer()]));
    let registry = Registry::start(None);
    let reference = registry.push(&layout, "v1", "scratch-fips", None);
    let archive = dir.path().join("image.tar");
    skopeo(&[
        "copy",
        &format!("oci:{}:v1", layout.dir.display()),
        &format!("docker-archive:{}:scratch-fips:v1", archive.display()),
    ]);

    let targets = [
        format!("docker://{reference}"),
        reference.clone(),
        format!("oci:{}:v1", layout.dir.display()),
        format!("docker-archive:{}", archive.display()),
    ];
    for target in &targets {
        let (run, r) = scan(target, &[]);
        assert_eq!(run.code, 0, "{target}: {}\n{}", run.stderr, run.stdout);
        assert_eq!(r["outcome"], "compliant", "{target}");
        assert_eq!(r["image"]["platform"], "linux/amd64", "{target}");
        let app = binary(&r, "usr/bin/app");
        assert_eq!(app["module"]["name"], "go-native", "{target}");
        assert_eq!(app["module"]["validation"], "certified", "{target}");
        if !target.starts_with("docker-archive:") {
            assert_eq!(
                r["image"]["digest"], digest,
                "{target}: keyed by the platform manifest digest"
            );
        }
    }
}

#[test]
fn a_mixed_image_names_the_non_fips_binary() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(dir.path());
    let layer = tar_layer(&[
        file(
            "usr/bin/app",
            bytes(&fixture("go127-fips-certified")),
            0o755,
        ),
        file("usr/bin/helper", bytes(&fixture("go119-std")), 0o755),
        os_release(),
    ]);
    layout.tag("v1", &Image::new(vec![layer]));
    let (run, r) = scan(&format!("oci:{}:v1", dir.path().display()), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(r["outcome"], "non-compliant");
    assert!(
        r["reasons"]
            .to_string()
            .contains("usr/bin/helper: pclntab crypto/"),
        "{r:#}"
    );
    assert_eq!(r["image"]["os"], "Test Linux 1");
}

#[test]
fn an_upper_whiteout_deletes_the_only_non_fips_binary() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(dir.path());
    let lower = tar_layer(&[
        file(
            "usr/bin/app",
            bytes(&fixture("go127-fips-certified")),
            0o755,
        ),
        file("usr/bin/legacy", bytes(&fixture("go119-std")), 0o755),
    ]);
    let upper = tar_layer(&[Entry::Whiteout("usr/bin/.wh.legacy".into())]);
    layout.tag("lower", &Image::new(vec![lower.clone()]));
    layout.tag("both", &Image::new(vec![lower, upper]));
    let (run, _) = scan(&format!("oci:{}:lower", dir.path().display()), &[]);
    assert_eq!(run.code, 1);
    let (run, r) = scan(&format!("oci:{}:both", dir.path().display()), &[]);
    assert_eq!(run.code, 0, "{r:#}");
    assert!(r["binaries"]
        .as_array()
        .expect("array")
        .iter()
        .all(|b| b["path"] != "usr/bin/legacy"));
}

#[test]
fn openssl_consumers_need_a_provider_and_config_in_the_image() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(dir.path());
    layout.tag("without", &Image::new(openssl_layers(false)));
    layout.tag("with", &Image::new(openssl_layers(true)));
    let (run, r) = scan(&format!("oci:{}:without", dir.path().display()), &[]);
    assert_eq!(run.code, 1);
    assert!(
        r["reasons"]
            .to_string()
            .contains("usr/bin/app: openssl (dynamic) but no OpenSSL FIPS provider"),
        "{r:#}"
    );
    assert_eq!(r["image"]["facts"]["openssl_fips_provider"], Value::Null);
    let (run, r) = scan(&format!("oci:{}:with", dir.path().display()), &[]);
    assert_eq!(run.code, 0, "{r:#}");
    assert_eq!(binary(&r, "usr/bin/app")["module"]["version"], "3.1.2");
    assert_eq!(r["image"]["facts"]["openssl_config_activates_fips"], true);
    assert!(r["image"]["facts"]["openssl_fips_provider"]
        .as_str()
        .expect("provider")
        .contains("3.1.2"));
}

#[test]
fn openssl_conf_in_the_image_env_is_followed() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(dir.path());
    let mut layers = openssl_layers(true);
    // Move the activating config away from the default path; only OPENSSL_CONF finds it.
    layers.push(tar_layer(&[
        Entry::Whiteout("etc/ssl/.wh.openssl.cnf".into()),
        file("opt/ssl/fips.cnf", b"openssl_conf = init\n.include /etc/ssl/fipsmodule.cnf\n[init]\nproviders = prov\nalg_section = algs\n[prov]\nfips = fips_sect\n[algs]\ndefault_properties = fips=yes\n".to_vec(), 0o644),
    ]));
    let mut image = Image::new(layers.clone());
    layout.tag("noenv", &image);
    image.env = vec![
        "OPENSSL_CONF=/opt/ssl/fips.cnf".into(),
        "PATH=/usr/bin".into(),
    ];
    layout.tag("env", &image);
    let (run, _) = scan(&format!("oci:{}:noenv", dir.path().display()), &[]);
    assert_eq!(run.code, 1);
    let (run, r) = scan(&format!("oci:{}:env", dir.path().display()), &[]);
    assert_eq!(run.code, 0, "{r:#}");
    assert_eq!(
        r["image"]["facts"]["fips_env"],
        serde_json::json!(["OPENSSL_CONF=/opt/ssl/fips.cnf"])
    );
}

#[test]
fn a_multi_arch_index_picks_the_platform() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(&dir.path().join("layout"));
    let amd64 = Image::new(vec![certified_layer()]);
    let mut arm64 = Image::new(vec![tar_layer(&[file(
        "usr/bin/app",
        bytes(&fixture("go119-std")),
        0o755,
    )])]);
    arm64.arch = "arm64";
    let index_digest = layout.tag_index("multi", &[amd64, arm64]);
    let registry = Registry::start(None);
    let reference = registry.push(&layout, "multi", "multi", None);
    let (run, r) = scan(&reference, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(r["image"]["index_digest"], index_digest);
    assert_eq!(r["image"]["platform"], "linux/amd64");
    let (run, r) = scan(&reference, &["--platform", "linux/arm64"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(r["image"]["platform"], "linux/arm64");
    let (run, _) = scan(&reference, &["--platform", "linux/s390x"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "platform linux/s390x is not in the image index; it has linux/amd64, linux/arm64"
        ),
        "{}",
        run.stderr
    );
}

/// `--platform` names what the user wants: a single-platform image of another platform is
/// refused (naming the platform it has), not scanned as if it matched.
#[test]
fn a_single_platform_image_refuses_another_platform() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(&dir.path().join("layout"));
    layout.tag("v1", &Image::new(vec![certified_layer()]));
    let target = format!("oci:{}:v1", layout.dir.display());
    let (run, _) = scan(&target, &["--platform", "windows/amd64"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "platform windows/amd64 is not in the image: it is a single-platform image for \
             linux/amd64; pass --platform linux/amd64, or drop --platform"
        ),
        "{}",
        run.stderr
    );
    let (run, r) = scan(&target, &["--platform", "linux/amd64"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(r["image"]["platform"], "linux/amd64");
}

/// An image is a definite thing: one without programs is compliant, and says so.
#[test]
fn an_image_without_executables_is_compliant_and_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(&dir.path().join("layout"));
    layout.tag(
        "data",
        &Image::new(vec![tar_layer(&[
            os_release(),
            file("data/config.json", b"{}".to_vec(), 0o644),
        ])]),
    );
    let target = format!("oci:{}:data", layout.dir.display());
    let (run, r) = scan(&target, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(r["outcome"], "compliant");
    assert_eq!(
        r["reasons"],
        serde_json::json!(["nothing judged: 2 files, none an executable or library"])
    );
    let table = fips_operator(&["scan", "--no-cache", &target]);
    assert!(
        table.stdout.contains("COMPLIANT") && table.stdout.contains("note: nothing judged"),
        "{}",
        table.stdout
    );
}

#[test]
fn a_registry_behind_basic_auth() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(&dir.path().join("layout"));
    layout.tag("v1", &Image::new(vec![certified_layer()]));
    let registry = Registry::start(Some(("fips", "s3cret")));
    let reference = registry.push(&layout, "v1", "private", Some("fips:s3cret"));
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{}").expect("write");
    let (run, _) = scan(&reference, &["--registry-config", &empty.to_string_lossy()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("refused") && run.stderr.contains("--registry-config"),
        "{}",
        run.stderr
    );
    let config = dir.path().join("config.json");
    let auth = base64_encode(b"fips:s3cret");
    std::fs::write(
        &config,
        format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}",
            registry.addr
        ),
    )
    .expect("write");
    let (run, r) = scan(
        &reference,
        &["--registry-config", &config.to_string_lossy()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(r["outcome"], "compliant");
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn a_missing_image_is_a_clear_error() {
    let registry = Registry::start(None);
    let (run, _) = scan(&format!("{}/nothing:here", registry.addr), &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not found"), "{}", run.stderr);
}

/// Writes a layout whose one layer is `tar` (gzip), then lets `tamper` edit the layout.
fn hostile(tar: Vec<u8>, extra: &[&str], tamper: impl FnOnce(&Layout, &Value)) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(dir.path());
    layout.tag("bad", &Image::new(vec![tar]));
    let index: Value =
        serde_json::from_slice(&bytes(&dir.path().join("index.json"))).expect("index");
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let manifest: Value =
        serde_json::from_slice(&bytes(&layout.blob_path(&manifest_digest))).expect("manifest");
    tamper(&layout, &manifest);
    let (run, _) = scan(&format!("oci:{}:bad", dir.path().display()), extra);
    assert_eq!(
        run.code, 2,
        "a hostile image must stop with exit 2: {}",
        run.stdout
    );
    run.stderr
}

#[test]
fn hostile_images_stop_with_a_clear_error() {
    let err = hostile(
        tar_layer(&[Entry::RawFile("../../etc/evil".into(), b"x".to_vec())]),
        &[],
        |_, _| {},
    );
    assert!(err.contains("climbs out of the image root"), "{err}");
    let err = hostile(
        tar_layer(&[Entry::RawFile("/etc/evil".into(), b"x".to_vec())]),
        &[],
        |_, _| {},
    );
    assert!(err.contains("absolute entry name"), "{err}");
    let err = hostile(tar_layer(&[Entry::Fifo("run/pipe".into())]), &[], |_, _| {});
    assert!(err.contains("device node or fifo"), "{err}");
    let zeros = tar_layer(&[file("big", vec![0u8; 4 << 20], 0o644)]);
    let err = hostile(zeros, &["--max-image-bytes", "1048576"], |_, _| {});
    assert!(err.contains("--max-image-bytes"), "{err}");
}

#[test]
fn tampered_blobs_and_lying_manifests_are_refused() {
    let layer = || certified_layer();
    let layer_digest = |m: &Value| {
        m["layers"][0]["digest"]
            .as_str()
            .expect("digest")
            .to_string()
    };
    // A layer whose bytes changed after the manifest was written.
    let err = hostile(layer(), &[], |l, m| {
        let path = l.blob_path(&layer_digest(m));
        let mut b = bytes(&path);
        let n = b.len();
        b[n - 30] ^= 0xff;
        std::fs::write(path, b).expect("write");
    });
    assert!(
        err.contains("does not match its digest") || err.contains("layer 0"),
        "{err}"
    );
    // A truncated layer blob.
    let err = hostile(layer(), &[], |l, m| {
        let path = l.blob_path(&layer_digest(m));
        let b = bytes(&path);
        std::fs::write(path, &b[..b.len() / 2]).expect("write");
    });
    assert!(err.contains("layer 0"), "{err}");
    // A manifest that lies about the layer's size (rewritten, with its digest updated).
    let err = hostile(layer(), &[], |l, m| {
        let mut m = m.clone();
        m["layers"][0]["size"] = serde_json::json!(12345);
        let (digest, size) = l.blob(&serde_json::to_vec(&m).expect("json"));
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size, "annotations": {"org.opencontainers.image.ref.name": "bad"}}]});
        std::fs::write(
            l.dir.join("index.json"),
            serde_json::to_vec(&index).expect("json"),
        )
        .expect("write");
    });
    assert!(err.contains("descriptor says 12345 bytes"), "{err}");
}

#[test]
fn the_verdict_cache_is_keyed_by_digest_and_rederives_validation() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(&dir.path().join("layout"));
    let layer = tar_layer(&[file(
        "usr/bin/app",
        bytes(&fixture("go127-fips-inprocess")),
        0o755,
    )]);
    layout.tag("v1", &Image::new(vec![layer]));
    let target = format!("oci:{}:v1", layout.dir.display());
    let cache = format!("--cache-dir={}", dir.path().join("cache").display());
    let (run, first) = scan(&target, &[&cache]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(first["image"]["cached"].is_null());
    let (run, second) = scan(&target, &[&cache]);
    assert_eq!(run.code, 0);
    assert_eq!(second["image"]["cached"], true, "{second:#}");
    assert_eq!(second["binaries"], first["binaries"]);
    // The policy of the read decides, not the one the cache was written with.
    let (run, strict) = scan(&target, &[&cache, "--reject-in-process"]);
    assert_eq!(run.code, 1);
    assert_eq!(strict["image"]["cached"], true);
    assert!(
        strict["reasons"].to_string().contains("policy refuses"),
        "{strict:#}"
    );
}

#[test]
fn absolute_links_in_an_image_never_read_the_host() {
    // The image's own config does not activate FIPS; a link that names a host path which
    // does activate it must be looked up inside the image (where it does not exist).
    let host = tempfile::tempdir().expect("tmp");
    let host_cnf = host.path().join("openssl.cnf");
    std::fs::write(&host_cnf, "openssl_conf = init\n.include /etc/ssl/fipsmodule.cnf\n[init]\nproviders = prov\nalg_section = algs\n[prov]\nfips = fips_sect\n[algs]\ndefault_properties = fips=yes\n").expect("write");
    let mut layers = openssl_layers(true);
    layers.push(tar_layer(&[
        Entry::Whiteout("etc/ssl/.wh.openssl.cnf".into()),
        file(
            "etc/ssl/openssl.cnf",
            b"openssl_conf = init\n[init]\nproviders = prov\n[prov]\ndefault = d\n".to_vec(),
            0o644,
        ),
        Entry::Symlink(
            "usr/lib/ssl/openssl.cnf".into(),
            host_cnf.to_string_lossy().into_owned(),
        ),
    ]));
    let dir = tempfile::tempdir().expect("tmp");
    let mut layout = Layout::new(dir.path());
    layout.tag("v1", &Image::new(layers));
    let (run, r) = scan(&format!("oci:{}:v1", dir.path().display()), &[]);
    assert_eq!(run.code, 1, "{r:#}");
    assert_eq!(r["image"]["facts"]["openssl_config_activates_fips"], false);
}
