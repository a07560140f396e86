fn main() -> std::process::ExitCode {
    olympus::runtime::serve(request_password_reset::function())
}
