fn main() -> std::process::ExitCode {
    olympus::runtime::serve(on_order_refunded_claw_back_loyalty::function())
}
