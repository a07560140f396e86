fn main() -> std::process::ExitCode {
    olympus::runtime::serve(register_device::function())
}
