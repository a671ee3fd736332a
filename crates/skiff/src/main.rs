//! skiff: the container engine's command line.
//!
//! For now it knows one subcommand family, `skiff runtime ...`, the OCI runtime
//! with runc's command line (also installed as `skiff-runtime`). When invoked
//! under the name `skiff-runtime` it behaves exactly like that binary.

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("skiff")
        .to_string();
    if invoked_as == "skiff-runtime" || invoked_as == "runc" {
        std::process::exit(skiff_runtime::runc_cli::main(args));
    }
    match args.get(1).map(String::as_str) {
        Some("runtime") => {
            args.remove(1);
            std::process::exit(skiff_runtime::runc_cli::main(args));
        }
        Some("--version") | Some("version") => {
            println!("skiff version {}", env!("CARGO_PKG_VERSION"));
        }
        _ => {
            eprintln!(
                "usage: skiff runtime COMMAND ...   (the OCI runtime; see 'skiff runtime help')"
            );
            std::process::exit(125);
        }
    }
}
