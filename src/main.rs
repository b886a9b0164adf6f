fn main() -> std::process::ExitCode {
    // The `fips` build refuses to run anything unless the module is in FIPS mode.
    if let Err(e) = fips_operator::fips_self_check() {
        eprintln!("fips-operator: {e}");
        return std::process::ExitCode::from(2);
    }
    // Installed before anything builds a TLS client.
    fips_operator::install_crypto_provider();
    fips_operator::cli::run()
}
