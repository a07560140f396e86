fn main() -> std::process::ExitCode {
    olympus::runtime::serve(list_modifier_groups::function())
}
