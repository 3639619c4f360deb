//! `mutant-shim`: the real target deviating in one way, chosen by the TOML next to this binary
//! (see `mutants::shim`).

fn main() -> std::process::ExitCode {
    mutants::shim::main()
}
