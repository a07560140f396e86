fn main() -> std::process::ExitCode {
    olympus::runtime::serve(merge_customers::function())
}
