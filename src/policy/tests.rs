use super::*;
use crate::inspect::{Activation, Module, Role};

fn binary(path: &str, verdict: Verdict, validation: Option<Validation>) -> BinaryVerdict {
    BinaryVerdict {
        path: path.into(),
        verdict,
        role: Role::Consumer,
        module: validation.map(|validation| Module {
            name: "go-native".into(),
            version: Some("v1.26.0".into()),
            validation,
            activation: Activation::DefaultOn,
            certificate: None,
        }),
        evidence: vec!["buildinfo go1.27.3".into()],
        warnings: vec![],
        reader: None,
        reason: (verdict == Verdict::NotFipsCapable)
            .then(|| "pclntab crypto/sha256 (outside)".into()),
        routes: validation
            .map(|_| "go-native".to_string())
            .into_iter()
            .collect(),
        pending_routes: Vec::new(),
        other_modules: Vec::new(),
        openssl_libs: Vec::new(),
    }
}

#[test]
fn no_binaries_is_compliant() {
    let o = target_outcome(&[], &[], ImagePolicy::default(), false);
    assert_eq!(o.outcome, Outcome::Compliant);
    assert!(o.reasons.is_empty());
}

#[test]
fn one_bad_binary_makes_the_target_non_compliant_and_names_it() {
    let bins = [
        binary("usr/bin/ok", Verdict::NoCrypto, None),
        binary("usr/bin/bad", Verdict::NotFipsCapable, None),
        binary("usr/bin/odd", Verdict::Unknown, None),
    ];
    let o = target_outcome(&bins, &[], ImagePolicy::default(), false);
    assert_eq!(o.outcome, Outcome::NonCompliant);
    assert_eq!(o.reasons[0], "usr/bin/bad: pclntab crypto/sha256 (outside)");
    assert!(o.reasons[1].starts_with("usr/bin/odd: cannot be judged"));
}

#[test]
fn in_process_modules_follow_the_policy() {
    let bins = [binary(
        "app",
        Verdict::FipsCapable,
        Some(Validation::InProcess),
    )];
    assert_eq!(
        target_outcome(&bins, &[], ImagePolicy::default(), false).outcome,
        Outcome::Compliant
    );
    let strict = ImagePolicy {
        accept_in_process: false,
        accept_historical: true,
    };
    let o = target_outcome(&bins, &[], strict, false);
    assert_eq!(o.outcome, Outcome::NonCompliant);
    assert!(
        o.reasons[0].contains("in-process and the policy refuses it"),
        "{:?}",
        o.reasons
    );
}

#[test]
fn a_pending_dynamic_route_alone_is_unknown() {
    let bins = [binary(
        "app",
        Verdict::FipsCapable,
        Some(Validation::Unknown),
    )];
    let o = target_outcome(&bins, &[], ImagePolicy::default(), true);
    assert_eq!(o.outcome, Outcome::Unknown);
    assert!(o.reasons[0].contains("resolved at image level"));
}

#[test]
fn image_reasons_count() {
    let o = target_outcome(
        &[],
        &["app: needs libcrypto.so.3".into()],
        ImagePolicy::default(),
        false,
    );
    assert_eq!(o.outcome, Outcome::NonCompliant);
}
