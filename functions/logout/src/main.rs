fn main() -> std::process::ExitCode {
    olympus::runtime::serve(logout::function())
}
