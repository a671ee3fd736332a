//! `-o`: where a build's result goes besides the image store.

use crate::{Engine, Error, Result};
use skiff_image::digest::Digest;

/// Where a build's result goes besides the image store (`-o`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `type=docker|oci`: an image archive, as `save` writes it.
    Archive(crate::images::ArchiveFormat, Dest),
    /// `type=tar`: the image's files as one tar.
    Tar(Dest),
    /// `type=local`: the image's files in a directory.
    Local(std::path::PathBuf),
}

/// A file, or standard output (`dest=-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    File(std::path::PathBuf),
    Stdout,
}

/// `-o` as docker build takes it: `type=TYPE,dest=PATH`, or a bare path (a
/// directory, `type=local`); `-` alone is a tar on standard output.
pub fn parse_output(spec: &str) -> Result<Output> {
    if !spec.contains('=') {
        return Ok(match spec {
            "-" => Output::Tar(Dest::Stdout),
            dir => Output::Local(dir.into()),
        });
    }
    let mut kind = None;
    let mut dest = None;
    for part in spec.split(',') {
        match part.split_once('=') {
            Some(("type", t)) => kind = Some(t.to_string()),
            Some(("dest", d)) => dest = Some(d.to_string()),
            _ => return Err(Error::Invalid(format!("invalid output {spec:?}"))),
        }
    }
    let dest = dest.ok_or_else(|| Error::Invalid(format!("output {spec:?}: dest is required")))?;
    let file = || {
        if dest == "-" {
            Dest::Stdout
        } else {
            Dest::File(dest.clone().into())
        }
    };
    Ok(match kind.as_deref() {
        Some("local") => Output::Local(dest.clone().into()),
        Some("tar") => Output::Tar(file()),
        Some("docker") => Output::Archive(crate::images::ArchiveFormat::DockerArchive, file()),
        Some("oci") => Output::Archive(crate::images::ArchiveFormat::OciArchive, file()),
        other => {
            return Err(Error::Invalid(format!(
                "output {spec:?}: unsupported type {}",
                other.unwrap_or("(none)")
            )))
        }
    })
}

impl Engine {
    /// Write the built image `id` to `out`.
    pub(super) fn export_build(&self, id: &Digest, out: &Output) -> Result<()> {
        let open = |d: &Dest| -> Result<Box<dyn std::io::Write>> {
            Ok(match d {
                Dest::Stdout => Box::new(std::io::stdout().lock()),
                Dest::File(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p).map_err(crate::io_err("creating", p))?,
                )),
            })
        };
        match out {
            Output::Archive(format, d) => self.image_save(&[id.to_string()], *format, open(d)?),
            Output::Tar(d) => self.with_image_files(id, |root| {
                let mut b = tar::Builder::new(open(d)?);
                b.follow_symlinks(false);
                b.append_dir_all(".", root)
                    .and_then(|()| b.into_inner().map(|_| ()))
                    .map_err(|e| Error::Internal(format!("writing the image's files: {e}")))
            }),
            Output::Local(dir) => self.with_image_files(id, |root| {
                std::fs::create_dir_all(dir).map_err(crate::io_err("creating", dir))?;
                // Through a tar, which keeps modes, owners, times and links.
                let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                    .map_err(|e| Error::Internal(format!("pipe: {e}")))?;
                let (r, w) = (std::fs::File::from(r), std::fs::File::from(w));
                std::thread::scope(|s| {
                    let writer = s.spawn(move || {
                        let mut b = tar::Builder::new(w);
                        b.follow_symlinks(false);
                        b.append_dir_all(".", root).and_then(|()| b.finish())
                    });
                    let mut a = tar::Archive::new(r);
                    a.set_preserve_permissions(true);
                    a.set_preserve_ownerships(true);
                    a.set_preserve_mtime(true);
                    a.set_overwrite(true);
                    let unpacked = a.unpack(dir);
                    drop(a);
                    let written = writer.join().expect("a tar writer panicked");
                    unpacked
                        .and(written)
                        .map_err(|e| Error::Internal(format!("writing {}: {e}", dir.display())))
                })
            }),
        }
    }

    /// Run `f` on the image's files: its only layer's directory, or its
    /// layers mounted read-only, unmounted after.
    fn with_image_files<T>(
        &self,
        id: &Digest,
        f: impl FnOnce(&std::path::Path) -> Result<T>,
    ) -> Result<T> {
        let dirs = self.images()?.layer_dirs(id)?;
        if let [only] = dirs.as_slice() {
            return f(only);
        }
        let at = self.paths.temp("export")?;
        std::fs::create_dir(&at).map_err(crate::io_err("creating", &at))?;
        if dirs.is_empty() {
            let r = f(&at);
            let _ = std::fs::remove_dir_all(&at);
            return r;
        }
        let spec = skiff_image::overlay::OverlaySpec {
            lower: dirs,
            upper: None,
            work: None,
            volatile: false,
        };
        skiff_image::overlay::mount(&spec, &at).map_err(|e| Error::Internal(e.to_string()))?;
        let r = f(&at);
        crate::mount::unmount(&at);
        let _ = std::fs::remove_dir_all(&at);
        r
    }
}
