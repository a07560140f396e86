fn main() -> std::process::ExitCode {
    olympus::runtime::serve(create_order::function())
}
