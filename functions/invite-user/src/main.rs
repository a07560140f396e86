fn main() -> std::process::ExitCode {
    olympus::runtime::serve(invite_user::function())
}
