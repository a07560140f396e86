fn main() -> std::process::ExitCode {
    olympus::runtime::serve(bump_kitchen_ticket::function())
}
