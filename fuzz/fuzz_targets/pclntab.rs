//! The pclntab and modinfo parsers on raw bytes.
#![no_main]

use fips_operator_fuzz::inspect::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzzing::pclntab_names(data);
    let _ = fuzzing::modinfo(data);
});
