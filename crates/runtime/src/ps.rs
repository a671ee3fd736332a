//! The host's `ps` output cut to a container's processes, for `ps` (runc's
//! command line) and the engine's `top`.

/// Run `ps` with `args` (`-ef` when none) and keep its header and the lines
/// of the processes in `pids`, as `ps` printed them.
pub fn lines_of(pids: &[i32], args: &[String]) -> Result<(String, Vec<String>), String> {
    let args: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| format!("running ps: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("").to_string();
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| "Couldn't find PID field in ps output".to_string())?;
    let mine = lines
        .filter(|l| {
            l.split_whitespace()
                .nth(pid_col)
                .and_then(|p| p.parse::<i32>().ok())
                .is_some_and(|p| pids.contains(&p))
        })
        .map(str::to_string)
        .collect();
    Ok((header, mine))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_pids_asked_for() {
        let me = std::process::id() as i32;
        let (header, lines) = super::lines_of(&[me], &[]).unwrap();
        assert!(header.split_whitespace().any(|h| h == "PID"), "{header}");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].split_whitespace().any(|w| w == me.to_string()));
        assert!(super::lines_of(&[me], &["--bogus-flag".into()]).is_err());
    }
}
