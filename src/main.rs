fn main() -> std::process::ExitCode {
    // Every TLS connection of the process (registries now, the API server and the webhook
    // later) runs rustls on aws-lc-rs; it is installed before anything builds a client.
    // `Err` only means a provider is already installed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    fips_operator::cli::run()
}
