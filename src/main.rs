fn main() -> std::process::ExitCode {
    // Installed before anything builds a TLS client.
    fips_operator::install_crypto_provider();
    fips_operator::cli::run()
}
