fn main() -> std::process::ExitCode {
    olympus::runtime::serve(set_kitchen_ticket_status::function())
}
