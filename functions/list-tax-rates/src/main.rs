fn main() -> std::process::ExitCode {
    olympus::runtime::serve(list_tax_rates::function())
}
