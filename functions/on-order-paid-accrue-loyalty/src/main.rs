fn main() -> std::process::ExitCode {
    olympus::runtime::serve(on_order_paid_accrue_loyalty::function())
}
