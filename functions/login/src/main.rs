fn main() -> std::process::ExitCode {
    olympus::runtime::serve(login::function())
}
