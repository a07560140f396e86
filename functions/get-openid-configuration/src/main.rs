fn main() -> std::process::ExitCode {
    olympus::runtime::serve(get_openid_configuration::function())
}
