//! The cgroup v2 device filter: an eBPF program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE`, generated from the device rules, loaded
//! with `bpf(BPF_PROG_LOAD)` and attached to the container's cgroup with
//! `bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)`; programs
//! attached there before (an earlier `update`) are detached afterwards, so
//! the cgroup is never without a filter.
//!
//! The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
//! u32 minor; }` (`access_type` = access bits << 16 | device type) and
//! returns 1 to allow. The rules are checked last to first and the first
//! that matches decides, which is the outcome of applying them in order. A
//! rule covering everything (`a *:* rwm`) ends the search: it sets the
//! default, and the rules before it are not emitted. Without one the default
//! is allow, as for a fresh v1 devices cgroup. An allow rule matches a
//! request whose access bits are all in the rule; a deny rule one that has
//! any of the rule's bits.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use super::devices::{Rule, ACC_ALL};
use super::CgroupError;

// bpf(2) commands.
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;

const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

// Opcodes (class | size/op | mode/source).
const LDX_MEM_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const ALU64_AND_K: u8 = 0x57; // dst &= imm
const ALU64_RSH_K: u8 = 0x77; // dst >>= imm
const ALU64_MOV_K: u8 = 0xb7; // dst = imm
const ALU64_MOV_X: u8 = 0xbf; // dst = src
const JMP_JEQ_K: u8 = 0x15; // if dst == imm goto pc + 1 + off
const JMP_JNE_K: u8 = 0x55; // if dst != imm goto pc + 1 + off
const JMP_EXIT: u8 = 0x95;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

/// `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Insn {
    code: u8,
    /// `dst_reg:4, src_reg:4` bit-fields.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    let regs = if cfg!(target_endian = "little") {
        dst | (src << 4)
    } else {
        (dst << 4) | src
    };
    Insn {
        code,
        regs,
        off,
        imm,
    }
}

/// The filter for `rules` (see the module documentation).
pub(super) fn program(rules: &[Rule]) -> Vec<Insn> {
    let (default_allow, active) = match rules.iter().rposition(Rule::is_everything) {
        Some(i) => (rules[i].allow, &rules[i + 1..]),
        None => (true, rules),
    };
    // r2 = device type, r3 = requested access, r4 = major, r5 = minor.
    let mut prog = vec![
        insn(LDX_MEM_W, R2, R1, 0, 0),
        insn(ALU64_AND_K, R2, 0, 0, 0xffff),
        insn(LDX_MEM_W, R3, R1, 0, 0),
        insn(ALU64_RSH_K, R3, 0, 0, 16),
        insn(LDX_MEM_W, R4, R1, 4, 0),
        insn(LDX_MEM_W, R5, R1, 8, 0),
    ];
    for rule in active.iter().rev() {
        let mut block = Vec::with_capacity(8);
        // Indices of the jumps to the next rule, patched once the block's
        // length is known.
        let mut skips = Vec::with_capacity(4);
        if let Some(kind) = rule.kind {
            skips.push(block.len());
            block.push(insn(JMP_JNE_K, R2, 0, 0, kind as i32));
        }
        if rule.access != ACC_ALL {
            block.push(insn(ALU64_MOV_X, R0, R3, 0, 0));
            if rule.allow {
                // Requested bits outside the rule's: not this rule.
                block.push(insn(ALU64_AND_K, R0, 0, 0, (ACC_ALL & !rule.access) as i32));
                skips.push(block.len());
                block.push(insn(JMP_JNE_K, R0, 0, 0, 0));
            } else {
                // No requested bit among the rule's: not this rule.
                block.push(insn(ALU64_AND_K, R0, 0, 0, rule.access as i32));
                skips.push(block.len());
                block.push(insn(JMP_JEQ_K, R0, 0, 0, 0));
            }
        }
        // Rule::parse keeps device numbers within i32.
        if let Some(major) = rule.major {
            skips.push(block.len());
            block.push(insn(JMP_JNE_K, R4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            skips.push(block.len());
            block.push(insn(JMP_JNE_K, R5, 0, 0, minor as i32));
        }
        block.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(rule.allow)));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for i in skips {
            block[i].off = (len - i - 1) as i16;
        }
        prog.extend(block);
    }
    prog.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(default_allow)));
    prog.push(insn(JMP_EXIT, 0, 0, 0, 0));
    prog
}

/// `union bpf_attr` for BPF_PROG_LOAD (up to `expected_attach_type`).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH / BPF_PROG_DETACH.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `union bpf_attr` for BPF_PROG_QUERY (up to `prog_cnt`).
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// `union bpf_attr` for BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// bpf(2) with `attr` as its argument block.
fn sys_bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    let size = std::mem::size_of::<T>() as libc::c_uint;
    // SAFETY: `attr` is an exclusively borrowed, live #[repr(C)] struct without
    // padding whose layout is the prefix of the kernel's `union bpf_attr`
    // used by `cmd`; the kernel accesses at most `size` bytes of it. Any
    // pointers inside it point to buffers the caller keeps alive and large
    // enough for the lengths given next to them.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Take ownership of a descriptor bpf(2) returned.
fn owned_fd(ret: libc::c_long) -> OwnedFd {
    // SAFETY: bpf(2) returned this descriptor just now; nothing else holds it.
    unsafe { OwnedFd::from_raw_fd(ret as RawFd) }
}

fn bpf_error(op: &'static str, dir: &Path, err: io::Error, log: String) -> CgroupError {
    CgroupError::Bpf {
        op,
        path: dir.to_path_buf(),
        err,
        log,
    }
}

/// Load `insns`, attach them to the cgroup `dir` and detach what was there.
pub(super) fn install(dir: &Path, insns: &[Insn]) -> Result<(), CgroupError> {
    let cgroup =
        File::open(dir).map_err(|err| bpf_error("opening the cgroup", dir, err, String::new()))?;
    let target_fd = cgroup.as_raw_fd() as u32;
    let (old, old_flags) = query(target_fd)
        .map_err(|err| bpf_error("listing attached device filters", dir, err, String::new()))?;
    let prog =
        load(insns).map_err(|(err, log)| bpf_error("loading the device filter", dir, err, log))?;
    let attach = |flags: u32| {
        let mut attr = AttachAttr {
            target_fd,
            attach_bpf_fd: prog.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: flags,
            ..Default::default()
        };
        sys_bpf(BPF_PROG_ATTACH, &mut attr).map(|_| ())
    };
    match attach(BPF_F_ALLOW_MULTI) {
        Ok(()) => {}
        // A single program attached without BPF_F_ALLOW_MULTI (by another
        // tool): attaching in its mode replaces it.
        Err(_) if !old.is_empty() && old_flags & BPF_F_ALLOW_MULTI == 0 => {
            return attach(old_flags)
                .map_err(|err| bpf_error("attaching the device filter", dir, err, String::new()));
        }
        Err(err) => {
            return Err(bpf_error(
                "attaching the device filter",
                dir,
                err,
                String::new(),
            ))
        }
    }
    for id in old {
        detach(target_fd, id).map_err(|err| {
            bpf_error(
                "detaching the previous device filter",
                dir,
                err,
                String::new(),
            )
        })?;
    }
    Ok(())
}

/// Load the program; on failure also return the verifier's log.
fn load(insns: &[Insn]) -> Result<OwnedFd, (io::Error, String)> {
    const LICENSE: &[u8] = b"Apache-2.0\0";
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"skiff_devs");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    let err = match sys_bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => return Ok(owned_fd(fd)),
        Err(err) => err,
    };
    // Again, with the verifier's log this time.
    let mut log = vec![0u8; 64 * 1024];
    attr.log_level = 1;
    attr.log_size = log.len() as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    if let Ok(fd) = sys_bpf(BPF_PROG_LOAD, &mut attr) {
        return Ok(owned_fd(fd));
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    Err((
        err,
        String::from_utf8_lossy(&log[..end]).trim_end().to_string(),
    ))
}

/// The ids of the device programs attached to the cgroup itself, and the
/// attach flags in force there.
pub(super) fn query(target_fd: u32) -> io::Result<(Vec<u32>, u32)> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match sys_bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok((ids, attr.attach_flags));
            }
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC) && attr.prog_cnt as usize > ids.len() =>
            {
                ids = vec![0u32; attr.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

/// Detach program `id` from the cgroup; one already gone is fine.
fn detach(target_fd: u32, id: u32) -> io::Result<()> {
    let mut get = GetFdAttr {
        prog_id: id,
        ..Default::default()
    };
    let prog = match sys_bpf(BPF_PROG_GET_FD_BY_ID, &mut get) {
        Ok(fd) => owned_fd(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut attr = AttachAttr {
        target_fd,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    match sys_bpf(BPF_PROG_DETACH, &mut attr) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::devices::Kind;
    use super::*;

    /// Run the program on one request, interpreting the few opcodes it uses.
    fn run(prog: &[Insn], kind: Kind, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | kind as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1);
                    r[dst] = u64::from(ctx[i.off as usize / 4]);
                }
                ALU64_AND_K => r[dst] &= i.imm as i64 as u64,
                ALU64_RSH_K => r[dst] >>= i.imm,
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                ALU64_MOV_X => r[dst] = r[src],
                JMP_JEQ_K if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JEQ_K | JMP_JNE_K => {}
                JMP_EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    fn rule(
        allow: bool,
        kind: Option<Kind>,
        major: Option<u32>,
        minor: Option<u32>,
        access: u32,
    ) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access,
        }
    }

    const R: u32 = super::super::devices::ACC_READ;
    const W: u32 = super::super::devices::ACC_WRITE;
    const M: u32 = super::super::devices::ACC_MKNOD;

    #[test]
    fn deny_all_then_allow_some() {
        let rules = [
            rule(true, None, None, None, ACC_ALL), // overridden by the next
            rule(false, None, None, None, ACC_ALL),
            rule(true, Some(Kind::Char), Some(1), Some(3), R | W),
            rule(true, Some(Kind::Char), Some(136), None, ACC_ALL),
            rule(false, Some(Kind::Char), Some(136), Some(7), W),
        ];
        let prog = program(&rules);
        assert_eq!(run(&prog, Kind::Char, R, 1, 3), 1);
        assert_eq!(run(&prog, Kind::Char, R | W, 1, 3), 1);
        assert_eq!(run(&prog, Kind::Char, M, 1, 3), 0);
        assert_eq!(run(&prog, Kind::Block, R, 1, 3), 0);
        assert_eq!(run(&prog, Kind::Char, R, 1, 5), 0);
        assert_eq!(run(&prog, Kind::Char, R | W, 136, 2), 1);
        assert_eq!(run(&prog, Kind::Char, R, 136, 7), 1);
        assert_eq!(run(&prog, Kind::Char, R | W, 136, 7), 0);
    }

    #[test]
    fn default_allow_without_catch_all() {
        let prog = program(&[rule(false, Some(Kind::Block), Some(8), None, ACC_ALL)]);
        assert_eq!(run(&prog, Kind::Block, R, 8, 1), 0);
        assert_eq!(run(&prog, Kind::Block, R, 9, 1), 1);
        assert_eq!(run(&prog, Kind::Char, R, 8, 1), 1);
        let prog = program(&[rule(true, None, None, None, ACC_ALL)]);
        assert_eq!(prog.len(), 8);
        assert_eq!(run(&prog, Kind::Char, ACC_ALL, 4, 4), 1);
    }
}
