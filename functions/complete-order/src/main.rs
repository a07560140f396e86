fn main() -> std::process::ExitCode {
    olympus::runtime::serve(complete_order::function())
}
