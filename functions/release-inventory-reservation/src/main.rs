fn main() -> std::process::ExitCode {
    olympus::runtime::serve(release_inventory_reservation::function())
}
