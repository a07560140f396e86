//! A function binary with the probe routes, for the runtime tests (drain, Lambda).

fn main() -> std::process::ExitCode {
    olympus::runtime::serve(platform_tests::http_probe())
}
