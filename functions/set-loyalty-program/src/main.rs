fn main() -> std::process::ExitCode {
    olympus::runtime::serve(set_loyalty_program::function())
}
