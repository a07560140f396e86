fn main() -> std::process::ExitCode {
    olympus::runtime::serve(on_dead_letter::function())
}
