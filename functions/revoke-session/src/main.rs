fn main() -> std::process::ExitCode {
    olympus::runtime::serve(revoke_session::function())
}
