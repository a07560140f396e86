fn main() -> std::process::ExitCode {
    olympus::runtime::serve(relay_outbox::function())
}
