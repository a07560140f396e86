fn main() -> std::process::ExitCode {
    olympus::runtime::serve(create_customer::function())
}
