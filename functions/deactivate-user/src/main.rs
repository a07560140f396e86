fn main() -> std::process::ExitCode {
    olympus::runtime::serve(deactivate_user::function())
}
