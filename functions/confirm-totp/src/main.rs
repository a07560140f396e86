fn main() -> std::process::ExitCode {
    olympus::runtime::serve(confirm_totp::function())
}
