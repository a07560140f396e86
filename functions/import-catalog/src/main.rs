fn main() -> std::process::ExitCode {
    olympus::runtime::serve(import_catalog::function())
}
