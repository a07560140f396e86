fn main() -> std::process::ExitCode {
    olympus::runtime::serve(record_payment::function())
}
