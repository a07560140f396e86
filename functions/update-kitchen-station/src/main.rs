fn main() -> std::process::ExitCode {
    olympus::runtime::serve(update_kitchen_station::function())
}
