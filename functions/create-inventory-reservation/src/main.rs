fn main() -> std::process::ExitCode {
    olympus::runtime::serve(create_inventory_reservation::function())
}
