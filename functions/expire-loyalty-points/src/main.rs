fn main() -> std::process::ExitCode {
    olympus::runtime::serve(expire_loyalty_points::function())
}
