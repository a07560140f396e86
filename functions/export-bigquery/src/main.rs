fn main() -> std::process::ExitCode {
    olympus::runtime::serve(export_bigquery::function())
}
