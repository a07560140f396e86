fn main() -> std::process::ExitCode {
    olympus::runtime::serve(get_loyalty_program::function())
}
