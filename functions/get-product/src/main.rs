fn main() -> std::process::ExitCode {
    olympus::runtime::serve(get_product::function())
}
