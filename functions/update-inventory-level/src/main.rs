fn main() -> std::process::ExitCode {
    olympus::runtime::serve(update_inventory_level::function())
}
