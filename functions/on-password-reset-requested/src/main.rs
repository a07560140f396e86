fn main() -> std::process::ExitCode {
    olympus::runtime::serve(on_password_reset_requested::function())
}
