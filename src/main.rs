fn main() -> std::process::ExitCode {
    dsa110_convert::cli::main()
}
