//! skiff's default seccomp profile (placeholder; being written).

/// The default profile for a container with capabilities `caps`.
pub fn default_profile(_caps: &[String]) -> skiff_runtime::spec::Seccomp {
    skiff_runtime::spec::Seccomp {
        default_action: "SCMP_ACT_ALLOW".into(),
        ..Default::default()
    }
}
