fn main() -> std::process::ExitCode {
    olympus::runtime::serve(refresh_session::function())
}
