//! Images through the Docker Engine API (`skiff serve`) with Debian's
//! docker CLI 20.10: pulls from and pushes to a registry on 127.0.0.1 (in
//! a network namespace of the test's own), login, tag, rmi, build, save
//! and load.

mod api_env;
mod build_env;

use api_env::Server;
use build_env::Env;

/// Images through the API: `docker pull` from a registry on 127.0.0.1 (in
/// the test's network namespace, where the server runs), `docker run` of
/// an image it must pull first, `tag`, `rmi`, and a pull that fails.
#[test]
fn images_pulled_tagged_and_removed_through_skiff_serve() {
    let e = Env::new();
    let ns = skiff_testkit::NetNs::new("skiff-api-img");
    let reg = skiff_testkit::registry::start_registry_in(Some(&ns), None);
    // Another store pushes busybox to the registry.
    let other = Env::new();
    for tag in ["1", "2"] {
        let name = format!("{}/t/bb:{tag}", reg.host);
        other.ok(&["tag", "bb:base", &name]);
        let push = other.skiff_cmd(&["push", "-q", &name]);
        let o = ns
            .command(push.get_program())
            .args(push.get_args())
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
    }
    let s = Server::start_in(&e, Some(&ns));
    let name = format!("{}/t/bb:1", reg.host);
    let out = s.ok(&["pull", &name]);
    // (The layer may be one the store has: both stores imported busybox.)
    assert!(
        (out.contains("Pull complete") || out.contains("Already exists"))
            && out.contains("Downloaded newer image"),
        "{out}"
    );
    assert!(s.ok(&["pull", &name]).contains("Image is up to date"));
    let o = s.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &format!("{}/t/bb:2", reg.host),
        "echo",
        "pulled",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "pulled\n", "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Unable to find image"),
        "{o:?}"
    );

    s.ok(&["tag", &name, "mine/bb:x"]);
    assert!(s
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .contains("mine/bb:x\n"));
    let out = s.ok(&["rmi", "mine/bb:x"]);
    assert_eq!(out, "Untagged: mine/bb:x\n");
    let o = s.docker(&["pull", &format!("{}/t/none:1", reg.host)]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("t/none"),
        "{o:?}"
    );
}

/// `docker build` (the legacy builder's API, the context as a tar) on
/// skiff's builder, then `docker save` and `docker load` of the result.
#[test]
fn build_save_and_load_through_skiff_serve() {
    let e = Env::new();
    let s = Server::start(&e);
    let ctx = e.context(
        "ctx",
        &[
            ("Dockerfile", "FROM bb:base\nARG WHO=nobody\nCOPY app.txt /app.txt\nRUN echo \"built for $WHO\" > /who\nCMD cat /app.txt /who\n"),
            ("app.txt", "app\n"),
            ("Dockerfile.bad", "FROM bb:base\nRUN echo failing; exit 3\n"),
        ],
    );
    let c = ctx.to_str().unwrap();
    let o = s
        .cmd(&["build", "-t", "api/built:1", "--build-arg", "WHO=api", c])
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("RUN echo") && out.contains("Successfully tagged api/built:1"),
        "{out}"
    );
    let o = s.docker(&["run", "--rm", "--network", "none", "api/built:1"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "app\nbuilt for api\n",
        "{o:?}"
    );
    // Again: from the cache, the same image (-q prints its ID).
    let id = s.ok(&[
        "build",
        "-q",
        "-t",
        "api/built:1",
        "--build-arg",
        "WHO=api",
        c,
    ]);
    assert_eq!(
        id.trim(),
        s.ok(&["image", "inspect", "-f", "{{.Id}}", "api/built:1"])
            .trim()
    );
    let bad = ctx.join("Dockerfile.bad");
    let o = s.docker(&["build", "-f", bad.to_str().unwrap(), c]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("exit code: 3"),
        "{o:?}"
    );

    let tar = e.dir.path().join("saved.tar");
    s.ok(&["save", "-o", tar.to_str().unwrap(), "api/built:1"]);
    s.ok(&["rmi", "api/built:1"]);
    assert_eq!(
        s.ok(&["load", "-i", tar.to_str().unwrap()]),
        "Loaded image: api/built:1\n"
    );
    let o = s.docker(&["run", "--rm", "--network", "none", "api/built:1"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "app\nbuilt for api\n",
        "{o:?}"
    );
}

/// `docker login` (the API's `/auth` checks the credentials; the docker
/// CLI keeps them) and `docker push` with them (`X-Registry-Auth`) to a
/// registry on 127.0.0.1 that wants a password; then a pull by another
/// store gets the same image.
#[test]
fn login_and_push_through_skiff_serve() {
    let e = Env::new();
    let ns = skiff_testkit::NetNs::new("skiff-api-push");
    let reg = skiff_testkit::registry::start_registry_in(Some(&ns), Some(("ann", "s3cret")));
    let s = Server::start_in(&e, Some(&ns));
    let o = s.docker(&["login", "-u", "ann", "-p", "wrong", &reg.host]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = s.ok(&["login", "-u", "ann", "-p", "s3cret", &reg.host]);
    assert!(out.contains("Login Succeeded"), "{out}");
    let name = format!("{}/team/bb:1", reg.host);
    s.ok(&["tag", "bb:base", &name]);
    let out = s.ok(&["push", &name]);
    assert!(
        out.contains("The push refers to repository") && out.contains("digest: sha256:"),
        "{out}"
    );
    let id = s.ok(&["image", "inspect", "-f", "{{.Id}}", &name]);
    s.ok(&["rmi", &name]);
    s.ok(&["pull", &name]);
    assert_eq!(s.ok(&["image", "inspect", "-f", "{{.Id}}", &name]), id);
    // Without the credentials the registry refuses.
    s.ok(&["logout", &reg.host]);
    s.ok(&["rmi", &name]);
    let o = s.docker(&["pull", &name]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
}

/// `docker image prune` (dangling, then `-a`), `docker builder prune` and
/// `docker search` (refused: no registry index) against skiff serve.
#[test]
fn image_and_builder_prune_and_search_through_skiff_serve() {
    let e = Env::new();
    let s = Server::start(&e);
    let rootfs = e.dir.path().join("prune-rootfs");
    skiff_testkit::make_busybox_rootfs(&rootfs);
    let tar = e.dir.path().join("prune.tar");
    skiff_testkit::write_tar(&rootfs, &tar);
    let first = s.ok(&["import", "-m", "one", tar.to_str().unwrap(), "pr/x:1"]);
    // The same name again: the first image is left dangling.
    s.ok(&["import", "-m", "two", tar.to_str().unwrap(), "pr/x:1"]);
    let out = s.ok(&["image", "prune", "-f"]);
    assert!(
        out.starts_with("Deleted Images:\n") && out.contains(&format!("deleted: {}", first.trim())),
        "{out}"
    );
    assert!(out.contains("Total reclaimed space:"), "{out}");
    // Only the repository asked for, made just now.
    let listed = s.ok(&["images", "pr/x"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        listed.contains(" ago ") && !listed.contains("years ago"),
        "{listed}"
    );
    assert_eq!(s.ok(&["images", "-q", "--filter", "dangling=true"]), "");
    // -a: every image no container uses; bb:base is used by a container.
    s.ok(&[
        "create",
        "--name",
        "keeper",
        "--network",
        "none",
        "bb:base",
        "true",
    ]);
    s.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(s.ok(&["images", "-q", "pr/x"]), "");
    assert_ne!(s.ok(&["images", "-q", "bb:base"]), "");
    let out = s.ok(&["image", "prune", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
    let out = s.ok(&["builder", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space:"), "{out}");
    let o = s.docker(&["search", "busybox"]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("search is not served"),
        "{o:?}"
    );
    s.ok(&["rm", "keeper"]);
}
