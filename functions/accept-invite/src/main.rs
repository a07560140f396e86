fn main() -> std::process::ExitCode {
    olympus::runtime::serve(accept_invite::function())
}
