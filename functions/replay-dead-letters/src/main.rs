fn main() -> std::process::ExitCode {
    olympus::runtime::serve(replay_dead_letters::function())
}
