fn main() -> std::process::ExitCode {
    olympus::runtime::serve(create_tax_rate::function())
}
