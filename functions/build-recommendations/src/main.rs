fn main() -> std::process::ExitCode {
    olympus::runtime::serve(build_recommendations::function())
}
