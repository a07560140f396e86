fn main() -> std::process::ExitCode {
    olympus::runtime::serve(migrate::function())
}
