fn main() -> std::process::ExitCode {
    olympus::runtime::serve(create_kitchen_station::function())
}
