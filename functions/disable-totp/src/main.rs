fn main() -> std::process::ExitCode {
    olympus::runtime::serve(disable_totp::function())
}
