//! Both engines (dockerd and skiff's store), with the same images under the same names.

use std::process::{Command, Stdio};

use skiff_testkit::dockerd::Dockerd;

use crate::cmdline::{IMG, IMG_CFG};
use crate::store::Skiff;

// Both engines, with the same image under the same name

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Side {
    Docker,
    Skiff,
}

impl Side {
    pub(crate) fn idx(self) -> usize {
        match self {
            Side::Docker => 0,
            Side::Skiff => 1,
        }
    }
    pub(crate) fn label(self) -> &'static str {
        match self {
            Side::Docker => "docker",
            Side::Skiff => "skiff",
        }
    }
}

pub(crate) const SIDES: [Side; 2] = [Side::Docker, Side::Skiff];

pub(crate) struct Engines {
    // skiff first: its containers go before dockerd does
    pub(crate) skiff: Skiff,
    pub(crate) docker: Dockerd,
    /// Files the scenarios pass to both (env file, seccomp profile).
    pub(crate) files: tempfile::TempDir,
}

impl Engines {
    pub(crate) fn new() -> Engines {
        let docker = Dockerd::start("pd", skiff_testkit::NetNs::new("docker-parity"));
        let skiff = Skiff::new();
        let files = tempfile::Builder::new()
            .prefix("skiff-parity-files-")
            .tempdir()
            .unwrap();
        let e = Engines {
            skiff,
            docker,
            files,
        };
        e.load_images();
        std::fs::write(
            e.file("env.list"),
            "A=1\n# a comment\nB=two words\n\nPARITY_FROM_FILE\nPARITY_NOT_SET\n",
        )
        .unwrap();
        std::fs::write(
            e.file("deny-mkdir.json"),
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
        )
        .unwrap();
        // host files for binds and cp (read by both engines, never written)
        let f = e.files.path();
        std::fs::create_dir_all(f.join("bind-src")).unwrap();
        std::fs::write(f.join("bind-src/h.txt"), "hostfile\n").unwrap();
        std::fs::create_dir_all(f.join("cp/src/sub")).unwrap();
        std::fs::write(f.join("cp/src/a.txt"), "a\n").unwrap();
        std::fs::write(f.join("cp/src/sub/b.txt"), "b\n").unwrap();
        std::fs::write(f.join("cp/file.txt"), "f\n").unwrap();
        e
    }

    pub(crate) fn file(&self, name: &str) -> String {
        self.files.path().join(name).to_string_lossy().into_owned()
    }

    /// Where an engine keeps its volumes (`<root>/volumes/NAME/_data`):
    /// Docker's data root, skiff's --root.
    pub(crate) fn root(&self, side: Side) -> String {
        match side {
            Side::Docker => self.docker.dir.join("docker"),
            Side::Skiff => self.skiff.root.clone(),
        }
        .to_string_lossy()
        .into_owned()
    }

    /// busybox with passwd and group entries, imported into skiff twice (plain,
    /// and with a config), saved by skiff and loaded into Docker.
    pub(crate) fn load_images(&self) {
        let work = self.files.path();
        let rootfs = work.join("rootfs");
        skiff_testkit::make_busybox_rootfs(&rootfs);
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\nstaff:x:50:nobody\n",
        )
        .unwrap();
        let tar = work.join("rootfs.tar");
        skiff_testkit::write_tar(&rootfs, &tar);
        let tar = tar.to_str().unwrap();
        self.skiff.ok(&["import", tar, IMG]);
        self.skiff.ok(&[
            "import",
            "-c",
            "ENV IMGVAR=fromimage",
            "-c",
            "ENV PATH=/bin:/usr/bin",
            "-c",
            "WORKDIR /tmp",
            "-c",
            r#"CMD ["sh","-c","echo image-cmd; pwd; echo $IMGVAR"]"#,
            tar,
            IMG_CFG,
        ]);
        for (i, img) in [IMG, IMG_CFG].iter().enumerate() {
            let archive = work.join(format!("image{i}.tar"));
            let archive = archive.to_str().unwrap();
            self.skiff.ok(&["save", "-o", archive, img]);
            let o = self
                .cmd(Side::Docker, &["load", "-i", archive])
                .output()
                .unwrap();
            assert!(
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains(img),
                "docker load of {img}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let _ = std::fs::remove_dir_all(&rootfs);
    }

    pub(crate) fn cmd<S: AsRef<str>>(&self, side: Side, args: &[S]) -> Command {
        let mut c = match side {
            Side::Docker => {
                let mut c = self.docker.docker();
                c.args(args.iter().map(|a| a.as_ref())).stdin(Stdio::null());
                c
            }
            Side::Skiff => self.skiff.cmd(args),
        };
        // for `-e PARITY_FROM_HOST` and --env-file's bare names
        c.env("PARITY_FROM_HOST", "hostval")
            .env("PARITY_FROM_FILE", "fileval")
            .env_remove("PARITY_NOT_SET")
            .env_remove("PARITY_NOT_SET2");
        c
    }
}
