fn main() -> std::process::ExitCode {
    olympus::runtime::serve(get_tenant::function())
}
