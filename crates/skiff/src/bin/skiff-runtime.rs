//! skiff-runtime: the runtime library behind runc's command line.

fn main() {
    let code = skiff_runtime::runc_cli::main(std::env::args().collect());
    std::process::exit(code);
}
