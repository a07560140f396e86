fn main() -> std::process::ExitCode {
    olympus::runtime::serve(request_email_verification::function())
}
