fn main() -> std::process::ExitCode {
    olympus::runtime::serve(get_customer::function())
}
