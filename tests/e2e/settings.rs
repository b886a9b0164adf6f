//! What the suite runs against, from the environment (see the crate docs in `main.rs`).

/// Everything the suite needs to know about the cluster and the images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `FIPS_E2E_KUBECONFIG`.
    pub kubeconfig: String,
    /// `FIPS_E2E_HELM` (default `helm`).
    pub helm: String,
    /// `FIPS_E2E_IMAGE`: the operator image as the cluster pulls it.
    pub image: String,
    /// `FIPS_E2E_INSECURE_REGISTRY`: a registry the controller may reach over plain HTTP.
    pub insecure_registry: Option<String>,
    /// `FIPS_E2E_NONFIPS_IMAGE`: an image that is not FIPS-capable.
    pub nonfips_image: String,
    /// `FIPS_E2E_NONFIPS_BINARY`: the path (inside the image, no leading `/`) of the
    /// offending binary the denial must name.
    pub nonfips_binary: Option<String>,
    /// `FIPS_E2E_FIPS_IMAGE` (default: the operator image, a FIPS build).
    pub fips_image: String,
    /// `FIPS_E2E_KEEP=1`: leave everything installed (debugging only).
    pub keep: bool,
}

impl Settings {
    /// `Ok(None)` when `FIPS_E2E_KUBECONFIG` is unset or empty: there is nothing to run
    /// against. An empty variable counts as unset.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Settings>, String> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let Some(kubeconfig) = var("FIPS_E2E_KUBECONFIG") else {
            return Ok(None);
        };
        let image = var("FIPS_E2E_IMAGE").ok_or(
            "FIPS_E2E_KUBECONFIG is set but FIPS_E2E_IMAGE is not: name the operator image the \
             cluster can pull, a full reference such as \
             kind-registry:5000/fips-operator:e2e@sha256:… (built with \
             `docker build --build-arg FLAVOR=fips`; scripts/e2e/build-images.sh builds and \
             pushes it)",
        )?;
        chart_image(&image).map_err(|e| format!("FIPS_E2E_IMAGE: {e}"))?;
        let nonfips_image = var("FIPS_E2E_NONFIPS_IMAGE").ok_or(
            "FIPS_E2E_KUBECONFIG is set but FIPS_E2E_NONFIPS_IMAGE is not: name an image that \
             is not FIPS-capable, preferably pinned by digest (scripts/e2e/build-images.sh \
             builds one from scripts/e2e/nonfips/)",
        )?;
        chart_image(&nonfips_image).map_err(|e| format!("FIPS_E2E_NONFIPS_IMAGE: {e}"))?;
        let fips_image = var("FIPS_E2E_FIPS_IMAGE").unwrap_or_else(|| image.clone());
        chart_image(&fips_image).map_err(|e| format!("FIPS_E2E_FIPS_IMAGE: {e}"))?;
        Ok(Some(Settings {
            kubeconfig,
            helm: var("FIPS_E2E_HELM").unwrap_or_else(|| "helm".into()),
            image,
            insecure_registry: var("FIPS_E2E_INSECURE_REGISTRY"),
            nonfips_image,
            nonfips_binary: var("FIPS_E2E_NONFIPS_BINARY")
                .map(|b| b.trim_start_matches('/').to_string()),
            fips_image,
            keep: var("FIPS_E2E_KEEP").is_some_and(|v| v != "0" && v != "false"),
        }))
    }
}

/// The digest an image reference is pinned to, if any.
pub fn digest(reference: &str) -> Option<&str> {
    reference.split_once('@').map(|(_, d)| d)
}

/// An image reference split into the chart's `image.repository` and `image.tag`, which the
/// chart joins as `repository:tag`. A digest rides along in the tag
/// (`repo:tag@sha256:…` is a valid reference, and the digest is what is pulled); a reference
/// without a tag gets `latest`, as a container runtime would read it.
pub fn chart_image(reference: &str) -> Result<(String, String), String> {
    let reference = reference.trim();
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    let (repository, tag) = match name.rsplit_once(':') {
        // A colon before the last slash is a registry port, not a tag.
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (name, None),
    };
    if repository.is_empty()
        || repository.ends_with('/')
        || repository.contains(char::is_whitespace)
    {
        return Err(format!("{reference:?} is not an image reference"));
    }
    if tag.is_some_and(str::is_empty) {
        return Err(format!("{reference:?} has an empty tag"));
    }
    if let Some(d) = digest {
        let hex = d.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{reference:?}: the digest must be sha256: and 64 hex digits"
            ));
        }
    }
    let tag = tag.unwrap_or("latest");
    Ok((
        repository.to_string(),
        match digest {
            Some(d) => format!("{tag}@{d}"),
            None => tag.to_string(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn chart_image_splits_registry_port_tag_and_digest() {
        let pinned = format!("kind-registry:5000/fips-operator:e2e@{D}");
        assert_eq!(
            chart_image(&pinned),
            Ok((
                "kind-registry:5000/fips-operator".into(),
                format!("e2e@{D}")
            ))
        );
        assert_eq!(
            chart_image("kind-registry:5000/team/app:1.2"),
            Ok(("kind-registry:5000/team/app".into(), "1.2".into()))
        );
        assert_eq!(
            chart_image("kind-registry:5000/app"),
            Ok(("kind-registry:5000/app".into(), "latest".into()))
        );
        assert_eq!(
            chart_image(&format!("ghcr.io/x/app@{D}")),
            Ok(("ghcr.io/x/app".into(), format!("latest@{D}")))
        );
        // What the chart renders is a reference to the same image.
        let (r, t) = chart_image(&pinned).expect("valid");
        assert_eq!(format!("{r}:{t}"), pinned);
    }

    #[test]
    fn chart_image_refuses_what_is_not_a_reference() {
        assert!(chart_image("").is_err());
        assert!(chart_image("registry:5000/").is_err());
        assert!(chart_image("app:").is_err());
        assert!(chart_image("app@sha256:abc").is_err());
        assert!(chart_image("app@md5:0123").is_err());
        assert!(chart_image("two words").is_err());
    }

    #[test]
    fn without_a_kubeconfig_there_is_nothing_to_run() {
        assert_eq!(Settings::from_env(env(&[])), Ok(None));
        assert_eq!(
            Settings::from_env(env(&[("FIPS_E2E_KUBECONFIG", " ")])),
            Ok(None)
        );
    }

    #[test]
    fn a_cluster_needs_the_images() {
        let e = Settings::from_env(env(&[("FIPS_E2E_KUBECONFIG", "/k")])).expect_err("no image");
        assert!(e.contains("FIPS_E2E_IMAGE is not"), "{e}");
        let e = Settings::from_env(env(&[
            ("FIPS_E2E_KUBECONFIG", "/k"),
            ("FIPS_E2E_IMAGE", "r:5000/op:e2e"),
        ]))
        .expect_err("no non-FIPS image");
        assert!(e.contains("FIPS_E2E_NONFIPS_IMAGE is not"), "{e}");
        let e = Settings::from_env(env(&[
            ("FIPS_E2E_KUBECONFIG", "/k"),
            ("FIPS_E2E_IMAGE", "r:5000/op:"),
        ]))
        .expect_err("bad image");
        assert!(e.starts_with("FIPS_E2E_IMAGE: "), "{e}");
    }

    #[test]
    fn defaults_and_overrides() {
        let nonfips = format!("r:5000/nonfips:e2e@{D}");
        let s = Settings::from_env(env(&[
            ("FIPS_E2E_KUBECONFIG", "/k"),
            ("FIPS_E2E_IMAGE", "r:5000/op:e2e"),
            ("FIPS_E2E_NONFIPS_IMAGE", &nonfips),
        ]))
        .expect("valid")
        .expect("a cluster");
        assert_eq!(s.helm, "helm");
        assert_eq!(s.fips_image, "r:5000/op:e2e");
        assert_eq!(s.insecure_registry, None);
        assert_eq!(s.nonfips_binary, None);
        assert!(!s.keep);

        let s = Settings::from_env(env(&[
            ("FIPS_E2E_KUBECONFIG", "/k"),
            ("FIPS_E2E_IMAGE", "r:5000/op:e2e"),
            ("FIPS_E2E_NONFIPS_IMAGE", &nonfips),
            ("FIPS_E2E_FIPS_IMAGE", "r:5000/other:1"),
            ("FIPS_E2E_HELM", "/opt/helm"),
            ("FIPS_E2E_INSECURE_REGISTRY", "r:5000"),
            ("FIPS_E2E_NONFIPS_BINARY", "/usr/local/bin/x"),
            ("FIPS_E2E_KEEP", "1"),
        ]))
        .expect("valid")
        .expect("a cluster");
        assert_eq!(s.fips_image, "r:5000/other:1");
        assert_eq!(s.helm, "/opt/helm");
        assert_eq!(s.insecure_registry.as_deref(), Some("r:5000"));
        assert_eq!(s.nonfips_binary.as_deref(), Some("usr/local/bin/x"));
        assert!(s.keep);
        assert_eq!(digest(&s.nonfips_image), Some(D));
        assert_eq!(digest(&s.image), None);
    }
}
