//! Images the tests build themselves (OCI layouts written here, from real fixture binaries),
//! a real registry on 127.0.0.1 (Debian's docker-registry) and skopeo to push and convert.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One entry of a layer.
pub enum Entry {
    File(String, Vec<u8>, u32),
    Whiteout(String),
    /// A raw tar header name, for hostile cases the tar builder would refuse.
    RawFile(String, Vec<u8>),
    Fifo(String),
    Symlink(String, String),
}

pub fn file(path: &str, bytes: Vec<u8>, mode: u32) -> Entry {
    Entry::File(path.into(), bytes, mode)
}

pub fn tar_layer(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, data, mode, kind): (&str, &[u8], u32, tar::EntryType) = match e {
            Entry::File(p, d, m) => (p, d, *m, tar::EntryType::Regular),
            Entry::RawFile(p, d) => (p, d, 0o644, tar::EntryType::Regular),
            Entry::Whiteout(p) => (p, b"", 0o644, tar::EntryType::Regular),
            Entry::Fifo(p) => (p, b"", 0o644, tar::EntryType::Fifo),
            Entry::Symlink(p, _) => (p, b"", 0o777, tar::EntryType::Symlink),
        };
        let gnu = h.as_gnu_mut().expect("gnu header");
        gnu.name.fill(0);
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Entry::Symlink(_, target) = e {
            gnu.linkname.fill(0);
            gnu.linkname[..target.len()].copy_from_slice(target.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_cksum();
        b.append(&h, data).expect("append");
    }
    b.into_inner().expect("tar")
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

/// An OCI image layout directory being written.
pub struct Layout {
    pub dir: PathBuf,
    index: Vec<Value>,
}

/// One platform image: its gzip layers (tar bytes before compression), env and platform.
pub struct Image {
    pub layers: Vec<Vec<u8>>,
    pub env: Vec<String>,
    pub arch: &'static str,
}

impl Image {
    pub fn new(layers: Vec<Vec<u8>>) -> Self {
        Image {
            layers,
            env: vec![],
            arch: "amd64",
        }
    }
}

impl Layout {
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("mkdir");
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("write");
        Layout {
            dir: dir.to_path_buf(),
            index: Vec::new(),
        }
    }

    pub fn blob(&self, bytes: &[u8]) -> (String, usize) {
        let hex = sha256_hex(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(&hex), bytes).expect("write blob");
        (format!("sha256:{hex}"), bytes.len())
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    /// Writes an image manifest; returns its descriptor.
    pub fn manifest(&self, image: &Image) -> Value {
        let mut layer_descs = Vec::new();
        let mut diff_ids = Vec::new();
        for tar in &image.layers {
            diff_ids.push(format!("sha256:{}", sha256_hex(tar)));
            let (digest, size) = self.blob(&gzip(tar));
            layer_descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size}));
        }
        let config = json!({
            "architecture": image.arch, "os": "linux",
            "config": {"Env": image.env},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let (cdigest, csize) = self.blob(&serde_json::to_vec(&config).expect("json"));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
            "layers": layer_descs,
        });
        let (digest, size) = self.blob(&serde_json::to_vec(&manifest).expect("json"));
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
               "platform": {"os": "linux", "architecture": image.arch}})
    }

    /// Tags one image.
    pub fn tag(&mut self, tag: &str, image: &Image) -> String {
        let mut desc = self.manifest(image);
        desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let digest = desc["digest"].as_str().expect("digest").to_string();
        self.index.push(desc);
        self.write_index();
        digest
    }

    /// Tags a multi-platform index of several images; returns the index digest.
    pub fn tag_index(&mut self, tag: &str, images: &[Image]) -> String {
        let manifests: Vec<Value> = images.iter().map(|i| self.manifest(i)).collect();
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
        let (digest, size) = self.blob(&serde_json::to_vec(&index).expect("json"));
        self.index.push(json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": size,
                               "annotations": {"org.opencontainers.image.ref.name": tag}}));
        self.write_index();
        digest
    }

    fn write_index(&self) {
        let index = json!({"schemaVersion": 2, "manifests": self.index});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).expect("json"),
        )
        .expect("write index");
    }
}

fn need(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is missing: run scripts/install-test-deps.sh");
}

/// skopeo, as the tests use it: no policy file needed, TLS off for loopback.
pub fn skopeo(args: &[&str]) {
    need("skopeo");
    let dir = tempfile::tempdir().expect("tmp");
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .expect("policy");
    let out = Command::new("skopeo")
        .arg("--policy")
        .arg(&policy)
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A real registry (Debian's docker-registry) on 127.0.0.1, stopped on drop.
pub struct Registry {
    child: Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start(htpasswd: Option<(&str, &str)>) -> Registry {
        need("docker-registry");
        let dir = tempfile::tempdir().expect("tmp");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut auth = String::new();
        if let Some((user, pass)) = htpasswd {
            need("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd");
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).expect("write htpasswd");
            auth = format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth}",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).expect("config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Registry {
            child,
            addr,
            _dir: dir,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(&self.addr) {
                let _ = write!(s, "GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
                let mut buf = [0u8; 12];
                if std::io::Read::read(&mut s, &mut buf).is_ok_and(|n| n >= 12) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("registry on {} did not answer within 20 s", self.addr);
    }

    /// Pushes `oci:LAYOUT:TAG` as `REPO:TAG`; returns the reference.
    pub fn push(&self, layout: &Layout, tag: &str, repo: &str, creds: Option<&str>) -> String {
        let dest = format!("docker://{}/{repo}:{tag}", self.addr);
        let src = format!("oci:{}:{tag}", layout.dir.display());
        let mut args = vec![
            "copy",
            "--all",
            "--dest-tls-verify=false",
            "--preserve-digests",
        ];
        if let Some(c) = creds {
            args.extend(["--dest-creds", c]);
        }
        args.extend([src.as_str(), dest.as_str()]);
        skopeo(&args);
        format!("{}/{repo}:{tag}", self.addr)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
