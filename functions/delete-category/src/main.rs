fn main() -> std::process::ExitCode {
    olympus::runtime::serve(delete_category::function())
}
