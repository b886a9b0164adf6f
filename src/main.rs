fn main() -> std::process::ExitCode {
    // Installed before anything builds a TLS client.
    fips_operator::install_crypto_provider();
    // The `fips` build refuses to run anything unless the module is in FIPS mode and the
    // installed provider is FIPS-approved.
    if let Err(e) = fips_operator::fips_self_check() {
        eprintln!("fips-operator: {e}");
        return std::process::ExitCode::from(2);
    }
    fips_operator::cli::run()
}
