fn main() -> std::process::ExitCode {
    olympus::runtime::serve(create_api_key::function())
}
