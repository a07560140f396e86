fn main() -> std::process::ExitCode {
    olympus::runtime::serve(create_modifier_group::function())
}
