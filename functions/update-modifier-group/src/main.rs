fn main() -> std::process::ExitCode {
    olympus::runtime::serve(update_modifier_group::function())
}
