fn main() -> std::process::ExitCode {
    olympus::runtime::serve(post_analytics_ask::function())
}
