fn main() -> std::process::ExitCode {
    fips_operator::cli::run()
}
