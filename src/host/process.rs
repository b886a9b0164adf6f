//! Runtime evidence per process (rules P1–P3, docs/verdicts.md) from `/proc/<pid>`: the executable
//! judged through the inspector inside the process's own root (deduplicated by device and
//! inode), the crypto libraries it has mapped, the FIPS switches in its environment, and the
//! container it belongs to.

use std::collections::{BTreeMap, HashMap};
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use super::cgroup::container_id;
use super::HostFacts;
use crate::image::rootfs::{judge_program, ScanContext};
use crate::inspect::{Activation, BinaryVerdict, Module, Verdict};

/// P1: the environment variables that switch FIPS mode on or off, or point OpenSSL at a
/// configuration or provider directory.
pub const FIPS_ENV: &[&str] = &[
    "GODEBUG",
    "GOFIPS",
    "GOLANG_FIPS",
    "OPENSSL_FORCE_FIPS_MODE",
    "OPENSSL_CONF",
    "OPENSSL_MODULES",
];

/// P2: mapped files that show which crypto a process really loaded.
const CRYPTO_MAPS: &[&str] = &[
    "libcrypto.so",
    "ossl-modules/fips.so",
    "symcryptprovider.so",
    "libsymcrypt.so",
];

/// What a process does with its cryptography.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// FIPS-capable and its activation holds.
    FipsActive,
    /// FIPS-capable but not switched on (or not shown to be).
    FipsInactive,
    NotFips,
    NoCrypto,
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::FipsActive => "fips-active",
            State::FipsInactive => "fips-inactive",
            State::NotFips => "not-fips",
            State::NoCrypto => "no-crypto",
            State::Unknown => "unknown",
        }
    }
}

/// One process, as `check` prints it and the probe records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessEvidence {
    pub pid: u32,
    /// The executable's path as the process sees it.
    pub exe: String,
    pub container_id: Option<String>,
    pub verdict: Verdict,
    pub state: State,
    pub module: Option<Module>,
    pub evidence: Vec<String>,
    /// The P1 variables that are set, with their values.
    pub env: BTreeMap<String, String>,
}

/// Every process that could be read, and what stopped the others.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessScan {
    pub processes: Vec<ProcessEvidence>,
    /// Said once per cause, e.g. the capability that is missing.
    pub warnings: Vec<String>,
    /// Processes that exist but could not be inspected (permissions).
    pub unreadable: usize,
}

/// The `fips140` setting of a `GODEBUG` value (the last one wins).
fn godebug_fips140(godebug: &str) -> Option<&str> {
    godebug
        .split(',')
        .filter_map(|kv| kv.strip_prefix("fips140="))
        .next_back()
}

fn is_on(v: Option<&String>) -> bool {
    v.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("on"))
}

/// The P1 switch that turns *this* module on: each module reads only its own.
fn switched_on(module: &str, env: &BTreeMap<String, String>) -> bool {
    let fips140 = env.get("GODEBUG").and_then(|g| godebug_fips140(g));
    let godebug_on = matches!(fips140, Some("on" | "only"));
    if module == "go-native" {
        godebug_on
    } else if module.starts_with("golang-fips") {
        // Red Hat's fork reads GOLANG_FIPS, Microsoft's GOFIPS (older) or GODEBUG.
        is_on(env.get("GOLANG_FIPS")) || is_on(env.get("GOFIPS")) || godebug_on
    } else if module.starts_with("openssl") {
        is_on(env.get("OPENSSL_FORCE_FIPS_MODE"))
    } else {
        false
    }
}

/// The state of a process from its verdict, its environment and its maps.
pub fn process_state(
    verdict: &BinaryVerdict,
    env: &BTreeMap<String, String>,
    maps: &[String],
    host: &HostFacts,
) -> (State, Vec<String>) {
    let mut why = Vec::new();
    let provider_mapped = maps.iter().any(|m| {
        m.ends_with("ossl-modules/fips.so")
            || m.contains("symcryptprovider.so")
            || m.contains("libsymcrypt.so")
    });
    let state = match verdict.verdict {
        Verdict::NoCrypto if !maps.is_empty() => {
            // No crypto in the file, but a crypto library mapped: loaded at run time
            // (dlopen, an interpreter). Not judged, so never counted as FIPS.
            why.push(
                "crypto library mapped at run time (dlopen or an interpreter): not judged".into(),
            );
            State::Unknown
        }
        Verdict::NoCrypto => State::NoCrypto,
        Verdict::NotFipsCapable => State::NotFips,
        Verdict::Unknown => State::Unknown,
        Verdict::FipsCapable => {
            let module = verdict.module.as_ref().map_or("", |m| m.name.as_str());
            let fips140 = env.get("GODEBUG").and_then(|g| godebug_fips140(g));
            if env.contains_key("GOLANG_FIPS") && fips140.is_some() {
                why.push(
                    "GOLANG_FIPS and GODEBUG=fips140 are both set: Red Hat Go panics at start-up"
                        .into(),
                );
            }
            let on = switched_on(module, env);
            match verdict.module.as_ref().map(|m| m.activation) {
                Some(Activation::Always) => State::FipsActive,
                Some(Activation::DefaultOn) => {
                    if fips140 == Some("off") {
                        why.push("GODEBUG fips140=off switches the module off".into());
                        State::FipsInactive
                    } else {
                        State::FipsActive
                    }
                }
                Some(Activation::EnvSwitch) => {
                    if on {
                        State::FipsActive
                    } else {
                        why.push(format!("the {module} module is switched on by the environment, and its switch is not set"));
                        State::FipsInactive
                    }
                }
                Some(Activation::HostDriven) => {
                    let switched = host.kernel_fips_enabled == Some(true) || on;
                    // Only OpenSSL-based modules show their provider in the maps.
                    let needs_provider = module.contains("openssl");
                    if !switched {
                        why.push("the kernel is not in FIPS mode and the module's forcing variable is not set".into());
                        State::FipsInactive
                    } else if needs_provider && !provider_mapped {
                        why.push(
                            "no FIPS provider (ossl-modules/fips.so, SymCrypt) mapped yet".into(),
                        );
                        State::FipsInactive
                    } else {
                        State::FipsActive
                    }
                }
                None => State::Unknown,
            }
        }
    };
    (state, why)
}

/// Reads one `/proc/<pid>` file; `Err` keeps the kind (gone vs. denied).
fn read(dir: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    crate::image::regular_file::read(&dir.join(name))
}

fn parse_environ(raw: &[u8]) -> BTreeMap<String, String> {
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let text = std::str::from_utf8(kv).ok()?;
            let (k, v) = text.split_once('=')?;
            FIPS_ENV
                .contains(&k)
                .then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Mapped files that matter (P2), deduplicated, in order of first mapping.
pub fn crypto_maps(maps: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in maps.lines() {
        let Some(path) = line.split_ascii_whitespace().nth(5) else {
            continue;
        };
        if CRYPTO_MAPS.iter().any(|m| path.contains(m)) && !out.iter().any(|p| p == path) {
            out.push(path.to_string());
        }
    }
    out
}

enum Skip {
    /// Exited, or a kernel thread: nothing to say.
    Gone,
    Denied(String),
}

fn classify(e: &std::io::Error, what: &str) -> Skip {
    match e.kind() {
        ErrorKind::PermissionDenied => Skip::Denied(what.to_string()),
        _ => Skip::Gone,
    }
}

/// Judgments shared by processes running the same file in the same root, kept across probe
/// passes: keyed by the file's device, inode, size and change time, the root's device and
/// inode, the path, and the `OPENSSL_CONF` and providers that point OpenSSL elsewhere — so a
/// replaced file, or the same file under another configuration, is judged again.
#[derive(Default)]
pub struct Cache(HashMap<CacheKey, BinaryVerdict>);

type CacheKey = (
    (u64, u64, u64, i64),
    (u64, u64),
    (String, Option<String>, Vec<String>),
);

/// The executable's path inside the process's root, when it can be proven: the path the
/// kernel shows (relative to the reader's root) looked up in `/proc/<pid>/root`, or with the
/// root's own path stripped (a chroot), and accepted only when it is the very file the
/// process runs (same device and inode as `/proc/<pid>/exe`).
fn path_in_root(root: &Path, shown: &str, exe: &std::fs::Metadata) -> Option<String> {
    let same = |rel: &str| {
        crate::image::rootfs::resolve_in_root(root, rel)
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.dev() == exe.dev() && m.ino() == exe.ino())
    };
    let rel = shown.trim_start_matches('/');
    if same(rel) {
        return Some(rel.to_string());
    }
    let root_path = std::fs::canonicalize(root).ok()?;
    let inner = Path::new(shown).strip_prefix(&root_path).ok()?;
    let inner = inner.to_string_lossy().into_owned();
    same(&inner).then_some(inner)
}

fn inspect_one(
    dir: &Path,
    pid: u32,
    host: &HostFacts,
    ctx: &ScanContext,
    cache: &mut Cache,
) -> Result<ProcessEvidence, Skip> {
    let link = std::fs::read_link(dir.join("exe")).map_err(|e| classify(&e, "exe"))?;
    let shown = link.to_string_lossy().into_owned();
    let shown = shown.trim_end_matches(" (deleted)").to_string();
    let root = dir.join("root");
    let root_meta = std::fs::metadata(&root).map_err(|e| classify(&e, "root"))?;
    // The bytes judged are always those of `/proc/<pid>/exe`: the file the kernel runs,
    // whatever a path in the root leads to (a chroot, a replaced or deleted file).
    let exe_path = dir.join("exe");
    let meta = std::fs::metadata(&exe_path).map_err(|e| classify(&e, "exe"))?;
    let in_root = path_in_root(&root, &shown, &meta);
    let rel = in_root
        .clone()
        .unwrap_or_else(|| shown.trim_start_matches('/').to_string());
    let env = match read(dir, "environ") {
        Ok(raw) => parse_environ(&raw),
        Err(e) => return Err(classify(&e, "environ")),
    };
    let maps = read(dir, "maps")
        .map(|m| crypto_maps(&String::from_utf8_lossy(&m)))
        .unwrap_or_default();
    let container = read(dir, "cgroup")
        .ok()
        .and_then(|c| container_id(&String::from_utf8_lossy(&c)));
    let providers: Vec<String> = maps
        .iter()
        .filter(|m| m.ends_with("ossl-modules/fips.so"))
        .map(|m| m.trim_start_matches('/').to_string())
        .chain(
            env.get("OPENSSL_MODULES")
                .map(|d| format!("{}/fips.so", d.trim_start_matches('/'))),
        )
        .collect();
    let openssl_conf = env.get("OPENSSL_CONF").cloned();
    // The verdict depends on the file, its root, and what points OpenSSL elsewhere.
    let key = (
        (meta.dev(), meta.ino(), meta.size(), meta.ctime()),
        (root_meta.dev(), root_meta.ino()),
        (rel.clone(), openssl_conf.clone(), providers.clone()),
    );
    let verdict = match cache.0.get(&key) {
        Some(v) => v.clone(),
        None => {
            let data = crate::image::mmap::map_file(&exe_path).map_err(|e| classify(&e, "exe"))?;
            let (v, _) =
                judge_program(&root, &rel, &data, ctx, openssl_conf.as_deref(), &providers);
            cache.0.insert(key, v.clone());
            v
        }
    };
    let (state, why) = process_state(&verdict, &env, &maps, host);
    let mut evidence = verdict.evidence.clone();
    if in_root.is_none() {
        evidence.push(format!("{shown} not found as the running file inside the process's root: judged through /proc/{pid}/exe"));
    }
    evidence.extend(maps.iter().map(|m| format!("maps {m}")));
    evidence.extend(env.iter().map(|(k, v)| format!("env {k}={v}")));
    evidence.extend(why);
    Ok(ProcessEvidence {
        pid,
        exe: in_root.map_or(shown, |r| format!("/{r}")),
        container_id: container,
        verdict: verdict.verdict,
        state,
        module: verdict.module.clone(),
        evidence,
        env,
    })
}

/// Every process under `proc_dir` (the host's `/proc`, or a fixture tree), but `skip_pid`
/// (the caller itself). A process that exits while being read is skipped quietly; those that
/// cannot be read for lack of privilege are counted and named once in `warnings`.
pub fn scan_processes(
    proc_dir: &Path,
    host: &HostFacts,
    ctx: &ScanContext,
    skip_pid: Option<u32>,
) -> std::io::Result<ProcessScan> {
    scan_processes_with(proc_dir, host, ctx, skip_pid, &mut Cache::default())
}

/// `scan_processes` with judgments kept in `cache` from one call to the next (the probe).
pub fn scan_processes_with(
    proc_dir: &Path,
    host: &HostFacts,
    ctx: &ScanContext,
    skip_pid: Option<u32>,
    cache: &mut Cache,
) -> std::io::Result<ProcessScan> {
    let mut pids: Vec<u32> = std::fs::read_dir(proc_dir)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid| Some(*pid) != skip_pid)
        .collect();
    pids.sort_unstable();
    let mut out = ProcessScan::default();
    let mut denied: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for pid in pids {
        match inspect_one(&proc_dir.join(pid.to_string()), pid, host, ctx, cache) {
            Ok(p) => out.processes.push(p),
            Err(Skip::Gone) => {}
            Err(Skip::Denied(what)) => {
                out.unreadable += 1;
                denied.entry(what).or_default().push(pid);
            }
        }
    }
    // A proc mounted with hidepid (or subset=pid) hides other users' processes entirely:
    // what cannot be listed cannot be counted, so say so and count it as uninspected.
    if let Some(option) = hidden_processes(proc_dir) {
        out.unreadable += 1;
        out.warnings.push(format!(
            "{} is mounted with {option}: processes of other users are invisible; run as root \
             (the probe runs as uid 0 with CAP_SYS_PTRACE)",
            proc_dir.display()
        ));
    }
    let own_status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for (what, pids) in denied {
        let mut shown: Vec<String> = pids.iter().take(5).map(u32::to_string).collect();
        if pids.len() > 5 {
            shown.push("…".into());
        }
        out.warnings.push(format!(
            "{} could not be inspected (pid {}: /proc/<pid>/{what}: permission denied): {}",
            processes(pids.len()),
            shown.join(", "),
            privilege_hint(&own_status)
        ));
    }
    Ok(out)
}

/// `1 process`, `2 processes`.
pub fn processes(n: usize) -> String {
    match n {
        1 => "1 process".into(),
        n => format!("{n} processes"),
    }
}

/// Linux capability numbers (`linux/capability.h`).
const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SYS_PTRACE: u32 = 19;

/// What would let this process read other processes, from its own `/proc/self/status`: root
/// and the capabilities it lacks, or, when it has them, why a process stays hidden anyway.
pub fn privilege_hint(status: &str) -> String {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let euid = field("Uid:").and_then(|u| u.split_whitespace().nth(1));
    let caps = field("CapEff:").and_then(|c| u64::from_str_radix(c, 16).ok());
    let missing: Vec<&str> = [
        (CAP_SYS_PTRACE, "CAP_SYS_PTRACE"),
        (CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"),
    ]
    .iter()
    .filter(|(bit, _)| caps.is_none_or(|c| c & (1 << bit) == 0))
    .map(|(_, name)| *name)
    .collect();
    if euid != Some("0") {
        "run as root with CAP_SYS_PTRACE (other users' exe, root and environ) and \
         CAP_DAC_READ_SEARCH, as the probe does"
            .into()
    } else if !missing.is_empty() {
        format!(
            "this process runs as root but without {} (a container or sandbox dropped {}): \
             add {0}, as the probe's DaemonSet does",
            missing.join(" and "),
            if missing.len() == 1 { "it" } else { "them" }
        )
    } else {
        "this process runs as root with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: the process \
         belongs to a more privileged sandbox (another user namespace, AppArmor, SELinux) that \
         even root cannot read from here"
            .into()
    }
}

/// `Some(option)` when this process cannot see every process under `proc_dir`: the proc
/// mount hides other users' processes (`hidepid=1|2|noaccess|invisible`, `subset=pid`
/// does not hide) and this process is not root.
fn hidden_processes(proc_dir: &Path) -> Option<String> {
    let me = std::fs::metadata(proc_dir.join("self")).ok()?.uid();
    if me == 0 {
        return None;
    }
    let mountinfo = std::fs::read_to_string(proc_dir.join("self/mountinfo")).ok()?;
    mountinfo.lines().find_map(|line| {
        let (_, after) = line.split_once(" - ")?;
        let mut fields = after.split_whitespace();
        (fields.next()? == "proc").then_some(())?;
        let options = fields.nth(1)?;
        options
            .split(',')
            .find(|o| {
                matches!(
                    *o,
                    "hidepid=1" | "hidepid=2" | "hidepid=noaccess" | "hidepid=invisible"
                )
            })
            .map(String::from)
    })
}
