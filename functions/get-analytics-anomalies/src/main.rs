fn main() -> std::process::ExitCode {
    olympus::runtime::serve(get_analytics_anomalies::function())
}
