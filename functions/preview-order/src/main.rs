fn main() -> std::process::ExitCode {
    olympus::runtime::serve(preview_order::function())
}
