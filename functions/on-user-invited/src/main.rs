fn main() -> std::process::ExitCode {
    olympus::runtime::serve(on_user_invited::function())
}
