//! Where COPY and ADD read from: the build context (a directory, less what
//! `.dockerignore` excludes) or another stage's or image's root filesystem;
//! which files a source names (Docker's wildcards); and the digest of what
//! was selected, which is what the cache key of a COPY is made of.

use crate::ignore::Matcher;
use sha2::{Digest as _, Sha256};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// A tree files are copied from.
#[derive(Debug, Clone)]
pub struct Tree {
    pub root: PathBuf,
    /// `.dockerignore` (the context only).
    pub ignore: Option<Matcher>,
    /// Whether owners are kept (another stage) or become root (the context).
    pub keep_owners: bool,
    /// Content digests by stat (the context only).
    pub stat_cache: Option<std::sync::Arc<crate::statcache::StatCache>>,
}

/// One source of a COPY: a file or a directory whose contents are copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Path in the tree, `/`-separated, no leading `/` ("" is the root).
    pub rel: String,
    pub is_dir: bool,
}

/// One entry below a source: where it is in the tree, where it goes below
/// the destination, and what `lstat` said of it during the walk.
#[derive(Debug, Clone)]
pub struct Entry {
    pub tree_rel: String,
    pub rel: String,
    pub md: std::fs::Metadata,
}

/// Why a source cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("\"/{0}\" not found: not found")]
    NotFound(String),
    #[error("forbidden path outside the build context: {0}")]
    Outside(String),
    #[error("{0}")]
    Io(String),
    #[error("failed to parse .dockerignore: {0}")]
    Ignore(String),
}

/// Whether `data` starts a tar stream (the `ustar` magic where tar puts
/// it): `build -` takes a tar of a context or a Dockerfile alone.
pub fn is_tar(data: &[u8]) -> bool {
    data.len() > 262 && &data[257..262] == b"ustar"
}

/// Unpack a context sent as a tar (`build -`, the API's body) into the
/// empty directory `dir`; entries that would climb out of it are refused.
pub fn unpack_tar(tar: impl std::io::Read, dir: &Path) -> Result<(), SourceError> {
    tar::Archive::new(tar)
        .unpack(dir)
        .map_err(|e| SourceError::Io(format!("reading the context: {e}")))
}

/// Clean a source as Docker does: relative to the tree, `.` and `..`
/// resolved; climbing out of the tree is refused.
pub fn clean(src: &str) -> Result<String, SourceError> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(src).components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(SourceError::Outside(src.to_string()));
                }
            }
            Component::Normal(n) => parts.push(n.to_str().unwrap_or_default()),
        }
    }
    Ok(parts.join("/"))
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `path.Match` of one path element: `*`, `?`, `[...]` (with `^`/`!` and
/// ranges) and `\` escapes.
pub fn match_element(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(c) = n.first() else { return false };
                let mut i = 1;
                let negate = matches!(p.get(1), Some('^') | Some('!'));
                if negate {
                    i += 1;
                }
                let mut hit = false;
                let mut first = true;
                while i < p.len() && (first || p[i] != ']') {
                    first = false;
                    let mut lo = p[i];
                    if lo == '\\' && i + 1 < p.len() {
                        i += 1;
                        lo = p[i];
                    }
                    let mut hi = lo;
                    if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|c| *c != ']') {
                        hi = p[i + 2];
                        i += 2;
                    }
                    if lo <= *c && *c <= hi {
                        hit = true;
                    }
                    i += 1;
                }
                if i >= p.len() {
                    return false;
                }
                hit != negate && go(&p[i + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && go(&p[2..], &n[1..]),
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

impl Tree {
    /// The build context at `dir`, less what `<Dockerfile>.dockerignore`
    /// (next to the Dockerfile, first) or the context's `.dockerignore`
    /// excludes.
    pub fn context(dir: PathBuf, dockerfile: Option<&Path>) -> Result<Tree, SourceError> {
        let own = dockerfile.map(|f| {
            let mut p = f.as_os_str().to_owned();
            p.push(".dockerignore");
            PathBuf::from(p)
        });
        let text = own
            .and_then(|p| std::fs::read_to_string(p).ok())
            .or_else(|| std::fs::read_to_string(dir.join(".dockerignore")).ok());
        let ignore = match text {
            Some(t) => {
                Some(Matcher::try_parse(&t).map_err(|e| SourceError::Ignore(e.to_string()))?)
            }
            None => None,
        };
        Ok(Tree {
            root: dir,
            ignore,
            keep_owners: false,
            stat_cache: None,
        })
    }

    pub fn excluded(&self, rel: &str) -> bool {
        !rel.is_empty() && self.ignore.as_ref().is_some_and(|m| m.excluded(rel))
    }

    /// The sources `src` names: itself, or with wildcards every match (in
    /// path order). None found is an error, as in Docker.
    pub fn select(&self, src: &str) -> Result<Vec<Source>, SourceError> {
        let rel = clean(src)?;
        if !has_wildcard(&rel) {
            if self.excluded(&rel) {
                return Err(SourceError::NotFound(rel));
            }
            let rel = self
                .beneath(&rel)
                .ok_or_else(|| SourceError::NotFound(rel.clone()))?;
            let md = std::fs::symlink_metadata(self.root.join(&rel))
                .map_err(|_| SourceError::NotFound(rel.clone()))?;
            return Ok(vec![Source {
                is_dir: md.is_dir(),
                rel,
            }]);
        }
        let pattern: Vec<&str> = rel.split('/').collect();
        let mut out = Vec::new();
        self.glob(&pattern, String::new(), &mut out)?;
        if out.is_empty() {
            return Err(SourceError::NotFound(rel));
        }
        Ok(out)
    }

    /// `rel` with the links among its directories followed inside the
    /// tree (a link's `..` or `/` is the tree's top, as for a `chroot`),
    /// so that joining it to the root never leaves the tree; its last
    /// component is kept as it is (a link is copied as a link).
    fn beneath(&self, rel: &str) -> Option<String> {
        let Some((parent, name)) = rel.rsplit_once('/') else {
            return Some(rel.to_string());
        };
        let dir = skiff_runtime::rootfs::resolve::resolve_chrooted(&self.root, parent).ok()?;
        let dir = dir.strip_prefix(&self.root).ok()?.to_str()?.to_string();
        Some(join(&dir, name))
    }

    fn glob(&self, pattern: &[&str], at: String, out: &mut Vec<Source>) -> Result<(), SourceError> {
        let Some((first, rest)) = pattern.split_first() else {
            return Ok(());
        };
        let dir = self.root.join(&at);
        let mut names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => return Ok(()),
        };
        names.sort();
        for n in names {
            if !match_element(first, &n) {
                continue;
            }
            let rel = if at.is_empty() {
                n
            } else {
                format!("{at}/{n}")
            };
            if self.excluded(&rel) {
                continue;
            }
            let Ok(md) = std::fs::symlink_metadata(self.root.join(&rel)) else {
                continue;
            };
            if rest.is_empty() {
                out.push(Source {
                    is_dir: md.is_dir(),
                    rel,
                });
            } else if md.is_dir() {
                self.glob(rest, rel, out)?;
            }
        }
        Ok(())
    }

    /// Every entry below the source (itself for a file), depth first in name
    /// order, without excluded paths and without paths `skip` rejects
    /// (`--exclude`). A large directory's top-level entries are walked on
    /// two threads.
    pub fn walk(
        &self,
        src: &Source,
        skip: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<Entry>, SourceError> {
        let io = |p: &Path, e: std::io::Error| SourceError::Io(format!("{}: {e}", p.display()));
        if !src.is_dir {
            let p = self.root.join(&src.rel);
            let md = std::fs::symlink_metadata(&p).map_err(|e| io(&p, e))?;
            let base = src.rel.rsplit('/').next().unwrap_or_default().to_string();
            return Ok(vec![Entry {
                tree_rel: src.rel.clone(),
                rel: base,
                md,
            }]);
        }
        let top = self.list(&src.rel)?;
        if top.len() < 2 {
            let mut out = Vec::new();
            self.walk_entries(&src.rel, "", top, skip, &mut out)?;
            return Ok(out);
        }
        let mut top = top;
        let second = top.split_off(top.len() / 2);
        let (out, rest) = std::thread::scope(|s| {
            let other = s.spawn(|| {
                let mut out = Vec::new();
                self.walk_entries(&src.rel, "", second, skip, &mut out)
                    .map(|()| out)
            });
            let mut out = Vec::new();
            let first = self
                .walk_entries(&src.rel, "", top, skip, &mut out)
                .map(|()| out);
            (first, other.join().expect("a walk thread panicked"))
        });
        let mut out = out?;
        out.extend(rest?);
        Ok(out)
    }

    /// The entries of the directory `tree_rel`, sorted by name, each with
    /// its lstat (made relative to the directory: no path walk per file).
    fn list(&self, tree_rel: &str) -> Result<Vec<(String, std::fs::Metadata)>, SourceError> {
        let dir = self.root.join(tree_rel);
        let rd = std::fs::read_dir(&dir)
            .map_err(|e| SourceError::Io(format!("reading {}: {e}", dir.display())))?;
        let mut v = Vec::new();
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let md = e
                .metadata()
                .map_err(|err| SourceError::Io(format!("{}: {err}", e.path().display())))?;
            v.push((n, md));
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    }

    /// Walk `names` (entries of `src`/`sub`) and what is below them. An
    /// excluded directory is entered only when an exception may bring
    /// something under it back, and is listed only if something was.
    fn walk_entries(
        &self,
        src: &str,
        sub: &str,
        names: Vec<(String, std::fs::Metadata)>,
        skip: &(dyn Fn(&str) -> bool + Sync),
        out: &mut Vec<Entry>,
    ) -> Result<(), SourceError> {
        let full_rel = join(src, sub);
        for (n, md) in names {
            let tree_rel = join(&full_rel, &n);
            let rel = join(sub, &n);
            if skip(&rel) {
                continue;
            }
            let is_dir = md.is_dir();
            if self.excluded(&tree_rel) {
                let reopened = is_dir
                    && self
                        .ignore
                        .as_ref()
                        .is_some_and(|m| m.may_include_under(&tree_rel));
                if reopened {
                    let at = out.len();
                    let below = self.list(&tree_rel)?;
                    self.walk_entries(src, &rel, below, skip, out)?;
                    if out.len() > at {
                        out.insert(at, Entry { tree_rel, rel, md });
                    }
                }
                continue;
            }
            if is_dir {
                let below = self.list(&tree_rel)?;
                out.push(Entry {
                    tree_rel,
                    rel: rel.clone(),
                    md,
                });
                self.walk_entries(src, &rel, below, skip, out)?;
            } else {
                out.push(Entry { tree_rel, rel, md });
            }
        }
        Ok(())
    }

    /// What the cache key of copying `entries` is made of: for each, its
    /// path, type, mode, size, owner (when kept), link target and content.
    pub fn digest(&self, entries: &[Entry]) -> Result<String, SourceError> {
        self.digest_with(entries, true)
    }

    /// [`digest`](Self::digest) without the files' content (for files
    /// something else determines: another stage's, by its cache key).
    pub fn digest_meta(&self, entries: &[Entry]) -> Result<String, SourceError> {
        self.digest_with(entries, false)
    }

    fn digest_with(&self, entries: &[Entry], content: bool) -> Result<String, SourceError> {
        // The entries' parts in two halves on two threads for a large
        // context, each half into one buffer; then both, in order.
        let half = |part: &[Entry]| -> Result<Vec<u8>, SourceError> {
            let mut buf = Vec::with_capacity(part.len() * 96);
            for e in part {
                self.entry_part(e, content, &mut buf)?;
            }
            Ok(buf)
        };
        let (first, second) = if entries.len() < 512 {
            (half(entries)?, Vec::new())
        } else {
            let (a, b) = entries.split_at(entries.len() / 2);
            let (x, y) = std::thread::scope(|s| {
                let other = s.spawn(|| half(b));
                (half(a), other.join().expect("a digest thread panicked"))
            });
            (x?, y?)
        };
        let mut h = Sha256::new();
        h.update(&first);
        h.update(&second);
        Ok(hex::encode(h.finalize()))
    }

    /// What one entry adds to a digest: its path, mode, owners (when kept),
    /// and size and content, link target or device.
    fn entry_part(&self, entry: &Entry, content: bool, h: &mut Vec<u8>) -> Result<(), SourceError> {
        let Entry { tree_rel, rel, md } = entry;
        let io = |e: std::io::Error| {
            SourceError::Io(format!("{}: {e}", self.root.join(tree_rel).display()))
        };
        h.extend_from_slice(rel.as_bytes());
        h.push(0);
        h.extend_from_slice(&md.mode().to_le_bytes());
        if self.keep_owners {
            h.extend_from_slice(&md.uid().to_le_bytes());
            h.extend_from_slice(&md.gid().to_le_bytes());
        }
        let ft = md.file_type();
        if ft.is_file() {
            h.extend_from_slice(&md.len().to_le_bytes());
            if content {
                let digest = match &self.stat_cache {
                    Some(c) => c.file_digest(tree_rel, &self.root, md),
                    None => crate::statcache::hash_file(&self.root.join(tree_rel)),
                }
                .map_err(io)?;
                h.extend_from_slice(&digest);
            }
        } else if ft.is_symlink() {
            let t = std::fs::read_link(self.root.join(tree_rel)).map_err(io)?;
            h.extend_from_slice(t.as_os_str().as_encoded_bytes());
        } else if ft.is_block_device() || ft.is_char_device() {
            h.extend_from_slice(&md.rdev().to_le_bytes());
        }
        h.push(b'\n');
        Ok(())
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => {
            let mut s = String::with_capacity(a.len() + 1 + b.len());
            s.push_str(a);
            s.push('/');
            s.push_str(b);
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_match_as_path_match_does() {
        assert!(match_element("*.rs", "main.rs"));
        assert!(!match_element("*.rs", "main.rc"));
        assert!(match_element("a?c", "abc"));
        assert!(match_element("[a-c]x", "bx"));
        assert!(!match_element("[^a-c]x", "bx"));
        assert!(match_element("\\*", "*"));
        assert!(!match_element("\\*", "a"));
    }

    #[test]
    fn sources_are_cleaned_and_kept_inside() {
        assert_eq!(clean("/a/./b/").unwrap(), "a/b");
        assert_eq!(clean("a/../b").unwrap(), "b");
        assert_eq!(clean(".").unwrap(), "");
        assert!(matches!(clean("../x"), Err(SourceError::Outside(_))));
        assert!(matches!(clean("a/../../x"), Err(SourceError::Outside(_))));
    }

    #[test]
    fn wildcards_select_matches_and_the_digest_follows_content() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("src/sub")).unwrap();
        std::fs::write(r.join("src/a.txt"), "a").unwrap();
        std::fs::write(r.join("src/b.txt"), "b").unwrap();
        std::fs::write(r.join("src/c.md"), "c").unwrap();
        std::fs::write(r.join("src/sub/d.txt"), "d").unwrap();
        let t = Tree {
            root: r.into(),
            ignore: None,
            keep_owners: false,
            stat_cache: None,
        };
        let s = t.select("src/*.txt").unwrap();
        let rels: Vec<_> = s.iter().map(|s| s.rel.as_str()).collect();
        assert_eq!(rels, ["src/a.txt", "src/b.txt"]);
        assert!(matches!(
            t.select("nope/*.txt"),
            Err(SourceError::NotFound(_))
        ));
        let dir = t.select("src").unwrap();
        assert!(dir[0].is_dir);
        let all = t.walk(&dir[0], &|_| false).unwrap();
        let rels: Vec<_> = all.iter().map(|e| e.rel.as_str()).collect();
        assert_eq!(rels, ["a.txt", "b.txt", "c.md", "sub", "sub/d.txt"]);
        let some = t.walk(&dir[0], &|p| p.ends_with(".md")).unwrap();
        assert_eq!(some.len(), 4);
        let d1 = t.digest(&all).unwrap();
        std::fs::write(r.join("src/sub/d.txt"), "D").unwrap();
        assert_ne!(d1, t.digest(&all).unwrap());
    }

    #[test]
    fn an_excluded_dir_is_entered_for_its_exceptions_only() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for f in ["sub/gone", "sub/keep", "other/x", "a.txt"] {
            std::fs::create_dir_all(r.join(f).parent().unwrap()).unwrap();
            std::fs::write(r.join(f), "x").unwrap();
        }
        let t = Tree {
            root: r.into(),
            ignore: Some(Matcher::try_parse("sub\n!sub/keep\nother\n").unwrap()),
            keep_owners: false,
            stat_cache: None,
        };
        let all = t.select(".").unwrap();
        let rels: Vec<String> = t
            .walk(&all[0], &|_| false)
            .unwrap()
            .into_iter()
            .map(|e| e.rel)
            .collect();
        assert_eq!(rels, ["a.txt", "sub", "sub/keep"]);
    }
}
