fn main() -> std::process::ExitCode {
    olympus::runtime::serve(reset_password::function())
}
