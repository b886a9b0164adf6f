//! Whole-file inspection: ELF headers, sections, dynamic entries, Go build info, pclntab,
//! symbol and string markers. Nothing may panic; everything ends in a verdict; and a file
//! with Go's marks is never `no-crypto` unless its function table was read (fail closed).
#![no_main]

use fips_operator_fuzz::inspect;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = inspect::analyze(data, "app");
    if let Some(why) = inspect::fuzzing::fail_closed_violation(data, &f) {
        panic!("{why}");
    }
    let _ = inspect::judge("app", &f, &inspect::ModuleRegistry::built_in(), inspect::Day { year: 2026, month: 11, day: 26 });
    let _ = inspect::analyze(data, "libcrypto.so.3");
    let _ = inspect::analyze(data, "fips.so");
});
