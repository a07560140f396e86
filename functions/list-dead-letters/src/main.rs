fn main() -> std::process::ExitCode {
    olympus::runtime::serve(list_dead_letters::function())
}
