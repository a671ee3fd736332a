//! Docker parity: the same commands against skiff and against Docker 20.10
//! (Debian's docker.io, with a dockerd of the test's own), comparing what a
//! user sees: exit codes and stdout exactly (after normalizing what
//! legitimately differs: container IDs, random names, times, durations,
//! "skiff"/"docker" in messages), stderr by the phrase a user would look for.
//!
//! One test runs a table of scenarios against one dockerd and one skiff
//! store, each scenario's Docker and skiff sides in parallel, and reports
//! every scenario that differs at the end rather than stopping at the first.
//! `PARITY_ONLY=word,word` runs only the scenarios whose name holds a word.
//! `PARITY_VIA_API=1` runs skiff's side through the Docker Engine API: the
//! same docker CLI against `skiff serve` on the store (its own CI tier).
//!
//! Where Docker itself cannot do something on this host (`--privileged`,
//! `exec --privileged` and `--cap-add ALL` fail because the host lacks
//! CAP_SYS_RESOURCE), the scenario asserts skiff's documented behaviour
//! instead and says so.
//!
//! Scenarios that make volumes or images name them with `Ctx::vol` and
//! `Ctx::track_image`; they are removed when the scenario ends, and
//! containers go with `rm -f -v`, so that the prune and `system df`
//! scenarios see only their own.
//!
//! Only 127.0.0.1 is ever contacted: the unknown image scenario names a
//! registry on 127.0.0.1:9, so Docker's pull attempt stays on this host.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

#[macro_use]
#[path = "parity/cmdline.rs"]
mod cmdline;
#[path = "parity/engines.rs"]
mod engines;
#[path = "parity/harness.rs"]
mod harness;
#[path = "parity/normalize.rs"]
mod normalize;
#[path = "parity/store.rs"]
mod store;

mod parity;

pub(crate) use cmdline::*;
pub(crate) use engines::*;
pub(crate) use harness::*;
pub(crate) use normalize::*;
use parity::*;

// ---------------------------------------------------------------------------
// The table and the runner

type Scenario = (&'static str, fn(&Ctx));

const SCENARIOS: &[Scenario] = &[
    ("exit_codes_and_streams", exit_codes_and_streams),
    ("exit_127_command_not_found", exit_127_command_not_found),
    ("exit_126_not_executable", exit_126_not_executable),
    ("exit_126_directory", exit_126_directory),
    (
        "failed_start_leaves_created_container",
        failed_start_leaves_created_container,
    ),
    ("exit_125_unknown_image", exit_125_unknown_image),
    ("exit_125_unknown_flag", exit_125_unknown_flag),
    ("cli_flag_errors", cli_flag_errors),
    ("info_command", info_command),
    ("exit_125_name_in_use", exit_125_name_in_use),
    (
        "daemon_errors_read_as_dockers",
        daemon_errors_read_as_dockers,
    ),
    ("run_stdin", run_stdin),
    ("run_detached_prints_id", run_detached_prints_id),
    ("random_names", random_names),
    ("env_flags", env_flags),
    ("env_file_missing", env_file_missing),
    ("home_from_passwd", home_from_passwd),
    ("image_config_and_overrides", image_config_and_overrides),
    ("workdir", workdir),
    ("user_uid_gid", user_uid_gid),
    ("user_supplementary_groups", user_supplementary_groups),
    ("user_unknown", user_unknown),
    ("hostname_flag", hostname_flag),
    ("hostname_default_is_short_id", hostname_default_is_short_id),
    ("network_none_files", network_none_files),
    ("network_host", network_host),
    ("entrypoint", entrypoint),
    (
        "args_after_image_belong_to_the_command",
        args_after_image_belong_to_the_command,
    ),
    ("labels", labels),
    ("ps_filter_without_all", ps_filter_without_all),
    ("ps_columns", ps_columns),
    ("ps_table_widths", ps_table_widths),
    ("ps_command_quoting", ps_command_quoting),
    ("ps_quiet_latest_last", ps_quiet_latest_last),
    ("ps_filters", ps_filters),
    ("ps_format_json_and_labels", ps_format_json_and_labels),
    ("ps_format_label_function", ps_format_label_function),
    ("ps_format_created_at", ps_format_created_at),
    ("read_only", read_only),
    ("caps_default", caps_default),
    ("caps_add_drop", caps_add_drop),
    ("caps_add_all", caps_add_all),
    ("privileged", privileged),
    ("cap_unknown", cap_unknown),
    (
        "seccomp_default_and_unconfined",
        seccomp_default_and_unconfined,
    ),
    ("seccomp_file", seccomp_file),
    ("no_new_privileges", no_new_privileges),
    ("masked_paths", masked_paths),
    ("memory_limits_inside", memory_limits_inside),
    ("oom_kill", oom_kill),
    ("memory_validation", memory_validation),
    ("pids_limit", pids_limit),
    ("cpu_settings", cpu_settings),
    ("cpu_validation", cpu_validation),
    ("blkio_weight", blkio_weight),
    (
        "cpu_period_quota_reservation_and_update",
        cpu_period_quota_reservation_and_update,
    ),
    ("ulimits_inside", ulimits_inside),
    ("ulimits_inspect", ulimits_inspect),
    ("ulimit_validation", ulimit_validation),
    ("stop_ignoring_pid1", stop_ignoring_pid1),
    ("stop_trapping_shell", stop_trapping_shell),
    ("stop_signal", stop_signal),
    ("stop_timeout", stop_timeout),
    (
        "stop_start_not_running_or_missing",
        stop_start_not_running_or_missing,
    ),
    ("kill_signals", kill_signals),
    ("pid1_ignores_term", pid1_ignores_term),
    ("restart_on_failure", restart_on_failure),
    ("restart_always", restart_always),
    ("restart_always_kill_command", restart_always_kill_command),
    ("restart_validation", restart_validation),
    ("restart_command", restart_command),
    ("logs_tail", logs_tail),
    ("logs_tail_not_a_number", logs_tail_not_a_number),
    ("logs_streams", logs_streams),
    ("logs_timestamps", logs_timestamps),
    ("logs_since_until", logs_since_until),
    ("logs_follow", logs_follow),
    ("log_rotation", log_rotation),
    ("wait_codes", wait_codes),
    ("create_then_start_attach", create_then_start_attach),
    ("start_attach_stdin", start_attach_stdin),
    ("start_running", start_running),
    ("rm_running", rm_running),
    ("rm_force_missing", rm_force_missing),
    ("run_rm", run_rm),
    ("rename", rename),
    ("rename_to_own_name", rename_to_own_name),
    ("inspect_state", inspect_state),
    ("inspect_config", inspect_config),
    ("inspect_host_config", inspect_host_config),
    ("inspect_json_objects", inspect_json_objects),
    ("inspect_log_config_as_given", inspect_log_config_as_given),
    ("inspect_unset_values", inspect_unset_values),
    ("inspect_unknown_field", inspect_unknown_field),
    (
        "inspect_template_range_variables",
        inspect_template_range_variables,
    ),
    ("inspect_template_functions", inspect_template_functions),
    ("inspect_missing", inspect_missing),
    ("inspect_document_keys", inspect_document_keys),
    // volumes, binds, tmpfs
    ("volume_named_persists", volume_named_persists),
    ("volume_commands", volume_commands),
    ("volume_prune", volume_prune),
    ("volume_anonymous_rm", volume_anonymous_rm),
    ("volume_mounts_inspect", volume_mounts_inspect),
    (
        "volume_binds_and_tmpfs_inside",
        volume_binds_and_tmpfs_inside,
    ),
    ("volume_copy_up", volume_copy_up),
    ("etc_mtab_symlink", etc_mtab_symlink),
    ("inspect_json_indent", inspect_json_indent),
    ("volume_flag_validation", volume_flag_validation),
    // exec, pause, top, stats
    ("exec_output_and_codes", exec_output_and_codes),
    ("exec_not_running", exec_not_running),
    ("exec_privileged", exec_privileged),
    ("pause_unpause", pause_unpause),
    ("top_command", top_command),
    ("stats_no_stream", stats_no_stream),
    ("stats_cpu_and_block_io", stats_cpu_and_block_io),
    // diff, commit, cp, prune, system df
    ("diff_changes", diff_changes),
    ("commit_image", commit_image),
    ("commit_changes", commit_changes),
    ("cp_both_ways", cp_both_ways),
    ("container_prune", container_prune),
    ("system_df", system_df),
    // --init, health checks, -t, events
    ("init_flag", init_flag),
    ("healthcheck", healthcheck),
    ("run_tty", run_tty),
    ("events_actions", events_actions),
    // networking
    ("ipc_pid_and_groups", ipc_pid_and_groups),
    ("network_default_bridge", network_default_bridge),
    ("port_command", port_command),
    ("network_create_inspect", network_create_inspect),
    ("user_network_names", user_network_names),
    ("static_addresses", static_addresses),
    ("network_flag_validation", network_flag_validation),
    ("network_prune", network_prune),
    ("flags_given_twice", flags_given_twice),
];

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

#[test]
fn docker_parity() {
    let started = Instant::now();
    let e = Engines::new();
    let setup = started.elapsed().as_secs_f64();
    let only: Vec<String> = std::env::var("PARITY_ONLY")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let mut report = Vec::new();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, f) in SCENARIOS {
        if !only.is_empty() && !only.iter().any(|w| name.contains(w.as_str())) {
            continue;
        }
        ran += 1;
        let ctx = Ctx::new(&e);
        let t = Instant::now();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(&ctx))) {
            ctx.fail(format!("panicked: {}", panic_text(&*p)));
        }
        ctx.cleanup();
        let secs = t.elapsed().as_secs_f64();
        let fails = ctx.failures.lock().unwrap().clone();
        if fails.is_empty() {
            report.push(format!("PASS {name} ({secs:.1}s)"));
        } else {
            report.push(format!("FAIL {name} ({secs:.1}s)"));
            for f in &fails {
                report.push(format!("    - {f}"));
            }
            failed.push(*name);
        }
        eprintln!("{}", report[report.len() - 1 - fails.len()]);
    }
    println!(
        "\n=== docker parity: {ran} scenarios, {} pass, {} fail (set-up {setup:.1}s, total {:.1}s) ===",
        ran - failed.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    for l in &report {
        println!("{l}");
    }
    drop(e);
    assert!(
        failed.is_empty(),
        "{} of {ran} scenarios differ from Docker: {}",
        failed.len(),
        failed.join(", ")
    );
}
