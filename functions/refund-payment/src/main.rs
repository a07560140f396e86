fn main() -> std::process::ExitCode {
    olympus::runtime::serve(refund_payment::function())
}
