//! Self-managed webhook certificates: a CA and a serving certificate (rcgen on aws-lc-rs,
//! ECDSA P-256 with SHA-256; never SHA-1), kept as PEM in one Secret and rotated before they
//! expire, with an overlap so that a client never meets a certificate its trust bundle lacks.
//!
//! Pure: the controller reads the Secret and the caBundles the ValidatingWebhookConfiguration
//! holds now, asks [`plan`] what the Secret should hold at `now`, publishes [`ca_bundle`]
//! (first [`bundle_union`] with what is live, when the Secret is about to change) and then
//! writes the Secret: no replica ever serves a certificate whose CA is not published.
//!
//! Rotation, each step at least one pass apart:
//! 1. the serving certificate is re-issued by the same CA when a third of its life is left
//!    (or its names, key, issuer or validity are wrong): the bundle does not change;
//! 2. when a third of the CA's life is left, a next CA is created and published in the bundle
//!    beside the current one, but signs nothing yet;
//! 3. once the next CA is in the live caBundle of every webhook (`published`), and at least
//!    [`Lifetimes::publish_before_use`] after it was made, it becomes the CA and signs a new
//!    serving certificate; the old CA stays in the bundle (`previous-ca.crt`) until it expires.
//!
//! A CA that cannot sign any more (unparseable, expired, its key lost) is replaced by the
//! next CA when there is a usable one, else by a new CA; a CA certificate still valid stays
//! published as the previous CA.

use std::collections::BTreeMap;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const NEXT_CA_CERT: &str = "next-ca.crt";
pub const NEXT_CA_KEY: &str = "next-ca.key";
pub const PREVIOUS_CA_CERT: &str = "previous-ca.crt";
pub const TLS_CERT: &str = "tls.crt";
pub const TLS_KEY: &str = "tls.key";
/// Every key of the Secret that [`plan`] manages (others are left as they are).
pub const KEYS: [&str; 7] = [
    CA_CERT,
    CA_KEY,
    NEXT_CA_CERT,
    NEXT_CA_KEY,
    PREVIOUS_CA_CERT,
    TLS_CERT,
    TLS_KEY,
];

/// The Secret's contents: key → PEM text.
pub type CertData = BTreeMap<String, String>;

#[derive(Debug, Clone)]
pub struct Lifetimes {
    pub ca: Duration,
    pub serving: Duration,
    /// How long a next CA sits in the published bundle before it signs anything.
    pub publish_before_use: Duration,
    /// New certificates start this much before `now`: clocks across a cluster differ.
    pub backdate: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            ca: Duration::from_secs(3 * 365 * 86400),
            serving: Duration::from_secs(90 * 86400),
            publish_before_use: Duration::from_secs(3600),
            backdate: Duration::from_secs(3600),
        }
    }
}

/// A change to write, and why (for the log).
#[derive(Debug, Clone)]
pub struct Plan {
    pub data: CertData,
    pub reasons: Vec<String>,
}

/// One parsed certificate: what rotation decisions need.
struct Parsed {
    der: Vec<u8>,
    not_before: i64,
    not_after: i64,
}

impl Parsed {
    fn from_pem(text: &str) -> Result<Parsed, String> {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let der = CertificateDer::from_pem_slice(text.as_bytes())
            .map_err(|e| format!("not a PEM certificate ({e})"))?
            .to_vec();
        let (_, cert) =
            X509Certificate::from_der(&der).map_err(|e| format!("not a certificate ({e})"))?;
        Ok(Parsed {
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            der,
        })
    }

    fn cert(&self) -> X509Certificate<'_> {
        // Parsed once already in `from_pem`.
        X509Certificate::from_der(&self.der)
            .map(|(_, c)| c)
            .expect("parsed before")
    }

    /// Whether a third or less of its life is left: of its own life as issued (a serving
    /// certificate cut short by its CA's end has a shorter one), or of `configured` when that
    /// is shorter (the lifetime was lowered since).
    fn life_left_below_a_third(&self, now: i64, configured: Duration) -> bool {
        let own = (self.not_after - self.not_before).max(0);
        let life = own.min(i64::try_from(configured.as_secs()).unwrap_or(i64::MAX));
        self.not_after - now < life / 3
    }
}

/// The DER of each certificate in a PEM bundle; what does not parse is left out.
fn bundle_ders(bundle: &str) -> Vec<Vec<u8>> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    CertificateDer::pem_slice_iter(bundle.as_bytes())
        .map_while(Result::ok)
        .map(|der| der.to_vec())
        .filter(|der| X509Certificate::from_der(der).is_ok())
        .collect()
}

fn pem_of(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The certificates of a caBundle as published (one PEM each); what does not parse is left
/// out.
pub fn bundle_cas(bundle: &str) -> Vec<String> {
    bundle_ders(bundle).iter().map(|d| pem_of(d)).collect()
}

/// The CAs that every one of `bundles` (the live caBundle of each webhook) contains: what
/// [`plan`] may count as published. None when there is no bundle at all.
pub fn published_in_all(bundles: &[&str]) -> Vec<String> {
    let Some((first, rest)) = bundles.split_first() else {
        return Vec::new();
    };
    let rest: Vec<Vec<Vec<u8>>> = rest.iter().map(|b| bundle_ders(b)).collect();
    bundle_ders(first)
        .into_iter()
        .filter(|der| rest.iter().all(|r| r.contains(der)))
        .map(|der| pem_of(&der))
        .collect()
}

/// Whether every certificate of the bundle `wanted` is in the bundle `live`.
pub fn bundle_contains(live: &str, wanted: &str) -> bool {
    let live = bundle_ders(live);
    bundle_ders(wanted).iter().all(|d| live.contains(d))
}

/// `wanted`, then each certificate of `live` that `wanted` lacks: what a webhook publishes
/// while the Secret changes, so that both the certificates replicas serve now and those they
/// serve next are trusted.
pub fn bundle_union(live: &str, wanted: &str) -> String {
    let mut out = wanted.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let mut seen = bundle_ders(wanted);
    for der in bundle_ders(live) {
        if !seen.contains(&der) {
            out.push_str(&pem_of(&der));
            seen.push(der);
        }
    }
    out
}

/// Whether `pem` (one certificate) is among `published`.
pub fn is_published(published: &[String], pem: &str) -> bool {
    let Some(der) = bundle_ders(pem).into_iter().next() else {
        return false;
    };
    published.iter().any(|p| bundle_ders(p).contains(&der))
}

/// A CA certificate and its key, usable for signing.
struct Ca {
    cert_pem: String,
    key_pem: String,
    parsed: Parsed,
}

impl Ca {
    fn load(data: &CertData, cert: &str, key: &str, now: i64) -> Result<Option<Ca>, String> {
        let (cert_pem, key_pem) = match (data.get(cert), data.get(key)) {
            (Some(c), Some(k)) => (c, k),
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(format!("{key} is missing")),
            (None, Some(_)) => return Err(format!("{cert} is missing")),
        };
        let parsed = Parsed::from_pem(cert_pem).map_err(|e| format!("{cert}: {e}"))?;
        let key_pair = KeyPair::from_pem(key_pem).map_err(|e| format!("{key}: {e}"))?;
        if *parsed.cert().public_key().subject_public_key.data != *key_pair.public_key_raw() {
            return Err(format!("{key} does not belong to {cert}"));
        }
        if parsed.not_after <= now {
            return Err(format!("{cert} has expired"));
        }
        Ok(Some(Ca {
            cert_pem: cert_pem.clone(),
            key_pem: key_pem.clone(),
            parsed,
        }))
    }

    fn generate(now: i64, life: &Lifetimes) -> Result<Ca, String> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        // A name of its own: two CAs in one bundle must never share a subject (OpenSSL
        // clients pick the issuer by name and would try the wrong one).
        let mut tag = [0u8; 4];
        aws_lc_rs::rand::fill(&mut tag).map_err(|_| "no random bytes".to_string())?;
        let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        dn.push(
            DnType::CommonName,
            format!("fips-operator webhook CA {} {tag}", date(now)),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        (params.not_before, params.not_after) = validity(now, life.ca, life.backdate)?;
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        let cert_pem = cert.pem();
        Ok(Ca {
            parsed: Parsed::from_pem(&cert_pem)?,
            cert_pem,
            key_pem: key.serialize_pem(),
        })
    }

    /// When a serving certificate issued now would end: never past the CA's own end.
    fn serving_end(&self, now: i64, life: &Lifetimes) -> i64 {
        (now + life.serving.as_secs() as i64).min(self.parsed.not_after)
    }

    /// A serving certificate for `dns_names`, signed by this CA: (cert PEM, key PEM).
    fn issue(
        &self,
        dns_names: &[String],
        now: i64,
        life: &Lifetimes,
    ) -> Result<(String, String), String> {
        let ca_key = KeyPair::from_pem(&self.key_pem).map_err(|e| e.to_string())?;
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, ca_key).map_err(|e| e.to_string())?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
        let mut params = CertificateParams::new(dns_names.to_vec()).map_err(|e| e.to_string())?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            dns_names.first().cloned().unwrap_or_default(),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        // Never past the CA's own end.
        let left = Duration::from_secs((self.serving_end(now, life) - now).max(0) as u64);
        (params.not_before, params.not_after) = validity(now, left, life.backdate)?;
        let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Whether `cert` was signed by this CA's key.
    fn signed(&self, cert: &X509Certificate<'_>) -> bool {
        cert.verify_signature(Some(self.parsed.cert().public_key()))
            .is_ok()
    }
}

fn validity(
    now: i64,
    lifetime: Duration,
    backdate: Duration,
) -> Result<(OffsetDateTime, OffsetDateTime), String> {
    let at = |secs: i64| OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string());
    Ok((
        at(now - backdate.as_secs() as i64)?,
        at(now + lifetime.as_secs() as i64)?,
    ))
}

fn date(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

fn time_of(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| format!("{} {} UTC", t.date(), t.time()))
        .unwrap_or_default()
}

/// Why the serving certificate must be re-issued by `ca`, if it must.
fn serving_problem(
    data: &CertData,
    ca: &Ca,
    dns_names: &[String],
    now: i64,
    life: &Lifetimes,
) -> Option<String> {
    let (Some(cert_pem), Some(key_pem)) = (data.get(TLS_CERT), data.get(TLS_KEY)) else {
        return Some("no serving certificate".into());
    };
    let parsed = match Parsed::from_pem(cert_pem) {
        Ok(p) => p,
        Err(e) => return Some(format!("{TLS_CERT}: {e}")),
    };
    let cert = parsed.cert();
    match KeyPair::from_pem(key_pem) {
        Ok(k) if *cert.public_key().subject_public_key.data == *k.public_key_raw() => {}
        Ok(_) => return Some(format!("{TLS_KEY} does not belong to {TLS_CERT}")),
        Err(e) => return Some(format!("{TLS_KEY}: {e}")),
    }
    if !ca.signed(&cert) {
        return Some("the serving certificate is not signed by the current CA".into());
    }
    let mut names: Vec<String> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut wanted = dns_names.to_vec();
    wanted.sort();
    if names != wanted {
        return Some(format!(
            "the serving certificate names {names:?}, not {wanted:?}"
        ));
    }
    if parsed.not_before > now {
        return Some(format!(
            "the serving certificate is not valid before {} (a clock ahead?)",
            time_of(parsed.not_before)
        ));
    }
    // Due, and one issued now would last longer (else re-issuing gains nothing, and would
    // happen again on every pass).
    if parsed.life_left_below_a_third(now, life.serving)
        && ca.serving_end(now, life) > parsed.not_after
    {
        return Some(format!(
            "the serving certificate expires on {}",
            date(parsed.not_after)
        ));
    }
    None
}

/// What the Secret should hold at `now` (unix seconds) for a webhook reached at `dns_names`;
/// `None` when it already does. `published`: the CA certificates (PEM) that the live caBundle
/// of every webhook contains (see [`published_in_all`]; none when the configuration is
/// missing): a next CA signs only once it is among them.
///
/// A CA that cannot be used (unparseable, expired, a key that does not match) is replaced by
/// the next CA when that one is usable, else by a new CA; the reason says so.
pub fn plan(
    current: &CertData,
    dns_names: &[String],
    now: i64,
    life: &Lifetimes,
    published: &[String],
) -> Result<Option<Plan>, String> {
    let mut data = current.clone();
    let mut reasons = Vec::new();

    let mut ca = match Ca::load(&data, CA_CERT, CA_KEY, now) {
        Ok(Some(ca)) => ca,
        other => {
            let why = match other {
                Err(e) => e,
                _ => "none yet".into(),
            };
            // A CA certificate still valid (its key lost or wrong) may have signed what the
            // replicas serve now: it stays published as the previous CA.
            let old = data
                .get(CA_CERT)
                .filter(|pem| Parsed::from_pem(pem).is_ok_and(|p| p.not_after > now))
                .cloned();
            data.remove(CA_CERT);
            data.remove(CA_KEY);
            let ca = match Ca::load(&data, NEXT_CA_CERT, NEXT_CA_KEY, now) {
                Ok(Some(next)) => {
                    reasons.push(format!("the next CA signs now: {why}"));
                    data.remove(NEXT_CA_CERT);
                    data.remove(NEXT_CA_KEY);
                    next
                }
                next => {
                    reasons.push(format!("new CA: {why}"));
                    if let Err(e) = next {
                        reasons.push(format!("next CA dropped: {e}"));
                        data.remove(NEXT_CA_CERT);
                        data.remove(NEXT_CA_KEY);
                    }
                    Ca::generate(now, life)?
                }
            };
            if let Some(old) = old {
                data.insert(PREVIOUS_CA_CERT.into(), old);
            }
            data.insert(CA_CERT.into(), ca.cert_pem.clone());
            data.insert(CA_KEY.into(), ca.key_pem.clone());
            ca
        }
    };

    // Step 3: a next CA that every webhook trusts, made long enough ago, takes over.
    match Ca::load(&data, NEXT_CA_CERT, NEXT_CA_KEY, now) {
        Ok(Some(next)) => {
            let made = next.parsed.not_before + life.backdate.as_secs() as i64;
            if now - made >= life.publish_before_use.as_secs() as i64
                && is_published(published, &next.cert_pem)
            {
                reasons.push(format!(
                    "the next CA (made on {}, published) now signs",
                    date(made)
                ));
                data.insert(PREVIOUS_CA_CERT.into(), ca.cert_pem.clone());
                data.insert(CA_CERT.into(), next.cert_pem.clone());
                data.insert(CA_KEY.into(), next.key_pem.clone());
                data.remove(NEXT_CA_CERT);
                data.remove(NEXT_CA_KEY);
                ca = next;
            }
        }
        Ok(None) => {
            // Step 2: publish the next CA well before the current one runs out (and only if
            // a CA made now would outlive it).
            if ca.parsed.life_left_below_a_third(now, life.ca)
                && now + life.ca.as_secs() as i64 > ca.parsed.not_after
            {
                reasons.push(format!(
                    "the CA expires on {}: next CA published",
                    date(ca.parsed.not_after)
                ));
                let next = Ca::generate(now, life)?;
                data.insert(NEXT_CA_CERT.into(), next.cert_pem);
                data.insert(NEXT_CA_KEY.into(), next.key_pem);
            }
        }
        Err(e) => {
            reasons.push(format!("next CA dropped: {e}"));
            data.remove(NEXT_CA_CERT);
            data.remove(NEXT_CA_KEY);
        }
    }

    // The previous CA stays published until it expires.
    if let Some(prev) = data.get(PREVIOUS_CA_CERT) {
        if Parsed::from_pem(prev).map_or(true, |p| p.not_after <= now) {
            data.remove(PREVIOUS_CA_CERT);
            reasons.push("the previous CA expired".into());
        }
    }

    // Step 1: the serving certificate.
    if let Some(why) = serving_problem(&data, &ca, dns_names, now, life) {
        reasons.push(format!("new serving certificate: {why}"));
        let (cert, key) = ca.issue(dns_names, now, life)?;
        data.insert(TLS_CERT.into(), cert);
        data.insert(TLS_KEY.into(), key);
    }

    Ok((data != *current).then_some(Plan { data, reasons }))
}

/// The CA bundle to publish: the CA, the next CA and the previous CA, those present.
pub fn ca_bundle(data: &CertData) -> String {
    [CA_CERT, NEXT_CA_CERT, PREVIOUS_CA_CERT]
        .iter()
        .filter_map(|k| data.get(*k))
        .map(|pem| {
            let mut p = pem.trim_end().to_string();
            p.push('\n');
            p
        })
        .collect()
}

/// The names a Service is reached at from the API server.
pub fn service_dns_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

#[cfg(test)]
mod tests;
