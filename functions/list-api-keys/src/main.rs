fn main() -> std::process::ExitCode {
    olympus::runtime::serve(list_api_keys::function())
}
