fn main() -> std::process::ExitCode {
    olympus::runtime::serve(place_order::function())
}
