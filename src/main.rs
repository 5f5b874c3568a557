//! touban's entry point: everything is in the library so tests can drive it.

fn main() -> std::process::ExitCode {
    touban::cli::main()
}
