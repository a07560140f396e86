fn main() -> std::process::ExitCode {
    olympus::runtime::serve(revoke_api_key::function())
}
