use x509_parser::oid_registry::{OID_EC_P256, OID_SIG_ECDSA_WITH_SHA256};

use super::*;

const DAY: i64 = 86400;
const T0: i64 = 1_795_000_000; // 2026-11-18

fn names() -> Vec<String> {
    service_dns_names("fips-operator-webhook", "fips-operator")
}

/// A pass whose webhooks all trust what `data` publishes (the controller wrote its bundle).
fn step(data: &CertData, now: i64) -> Option<Plan> {
    step_with(data, now, &bundle_cas(&ca_bundle(data)))
}

/// A pass whose webhooks all trust `published`.
fn step_with(data: &CertData, now: i64, published: &[String]) -> Option<Plan> {
    plan(data, &names(), now, &Lifetimes::default(), published).expect("plan")
}

fn fresh() -> CertData {
    step(&CertData::new(), T0).expect("a first plan").data
}

fn parsed(pem: &str) -> Parsed {
    Parsed::from_pem(pem).expect("certificate")
}

fn ca_of(data: &CertData, cert: &str, key: &str) -> Ca {
    Ca::load(data, cert, key, T0).expect("ca").expect("present")
}

fn signed_by(data: &CertData, ca_cert: &str, ca_key: &str) -> bool {
    let serving = parsed(&data[TLS_CERT]);
    ca_of(data, ca_cert, ca_key).signed(&serving.cert())
}

fn bundle_len(data: &CertData) -> usize {
    ca_bundle(data).matches("BEGIN CERTIFICATE").count()
}

#[test]
fn a_first_plan_makes_a_p256_sha256_ca_and_serving_certificate() {
    let data = fresh();
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(keys, [CA_CERT, CA_KEY, TLS_CERT, TLS_KEY]);
    assert!(signed_by(&data, CA_CERT, CA_KEY));
    for pem in [&data[CA_CERT], &data[TLS_CERT]] {
        let p = parsed(pem);
        let cert = p.cert();
        assert_eq!(
            cert.signature_algorithm.algorithm,
            OID_SIG_ECDSA_WITH_SHA256
        );
        let spki = &cert.public_key().algorithm;
        let curve = spki
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .expect("named curve");
        assert_eq!(curve, OID_EC_P256);
        assert!(p.not_before <= T0 && p.not_after > T0 + 80 * DAY);
    }
    let serving = parsed(&data[TLS_CERT]);
    assert!(!serving.cert().is_ca());
    assert!(serving_problem(
        &data,
        &ca_of(&data, CA_CERT, CA_KEY),
        &names(),
        T0,
        &Lifetimes::default()
    )
    .is_none());
    assert_eq!(bundle_len(&data), 1);
    // Nothing to do the same day.
    assert!(step(&data, T0 + DAY).is_none());
}

#[test]
fn the_serving_certificate_is_renewed_by_the_same_ca_with_a_third_of_its_life_left() {
    let data = fresh();
    assert!(step(&data, T0 + 59 * DAY).is_none());
    let renewed = step(&data, T0 + 61 * DAY).expect("renewal");
    assert!(
        renewed.reasons[0].contains("serving certificate expires"),
        "{:?}",
        renewed.reasons
    );
    assert_eq!(renewed.data[CA_CERT], data[CA_CERT]);
    assert_ne!(renewed.data[TLS_CERT], data[TLS_CERT]);
    assert_eq!(ca_bundle(&renewed.data), ca_bundle(&data));
    assert!(signed_by(&renewed.data, CA_CERT, CA_KEY));
}

#[test]
fn a_new_ca_is_published_before_it_signs_and_the_old_one_stays_published() {
    let life = Lifetimes::default();
    let data = fresh();
    let ca_end = parsed(&data[CA_CERT]).not_after;
    let due = ca_end - life.ca.as_secs() as i64 / 3 + 1;

    // Step 2: published beside the current CA; the serving certificate does not change
    // (unless it was due anyway: renew it first so that this step shows only the CA).
    let mut current = data;
    if let Some(p) = step(&current, due - DAY) {
        current = p.data;
    }
    let published = step(&current, due).expect("next CA");
    assert!(
        published
            .reasons
            .iter()
            .any(|r| r.contains("next CA published")),
        "{:?}",
        published.reasons
    );
    assert_eq!(published.data[TLS_CERT], current[TLS_CERT]);
    assert_eq!(bundle_len(&published.data), 2);
    let subject = |k: &str| parsed(&published.data[k]).cert().subject().to_string();
    assert_ne!(
        subject(CA_CERT),
        subject(NEXT_CA_CERT),
        "two CAs in one bundle share a name"
    );
    assert!(signed_by(&published.data, CA_CERT, CA_KEY));

    // Not yet long enough in the bundle: nothing changes.
    assert!(step(&published.data, due + 600).is_none());
    // Long enough, but no webhook's live caBundle has it yet (the configuration missing, its
    // write refused, the caBundle reset): it does not sign, however long it waits.
    let only_current = bundle_cas(&ca_bundle(&current));
    for seen in [&[][..], &only_current[..]] {
        assert!(step_with(&published.data, due + 2 * 3600, seen).is_none());
        assert!(step_with(&published.data, due + 30 * DAY, seen).is_none());
    }
    // One webhook has it, another not: not yet either.
    let both = ca_bundle(&published.data);
    let partly = published_in_all(&[&both, &ca_bundle(&current)]);
    assert!(step_with(&published.data, due + 2 * 3600, &partly).is_none());

    // Step 3: the next CA signs; the old one stays in the bundle.
    let promoted = step(&published.data, due + 2 * 3600).expect("promotion");
    assert_eq!(promoted.data[CA_CERT], published.data[NEXT_CA_CERT]);
    assert_eq!(promoted.data[PREVIOUS_CA_CERT], published.data[CA_CERT]);
    assert!(!promoted.data.contains_key(NEXT_CA_CERT));
    assert!(signed_by(&promoted.data, CA_CERT, CA_KEY));
    assert_eq!(bundle_len(&promoted.data), 2);
    // Every CA a client trusted one step earlier is still in the bundle.
    assert!(ca_bundle(&promoted.data).contains(published.data[NEXT_CA_CERT].trim_end()));

    // The previous CA leaves the bundle once it has expired.
    let later = step(&promoted.data, ca_end + 1).expect("cleanup");
    assert!(!later.data.contains_key(PREVIOUS_CA_CERT));
    assert_eq!(bundle_len(&later.data), 1);
}

#[test]
fn unusable_contents_are_replaced_with_the_reason() {
    let data = fresh();

    let mut broken = data.clone();
    broken.insert(CA_CERT.into(), "garbage".into());
    let p = step(&broken, T0).expect("replaced");
    assert!(
        p.reasons[0].starts_with("new CA: ca.crt"),
        "{:?}",
        p.reasons
    );
    assert_ne!(p.data[CA_CERT], data[CA_CERT]);
    assert!(signed_by(&p.data, CA_CERT, CA_KEY));

    let mut wrong_key = data.clone();
    let other = fresh();
    wrong_key.insert(TLS_KEY.into(), other[TLS_KEY].clone());
    let p = step(&wrong_key, T0).expect("re-issued");
    assert!(
        p.reasons.iter().any(|r| r.contains("does not belong")),
        "{:?}",
        p.reasons
    );
    assert_eq!(p.data[CA_CERT], data[CA_CERT]);

    let mut foreign = data.clone();
    foreign.insert(TLS_CERT.into(), other[TLS_CERT].clone());
    foreign.insert(TLS_KEY.into(), other[TLS_KEY].clone());
    let p = step(&foreign, T0).expect("re-issued");
    assert!(
        p.reasons
            .iter()
            .any(|r| r.contains("not signed by the current CA")),
        "{:?}",
        p.reasons
    );

    let renamed = plan(
        &data,
        &service_dns_names("other", "ns"),
        T0,
        &Lifetimes::default(),
        &bundle_cas(&ca_bundle(&data)),
    )
    .expect("plan")
    .expect("re-issued");
    assert!(
        renamed.reasons.iter().any(|r| r.contains("names")),
        "{:?}",
        renamed.reasons
    );
    assert_eq!(renamed.data[CA_CERT], data[CA_CERT]);

    let expired = step(&data, parsed(&data[CA_CERT]).not_after + 1).expect("new CA");
    assert!(
        expired.reasons[0].contains("expired"),
        "{:?}",
        expired.reasons
    );
}

#[test]
fn bundles_compare_by_certificate_not_by_text() {
    let a = fresh();
    let b = fresh();
    let (ca_a, ca_b) = (ca_bundle(&a), ca_bundle(&b));
    // The same CA written differently (CRLF, no final newline, text around it).
    let odd = format!("# ours\r\n{}", ca_a.trim_end().replace('\n', "\r\n"));
    assert!(bundle_contains(&odd, &ca_a));
    assert!(!bundle_contains(&odd, &ca_b));
    assert!(is_published(&bundle_cas(&odd), &a[CA_CERT]));
    assert!(!is_published(&[], &a[CA_CERT]));

    let both = bundle_union(&format!("{ca_b}garbage\n"), &ca_a);
    assert!(both.starts_with(&ca_a), "what is wanted comes first");
    assert_eq!(bundle_cas(&both).len(), 2, "garbage left out: {both}");
    assert!(bundle_contains(&both, &ca_b));
    // Nothing twice.
    assert_eq!(bundle_union(&odd, &ca_a), ca_a);

    assert_eq!(
        published_in_all(&[&both, &odd]),
        bundle_cas(&ca_a),
        "only what every webhook has"
    );
    assert!(
        published_in_all(&[]).is_empty(),
        "no webhook: nothing published"
    );
}

#[test]
fn a_ca_that_cannot_sign_gives_way_to_a_valid_next_ca() {
    let life = Lifetimes::default();
    let data = fresh();
    let due = parsed(&data[CA_CERT]).not_after - life.ca.as_secs() as i64 / 3 + 1;
    let mut with_next = step(&data, due).expect("next CA").data;
    with_next.insert(PREVIOUS_CA_CERT.into(), fresh()[CA_CERT].clone());

    // The key lost: the next CA signs at once (even if not published yet: nothing else
    // can), and the old CA certificate, still valid, stays published as the previous CA.
    let mut lost_key = with_next.clone();
    lost_key.remove(CA_KEY);
    let p = step_with(&lost_key, due + 60, &[]).expect("promotion");
    assert!(
        p.reasons[0].starts_with("the next CA signs now: ca.key is missing"),
        "{:?}",
        p.reasons
    );
    assert_eq!(p.data[CA_CERT], with_next[NEXT_CA_CERT]);
    assert_eq!(p.data[CA_KEY], with_next[NEXT_CA_KEY]);
    assert_eq!(p.data[PREVIOUS_CA_CERT], with_next[CA_CERT]);
    assert!(!p.data.contains_key(NEXT_CA_CERT) && !p.data.contains_key(NEXT_CA_KEY));
    assert!(signed_by(&p.data, CA_CERT, CA_KEY));

    // Garbage: no previous from it; a valid previous CA is kept.
    let mut garbage = with_next.clone();
    garbage.insert(CA_CERT.into(), "garbage".into());
    let p = step_with(&garbage, due + 60, &[]).expect("promotion");
    assert_eq!(p.data[CA_CERT], with_next[NEXT_CA_CERT]);
    assert_eq!(p.data[PREVIOUS_CA_CERT], with_next[PREVIOUS_CA_CERT]);

    // Without a next CA, a new one; the valid previous CA is still kept.
    let mut no_next = garbage.clone();
    no_next.remove(NEXT_CA_CERT);
    no_next.remove(NEXT_CA_KEY);
    let p = step_with(&no_next, due + 60, &[]).expect("new CA");
    assert!(
        p.reasons[0].starts_with("new CA: ca.crt"),
        "{:?}",
        p.reasons
    );
    assert_ne!(p.data[CA_CERT], with_next[NEXT_CA_CERT]);
    assert_eq!(p.data[PREVIOUS_CA_CERT], with_next[PREVIOUS_CA_CERT]);
    assert!(signed_by(&p.data, CA_CERT, CA_KEY));
}

#[test]
fn a_serving_certificate_cut_short_by_its_ca_is_not_reissued_on_every_pass() {
    let life = Lifetimes {
        ca: Duration::from_secs(100 * DAY as u64),
        ..Lifetimes::default()
    };
    let names = names();
    // Nothing published: the next CA never signs, the current one runs out.
    let step = |data: &CertData, now: i64| plan(data, &names, now, &life, &[]).expect("plan");
    let data = step(&CertData::new(), T0).expect("fresh").data;
    let ca_end = parsed(&data[CA_CERT]).not_after;

    // 20 days of CA left: a next CA, and a serving certificate that ends with the CA.
    let renewed = step(&data, T0 + 80 * DAY).expect("renewal").data;
    assert!(renewed.contains_key(NEXT_CA_CERT));
    assert_eq!(parsed(&renewed[TLS_CERT]).not_after, ca_end);
    // It is not due again on the next pass, nor later: one issued then would not last longer.
    for later in [T0 + 80 * DAY + 60, T0 + 90 * DAY, T0 + 99 * DAY] {
        assert!(
            step(&renewed, later).is_none(),
            "rewritten at +{}d",
            (later - T0) / DAY
        );
    }
    // The CA runs out: the next one signs.
    let p = step(&renewed, ca_end + 1).expect("next CA");
    assert_eq!(p.data[CA_CERT], renewed[NEXT_CA_CERT]);
    assert!(signed_by(&p.data, CA_CERT, CA_KEY));
}

#[test]
fn a_serving_certificate_not_valid_yet_is_reissued() {
    let life = Lifetimes::default();
    let data = fresh();
    let mut ahead = data.clone();
    let (cert, key) = ca_of(&data, CA_CERT, CA_KEY)
        .issue(&names(), T0 + DAY, &life)
        .expect("issue");
    ahead.insert(TLS_CERT.into(), cert);
    ahead.insert(TLS_KEY.into(), key);
    let p = step(&ahead, T0).expect("re-issued");
    assert!(
        p.reasons.iter().any(|r| r.contains("not valid before")),
        "{:?}",
        p.reasons
    );
    assert!(parsed(&p.data[TLS_CERT]).not_before <= T0);
    assert_eq!(p.data[CA_CERT], data[CA_CERT]);
    assert!(step(&p.data, T0 + 60).is_none());
}
