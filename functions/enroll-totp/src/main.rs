fn main() -> std::process::ExitCode {
    olympus::runtime::serve(enroll_totp::function())
}
