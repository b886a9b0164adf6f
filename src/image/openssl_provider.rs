//! I3/I4/I6: every OpenSSL consumer needs a loadable libcrypto, a registered FIPS provider
//! (`ossl-modules/fips.so`) and a configuration that activates it, in the same image.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::confined;
use super::dependencies::LibraryIndex;
use super::rootfs::confine;
use crate::inspect::{self, BinaryVerdict, Role, Validation, Verdict};

/// Where `openssl.cnf` lives per distro family (`OPENSSLDIR`): RHEL, Debian, Alpine/Wolfi, upstream.
const CONFIG_CANDIDATES: &[&str] = &[
    "etc/pki/tls/openssl.cnf",
    "usr/lib/ssl/openssl.cnf",
    "etc/ssl/openssl.cnf",
    "usr/local/ssl/openssl.cnf",
];
const OPENSSL_ROUTES: &[&str] = &["openssl (dynamic)", "golang-fips-openssl (dlopen)"];
const GOLANG_FIPS: &str = "golang-fips-openssl (dlopen)";
/// golang-fips dlopen order.
const LIBCRYPTO_SONAMES: &[&str] = &[
    "libcrypto.so.3",
    "libcrypto.so.1.1",
    "libcrypto.so.11",
    "libcrypto.so.111",
    "libcrypto.so.1.0.2",
    "libcrypto.so.1.0.0",
    "libcrypto.so.10",
];
const MAX_INCLUDES: usize = 64;

type Sections = HashMap<String, HashMap<String, String>>;

/// What the image says about OpenSSL FIPS (the `image.facts` of a scan).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenSslFacts {
    /// `path (OpenSSL FIPS Provider version)` of the image's provider.
    pub provider: Option<String>,
    pub config_activates_fips: bool,
}

/// Settles the OpenSSL routes of a root filesystem: capable binaries get the provider's
/// version and validation, or become `not-fips-capable` with what is missing.
/// `openssl_conf`: the image's `OPENSSL_CONF`, when its config sets one.
pub(crate) fn apply(
    root: &Path,
    libs: &LibraryIndex,
    binaries: &mut [BinaryVerdict],
    openssl_conf: Option<&str>,
) -> OpenSslFacts {
    let provider = binaries
        .iter()
        .find(|b| b.path.ends_with("ossl-modules/fips.so"))
        .cloned();
    let activation = activation(root, openssl_conf);
    let facts = OpenSslFacts {
        provider: provider.as_ref().map(|p| {
            let version = p
                .module
                .as_ref()
                .and_then(|m| m.version.as_deref())
                .unwrap_or("unknown version");
            format!("{} (OpenSSL FIPS Provider {version})", p.path)
        }),
        config_activates_fips: activation.is_ok(),
    };
    let uses_openssl = |b: &BinaryVerdict| {
        b.verdict == Verdict::FipsCapable
            && b.routes
                .iter()
                .any(|r| OPENSSL_ROUTES.contains(&r.as_str()))
    };
    if !binaries.iter().any(uses_openssl) {
        return facts;
    }
    let dlopen_target = LIBCRYPTO_SONAMES
        .iter()
        .find_map(|s| libs.resolve(s, &[], Path::new("")))
        .map(|p| p.to_string_lossy().into_owned());
    let mut versions = LibraryVersions {
        root,
        seen: HashMap::new(),
    };
    for b in binaries.iter_mut().filter(|b| uses_openssl(b)) {
        let golang_fips = b.routes.iter().any(|r| r == GOLANG_FIPS);
        let mut loaded = b.openssl_libs.clone();
        if b.role == Role::Module {
            loaded.push(b.path.clone());
        }
        if golang_fips {
            loaded.extend(dlopen_target.clone());
        }
        let problem = if golang_fips && dlopen_target.is_none() {
            Some(
                "no libcrypto in the image for golang-fips to load: it panics in FIPS mode (rule I6, docs/verdicts.md)"
                    .to_string(),
            )
        } else {
            loaded
                .iter()
                .find_map(|lib| versions.not_openssl3(lib))
                .or_else(|| provider_problem(provider.as_ref(), &activation))
        };
        match problem {
            Some(p) => {
                let route = b
                    .routes
                    .iter()
                    .find(|r| OPENSSL_ROUTES.contains(&r.as_str()))
                    .cloned()
                    .unwrap_or_default();
                b.module = None;
                b.verdict = Verdict::NotFipsCapable;
                b.evidence.push(p.clone());
                b.reason = Some(format!("{route} but {p}"));
            }
            None => {
                let Some(provider) = &provider else { continue };
                let Some(pm) = &provider.module else { continue };
                b.pending_routes
                    .retain(|r| !OPENSSL_ROUTES.contains(&r.as_str()));
                if let Some(m) = b
                    .module
                    .as_mut()
                    .filter(|m| OPENSSL_ROUTES.contains(&m.name.as_str()))
                {
                    m.version = pm.version.clone();
                    m.validation = pm.validation;
                    m.certificate = pm.certificate.clone();
                }
                b.evidence
                    .retain(|e| e != crate::inspect::verdict::RESOLVED_AT_IMAGE_LEVEL);
                b.evidence.push(format!(
                    "provider {} (OpenSSL FIPS Provider {}), {}",
                    provider.path,
                    pm.version.as_deref().unwrap_or("?"),
                    activation.as_ref().map_or("", |a| a.as_str())
                ));
                b.warnings.extend(provider.warnings.iter().cloned());
            }
        }
    }
    facts
}

/// The OpenSSL version string of each library, read once.
struct LibraryVersions<'a> {
    root: &'a Path,
    seen: HashMap<String, Option<String>>,
}

impl LibraryVersions<'_> {
    /// Why an OpenSSL 3 FIPS provider cannot serve the library at `rel`, if it cannot: it is
    /// OpenSSL 1.x, LibreSSL, BoringSSL or not OpenSSL at all.
    fn not_openssl3(&mut self, rel: &str) -> Option<String> {
        // libssl carries no version of its own: the libcrypto it needs is checked instead.
        if Path::new(rel)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("libssl.so"))
        {
            return None;
        }
        let root = self.root;
        let version = self
            .seen
            .entry(rel.to_string())
            .or_insert_with(|| {
                confined::read(root, Path::new(rel))
                    .and_then(|b| inspect::openssl_library_version(&b))
            })
            .clone();
        match version {
            Some(v) if v.starts_with("OpenSSL 3.") => None,
            Some(v) => Some(format!("{rel} is {v}: an OpenSSL 3 FIPS provider cannot load into it")),
            None => Some(format!("{rel} carries no OpenSSL 3 version string: an OpenSSL 3 FIPS provider cannot load into it")),
        }
    }
}

fn provider_problem(
    provider: Option<&BinaryVerdict>,
    activation: &Result<String, String>,
) -> Option<String> {
    let Some(p) = provider else {
        return Some("no OpenSSL FIPS provider (ossl-modules/fips.so) in the image".into());
    };
    match (&p.module, p.verdict) {
        (Some(m), Verdict::FipsCapable) if m.validation != Validation::Unknown => {}
        _ => {
            return Some(format!(
                "the image's FIPS provider {} is not validated ({})",
                p.path,
                p.reason.as_deref().unwrap_or("unknown version")
            ))
        }
    }
    activation.as_ref().err().cloned()
}

/// How the image activates the FIPS provider, or what is missing.
fn activation(root: &Path, openssl_conf: Option<&str>) -> Result<String, String> {
    if let Some(release) = confined::read_to_string(root, Path::new("etc/redhat-release")) {
        if release.contains("release 9") || release.contains("release 10") {
            return Ok(format!(
                "activated by the host kernel flag ({}: distro patch)",
                release.trim()
            ));
        }
    }
    let from_env = openssl_conf.and_then(|c| confine(Path::new(""), Path::new(c)));
    let config = match from_env {
        Some(c) => c,
        None => match CONFIG_CANDIDATES
            .iter()
            .find(|c| confined::is_file(root, Path::new(c)))
        {
            Some(c) => PathBuf::from(c),
            None => return Err("no openssl.cnf in the image to activate the FIPS provider".into()),
        },
    };
    let config = config.to_string_lossy().into_owned();
    let config = config.as_str();
    let mut sections = Sections::new();
    let mut budget = MAX_INCLUDES;
    parse_config(
        root,
        Path::new(config),
        "default",
        &mut sections,
        &mut budget,
    );
    config_activates_fips(&sections)
        .map(|fips| {
            format!("activated by {config} [{fips}] activate = 1, default_properties fips=yes")
        })
        .map_err(|missing| format!("{config} does not activate the FIPS provider: {missing}"))
}

fn parse_config(
    root: &Path,
    rel: &Path,
    section: &str,
    out: &mut Sections,
    budget: &mut usize,
) -> String {
    let mut current = section.to_string();
    if *budget == 0 {
        return current;
    }
    *budget -= 1;
    let Some(text) = confined::read_to_string(root, rel) else {
        return current;
    };
    let dir = rel.parent().unwrap_or(Path::new("")).to_path_buf();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(path) = line.strip_prefix(".include") {
            let path = path.trim().trim_start_matches('=').trim();
            for file in include_files(root, &dir, path) {
                current = parse_config(root, &file, &current, out, budget);
            }
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_string();
        } else if let Some((k, v)) = line.split_once('=') {
            out.entry(current.clone())
                .or_default()
                .insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
        }
    }
    current
}

fn include_files(root: &Path, dir: &Path, path: &str) -> Vec<PathBuf> {
    let Some(rel) = confine(dir, Path::new(path)) else {
        return Vec::new();
    };
    let (real, names) = confined::list_dir(root, &rel);
    if names.is_empty() {
        return vec![rel];
    }
    names
        .iter()
        .filter(|n| n.to_string_lossy().ends_with(".cnf"))
        .map(|n| real.join(n))
        .collect()
}

/// I4: `openssl_conf = i` -> `[i] providers = p` -> `[p] fips = f` -> `[f] activate = 1`, and
/// `default_properties = fips=yes` in the `alg_section`. Returns the fips section's name.
fn config_activates_fips(s: &Sections) -> Result<String, String> {
    let get = |sect: &str, key: &str| s.get(sect).and_then(|m| m.get(key)).cloned();
    let init = get("default", "openssl_conf").ok_or("no openssl_conf")?;
    let providers = get(&init, "providers").ok_or_else(|| format!("[{init}] has no providers"))?;
    let fips =
        get(&providers, "fips").ok_or_else(|| format!("[{providers}] lists no fips provider"))?;
    let active = get(&fips, "activate").is_some_and(|v| matches!(v.as_str(), "1" | "yes" | "true"));
    if !active {
        return Err(format!(
            "[{fips}] has no activate = 1 (is fipsmodule.cnf included?)"
        ));
    }
    let alg = get(&init, "alg_section")
        .ok_or_else(|| format!("[{init}] has no alg_section with default_properties = fips=yes"))?;
    let props = get(&alg, "default_properties").unwrap_or_default();
    if !props.replace(' ', "").split(',').any(|p| p == "fips=yes") {
        return Err(format!("[{alg}] default_properties lacks fips=yes"));
    }
    Ok(fips)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &str) -> Sections {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc/ssl")).expect("mkdir");
        std::fs::write(dir.path().join("etc/ssl/openssl.cnf"), text).expect("write");
        std::fs::write(
            dir.path().join("etc/ssl/fipsmodule.cnf"),
            "[fips_sect]\nactivate = 1\nmodule-mac = AA:BB\n",
        )
        .expect("write");
        let mut s = Sections::new();
        let mut budget = MAX_INCLUDES;
        parse_config(
            dir.path(),
            Path::new("etc/ssl/openssl.cnf"),
            "default",
            &mut s,
            &mut budget,
        );
        s
    }

    #[test]
    fn an_activating_config_with_include() {
        let s = sections(
            "openssl_conf = init\n.include fipsmodule.cnf\n[init]\nproviders = prov\nalg_section = algs\n[prov]\nfips = fips_sect\n[algs]\ndefault_properties = fips=yes\n",
        );
        assert_eq!(config_activates_fips(&s), Ok("fips_sect".to_string()));
    }

    #[test]
    fn debian_default_config_does_not_activate() {
        let s = sections("openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n[provider_sect]\ndefault = default_sect\n# fips = fips_sect\n[default_sect]\nactivate = 1\n");
        let e = config_activates_fips(&s).expect_err("not active");
        assert!(e.contains("no fips provider"), "{e}");
    }

    #[test]
    fn without_default_properties_it_is_not_enough() {
        let s = sections("openssl_conf = init\n.include fipsmodule.cnf\n[init]\nproviders = prov\n[prov]\nfips = fips_sect\n");
        assert!(config_activates_fips(&s).is_err());
    }
}
