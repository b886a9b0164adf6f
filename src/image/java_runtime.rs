//! Java (README, What it recognises): the crypto of a JVM is not in the `java` launcher ELF but in
//! its security providers. A JDK (`bin/java` beside `lib/modules`, or `lib/rt.jar` for Java 8)
//! is FIPS-capable with BC-FIPS registered first in its `java.security`, or as Red Hat's
//! OpenJDK following the system FIPS policy (NSS); otherwise its crypto is the JDK's own.

use std::path::Path;

use super::{confined, zip_names};
use crate::inspect::{Activation, BinaryVerdict, Day, Module, ModuleRegistry, Verdict};

const BC_FIPS_PROVIDER: &str = "org.bouncycastle.jcajce.provider.BouncyCastleFipsProvider";
/// `java.security` locations relative to a JDK home (Java 9+, then Java 8).
const SECURITY_FILES: &[&str] = &[
    "conf/security/java.security",
    "lib/security/java.security",
    "jre/lib/security/java.security",
];

/// Jar files seen in the tree, by root-relative path, with the jars packed inside them
/// (`BOOT-INF/lib/`, `WEB-INF/lib/`), as `outer.jar!/BOOT-INF/lib/inner.jar`.
#[derive(Debug, Default)]
pub(crate) struct Jars {
    pub paths: Vec<String>,
}

const ARCHIVES: &[&str] = &[".jar", ".war", ".ear"];
const NESTED_LIB_DIRS: &[&str] = &["BOOT-INF/lib/", "WEB-INF/lib/"];

impl Jars {
    /// Records a file of the tree; for an archive, also the jars packed in it.
    pub fn note(&mut self, root: &Path, rel: &str) {
        if !ARCHIVES.iter().any(|e| rel.ends_with(e)) {
            return;
        }
        self.paths.push(rel.to_string());
        let Some(real) = confined::resolve(root, Path::new(rel), true) else {
            return;
        };
        let Ok(mut file) = super::regular_file::open(&root.join(real)) else {
            return;
        };
        for name in zip_names::names(&mut file).unwrap_or_default() {
            if NESTED_LIB_DIRS.iter().any(|d| name.starts_with(d)) && name.ends_with(".jar") {
                self.paths.push(format!("{rel}!/{name}"));
            }
        }
    }

    /// `bc-fips-2.0.0.jar` -> `2.0.0`.
    fn bc_fips(&self) -> Option<(&str, String)> {
        self.paths.iter().find_map(|p| {
            let name = p.rsplit('/').next()?;
            let version = name.strip_prefix("bc-fips-")?.strip_suffix(".jar")?;
            Some((p.as_str(), version.to_string()))
        })
    }

    /// Non-FIPS Bouncy Castle: crypto outside any module.
    fn bcprov(&self) -> Option<&str> {
        self.paths
            .iter()
            .find(|p| {
                p.rsplit('/')
                    .next()
                    .is_some_and(|n| n.starts_with("bcprov-"))
            })
            .map(String::as_str)
    }
}

/// Re-judges every JDK launcher in `binaries` by its security providers.
pub(crate) fn apply(
    root: &Path,
    jars: &Jars,
    registry: &ModuleRegistry,
    today: Day,
    binaries: &mut [BinaryVerdict],
) {
    for b in binaries.iter_mut() {
        let Some(home) = jdk_home(root, &b.path) else {
            continue;
        };
        if b.verdict != Verdict::NoCrypto {
            continue;
        }
        let security = read_security(root, &home);
        judge_jdk(b, &home, security.as_ref(), jars, registry, today);
    }
}

/// The JDK home of a `…/bin/java` launcher, when it has the runtime beside it.
fn jdk_home(root: &Path, path: &str) -> Option<String> {
    let home = if path == "bin/java" {
        ""
    } else {
        path.strip_suffix("/bin/java")?
    };
    let runtime = ["lib/modules", "lib/rt.jar", "jre/lib/rt.jar"];
    runtime
        .iter()
        .any(|r| confined::is_file(root, &Path::new(home).join(r)))
        .then(|| home.to_string())
}

fn read_security(root: &Path, home: &str) -> Option<(String, String)> {
    SECURITY_FILES.iter().find_map(|f| {
        let rel = format!("{home}/{f}");
        confined::read_to_string(root, Path::new(&rel)).map(|text| (rel, text))
    })
}

/// `key=value` properties (`#`/`!` comments, `\` continuations).
fn properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if pending.is_empty() && (line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            continue;
        }
        pending.push_str(line);
        if let Some((k, v)) = pending.split_once(['=', ':']) {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
        pending.clear();
    }
    out
}

fn judge_jdk(
    b: &mut BinaryVerdict,
    home: &str,
    security: Option<&(String, String)>,
    jars: &Jars,
    registry: &ModuleRegistry,
    today: Day,
) {
    let props = security
        .map(|(_, text)| properties(text))
        .unwrap_or_default();
    let get = |k: &str| {
        props
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let security_file = security.map_or("no java.security", |(rel, _)| rel.as_str());
    if let Some(jar) = jars.bcprov() {
        not_fips(
            b,
            format!("jar {jar}: Bouncy Castle without FIPS (crypto outside a module)"),
        );
        return;
    }
    let first_provider = get("security.provider.1").unwrap_or("");
    if first_provider.starts_with(BC_FIPS_PROVIDER) {
        let Some((jar, version)) = jars.bc_fips() else {
            not_fips(
                b,
                format!(
                    "{security_file} registers BC-FIPS first but no bc-fips-*.jar is in the image"
                ),
            );
            return;
        };
        b.evidence.push(format!(
            "{security_file} security.provider.1={BC_FIPS_PROVIDER}"
        ));
        b.evidence.push(format!("jar {jar}"));
        let resolved = registry.resolve("bc-fips", &version, today);
        match resolved {
            Some(r) if r.validation.is_usable() => {
                b.verdict = Verdict::FipsCapable;
                b.module = Some(Module {
                    name: "bc-fips".into(),
                    version: Some(version),
                    validation: r.validation,
                    activation: Activation::Always,
                    certificate: r.certificate,
                });
            }
            _ => not_fips(
                b,
                format!("bc-fips {version} is not listed in the module registry"),
            ),
        }
        return;
    }
    let redhat = get("security.useSystemPropertiesFile") == Some("true")
        && get("com.redhat.fips") != Some("false");
    if redhat {
        b.evidence.push(format!("{security_file} security.useSystemPropertiesFile=true: follows the system FIPS policy (NSS)"));
        b.verdict = Verdict::FipsCapable;
        b.module = Some(Module {
            name: "nss".into(),
            version: None,
            validation: crate::inspect::Validation::Unknown,
            activation: Activation::HostDriven,
            certificate: None,
        });
        b.evidence
            .push(crate::inspect::verdict::RESOLVED_AT_IMAGE_LEVEL.into());
        return;
    }
    not_fips(
        b,
        format!("JDK {home}: {security_file} registers no FIPS provider first; its crypto is the JDK's own (SunJCE)"),
    );
}

fn not_fips(b: &mut BinaryVerdict, why: String) {
    b.verdict = Verdict::NotFipsCapable;
    b.module = None;
    b.evidence.push(why.clone());
    b.reason = Some(why);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_with_continuations_and_comments() {
        let p = properties("# c\nsecurity.provider.1=org.a.B \\\n   arg\n! x\nk: v\n");
        assert_eq!(
            p,
            vec![
                ("security.provider.1".into(), "org.a.B arg".into()),
                ("k".into(), "v".into())
            ]
        );
    }
}
