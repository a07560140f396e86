fn main() -> std::process::ExitCode {
    olympus::runtime::serve(on_email_verification_requested::function())
}
