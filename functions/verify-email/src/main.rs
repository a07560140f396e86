fn main() -> std::process::ExitCode {
    olympus::runtime::serve(verify_email::function())
}
