fn main() -> std::process::ExitCode {
    olympus::runtime::serve(update_customer::function())
}
