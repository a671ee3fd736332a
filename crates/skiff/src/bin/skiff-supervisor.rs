//! skiff-supervisor: a container's supervisor (`skiff-supervisor __supervise
//! ROOT RUNROOT ID`), its `--init` (run as `docker-init`) and a build step's
//! runner (`__run-bundle`), in an executable
//! of its own so that each idle container costs only what these need (see
//! docs/engine.md, "Memory").

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let invoked_as = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let code = if invoked_as == "docker-init" {
        skiff_engine::init::main(&argv[1..])
    } else if argv.get(1).map(String::as_str) == Some("__supervise") {
        skiff_engine::supervisor::main(&argv[2..])
    } else if argv.get(1).map(String::as_str) == Some("__run-bundle") {
        skiff_engine::build::run_bundle_main(&argv[2..])
    } else {
        eprintln!("usage: skiff-supervisor __supervise ROOT RUNROOT ID [prepared]");
        2
    };
    std::process::exit(code);
}
