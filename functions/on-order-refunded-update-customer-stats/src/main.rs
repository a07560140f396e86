fn main() -> std::process::ExitCode {
    olympus::runtime::serve(on_order_refunded_update_customer_stats::function())
}
