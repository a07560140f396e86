fn main() -> std::process::ExitCode {
    olympus::runtime::serve(change_password::function())
}
