fn main() -> std::process::ExitCode {
    olympus::runtime::serve(list_catalog_changes::function())
}
