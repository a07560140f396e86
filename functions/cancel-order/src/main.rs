fn main() -> std::process::ExitCode {
    olympus::runtime::serve(cancel_order::function())
}
