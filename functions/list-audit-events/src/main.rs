fn main() -> std::process::ExitCode {
    olympus::runtime::serve(list_audit_events::function())
}
