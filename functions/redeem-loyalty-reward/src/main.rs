fn main() -> std::process::ExitCode {
    olympus::runtime::serve(redeem_loyalty_reward::function())
}
