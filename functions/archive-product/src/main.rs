fn main() -> std::process::ExitCode {
    olympus::runtime::serve(archive_product::function())
}
