//! TLS endpoint audit: which protocol versions, cipher suites and key-exchange groups an
//! endpoint accepts, and which of those are not FIPS-approved (SP 800-52r2, SP 800-131A r2).
//!
//! Only ClientHello and ServerHello (or HelloRetryRequest) are exchanged: every probe offers
//! a set, reads what the server picks, and hangs up, so no cryptography runs at all — in
//! particular none that is not FIPS-approved. TLS 1.3 probes carry no key share, so a server
//! that supports an offered group answers with a HelloRetryRequest naming it.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;

const TLS10: u16 = 0x0301;
const TLS11: u16 = 0x0302;
const TLS12: u16 = 0x0303;
const TLS13: u16 = 0x0304;

/// SHA-256("HelloRetryRequest"): the ServerHello random that marks a HelloRetryRequest.
const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// (code, IANA name, approved): TLS 1.3 suites (SP 800-52r2 §3.3.1.2).
const SUITES_13: &[(u16, &str, bool)] = &[
    (0x1301, "TLS_AES_128_GCM_SHA256", true),
    (0x1302, "TLS_AES_256_GCM_SHA384", true),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256", false),
    (0x1304, "TLS_AES_128_CCM_SHA256", true),
    (0x1305, "TLS_AES_128_CCM_8_SHA256", true),
];

/// TLS 1.2-and-earlier suites: ephemeral (EC)DH with AES is approved; RSA key transport
/// (PKCS#1 v1.5, disallowed by SP 800-131A r2 since 2024), ChaCha20, 3DES, RC4, CAMELLIA,
/// ARIA, NULL and anonymous suites are not.
const SUITES_12: &[(u16, &str, bool)] = &[
    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", true),
    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", true),
    (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", true),
    (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", true),
    (0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", true),
    (0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", true),
    (0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", true),
    (0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", true),
    (0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", true),
    (0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", true),
    (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", true),
    (0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", true),
    (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", true),
    (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", true),
    (0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", true),
    (0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", true),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", true),
    (0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", true),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", true),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", true),
    (
        0xCCA9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        false,
    ),
    (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false),
    (0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false),
    (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", false),
    (0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", false),
    (0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", false),
    (0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", false),
    (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", false),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", false),
    (0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", false),
    (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", false),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA", false),
    (0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", false),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", false),
    (0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", false),
    (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", false),
    (0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", false),
    (0x0002, "TLS_RSA_WITH_NULL_SHA", false),
    (0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", false),
];

/// Key-exchange groups: NIST curves and the RFC 7919 groups are approved (SP 800-56A r3,
/// SP 800-186); X25519/X448 are not approved for key agreement, and a hybrid counts only when
/// its classical half is (so X25519MLKEM768 does not).
const GROUPS: &[(u16, &str, bool)] = &[
    (23, "secp256r1", true),
    (24, "secp384r1", true),
    (25, "secp521r1", true),
    (256, "ffdhe2048", true),
    (257, "ffdhe3072", true),
    (258, "ffdhe4096", true),
    (259, "ffdhe6144", true),
    (260, "ffdhe8192", true),
    (29, "x25519", false),
    (30, "x448", false),
    (0x11EB, "SecP256r1MLKEM768", true),
    (0x11EC, "X25519MLKEM768", false),
];

fn protocol_name(v: u16) -> &'static str {
    match v {
        TLS10 => "TLSv1.0",
        TLS11 => "TLSv1.1",
        TLS12 => "TLSv1.2",
        TLS13 => "TLSv1.3",
        _ => "unknown",
    }
}

/// One accepted (protocol, suite) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    pub protocol: &'static str,
    /// The IANA name, or `0xXXXX` for a code this audit has no name for (never approved).
    pub suite: String,
    /// The protocol and the suite are both approved.
    pub approved: bool,
}

/// One accepted key-exchange group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptedGroup {
    pub protocol: &'static str,
    pub group: String,
    pub approved: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsAudit {
    pub endpoint: String,
    pub accepted: Vec<Accepted>,
    pub groups: Vec<AcceptedGroup>,
    /// `compliant` when at least one handshake was accepted and everything accepted is
    /// approved; else `non-compliant`.
    pub outcome: &'static str,
    /// Why the endpoint could not be audited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a server answered to one ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// ServerHello (or HelloRetryRequest) with the negotiated version, suite, and the group
    /// a HelloRetryRequest selected.
    Hello {
        version: u16,
        suite: u16,
        group: Option<u16>,
    },
    /// An alert, a closed connection or something that is not TLS: not accepted.
    Refused,
}

struct Offer<'a> {
    version: u16,
    suites: &'a [u16],
    groups: &'a [u16],
    server_name: Option<&'a str>,
}

fn u16be(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn with_len16(out: &mut Vec<u8>, body: &[u8]) {
    u16be(out, body.len() as u16);
    out.extend_from_slice(body);
}

fn extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    u16be(out, kind);
    with_len16(out, body);
}

fn client_hello(o: &Offer) -> Vec<u8> {
    let tls13 = o.version == TLS13;
    let mut hello = Vec::new();
    u16be(&mut hello, if tls13 { TLS12 } else { o.version });
    // The random only has to be unpredictable for a real session; nothing is negotiated.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hello.extend((0..32).map(|i| (seed >> ((i % 16) * 8)) as u8 ^ i as u8));
    hello.push(32);
    hello.extend(std::iter::repeat_n(0x5a, 32));
    let mut suites = Vec::new();
    for s in o.suites {
        u16be(&mut suites, *s);
    }
    with_len16(&mut hello, &suites);
    hello.extend_from_slice(&[1, 0]);
    let mut ext = Vec::new();
    if let Some(name) = o.server_name {
        let mut list = vec![0u8];
        with_len16(&mut list, name.as_bytes());
        let mut body = Vec::new();
        with_len16(&mut body, &list);
        extension(&mut ext, 0, &body);
    }
    let mut groups = Vec::new();
    for g in o.groups {
        u16be(&mut groups, *g);
    }
    let mut body = Vec::new();
    with_len16(&mut body, &groups);
    extension(&mut ext, 10, &body);
    extension(&mut ext, 11, &[1, 0]);
    let mut algs = Vec::new();
    for a in [
        0x0403u16, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201,
    ] {
        u16be(&mut algs, a);
    }
    let mut body = Vec::new();
    with_len16(&mut body, &algs);
    extension(&mut ext, 13, &body);
    extension(&mut ext, 0xff01, &[0]);
    // extended_master_secret (RFC 7627), as every current client sends: FIPS-mode servers
    // (SP 800-135's TLS 1.2 KDF) refuse TLS 1.2 handshakes without it.
    extension(&mut ext, 0x17, &[]);
    if tls13 {
        extension(&mut ext, 43, &[2, 0x03, 0x04]);
        extension(&mut ext, 45, &[1, 1]);
        // An empty key_share: a server that supports an offered group must ask for it.
        extension(&mut ext, 51, &[0, 0]);
    }
    with_len16(&mut hello, &ext);
    let mut handshake = vec![1u8];
    handshake.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend(hello);
    let mut record = vec![22u8];
    u16be(&mut record, TLS10);
    with_len16(&mut record, &handshake);
    record
}

/// Parses the first handshake message of the server's flight. `None`: not enough bytes yet.
fn parse_server_hello(hs: &[u8]) -> Option<Answer> {
    if hs.len() < 4 {
        return None;
    }
    if hs[0] != 2 {
        return Some(Answer::Refused);
    }
    let len = u32::from_be_bytes([0, hs[1], hs[2], hs[3]]) as usize;
    let body = hs.get(4..4 + len)?;
    let mut p = 0;
    let take = |p: &mut usize, n: usize| -> Option<&[u8]> {
        let s = body.get(*p..*p + n)?;
        *p += n;
        Some(s)
    };
    let legacy = u16::from_be_bytes(take(&mut p, 2)?.try_into().ok()?);
    let random = take(&mut p, 32)?;
    let sid_len = *take(&mut p, 1)?.first()? as usize;
    take(&mut p, sid_len)?;
    let suite = u16::from_be_bytes(take(&mut p, 2)?.try_into().ok()?);
    take(&mut p, 1)?;
    let mut version = legacy;
    let mut group = None;
    if let Some(len) = take(&mut p, 2) {
        let ext_len = u16::from_be_bytes(len.try_into().ok()?) as usize;
        let exts = take(&mut p, ext_len)?;
        let mut q = 0;
        while q + 4 <= exts.len() {
            let kind = u16::from_be_bytes([exts[q], exts[q + 1]]);
            let l = u16::from_be_bytes([exts[q + 2], exts[q + 3]]) as usize;
            let data = exts.get(q + 4..q + 4 + l)?;
            match kind {
                43 if l == 2 => version = u16::from_be_bytes([data[0], data[1]]),
                51 if l >= 2 => group = Some(u16::from_be_bytes([data[0], data[1]])),
                _ => {}
            }
            q += 4 + l;
        }
    }
    let hrr = random == HRR_RANDOM;
    Some(Answer::Hello {
        version,
        suite,
        group: if hrr || version == TLS13 { group } else { None },
    })
}

/// The named curve of a TLS 1.2 ECDHE ServerKeyExchange body (`curve_type` 3).
fn ske_curve(body: &[u8]) -> Option<u16> {
    if body.first() != Some(&3) {
        return None;
    }
    Some(u16::from_be_bytes([*body.get(1)?, *body.get(2)?]))
}

/// Sends one ClientHello and reads the answer. With `want_curve` (TLS 1.2 ECDHE probes) it
/// reads on to the ServerKeyExchange, which names the curve the server picked.
fn ask(
    addr: &std::net::SocketAddr,
    offer: &Offer,
    timeout: Duration,
    want_curve: bool,
) -> std::io::Result<Answer> {
    // One deadline for the whole exchange: a server that trickles bytes cannot stretch it.
    let deadline = std::time::Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(addr, timeout)?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(&client_hello(offer))?;
    let mut handshake = Vec::new();
    let mut hello: Option<Answer> = None;
    let mut at = 0;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no complete answer within the TLS timeout",
            ));
        }
        stream.set_read_timeout(Some(left))?;
        let mut header = [0u8; 5];
        if stream.read_exact(&mut header).is_err() {
            return Ok(hello.unwrap_or(Answer::Refused));
        }
        let len = u16::from_be_bytes([header[3], header[4]]) as usize;
        if len > 1 << 14 || header[0] != 22 {
            // Alerts, and anything else than handshake records.
            return Ok(hello.unwrap_or(Answer::Refused));
        }
        let mut body = vec![0u8; len];
        if stream.read_exact(&mut body).is_err() {
            return Ok(hello.unwrap_or(Answer::Refused));
        }
        handshake.extend_from_slice(&body);
        if handshake.len() > 1 << 18 {
            return Ok(hello.unwrap_or(Answer::Refused));
        }
        // Walk the complete handshake messages received so far.
        while handshake.len() >= at + 4 {
            let kind = handshake[at];
            let n = u32::from_be_bytes([0, handshake[at + 1], handshake[at + 2], handshake[at + 3]])
                as usize;
            if handshake.len() < at + 4 + n {
                break;
            }
            let message = &handshake[at..at + 4 + n];
            match (kind, hello) {
                (2, None) => {
                    let answer = parse_server_hello(message).unwrap_or(Answer::Refused);
                    if !want_curve || !matches!(answer, Answer::Hello { version: TLS12, .. }) {
                        return Ok(answer);
                    }
                    hello = Some(answer);
                }
                (12, Some(Answer::Hello { version, suite, .. })) => {
                    return Ok(Answer::Hello {
                        version,
                        suite,
                        group: ske_curve(&message[4..]),
                    });
                }
                // ServerHelloDone before any key exchange: no curve to report.
                (14, Some(h)) => return Ok(h),
                (_, None) => return Ok(Answer::Refused),
                _ => {}
            }
            at += 4 + n;
        }
    }
}

/// The name and approval of a code; a code without a name here is never approved.
fn describe(table: &[(u16, &'static str, bool)], code: u16) -> (String, bool) {
    table
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or((format!("0x{code:04X}"), false), |(_, n, a)| {
            (n.to_string(), *a)
        })
}

/// Every code of the given ranges that the table does not name: offered too, so that a
/// server accepting something this audit has no name for is still caught.
fn others(
    table: &[(u16, &'static str, bool)],
    ranges: &[std::ops::RangeInclusive<u16>],
) -> Vec<u16> {
    ranges
        .iter()
        .flat_map(|r| r.clone())
        // Signalling values, never selected: renegotiation info and fallback.
        .filter(|c| *c != 0x00FF && *c != 0x5600)
        .filter(|c| !table.iter().any(|t| t.0 == *c))
        .collect()
}

/// Audits one `HOST:PORT` endpoint; `timeout` bounds each connection.
pub fn audit(endpoint: &str, timeout: Duration) -> TlsAudit {
    let mut out = TlsAudit {
        endpoint: endpoint.to_string(),
        accepted: Vec::new(),
        groups: Vec::new(),
        outcome: "non-compliant",
        error: None,
    };
    let addr = match endpoint.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        Ok(None) | Err(_) => {
            out.error = Some(format!("{endpoint}: not a reachable HOST:PORT"));
            return out;
        }
    };
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
    let server_name =
        (host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[')).then_some(host);
    // Named groups and everything else in the registered ranges.
    let mut all_groups: Vec<u16> = GROUPS.iter().map(|g| g.0).collect();
    all_groups.extend(others(
        GROUPS,
        &[1..=41, 256..=260, 0x11EB..=0x11EE, 0x6399..=0x639A],
    ));
    let mut io_error = None;
    let mut probe = |offer: &Offer, want_curve: bool| match ask(&addr, offer, timeout, want_curve) {
        Ok(a) => a,
        Err(e) => {
            io_error.get_or_insert_with(|| format!("{endpoint}: {e}"));
            Answer::Refused
        }
    };

    // TLS 1.3: suites one by one out of what is left, then each group on its own.
    let suites_13: Vec<u16> = SUITES_13
        .iter()
        .map(|s| s.0)
        .chain(others(SUITES_13, &[0x1301..=0x13FF]))
        .collect();
    let mut left = suites_13.clone();
    while !left.is_empty() {
        let offer = Offer {
            version: TLS13,
            suites: &left,
            groups: &all_groups,
            server_name,
        };
        match probe(&offer, false) {
            Answer::Hello {
                version: TLS13,
                suite,
                ..
            } if left.contains(&suite) => {
                let (n, a) = describe(SUITES_13, suite);
                out.accepted.push(Accepted {
                    protocol: "TLSv1.3",
                    suite: n,
                    approved: a,
                });
                left.retain(|s| *s != suite);
            }
            _ => break,
        }
    }
    if !out.accepted.is_empty() {
        for code in &all_groups {
            let offer = Offer {
                version: TLS13,
                suites: &suites_13,
                groups: &[*code],
                server_name,
            };
            if let Answer::Hello {
                version: TLS13,
                group: Some(g),
                ..
            } = probe(&offer, false)
            {
                if g == *code {
                    let (n, a) = describe(GROUPS, g);
                    out.groups.push(AcceptedGroup {
                        protocol: "TLSv1.3",
                        group: n,
                        approved: a,
                    });
                }
            }
        }
    }

    // TLS 1.2 and earlier: suites one by one; then, for ECDHE, the curves.
    let suites_12: Vec<u16> = SUITES_12
        .iter()
        .map(|s| s.0)
        .chain(others(
            SUITES_12,
            &[
                0x0001..=0x00FF,
                0xC001..=0xC0FF,
                0xCC00..=0xCCFF,
                0xD001..=0xD005,
            ],
        ))
        .collect();
    for version in [TLS12, TLS11, TLS10] {
        let mut left = suites_12.clone();
        while !left.is_empty() {
            let offer = Offer {
                version,
                suites: &left,
                groups: &all_groups,
                server_name,
            };
            match probe(&offer, false) {
                Answer::Hello {
                    version: v, suite, ..
                } if v == version && left.contains(&suite) => {
                    let (n, a) = describe(SUITES_12, suite);
                    out.accepted.push(Accepted {
                        protocol: protocol_name(version),
                        suite: n,
                        approved: a && version == TLS12,
                    });
                    left.retain(|s| *s != suite);
                }
                _ => break,
            }
        }
    }
    let ecdhe_12: Vec<u16> = SUITES_12
        .iter()
        .filter(|s| s.1.starts_with("TLS_ECDHE_"))
        .map(|s| s.0)
        .collect();
    if out
        .accepted
        .iter()
        .any(|a| a.protocol == "TLSv1.2" && a.suite.starts_with("TLS_ECDHE_"))
    {
        // Each curve alone first (a server that prefers its own order still has to take
        // it); then with the approved curves after it, for an ECDSA certificate whose own
        // curve must be offered. The ServerKeyExchange names the curve the server took.
        let approved: Vec<u16> = GROUPS
            .iter()
            .filter(|g| g.2 && g.0 < 256)
            .map(|g| g.0)
            .collect();
        let mut seen = Vec::new();
        for code in all_groups.iter().filter(|g| **g < 256) {
            let mut with_approved = vec![*code];
            with_approved.extend(approved.iter().filter(|g| *g != code));
            for groups in [vec![*code], with_approved] {
                let offer = Offer {
                    version: TLS12,
                    suites: &ecdhe_12,
                    groups: &groups,
                    server_name,
                };
                if let Answer::Hello {
                    version: TLS12,
                    group: Some(g),
                    ..
                } = probe(&offer, true)
                {
                    if !seen.contains(&g) {
                        seen.push(g);
                    }
                    if g == *code {
                        break;
                    }
                }
            }
        }
        for g in seen {
            let (n, a) = describe(GROUPS, g);
            out.groups.push(AcceptedGroup {
                protocol: "TLSv1.2",
                group: n,
                approved: a,
            });
        }
    }

    if out.accepted.is_empty() {
        out.error = Some(io_error.unwrap_or_else(|| {
            format!("{endpoint}: no TLS handshake accepted (not TLS, or nothing in common with the probe)")
        }));
        return out;
    }
    let clean = out.accepted.iter().all(|a| a.approved) && out.groups.iter().all(|g| g.approved);
    out.outcome = if clean { "compliant" } else { "non-compliant" };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_of_names_and_unnamed_codes() {
        assert_eq!(describe(GROUPS, 260), ("ffdhe8192".to_string(), true));
        assert_eq!(describe(GROUPS, 29), ("x25519".to_string(), false));
        assert_eq!(describe(GROUPS, 0x9999), ("0x9999".to_string(), false));
        assert!(!describe(SUITES_13, 0x1303).1);
        assert!(others(SUITES_12, &[0x00FE..=0x0100]).contains(&0x0100));
        assert!(
            !others(SUITES_12, &[0x00FE..=0x0100]).contains(&0x00FF),
            "SCSV is never offered"
        );
    }

    #[test]
    fn a_client_hello_is_well_formed() {
        let r = client_hello(&Offer {
            version: TLS13,
            suites: &[0x1301],
            groups: &[23],
            server_name: Some("kube"),
        });
        assert_eq!(r[0], 22);
        assert_eq!(u16::from_be_bytes([r[3], r[4]]) as usize, r.len() - 5);
        assert_eq!(r[5], 1);
        let hs_len = u32::from_be_bytes([0, r[6], r[7], r[8]]) as usize;
        assert_eq!(hs_len, r.len() - 9);
        assert!(
            r.windows(4).any(|w| w == [0, 43, 0, 3]),
            "supported_versions"
        );
        assert!(
            r.windows(6).any(|w| w == [0, 51, 0, 2, 0, 0]),
            "empty key_share"
        );
        assert!(r.windows(4).any(|w| w == b"kube"), "SNI");
    }

    #[test]
    fn server_hellos_and_retry_requests_parse() {
        let mut body = vec![0x03, 0x03];
        body.extend(HRR_RANDOM);
        body.push(0);
        body.extend([0x13, 0x01, 0]);
        body.extend([0, 12, 0, 43, 0, 2, 0x03, 0x04, 0, 51, 0, 2, 0, 23]);
        let mut hs = vec![2, 0, 0, body.len() as u8];
        hs.extend(&body);
        assert_eq!(
            parse_server_hello(&hs),
            Some(Answer::Hello {
                version: TLS13,
                suite: 0x1301,
                group: Some(23)
            })
        );
        assert_eq!(parse_server_hello(&hs[..10]), None, "incomplete");
        assert_eq!(parse_server_hello(&[11, 0, 0, 0]), Some(Answer::Refused));
        // Garbage never panics.
        for n in 0..hs.len() {
            let mut bad = hs.clone();
            bad[n] ^= 0xff;
            let _ = parse_server_hello(&bad);
        }
    }
}
