//! `scan DIR`: a root filesystem mixing real fixture binaries, a real libcrypto, links (one
//! climbing out of the root), non-ELF files and a fifo; dependency resolution (I2) and the
//! OpenSSL provider rules (I3/I4).

mod support;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::synthetic::plain_elf;
use support::{binary, fips_operator, fixture, AS_OF};

const TRIPLET_LIB: &str = "usr/lib/x86_64-linux-gnu";

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Self {
        Tree {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn put(&self, rel: &str, bytes: &[u8], mode: u32) -> PathBuf {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    fn copy(&self, rel: &str, from: &Path, mode: u32) {
        self.put(rel, &std::fs::read(from).expect("read fixture"), mode);
    }

    /// A C program linked to `libcrypto.so.3`, and the host's real libcrypto.
    fn openssl_app() -> Self {
        let t = Tree::new();
        t.copy("usr/bin/app", &fixture("c-openssl-dynamic"), 0o755);
        t.with_host_libcrypto();
        t
    }

    fn with_host_libcrypto(&self) {
        self.copy(
            &format!("{TRIPLET_LIB}/libcrypto.so.3"),
            Path::new("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"),
            0o644,
        );
    }

    /// An OpenSSL FIPS provider stand-in (`synthetic`: it carries the provider's name and
    /// version strings, not its code) and a config that activates it unless `activate` is false.
    fn with_provider(&self, version_text: &str, activate: bool) {
        let elf = plain_elf(
            &[b"OpenSSL FIPS Provider", version_text.as_bytes()],
            &["OSSL_provider_init"],
        );
        self.put(&format!("{TRIPLET_LIB}/ossl-modules/fips.so"), &elf, 0o644);
        let include = if activate {
            ".include /usr/lib/ssl/fipsmodule.cnf"
        } else {
            "# .include fipsmodule.cnf"
        };
        self.put(
            "usr/lib/ssl/openssl.cnf",
            format!(
                "openssl_conf = openssl_init\n{include}\n[openssl_init]\nproviders = provider_sect\nalg_section = algorithm_sect\n\
                 [provider_sect]\nfips = fips_sect\nbase = base_sect\n[base_sect]\nactivate = 1\n\
                 [algorithm_sect]\ndefault_properties = fips=yes\n"
            )
            .as_bytes(),
            0o644,
        );
        self.put(
            "usr/lib/ssl/fipsmodule.cnf",
            b"[fips_sect]\nactivate = 1\ninstall-version = 1\n",
            0o644,
        );
    }

    fn scan(&self, extra: &[&str]) -> (i32, Value) {
        let root = self.root().to_string_lossy().to_string();
        let mut args = vec!["scan", "-o", "json", "--as-of", AS_OF];
        args.extend_from_slice(extra);
        args.push(&root);
        let run = fips_operator(&args);
        let json = run.json();
        (run.code, json[0].clone())
    }
}

fn skip_reason(report: &Value, path: &str) -> String {
    report["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .find(|s| s["path"] == path)
        .and_then(|s| s["reason"].as_str())
        .unwrap_or_else(|| panic!("{path} not skipped in {report:#}"))
        .to_string()
}

#[test]
fn a_mixed_tree_names_every_file_and_every_skip() {
    let t = Tree::new();
    t.copy("usr/bin/certified", &fixture("go127-fips-certified"), 0o755);
    t.copy("usr/bin/std", &fixture("go119-std"), 0o755);
    t.copy("usr/bin/nocrypto", &fixture("c-nocrypto-dynamic"), 0o755);
    t.copy(
        "opt/app/lib/libvendored.so",
        &fixture("rust-nocrypto"),
        0o644,
    );
    t.copy(
        "usr/share/doc/not-executable",
        &fixture("c-nocrypto-static"),
        0o644,
    );
    t.put("etc/os-release", b"ID=debian\nVERSION_ID=12\n", 0o644);
    t.put("usr/bin/script.sh", b"#!/bin/sh\necho hi\n", 0o755);
    // Docker's `/.dockerenv`: empty, mode 0755, in every container it runs.
    t.put(".dockerenv", b"", 0o755);
    symlink("../../../../../etc/passwd", t.root().join("usr/bin/escape")).expect("symlink");
    symlink("std", t.root().join("usr/bin/inside")).expect("symlink");
    symlink("/etc/passwd", t.root().join("usr/bin/absolute")).expect("symlink");
    let fifo = t.root().join("run/fifo");
    std::fs::create_dir_all(fifo.parent().expect("parent")).expect("mkdir");
    support::mkfifo(&fifo);

    let (code, r) = t.scan(&[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["outcome"], "non-compliant");
    assert!(r["image"].is_null());
    assert_eq!(binary(&r, "usr/bin/certified")["verdict"], "fips-capable");
    assert_eq!(binary(&r, "usr/bin/std")["verdict"], "not-fips-capable");
    assert_eq!(binary(&r, "usr/bin/nocrypto")["verdict"], "no-crypto");
    assert_eq!(
        binary(&r, "opt/app/lib/libvendored.so")["verdict"],
        "no-crypto",
        "a .so outside the loader dirs is judged whatever its mode"
    );
    let reasons = r["reasons"].to_string();
    assert!(
        reasons.contains("usr/bin/std: pclntab crypto/"),
        "{reasons}"
    );
    assert!(!reasons.contains("usr/bin/certified"), "{reasons}");

    assert_eq!(skip_reason(&r, ".dockerenv"), "empty file");
    assert_eq!(skip_reason(&r, "etc/os-release"), "not ELF");
    assert_eq!(skip_reason(&r, "usr/bin/script.sh"), "not ELF");
    assert!(skip_reason(&r, "usr/bin/escape").contains("leaves the root: not followed"));
    assert!(skip_reason(&r, "usr/bin/inside").contains("its target is scanned on its own"));
    assert!(
        skip_reason(&r, "usr/bin/absolute").contains("its target is scanned on its own"),
        "absolute links resolve inside the root"
    );
    assert_eq!(skip_reason(&r, "run/fifo"), "not a regular file (fifo)");
    assert!(skip_reason(&r, "usr/share/doc/not-executable").contains("without an execute bit"));
    let judged: Vec<&str> = r["binaries"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|b| b["path"].as_str())
        .collect();
    assert_eq!(judged.len(), 4, "{judged:?}");
}

#[test]
fn a_tree_of_fips_capable_and_crypto_free_binaries_is_compliant() {
    let t = Tree::new();
    t.copy("usr/bin/certified", &fixture("go127-fips-certified"), 0o755);
    t.copy("usr/bin/rand", &fixture("rust-rand"), 0o755);
    t.copy("usr/bin/nocrypto", &fixture("go127-nocrypto"), 0o755);
    let (code, r) = t.scan(&[]);
    assert_eq!(
        (code, r["outcome"].as_str()),
        (0, Some("compliant")),
        "{r:#}"
    );
    assert_eq!(r["reasons"], serde_json::json!([]));
}

#[test]
fn a_root_without_binaries_has_nothing_to_judge() {
    let t = Tree::new();
    t.put("etc/os-release", b"ID=scratch\n", 0o644);
    let (code, r) = t.scan(&[]);
    assert_eq!((code, r["outcome"].as_str()), (3, Some("unknown")), "{r:#}");
    let (code, r) = t.scan(&["--allow-empty"]);
    assert_eq!(
        (code, r["outcome"].as_str()),
        (0, Some("compliant")),
        "{r:#}"
    );
}

#[test]
fn an_openssl_consumer_without_a_provider_is_not_fips_capable() {
    let t = Tree::openssl_app();
    let (code, r) = t.scan(&[]);
    assert_eq!(code, 1);
    let app = binary(&r, "usr/bin/app");
    assert_eq!(app["verdict"], "not-fips-capable", "{app:#}");
    assert!(r["reasons"].to_string().contains("usr/bin/app: openssl (dynamic) but no OpenSSL FIPS provider (ossl-modules/fips.so) in the image"), "{r:#}");
    let lib = binary(&r, &format!("{TRIPLET_LIB}/libcrypto.so.3"));
    assert_eq!(lib["role"], "module");
    assert_eq!(
        lib["verdict"], "not-fips-capable",
        "libcrypto in an image without a provider"
    );
}

#[test]
fn a_validated_activated_provider_settles_the_route() {
    let t = Tree::openssl_app();
    t.with_provider("OpenSSL 3.1.2 1 Aug 2023", true);
    let (code, r) = t.scan(&[]);
    let app = binary(&r, "usr/bin/app");
    assert_eq!(app["verdict"], "fips-capable", "{r:#}");
    assert_eq!(app["module"]["name"], "openssl (dynamic)");
    assert_eq!(app["module"]["version"], "3.1.2");
    assert_eq!(app["module"]["validation"], "certified");
    assert_eq!(app["module"]["certificate"], "4985");
    assert!(
        app["evidence"]
            .to_string()
            .contains("activated by usr/lib/ssl/openssl.cnf"),
        "{app:#}"
    );
    assert_eq!(
        (code, r["outcome"].as_str()),
        (0, Some("compliant")),
        "{r:#}"
    );
}

#[test]
fn a_provider_the_config_does_not_activate_is_not_enough() {
    let t = Tree::openssl_app();
    t.with_provider("OpenSSL 3.1.2 1 Aug 2023", false);
    let (code, r) = t.scan(&[]);
    assert_eq!(code, 1);
    assert!(
        r["reasons"]
            .to_string()
            .contains("does not activate the FIPS provider"),
        "{r:#}"
    );
}

#[test]
fn a_provider_built_from_an_unvalidated_version_is_refused() {
    let t = Tree::openssl_app();
    t.with_provider("OpenSSL 3.0.13 30 Jan 2024", true);
    let (_, r) = t.scan(&[]);
    let provider = binary(&r, &format!("{TRIPLET_LIB}/ossl-modules/fips.so"));
    assert_eq!(provider["verdict"], "not-fips-capable", "{provider:#}");
    assert!(
        r["reasons"].to_string().contains("is not validated"),
        "{r:#}"
    );
}

#[test]
fn a_historical_provider_follows_the_policy() {
    let t = Tree::openssl_app();
    t.with_provider("OpenSSL 3.0.9 30 May 2023", true);
    let (code, r) = t.scan(&[]);
    assert_eq!(
        binary(&r, "usr/bin/app")["module"]["validation"],
        "historical"
    );
    assert_eq!(code, 0, "historical is accepted by default: {r:#}");
    let (code, r) = t.scan(&["--reject-historical"]);
    assert_eq!(code, 1);
    assert!(
        r["reasons"]
            .to_string()
            .contains("historical and the policy refuses it"),
        "{r:#}"
    );
}

#[test]
fn a_missing_crypto_library_is_named() {
    let t = Tree::new();
    t.copy("usr/bin/app", &fixture("c-openssl-dynamic"), 0o755);
    let (code, r) = t.scan(&[]);
    assert_eq!(code, 1);
    assert!(
        r["reasons"]
            .to_string()
            .contains("usr/bin/app: needs libcrypto.so.3, which is not in the root filesystem"),
        "{r:#}"
    );
}

/// A program that links only `libwrap.so.1`, which links `libcrypto.so.3`: the program inherits
/// the OpenSSL route (I2). Built with gcc from source.
#[test]
fn crypto_below_a_needed_library_is_inherited() {
    let t = Tree::new();
    let build = tempfile::tempdir().expect("tempdir");
    let b = build.path();
    std::fs::write(b.join("wrap.c"), "#include <openssl/sha.h>\nint wrap(unsigned char *o){return SHA256((const unsigned char*)\"x\",1,o)!=0;}\n").expect("write");
    std::fs::write(
        b.join("main.c"),
        "int wrap(unsigned char*);int main(void){unsigned char o[32];return !wrap(o);}\n",
    )
    .expect("write");
    let gcc = |args: &[&str]| {
        let st = Command::new("gcc")
            .current_dir(b)
            .args(args)
            .status()
            .expect("gcc: run scripts/install-test-deps.sh");
        assert!(st.success(), "gcc {args:?}");
    };
    gcc(&[
        "-shared",
        "-fPIC",
        "-o",
        "libwrap.so.1",
        "-Wl,-soname,libwrap.so.1",
        "wrap.c",
        "-lcrypto",
    ]);
    gcc(&["-o", "app", "main.c", "./libwrap.so.1"]);
    t.copy("usr/bin/app", &b.join("app"), 0o755);
    t.copy(
        &format!("{TRIPLET_LIB}/libwrap.so.1"),
        &b.join("libwrap.so.1"),
        0o644,
    );
    t.with_host_libcrypto();
    t.with_provider("OpenSSL 3.1.2 1 Aug 2023", true);
    let (_, r) = t.scan(&[]);
    let app = binary(&r, "usr/bin/app");
    assert_eq!(app["verdict"], "fips-capable", "{app:#}");
    assert!(
        app["evidence"]
            .to_string()
            .contains("DT_NEEDED libwrap.so.1 -> libcrypto.so.3"),
        "{app:#}"
    );
    assert_eq!(skip_reason(&r, &format!("{TRIPLET_LIB}/libwrap.so.1")), "shared library in a loader directory: resolved as a dependency of the binaries that need it");
}

/// A JDK tree around the host's real `java` launcher (Debian's openjdk-17-jre-headless);
/// `lib/modules` and jars are stand-ins: the rule reads names and `java.security` only.
fn jdk_tree(security: &str, jars: &[&str]) -> Tree {
    let t = Tree::new();
    let home = "usr/lib/jvm/java-17";
    let java = Path::new("/usr/lib/jvm/java-17-openjdk-amd64/bin/java");
    assert!(
        java.is_file(),
        "no JDK: run scripts/install-test-deps.sh (openjdk-17-jre-headless)"
    );
    t.copy(&format!("{home}/bin/java"), java, 0o755);
    t.put(&format!("{home}/lib/modules"), b"stand-in", 0o644);
    t.put(
        &format!("{home}/conf/security/java.security"),
        security.as_bytes(),
        0o644,
    );
    for jar in jars {
        t.put(&format!("app/lib/{jar}"), b"PK\x03\x04stand-in", 0o644);
    }
    t
}

fn host_java_security() -> String {
    std::fs::read_to_string("/usr/lib/jvm/java-17-openjdk-amd64/conf/security/java.security")
        .expect("the JDK's java.security")
}

#[test]
fn a_jdk_with_its_own_providers_is_not_fips_capable() {
    let (code, r) = jdk_tree(&host_java_security(), &[]).scan(&[]);
    assert_eq!(code, 1);
    let java = binary(&r, "usr/lib/jvm/java-17/bin/java");
    assert_eq!(java["verdict"], "not-fips-capable", "{java:#}");
    assert!(
        java["evidence"]
            .to_string()
            .contains("registers no FIPS provider first"),
        "{java:#}"
    );
}

#[test]
fn a_jdk_with_bc_fips_first_is_fips_capable() {
    let security = host_java_security().replace(
        "security.provider.1=SUN",
        "security.provider.1=org.bouncycastle.jcajce.provider.BouncyCastleFipsProvider\nsecurity.provider.99=SUN",
    );
    assert!(
        security.contains("BouncyCastleFipsProvider"),
        "the host's java.security lists SUN first"
    );
    let (code, r) = jdk_tree(&security, &["bc-fips-2.0.0.jar"]).scan(&[]);
    let java = binary(&r, "usr/lib/jvm/java-17/bin/java");
    assert_eq!(java["verdict"], "fips-capable", "{java:#}");
    assert_eq!(java["module"]["name"], "bc-fips");
    assert_eq!(java["module"]["version"], "2.0.0");
    assert_eq!(java["module"]["certificate"], "4943");
    assert_eq!(code, 0, "{r:#}");
    let (code, r) =
        jdk_tree(&security, &["bc-fips-2.0.0.jar", "bcprov-jdk18on-1.78.jar"]).scan(&[]);
    assert_eq!(code, 1);
    assert!(
        r["reasons"]
            .to_string()
            .contains("bcprov-jdk18on-1.78.jar: Bouncy Castle without FIPS"),
        "{r:#}"
    );
}

#[test]
fn red_hat_openjdk_follows_the_system_policy() {
    let security = format!(
        "{}\nsecurity.useSystemPropertiesFile=true\n",
        host_java_security()
    );
    let (code, r) = jdk_tree(&security, &[]).scan(&[]);
    let java = binary(&r, "usr/lib/jvm/java-17/bin/java");
    assert_eq!(java["verdict"], "fips-capable", "{java:#}");
    assert_eq!(java["module"]["name"], "nss");
    assert_eq!(java["module"]["activation"], "host-driven");
    assert_eq!(
        (code, r["outcome"].as_str()),
        (1, Some("unknown")),
        "NSS registration is an image-level check"
    );
}

/// Compiles C sources with gcc in a temp dir; returns the dir.
fn gcc_build(sources: &[(&str, &str)], commands: &[&[&str]]) -> tempfile::TempDir {
    let build = tempfile::tempdir().expect("tempdir");
    for (name, text) in sources {
        std::fs::write(build.path().join(name), text).expect("write");
    }
    for args in commands {
        let st = Command::new("gcc")
            .current_dir(build.path())
            .args(*args)
            .status()
            .expect("gcc: run scripts/install-test-deps.sh");
        assert!(st.success(), "gcc {args:?}");
    }
    build
}

const MAIN_CALLS_WRAP: &str = "int wrap(void);int main(void){return wrap();}\n";

/// A library in a loader directory (mode 0644, so never judged on its own) that carries its
/// own crypto: its users inherit its verdict.
#[test]
fn a_dependency_with_its_own_crypto_makes_its_users_non_compliant() {
    let aes_sbox = "const unsigned char sbox[16]={0x63,0x7c,0x77,0x7b,0xf2,0x6b,0x6f,0xc5,0x30,0x01,0x67,0x2b,0xfe,0xd7,0xab,0x76};\n\
                    int wrap(void){return sbox[1];}\n";
    let b = gcc_build(
        &[("wrap.c", aes_sbox), ("main.c", MAIN_CALLS_WRAP)],
        &[
            &[
                "-shared",
                "-fPIC",
                "-s",
                "-o",
                "libwrap.so.1",
                "-Wl,-soname,libwrap.so.1",
                "wrap.c",
            ],
            &["-o", "app", "main.c", "./libwrap.so.1"],
        ],
    );
    let t = Tree::new();
    t.copy("usr/bin/app", &b.path().join("app"), 0o755);
    t.copy(
        &format!("{TRIPLET_LIB}/libwrap.so.1"),
        &b.path().join("libwrap.so.1"),
        0o644,
    );
    let (code, r) = t.scan(&[]);
    assert_eq!(code, 1, "{r:#}");
    let app = binary(&r, "usr/bin/app");
    assert_eq!(app["verdict"], "not-fips-capable", "{app:#}");
    assert!(
        app["evidence"]
            .to_string()
            .contains("libwrap.so.1: constant tables AES S-box"),
        "{app:#}"
    );

    // The same library truncated: its users cannot be judged either.
    let bytes = std::fs::read(b.path().join("libwrap.so.1")).expect("read");
    t.put(
        &format!("{TRIPLET_LIB}/libwrap.so.1"),
        &bytes[..bytes.len() / 2],
        0o644,
    );
    let (code, r) = t.scan(&[]);
    assert_eq!(code, 1);
    assert_eq!(binary(&r, "usr/bin/app")["verdict"], "unknown", "{r:#}");
}

/// A program that needs libcrypto.so.1.1 whose library is not OpenSSL 3: the image's OpenSSL 3
/// FIPS provider cannot serve it, however validated and activated it is.
#[test]
fn an_openssl_3_provider_does_not_cover_a_libcrypto_that_is_not_openssl_3() {
    let b = gcc_build(
        &[
            (
                "stub.c",
                "const char v[]=\"OpenSSL 1.1.1w  11 Sep 2023\";int wrap(void){return v[0];}\n",
            ),
            ("main.c", MAIN_CALLS_WRAP),
        ],
        &[
            &[
                "-shared",
                "-fPIC",
                "-o",
                "libcrypto.so.1.1",
                "-Wl,-soname,libcrypto.so.1.1",
                "stub.c",
            ],
            &["-o", "app", "main.c", "./libcrypto.so.1.1"],
        ],
    );
    let t = Tree::new();
    t.copy("usr/bin/app", &b.path().join("app"), 0o755);
    t.copy(
        &format!("{TRIPLET_LIB}/libcrypto.so.1.1"),
        &b.path().join("libcrypto.so.1.1"),
        0o644,
    );
    t.with_provider("OpenSSL 3.1.2 1 Aug 2023", true);
    let (code, r) = t.scan(&[]);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        r["reasons"].to_string().contains(
            "libcrypto.so.1.1 is OpenSSL 1.1.1w: an OpenSSL 3 FIPS provider cannot load into it"
        ),
        "{r:#}"
    );
}

/// Every route must be settled: a static aws-lc-fips beside a dynamic libcrypto is not
/// compliant on its own.
#[test]
fn a_second_route_keeps_a_file_pending() {
    let src = "#include <openssl/sha.h>\nconst char v[]=\"AWS-LC FIPS 3.0.0\";void aws_lc_fips_0_13_0_SHA256(void){}\n\
               int main(int c,char**a){unsigned char o[32];SHA256((const unsigned char*)a[0],1,o);return v[c]+o[0];}\n";
    let b = gcc_build(&[("app.c", src)], &[&["-o", "app", "app.c", "-lcrypto"]]);
    let run = fips_operator(&[
        "scan",
        "-o",
        "json",
        "--as-of",
        AS_OF,
        &b.path().join("app").to_string_lossy(),
    ]);
    let r = &run.json()[0];
    assert_eq!(r["binaries"][0]["module"]["name"], "aws-lc-fips", "{r:#}");
    assert_eq!(
        (run.code, r["outcome"].as_str()),
        (1, Some("unknown")),
        "{r:#}"
    );
}

#[test]
fn a_bcprov_jar_packed_in_a_fat_jar_is_found() {
    let security = host_java_security().replace(
        "security.provider.1=SUN",
        "security.provider.1=org.bouncycastle.jcajce.provider.BouncyCastleFipsProvider\nsecurity.provider.99=SUN",
    );
    let t = jdk_tree(&security, &["bc-fips-2.0.0.jar"]);
    let fat = t.root().join("app/app.jar");
    let st = Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1],'w'); z.writestr('META-INF/MANIFEST.MF','Manifest-Version: 1.0\\n'); z.writestr('BOOT-INF/lib/bcprov-jdk18on-1.78.jar','PK'); z.close()",
            &fat.to_string_lossy(),
        ])
        .status()
        .expect("python3");
    assert!(st.success());
    let (code, r) = t.scan(&[]);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        r["reasons"]
            .to_string()
            .contains("app/app.jar!/BOOT-INF/lib/bcprov-jdk18on-1.78.jar"),
        "{r:#}"
    );
}

/// Without section headers the dynamic symbol table is still read (through PT_DYNAMIC), so a
/// library that defines libsodium's functions is not taken for a plain OpenSSL consumer.
#[test]
fn dynamic_symbols_are_read_without_section_headers() {
    let src = "#include <openssl/sha.h>\nint sodium_init(void){unsigned char o[32];return SHA256((const unsigned char*)\"x\",1,o)!=0;}\n";
    for hash_style in ["gnu", "sysv"] {
        let style = format!("-Wl,--hash-style={hash_style}");
        let b = gcc_build(
            &[("x.c", src)],
            &[&[
                "-shared", "-fPIC", &style, "-o", "libx.so", "x.c", "-lcrypto",
            ]],
        );
        let path = b.path().join("libx.so");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[0x28..0x30].fill(0); // e_shoff
        bytes[0x3c..0x40].fill(0); // e_shnum, e_shstrndx
        std::fs::write(&path, bytes).expect("write");
        let run = fips_operator(&["scan", "-o", "json", &path.to_string_lossy()]);
        let b = &run.json()[0]["binaries"][0];
        assert_eq!(b["verdict"], "not-fips-capable", "{hash_style}: {b:#}");
        assert!(
            b["evidence"]
                .to_string()
                .contains("defines libsodium functions"),
            "{hash_style}: {b:#}"
        );
    }
}

/// libssl carries no version string of its own: with the real OpenSSL 3 libssl and libcrypto
/// and a validated, activated provider, the image is compliant.
#[test]
fn a_real_libssl_beside_libcrypto_is_settled_by_the_provider() {
    let t = Tree::openssl_app();
    t.copy(
        &format!("{TRIPLET_LIB}/libssl.so.3"),
        Path::new("/usr/lib/x86_64-linux-gnu/libssl.so.3"),
        0o644,
    );
    t.with_provider("OpenSSL 3.1.2 1 Aug 2023", true);
    let (code, r) = t.scan(&[]);
    assert_eq!(
        (code, r["outcome"].as_str()),
        (0, Some("compliant")),
        "{r:#}"
    );
    assert_eq!(
        binary(&r, &format!("{TRIPLET_LIB}/libssl.so.3"))["verdict"],
        "fips-capable"
    );
}

/// The policy refuses an in-process module wherever it sits among a binary's routes (here a
/// library's aws-lc-fips 4.x beside the program's own 3.x).
#[test]
fn the_policy_looks_at_every_module_of_a_binary() {
    let b = gcc_build(
        &[
            ("foo.c", "const char v[]=\"AWS-LC FIPS 4.2.0\";void aws_lc_fips_0_14_4_SHA256(void){}int wrap(void){return v[0];}\n"),
            ("app.c", "const char v[]=\"AWS-LC FIPS 3.0.0\";void aws_lc_fips_0_13_0_SHA256(void){}int wrap(void);int main(void){return wrap()+v[0];}\n"),
        ],
        &[
            &["-shared", "-fPIC", "-o", "libfoo.so.1", "-Wl,-soname,libfoo.so.1", "foo.c"],
            &["-o", "app", "app.c", "./libfoo.so.1"],
        ],
    );
    let t = Tree::new();
    t.copy("usr/bin/app", &b.path().join("app"), 0o755);
    t.copy(
        &format!("{TRIPLET_LIB}/libfoo.so.1"),
        &b.path().join("libfoo.so.1"),
        0o644,
    );
    let (code, r) = t.scan(&[]);
    assert_eq!(code, 0, "in-process modules are accepted by default: {r:#}");
    assert_eq!(binary(&r, "usr/bin/app")["module"]["version"], "3.0.0");
    let (code, r) = t.scan(&["--reject-in-process"]);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        r["reasons"]
            .to_string()
            .contains("aws-lc-fips 4.2.0 is in-process and the policy refuses it"),
        "{r:#}"
    );
}
