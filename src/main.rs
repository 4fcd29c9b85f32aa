//! budgie: run a compose stack under podman or docker without ever losing
//! its data. Everything is in the library (src/lib.rs), which the fuzz
//! targets share; see `app` for what happens first.

fn main() -> std::process::ExitCode {
    budgie::main()
}
