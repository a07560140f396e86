fn main() -> std::process::ExitCode {
    olympus::runtime::serve(list_order_payments::function())
}
