fn main() -> std::process::ExitCode {
    olympus::runtime::serve(pin_login::function())
}
