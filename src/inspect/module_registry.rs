//! The module registry (FIPS-RULES §8): known module versions, their validation and
//! certificates. Data lives in `module_registry.json`, compiled in and replaceable at run
//! time; validation is derived from it when a finding is judged, never stored.

use serde::{Deserialize, Serialize};

const BUILT_IN: &str = include_str!("module_registry.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validation {
    Certified,
    Historical,
    InProcess,
    Unvalidated,
    Unknown,
}

impl Validation {
    /// Validated enough for `fips-capable` (policy may still refuse in-process or historical).
    pub fn is_usable(self) -> bool {
        matches!(
            self,
            Validation::Certified | Validation::Historical | Validation::InProcess
        )
    }
}

/// A calendar day, for `valid_until` comparisons. Pure: callers pass today in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Day {
    pub fn parse(s: &str) -> Option<Day> {
        let mut it = s.splitn(3, '-');
        let day = Day {
            year: it.next()?.parse().ok()?,
            month: it.next()?.parse().ok()?,
            day: it.next()?.parse().ok()?,
        };
        ((1..=12).contains(&day.month) && (1..=31).contains(&day.day)).then_some(day)
    }

    /// The civil date of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
    pub fn from_unix_days(days: i64) -> Day {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Day { year, month, day }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Row {
    module: String,
    version: String,
    validation: Validation,
    #[serde(default)]
    certificate: Option<String>,
    #[serde(default)]
    valid_until: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct File {
    modules: Vec<Row>,
}

/// What the registry says of one module version on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub validation: Validation,
    pub certificate: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ModuleRegistry {
    rows: Vec<Row>,
}

#[derive(Debug, thiserror::Error)]
#[error("module registry: {0}; fix the JSON or drop --module-registry to use the built-in one")]
pub struct RegistryError(String);

impl ModuleRegistry {
    pub fn built_in() -> Self {
        Self::from_json(BUILT_IN).expect("the built-in module registry parses (tested)")
    }

    pub fn from_json(text: &str) -> Result<Self, RegistryError> {
        let file: File = serde_json::from_str(text).map_err(|e| RegistryError(e.to_string()))?;
        for row in &file.modules {
            if let Some(d) = &row.valid_until {
                Day::parse(d).ok_or_else(|| {
                    RegistryError(format!(
                        "{} {}: valid_until {d:?} is not YYYY-MM-DD",
                        row.module, row.version
                    ))
                })?;
            }
        }
        Ok(ModuleRegistry { rows: file.modules })
    }

    /// The row for `module` at `version`, judged on `today`. `None`: no row matches.
    pub fn resolve(&self, module: &str, version: &str, today: Day) -> Option<Resolved> {
        let row = self
            .rows
            .iter()
            .find(|r| r.module == module && glob_match(&r.version, version))?;
        let expired = row
            .valid_until
            .as_deref()
            .and_then(Day::parse)
            .is_some_and(|until| today >= until);
        let validation = if expired && row.validation == Validation::Certified {
            Validation::Historical
        } else {
            row.validation
        };
        Some(Resolved {
            validation,
            certificate: row.certificate.clone(),
        })
    }

    /// Module names that have at least one row.
    pub fn modules(&self) -> impl Iterator<Item = &str> {
        self.rows.iter().map(|r| r.module.as_str())
    }
}

/// Glob with `*` (any run, also empty) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Day = Day {
        year: 2026,
        month: 11,
        day: 26,
    };

    #[test]
    fn certificates_go_historical_on_their_day() {
        let r = ModuleRegistry::built_in();
        let before = Day {
            year: 2026,
            month: 9,
            day: 20,
        };
        assert_eq!(
            r.resolve("openssl", "3.0.9", before).map(|x| x.validation),
            Some(Validation::Certified)
        );
        assert_eq!(
            r.resolve("openssl", "3.0.9", TODAY).map(|x| x.validation),
            Some(Validation::Historical)
        );
        assert_eq!(
            r.resolve("openssl", "3.1.2", TODAY).map(|x| x.validation),
            Some(Validation::Certified)
        );
        assert_eq!(r.resolve("openssl", "3.0.13", TODAY), None);
    }

    #[test]
    fn go_native_rows() {
        let r = ModuleRegistry::built_in();
        let cert = r
            .resolve("go-native", "v1.0.0-c2097c7c", TODAY)
            .expect("row");
        assert_eq!(cert.validation, Validation::Certified);
        assert_eq!(cert.certificate.as_deref(), Some("5247"));
        assert_eq!(
            r.resolve("go-native", "v1.26.0", TODAY)
                .map(|x| x.validation),
            Some(Validation::InProcess)
        );
        assert_eq!(
            r.resolve("go-native", "latest", TODAY)
                .map(|x| x.validation),
            Some(Validation::Unvalidated)
        );
        assert_eq!(
            r.resolve("aws-lc-fips", "3.0.0", TODAY)
                .map(|x| x.validation),
            Some(Validation::Certified)
        );
        assert_eq!(
            r.resolve("aws-lc-fips", "4.2.0", TODAY)
                .map(|x| x.validation),
            Some(Validation::InProcess)
        );
    }

    #[test]
    fn days() {
        assert_eq!(
            Day::from_unix_days(0),
            Day {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            Day::from_unix_days(20_717),
            Day {
                year: 2026,
                month: 9,
                day: 21
            }
        );
        assert_eq!(
            Day::parse("2026-09-21"),
            Some(Day {
                year: 2026,
                month: 9,
                day: 21
            })
        );
        assert_eq!(Day::parse("2026-13-01"), None);
    }

    #[test]
    fn globs() {
        assert!(glob_match("3.*", "3.0.0"));
        assert!(glob_match("1.0*", "1.0"));
        assert!(!glob_match("1.0*", "10.0"));
        assert!(glob_match("registry.example/*", "registry.example/app"));
    }

    #[test]
    fn a_bad_override_names_the_fix() {
        let e = ModuleRegistry::from_json("{\"modules\": 3}").expect_err("rejected");
        assert!(e.to_string().contains("--module-registry"));
    }
}
