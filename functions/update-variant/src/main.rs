fn main() -> std::process::ExitCode {
    olympus::runtime::serve(update_variant::function())
}
