fn main() -> std::process::ExitCode {
    olympus::runtime::serve(set_variant_location::function())
}
