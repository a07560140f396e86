fn main() -> std::process::ExitCode {
    olympus::runtime::serve(rollup_sales::function())
}
