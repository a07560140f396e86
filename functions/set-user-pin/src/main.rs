fn main() -> std::process::ExitCode {
    olympus::runtime::serve(set_user_pin::function())
}
