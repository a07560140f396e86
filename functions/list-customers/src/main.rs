fn main() -> std::process::ExitCode {
    olympus::runtime::serve(list_customers::function())
}
