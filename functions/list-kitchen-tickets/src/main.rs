fn main() -> std::process::ExitCode {
    olympus::runtime::serve(list_kitchen_tickets::function())
}
