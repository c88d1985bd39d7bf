"""OS-level confinement of the sandbox worker: defence in depth under the policy layer.

The RestrictedPython policy decides what tool code may *name*; it has had
holes (one gave real ``os``, ``open`` and ``__import__``). This module makes
the worker process itself unable to do harm even with the real ``os`` module,
so a policy escape ends in an ``OSError`` instead of a breach. Each layer
stands on its own, so that one missing on a machine (or a rule lost to a bad
edit) leaves the others in force, and each is reported rather than assumed:

=================  ============================================================
layer              what it takes away
=================  ============================================================
environment        the parent's variables (API keys): :func:`worker_environment`
                   builds the child's environment from nothing
network_namespace  every network interface but a loopback that is down
rlimits            file growth (FSIZE 0, SIGXFSZ ignored so a write fails with
                   EFBIG), descriptor floods (NOFILE), core files, new
                   processes (NPROC 0; the kernel exempts root), memory (AS)
no_new_privs       privilege gain through exec; lets a non-root process load
                   seccomp and Landlock
capabilities       root's powers (raising hard limits, ignoring file modes,
                   reading non-dumpable processes): all capability sets cleared
landlock           every write-type file access and exec, everywhere; reads in
                   ``/proc`` but ``/proc/self`` (``/proc/<parent>/environ``
                   holds the parent's secrets); TCP bind/connect (ABI >= 4);
                   signals and abstract UNIX sockets outside it (ABI >= 6)
seccomp            every system call not on an allowlist (see
                   :data:`SECCOMP_ALLOWED`, :data:`SECCOMP_ALLOWED_IF`), which
                   fail with EPERM rather than killing the worker
=================  ============================================================

Call order in the worker (:func:`confine_current_process` applies the layers in
this order itself): import and warm up everything, ``chdir`` to an empty
directory, then network namespace (``unshare`` needs CAP_SYS_ADMIN, which the
capability layer drops), rlimits, no_new_privs, capabilities, Landlock, and
seccomp last (it denies the ``prctl``, ``capset`` and ``landlock_*`` calls of
the layers before it).

Libraries: seccomp goes through libseccomp (``libseccomp.so.2``, maintained
upstream) via ``pyseccomp``, a pure-ctypes binding with the API of libseccomp's
own Python bindings (which are not on PyPI). Landlock is three ctypes calls
here: the ``landlock`` package on PyPI (1.0.0.dev5) is a pre-release that knows
only filesystem rights (no TCP rules, no signal scoping), decides failure from
a stale ``errno`` instead of the return value (a successful call can raise),
and leaks the ruleset descriptor. Network namespace, no_new_privs and
capabilities are single libc calls (``os.unshare`` only exists from 3.12).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import functools
import os
import resource
import signal
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SECCOMP_ALLOWED",
    "SECCOMP_ALLOWED_IF",
    "SECCOMP_DENIED",
    "SECCOMP_ERRNO",
    "ConfinementOptions",
    "LayerStatus",
    "confine_current_process",
    "format_report",
    "landlock_abi",
    "probe_report",
    "worker_environment",
]

# The worker must import this very package, wherever it is installed (as worker.py does).
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def worker_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The complete environment of a worker child; nothing is inherited.

    Tool code that escapes the policy can read ``os.environ``, so the parent's
    variables (``OPENAI_API_KEY``, cloud credentials, ``HOME``) must never reach
    the child. What is here is what the worker needs: a fixed hash seed and
    locale/time zone for byte-identical replays, the worker marker (the package
    then skips gymnasium and pack discovery), and a ``PYTHONPATH`` that finds
    this package first and then whatever the parent found through its own
    ``PYTHONPATH`` (the child runs the same interpreter, so its site-packages
    need no variable).

    Args:
        extra: Variables to add or override.

    Returns:
        A new dict to pass as ``env=`` to ``subprocess.Popen``.
    """
    paths = [_PACKAGE_ROOT]
    for path in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if path and path not in paths:
            paths.append(path)
    env = {
        "PYTHONHASHSEED": "0",
        "TZ": "UTC",
        "LC_ALL": "C.UTF-8",
        "ASTRA_GYM_SANDBOX_WORKER": "1",
        "PYTHONPATH": os.pathsep.join(paths),
    }
    env.update({_LIBRARY_VARIABLES[name]: path for name, path in _libraries().items()
                if path is not None})
    env.update(extra or {})
    return env


# Library paths resolved once in the parent and handed to every worker:
# ctypes.util.find_library runs ``ldconfig -p`` in a subprocess, which would
# otherwise cost each worker start tens of milliseconds.
_LIBRARY_VARIABLES = {"c": "ASTRA_GYM_LIBC", "seccomp": "ASTRA_GYM_LIBSECCOMP"}


@functools.lru_cache(maxsize=1)
def _libraries() -> dict[str, str | None]:
    return {name: ctypes.util.find_library(name) for name in _LIBRARY_VARIABLES}


@dataclass(frozen=True)
class ConfinementOptions:
    """Which layers :func:`confine_current_process` applies, and their limits.

    Attributes:
        address_space_bytes: ``RLIMIT_AS`` to set, or None to leave it (the
            worker may set its own, measured from its idle size).
        max_open_files: ``RLIMIT_NOFILE``: the worker needs a handful (stdio,
            two pipes, one file at a time for a lazy import).
        max_file_size: ``RLIMIT_FSIZE`` in bytes; 0 forbids growing any regular
            file, even one opened before confinement.
        max_processes: ``RLIMIT_NPROC``; 0 forbids fork for non-root users (the
            kernel does not apply it to root: seccomp does that job there).
        rlimits: Apply the resource limits above (and ``RLIMIT_CORE`` 0).
        no_new_privs: Set ``PR_SET_NO_NEW_PRIVS``.
        drop_capabilities: Clear every capability set (matters when the worker
            runs as root, as CI does).
        landlock: Apply a Landlock ruleset where the kernel has it.
        readable_paths: Under Landlock, the only trees that stay readable. None
            means every top-level directory except ``/proc``, plus
            ``/proc/self``: another process's ``/proc/<pid>/environ`` holds its
            secrets, and on Linux 6.18 neither Landlock's ptrace rule nor
            seccomp stops a same-user process from reading it.
        seccomp: Load the syscall allowlist (needs libseccomp and pyseccomp).
        network_namespace: Move into a new, empty network namespace (as
            non-root through a new user namespace).
    """

    address_space_bytes: int | None = None
    max_open_files: int = 32
    max_file_size: int = 0
    max_processes: int = 0
    rlimits: bool = True
    no_new_privs: bool = True
    drop_capabilities: bool = True
    landlock: bool = True
    readable_paths: tuple[str, ...] | None = None
    seccomp: bool = True
    network_namespace: bool = True


@dataclass(frozen=True)
class LayerStatus:
    """What happened to one layer.

    Attributes:
        state: ``"active"``, ``"unavailable"`` (the machine lacks it),
            ``"failed"`` (it exists but could not be applied) or ``"off"``
            (disabled in the options).
        detail: Why, or for an active layer a note (what exactly it covers).
    """

    state: str
    detail: str = ""

    @property
    def active(self) -> bool:
        return self.state == "active"

    def __str__(self) -> str:
        if not self.detail:
            return self.state
        return f"active ({self.detail})" if self.active else f"{self.state}: {self.detail}"


# -- seccomp tables ------------------------------------------------------------------------------

#: Syscalls the confined worker may always make: group -> (names, why the worker needs them).
SECCOMP_ALLOWED: dict[str, tuple[tuple[str, ...], str]] = {
    "memory": (("brk", "mmap", "munmap", "mremap", "mprotect", "madvise"),
               "the allocator, and the loader mapping a lazily imported C extension"),
    "read files": (("read", "pread64", "readv", "lseek", "fstat", "newfstatat", "stat", "lstat",
                    "statx", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
                    "getdents64", "getcwd"),
                   "imports and tracebacks stat, list and read sources (opens: see the filtered "
                   "rules)"),
    "descriptors": (("close", "close_range", "dup", "dup2", "dup3", "pipe", "pipe2"),
                    "closing and duplicating the worker's own descriptors (NOFILE caps them)"),
    "write to open descriptors": (("write", "writev"),
                                  "replies go over the inherited pipe; no new writable file can "
                                  "be opened and FSIZE 0 stops growing an old one"),
    "wait for I/O": (("poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl",
                      "epoll_wait", "epoll_pwait"),
                     "Connection.poll(timeout) and selectors on the pipes"),
    "time": (("clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
              "clock_nanosleep"), "time.monotonic/sleep (usually the vDSO, not a syscall)"),
    "timers": (("getitimer", "setitimer", "alarm"), "timers that signal only this process"),
    "signals": (("rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "sigaltstack",
                 "restart_syscall"),
                "handlers and dispositions (SIGXFSZ, SIGINT), and the kernel's restart of an "
                "interrupted call"),
    "locks and scheduling": (("futex", "sched_yield", "sched_getaffinity"),
                             "the GIL and libc locks; os.cpu_count"),
    "identity": (("getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
                  "getresuid", "getresgid", "getgroups", "getpgrp", "getsid", "uname",
                  "sysinfo"), "read-only facts about this process and the machine"),
    "accounting": (("getrusage", "times", "getrlimit"),
                   "the per-call CPU limit is armed from the CPU time used so far"),
    "randomness": (("getrandom",), "os.urandom, uuid4, random seeding"),
    "exit": (("exit", "exit_group"), "ending the worker"),
}

# Open flags that create, truncate or write; an open must have none of them.
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_U32 = 0xFFFFFFFF  # int arguments: compare the low 32 bits, as the kernel reads them
_U64 = 0xFFFFFFFFFFFFFFFF  # pointers: all 64
_SELF = -1  # placeholder for this process's pid, filled in when the filter is built


def _ioctl_allowed() -> tuple[tuple[int, str], ...]:
    import termios
    return ((termios.TCGETS, "isatty() when a file is opened"),
            (termios.TIOCGWINSZ, "terminal size"),
            (termios.FIOCLEX, "os.set_inheritable (raises if this ioctl is refused)"),
            (termios.FIONCLEX, "os.set_inheritable"),
            (termios.FIONBIO, "non-blocking mode"),
            (termios.FIONREAD, "bytes waiting on a pipe"))


#: Syscalls allowed only with the given arguments: (name, why, ((arg, mask, value), ...)).
#: A call is allowed when ``args[arg] & mask == value`` for every condition of one rule.
SECCOMP_ALLOWED_IF: tuple[tuple[str, str, tuple[tuple[int, int, int], ...]], ...] = (
    ("openat", "read-only opens (flags without O_WRONLY/O_RDWR/O_CREAT/O_TRUNC/O_APPEND): "
     "lazy imports, linecache", ((2, _WRITE_FLAGS, 0),)),
    ("open", "the same for the legacy call", ((1, _WRITE_FLAGS, 0),)),
    ("prlimit64", "reading a limit of this process", ((0, _U32, 0), (2, _U64, 0))),
    ("prlimit64", "setting RLIMIT_CPU of this process: the per-call CPU limit is re-armed "
     "before each call", ((0, _U32, 0), (1, _U32, resource.RLIMIT_CPU))),
    ("setrlimit", "the same for the legacy call", ((0, _U32, resource.RLIMIT_CPU),)),
    *(("fcntl", f"fcntl command {cmd} (dup, close-on-exec, blocking flags; not F_SETOWN, which "
       "aims SIGIO at another process)", ((1, _U32, cmd),))
      for cmd in (fcntl.F_DUPFD, fcntl.F_DUPFD_CLOEXEC, fcntl.F_GETFD, fcntl.F_SETFD,
                  fcntl.F_GETFL, fcntl.F_SETFL)),
    ("kill", "signals to itself only (raise, abort)", ((0, _U32, _SELF),)),
    ("tgkill", "signals to its own threads only", ((0, _U32, _SELF),)),
)

#: Denied with an errno other than the default EPERM, so that libc falls back to an older call.
SECCOMP_ERRNO: dict[str, int] = {
    "clone3": errno.ENOSYS,  # glibc then tries clone, which is denied with EPERM
    "openat2": errno.ENOSYS,  # its flags sit in a struct that seccomp cannot read
}

#: What the allowlist leaves out on purpose: group -> (names, why). They fall to the default
#: action (EPERM); the tests check that none of them is ever allowed.
SECCOMP_DENIED: dict[str, tuple[tuple[str, ...], str]] = {
    "network": (("socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
                 "sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "recvmmsg"),
                "no sockets at all: TCP, UDP, and UNIX sockets to local services"),
    "processes": (("clone", "clone3", "fork", "vfork", "execve", "execveat", "wait4", "waitid"),
                  "no new processes or programs (threads included: the worker needs none)"),
    "other processes": (("tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "ptrace",
                         "process_vm_readv", "process_vm_writev", "pidfd_open",
                         "pidfd_send_signal", "pidfd_getfd", "kcmp", "move_pages",
                         "migrate_pages"),
                        "signalling, tracing or reading any other process"),
    "file changes": (("creat", "openat2", "unlink", "unlinkat", "rename", "renameat",
                      "renameat2", "mkdir", "mkdirat", "rmdir", "link", "linkat", "symlink",
                      "symlinkat", "mknod", "mknodat", "chmod", "fchmod", "fchmodat", "chown",
                      "fchown", "lchown", "fchownat", "truncate", "ftruncate", "fallocate",
                      "utime", "utimes", "utimensat", "futimesat", "setxattr", "lsetxattr",
                      "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
                      "copy_file_range", "sendfile", "splice", "tee", "vmsplice", "memfd_create",
                      "name_to_handle_at", "open_by_handle_at", "chdir", "fchdir", "umask"),
                     "no file is created, changed, moved or removed"),
    "namespaces and mounts": (("unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
                               "fsopen", "fsmount", "fsconfig", "fspick", "open_tree",
                               "move_mount", "mount_setattr"),
                              "no way out of the namespaces and mounts it was given"),
    "privileges and limits": (("setuid", "setgid", "setreuid", "setregid", "setresuid",
                               "setresgid", "setgroups", "setfsuid", "setfsgid", "capset",
                               "prctl", "seccomp", "personality", "landlock_create_ruleset",
                               "landlock_add_rule", "landlock_restrict_self"),
                              "identity and confinement stay as set (setrlimit/prlimit64: only "
                              "RLIMIT_CPU, see the filtered rules)"),
    "kernel attack surface": (("bpf", "perf_event_open", "io_uring_setup", "io_uring_enter",
                               "io_uring_register", "userfaultfd", "keyctl", "add_key",
                               "request_key", "modify_ldt", "iopl", "ioperm", "uselib",
                               "fanotify_init", "inotify_init1", "msgget", "semget", "shmget",
                               "mq_open", "init_module", "finit_module", "delete_module",
                               "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
                               "syslog", "acct", "quotactl", "settimeofday", "clock_settime",
                               "adjtimex", "sethostname", "setdomainname", "mbind",
                               "set_mempolicy", "sched_setaffinity", "sched_setscheduler",
                               "setpriority"),
                              "rarely needed, often exploited (io_uring even bypasses seccomp)"),
}


# -- libc and the layers -------------------------------------------------------------------------

_PR_SET_NO_NEW_PRIVS = 38
_PR_GET_NO_NEW_PRIVS = 39
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446

_libc_handle: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    """The C library already loaded in this process (no ``find_library`` subprocess)."""
    global _libc_handle
    if _libc_handle is None:
        _libc_handle = ctypes.CDLL(None, use_errno=True)
        _libc_handle.syscall.restype = ctypes.c_long
    return _libc_handle


def _call(func: Callable[..., int], *args: Any) -> int:
    """Call a libc function; raise OSError from errno when it returns -1."""
    ctypes.set_errno(0)
    result = func(*args)
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{exc.strerror} ({errno.errorcode.get(exc.errno, exc.errno)})"
    return f"{type(exc).__name__}: {exc}"


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _enter_network_namespace() -> LayerStatus:
    libc = _libc()
    try:
        _call(libc.unshare, _CLONE_NEWNET)
        return LayerStatus("active", "new network namespace: only a loopback, down")
    except OSError as exc:
        if exc.errno != errno.EPERM or os.geteuid() == 0:
            return LayerStatus("unavailable", f"unshare(CLONE_NEWNET): {_why(exc)}")
    # Not root: a new user namespace grants CAP_SYS_ADMIN over a new network namespace.
    uid, gid = os.getuid(), os.getgid()
    try:
        _call(libc.unshare, _CLONE_NEWUSER | _CLONE_NEWNET)
    except OSError as exc:
        return LayerStatus("unavailable", f"unshare(CLONE_NEWUSER|CLONE_NEWNET): {_why(exc)}")
    # Map our ids, so that files and getuid() look the same as outside; best effort.
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        with contextlib.suppress(OSError), open(f"/proc/self/{name}", "w") as fh:
            fh.write(text)
    return LayerStatus("active", "new user and network namespaces: only a loopback, down")


def _apply_rlimits(options: ConfinementOptions) -> LayerStatus:
    limits = [(resource.RLIMIT_NOFILE, "NOFILE", options.max_open_files),
              (resource.RLIMIT_FSIZE, "FSIZE", options.max_file_size),
              (resource.RLIMIT_CORE, "CORE", 0),
              (resource.RLIMIT_NPROC, "NPROC", options.max_processes)]
    if options.address_space_bytes is not None:
        limits.append((resource.RLIMIT_AS, "AS", options.address_space_bytes))
    # A write past FSIZE raises SIGXFSZ, whose default action kills: ignored, the write
    # fails with EFBIG instead and the tool gets an OSError. CPython ignores it at start-up
    # already; set again in case something in the worker changed it.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    failed = []
    for res, name, value in limits:
        try:
            _soft, hard = resource.getrlimit(res)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(res, (value, value))  # soft and hard: no raising back
        except (OSError, ValueError) as exc:
            failed.append(f"{name}: {_why(exc)}")
    if failed:
        return LayerStatus("failed", "; ".join(failed))
    if os.geteuid() == 0 and options.max_processes == 0:
        return LayerStatus("active", "RLIMIT_NPROC is not enforced for root")
    return LayerStatus("active")


def _set_no_new_privs() -> LayerStatus:
    libc = _libc()
    try:
        _call(libc.prctl, _PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0),
              ctypes.c_ulong(0), ctypes.c_ulong(0))
        if _call(libc.prctl, _PR_GET_NO_NEW_PRIVS, ctypes.c_ulong(0), ctypes.c_ulong(0),
                 ctypes.c_ulong(0), ctypes.c_ulong(0)) != 1:
            return LayerStatus("failed", "PR_GET_NO_NEW_PRIVS does not read back 1")
    except OSError as exc:
        return LayerStatus("failed", f"prctl(PR_SET_NO_NEW_PRIVS): {_why(exc)}")
    return LayerStatus("active")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> LayerStatus:
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (_CapData * 2)()  # all zero: no capability in any set (ambient ones follow)
    try:
        _call(_libc().capset, ctypes.byref(header), data)
    except (OSError, AttributeError) as exc:
        return LayerStatus("failed", f"capset: {_why(exc)}")
    return LayerStatus("active")


# Landlock access rights by the ABI that introduced them.
_LL_FS_EXECUTE = 1 << 0
_LL_FS_WRITE_FILE = 1 << 1
_LL_FS_READ_FILE = 1 << 2
_LL_FS_READ_DIR = 1 << 3
_LL_FS_REMOVE_DIR = 1 << 4
_LL_FS_REMOVE_FILE = 1 << 5
_LL_FS_MAKE_ALL = 0b1111111 << 6  # CHAR DIR REG SOCK FIFO BLOCK SYM
_LL_FS_REFER = 1 << 13  # ABI 2
_LL_FS_TRUNCATE = 1 << 14  # ABI 3
_LL_FS_IOCTL_DEV = 1 << 15  # ABI 5
_LL_NET_TCP = 0b11  # BIND_TCP, CONNECT_TCP: ABI 4
_LL_SCOPE_ALL = 0b11  # ABSTRACT_UNIX_SOCKET, SIGNAL: ABI 6


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # packed in the kernel's header
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _default_readable_paths() -> tuple[str, ...]:
    try:
        top = sorted(os.listdir("/"))
    except OSError:
        return ("/proc/self",)
    return (*(os.path.join("/", name) for name in top if name != "proc"), "/proc/self")


def _landlock_abi() -> int | str:
    """The kernel's Landlock ABI version, or why there is none."""
    if not sys.platform.startswith("linux"):
        return f"not Linux ({sys.platform})"
    try:
        return _call(_libc().syscall, _SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                     ctypes.c_uint32(1))  # LANDLOCK_CREATE_RULESET_VERSION
    except OSError as exc:
        if exc.errno == errno.ENOSYS:
            return "the kernel has no Landlock (ENOSYS)"
        if exc.errno == errno.EOPNOTSUPP:
            return "Landlock is disabled at boot (EOPNOTSUPP: not in the lsm= list)"
        return f"landlock_create_ruleset: {_why(exc)}"


def landlock_abi() -> int:
    """The running kernel's Landlock ABI version, 0 where Landlock is unavailable."""
    abi = _landlock_abi()
    return abi if isinstance(abi, int) else 0


def _add_read_rule(ruleset_fd: int, path: str) -> None:
    """Let ``path`` (a tree, or one file) be read; a path that does not exist is skipped."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)  # follows symlinks: /proc/self, /lib
    except OSError:
        return
    try:
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        rule = _PathBeneathAttr(_LL_FS_READ_FILE | (_LL_FS_READ_DIR if is_dir else 0), fd)
        _call(_libc().syscall, _SYS_LANDLOCK_ADD_RULE, ctypes.c_long(ruleset_fd),
              ctypes.c_long(1), ctypes.byref(rule), ctypes.c_uint32(0))  # 1: PATH_BENEATH
    finally:
        os.close(fd)


def _apply_landlock(readable_paths: tuple[str, ...] | None) -> LayerStatus:
    abi = _landlock_abi()
    if isinstance(abi, str):
        return LayerStatus("unavailable", abi)
    # A handled right that no rule grants is denied everywhere: writes and exec are handled
    # with no rule; reads are handled and granted beneath the readable paths only.
    fs = (_LL_FS_EXECUTE | _LL_FS_WRITE_FILE | _LL_FS_REMOVE_DIR | _LL_FS_REMOVE_FILE
          | _LL_FS_MAKE_ALL | _LL_FS_READ_FILE | _LL_FS_READ_DIR)
    fs |= (_LL_FS_REFER if abi >= 2 else 0) | (_LL_FS_TRUNCATE if abi >= 3 else 0)
    fs |= _LL_FS_IOCTL_DEV if abi >= 5 else 0
    attr = _RulesetAttr(fs, _LL_NET_TCP if abi >= 4 else 0, _LL_SCOPE_ALL if abi >= 6 else 0)
    readable = _default_readable_paths() if readable_paths is None else readable_paths
    covers = ["file writes and exec", "reads in /proc but /proc/self" if readable_paths is None
              else "reads outside " + ", ".join(readable)]
    covers += ["TCP bind/connect"] if abi >= 4 else []
    covers += ["signals and abstract sockets outside the worker"] if abi >= 6 else []
    syscall = _libc().syscall
    try:
        fd = _call(syscall, _SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr),
                   ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
        try:
            for path in readable:
                _add_read_rule(fd, path)
            _call(syscall, _SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_long(fd), ctypes.c_uint32(0))
        finally:
            os.close(fd)
    except OSError as exc:
        return LayerStatus("failed", f"ABI {abi}: {_why(exc)}")
    return LayerStatus("active", f"ABI {abi}: {', '.join(covers)}")


def _import_pyseccomp() -> Any:
    """pyseccomp, or why it cannot be used (a string).

    Imported before any layer is applied: its import locates libc and
    libseccomp with ``ctypes.util.find_library``, which runs ``ldconfig`` in a
    subprocess, and that needs the fork, exec and temporary files that the
    layers take away.
    """
    known = {name: os.environ.get(variable) for name, variable in _LIBRARY_VARIABLES.items()}
    original = ctypes.util.find_library
    ctypes.util.find_library = lambda name: known.get(name) or original(name)
    try:
        import pyseccomp
    except ImportError:
        return "pyseccomp is not installed"
    except (OSError, RuntimeError) as exc:  # it raises RuntimeError when libseccomp is missing
        return f"libseccomp: {_why(exc)}"
    finally:
        ctypes.util.find_library = original
    return pyseccomp


def _load_seccomp(sc: Any) -> LayerStatus:
    if isinstance(sc, str):
        return LayerStatus("unavailable", sc)
    unknown = []
    try:
        filt = sc.SyscallFilter(sc.ERRNO(errno.EPERM))

        def add(action: int, name: str, *args: Any) -> None:
            if sc.resolve_syscall(sc.Arch.NATIVE, name) == -1:  # __NR_SCMP_ERROR: too new
                unknown.append(name)
            else:
                filt.add_rule(action, name, *args)

        filt.set_attr(sc.Attr.CTL_TSYNC, 1)  # every thread, not just the calling one
        allowed = 0
        for names, _why_needed in SECCOMP_ALLOWED.values():
            for name in names:
                add(sc.ALLOW, name)
                allowed += 1
        conditional = [*SECCOMP_ALLOWED_IF,
                       *(("ioctl", why, ((1, _U32, cmd),)) for cmd, why in _ioctl_allowed())]
        for name, _why_needed, conditions in conditional:
            args = [sc.Arg(arg, sc.MASKED_EQ, mask, os.getpid() if value == _SELF else value)
                    for arg, mask, value in conditions]
            add(sc.ALLOW, name, *args)
        for name, err in SECCOMP_ERRNO.items():
            add(sc.ERRNO(err), name)
        filt.load()
    except OSError as exc:
        return LayerStatus("failed", f"libseccomp: {_why(exc)}")
    note = f"{allowed} syscalls allowed, {len(conditional)} argument-filtered rules, else EPERM"
    if unknown:
        note += f"; unknown to this libseccomp: {', '.join(sorted(set(unknown)))}"
    return LayerStatus("active", note)


def confine_current_process(options: ConfinementOptions) -> dict[str, LayerStatus]:
    """Apply every confinement layer this machine supports to the calling process.

    Call it once in the worker, after it has imported and warmed up everything
    it needs and has moved into its (empty) working directory, and before it
    serves a request: nothing done afterwards can undo it, so the worker must
    not need to write, fork or connect later. Read-only opens keep working, so
    a lazy import still succeeds. Never raises because a layer is missing: a
    layer that cannot be applied is reported, and the others still apply.

    Layer order matters and is fixed: network namespace first (it needs
    CAP_SYS_ADMIN), then rlimits, no_new_privs, capabilities, Landlock, and
    seccomp last (it denies the calls the earlier layers make).

    Args:
        options: Which layers to apply, and the resource limits.

    Returns:
        Layer name -> status, in the order applied.
    """
    pyseccomp = _import_pyseccomp() if options.seccomp else None
    steps: list[tuple[str, bool, Callable[[], LayerStatus]]] = [
        ("network_namespace", options.network_namespace, _enter_network_namespace),
        ("rlimits", options.rlimits, lambda: _apply_rlimits(options)),
        ("no_new_privs", options.no_new_privs, _set_no_new_privs),
        ("capabilities", options.drop_capabilities, _drop_capabilities),
        ("landlock", options.landlock, lambda: _apply_landlock(options.readable_paths)),
        ("seccomp", options.seccomp, lambda: _load_seccomp(pyseccomp)),
    ]
    per_thread = {"network_namespace", "no_new_privs", "capabilities", "landlock"}
    threads = _threads()
    statuses: dict[str, LayerStatus] = {}
    for name, enabled, apply in steps:
        if not enabled:
            statuses[name] = LayerStatus("off", "disabled in the options")
            continue
        if not sys.platform.startswith("linux"):
            statuses[name] = LayerStatus("unavailable", f"not Linux ({sys.platform})")
            continue
        try:
            status = apply()
        except Exception as exc:  # a layer must never take the worker down
            status = LayerStatus("failed", _why(exc))
        if status.active and name in per_thread and threads > 1:
            status = LayerStatus("failed", f"applied to the calling thread only ({threads} "
                                           "threads run): confine before starting threads")
        statuses[name] = status
    return statuses


# -- probes --------------------------------------------------------------------------------------


class _NotApplicable(Exception):
    """The probe has nothing to try here (e.g. no limit is set that could be raised)."""


def _errname(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno else type(exc).__name__


def _probe_socket(family_name: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        import socket
        socket.socket(getattr(socket, family_name), socket.SOCK_STREAM).close()
        return None
    return probe


def _probe_connect() -> str | None:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(("127.0.0.1", 1))  # tcpmux: nothing listens there
        except ConnectionRefusedError:
            return "ECONNREFUSED from a closed port: the loopback network is reachable"
        except TimeoutError:
            return "no answer within 2 s"
    return "connected"


def _probe_path(directory: str) -> str:
    return os.path.join(directory, f".astra-confine-probe-{os.getpid()}-{os.urandom(4).hex()}")


def _probe_create(directory: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        path = _probe_path(directory)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with contextlib.suppress(OSError):
            os.unlink(path)
        return f"created {path}"
    return probe


def _probe_grow_file() -> str | None:
    path = _probe_path(os.curdir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise OSError(exc.errno, "no file could be opened for writing") from exc
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
    return "wrote a byte to a new file"


def _probe_mkdir() -> str | None:
    path = _probe_path(os.curdir)
    os.mkdir(path)
    with contextlib.suppress(OSError):
        os.rmdir(path)
    return None


def _probe_fork() -> str | None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child leaves at once
        os._exit(0)
    os.waitpid(pid, 0)
    return "a child process ran"


def _probe_exec() -> str | None:
    # An argument longer than MAX_ARG_STRLEN (32 pages) makes the kernel fail the exec with
    # E2BIG after opening and checking the program but before it replaces anything, so the
    # probe can never turn the worker into another program.
    too_long = "x" * (resource.getpagesize() * 32 + 1)
    try:
        os.execv(sys.executable, [sys.executable, too_long])
    except OSError as exc:
        if exc.errno != errno.E2BIG:
            raise
    return "the kernel accepted the program and refused only the over-long argument (E2BIG)"


def _probe_signal_parent() -> str | None:
    os.kill(os.getppid(), 0)  # signal 0: only checks that a signal would be delivered
    return None


def _probe_parent_environ() -> str | None:
    with open(f"/proc/{os.getppid()}/environ", "rb") as fh:
        return f"{len(fh.read())} bytes of the parent's environment readable"


def _probe_read_home() -> str | None:
    """Read a file of the user running the host (credentials live in such files)."""
    home = os.path.expanduser("~") if "HOME" in os.environ else "/root"
    for name in (".bashrc", ".profile", ".ssh/known_hosts"):
        path = os.path.join(home, name)
        if os.path.lexists(path):
            with open(path, "rb") as fh:
                return f"{len(fh.read(64))} bytes of {path} readable"
    with open("/etc/hostname", "rb") as fh:
        return f"{len(fh.read(64))} bytes of /etc/hostname readable"


def _probe_raise_limit(res: int) -> Callable[[], str | None]:
    def probe() -> str | None:
        soft, hard = resource.getrlimit(res)
        if hard == resource.RLIM_INFINITY:
            raise _NotApplicable("no limit is set")
        try:
            resource.setrlimit(res, (hard + 1, hard + 1))
        except ValueError as exc:  # how Python reports EPERM (and EINVAL) from setrlimit
            code = errno.EPERM if "not allowed" in str(exc) else errno.EINVAL
            raise OSError(code, str(exc)) from exc
        resource.setrlimit(res, (soft, hard))  # lowering back is always allowed
        return f"hard limit {hard} raised"
    return probe


def _probe_descriptors() -> str | None:
    wanted = 256  # far more than the worker needs, far less than an ordinary process may
    fds: list[int] = []
    try:
        fds.extend(os.pipe())  # no file system involved: only the count is tested
        while len(fds) < wanted:
            fds.append(os.dup(fds[0]))
    finally:
        for fd in fds:
            os.close(fd)
    return f"{wanted} descriptors opened"


#: name -> (what it tries, probe). A probe returns normally when the action went through.
_PROBES: dict[str, tuple[str, Callable[[], str | None]]] = {
    "socket_inet": ("create a TCP socket", _probe_socket("AF_INET")),
    "socket_unix": ("create a UNIX socket", _probe_socket("AF_UNIX")),
    "connect_loopback": ("connect to 127.0.0.1:1", _probe_connect),
    "create_file_cwd": ("create a file in the working directory", _probe_create(os.curdir)),
    "create_file_tmp": ("create a file in /tmp", _probe_create("/tmp")),
    "grow_file": ("write a byte to a new file", _probe_grow_file),
    "make_directory": ("create a directory", _probe_mkdir),
    "fork": ("os.fork()", _probe_fork),
    "exec": ("execve a program", _probe_exec),
    "signal_parent": ("os.kill(parent, 0)", _probe_signal_parent),
    "read_parent_environ": ("read /proc/<parent>/environ", _probe_parent_environ),
    "read_outside": ("read a file outside the readable paths", _probe_read_home),
    "raise_rlimit_as": ("raise RLIMIT_AS back", _probe_raise_limit(resource.RLIMIT_AS)),
    "raise_rlimit_nofile": ("raise RLIMIT_NOFILE back",
                            _probe_raise_limit(resource.RLIMIT_NOFILE)),
    "exhaust_descriptors": ("open 256 descriptors", _probe_descriptors),
}


def _run_probe(probe: Callable[[], str | None]) -> str:
    try:
        detail = probe()
    except _NotApplicable as exc:
        return f"n/a ({exc})"
    except OSError as exc:
        return f"blocked ({_errname(exc)})"
    except Exception as exc:  # e.g. RuntimeError from a refused thread
        return f"blocked ({type(exc).__name__}: {exc})"
    return f"ALLOWED ({detail})" if detail else "ALLOWED"


def _check_cpu_limit() -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    new = int(usage.ru_utime + usage.ru_stime) + 60
    resource.setrlimit(resource.RLIMIT_CPU, (new if hard == resource.RLIM_INFINITY
                                             else min(new, hard), hard))
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _check_lazy_import() -> None:
    import importlib.util
    path = os.path.join(os.path.dirname(os.__file__), "colorsys.py")
    spec = importlib.util.spec_from_file_location("_astra_confine_probe", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)


def _check_pipe() -> None:
    from multiprocessing.connection import Connection
    read_fd, write_fd = os.pipe()
    reader, writer = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    try:
        assert not reader.poll(0.01)
        writer.send({"x": [1, 2.5, "é"]})
        assert reader.poll(1.0) and reader.recv() == {"x": [1, 2.5, "é"]}
    finally:
        reader.close()
        writer.close()


#: What the worker must still be able to do after confinement: name -> (what, check).
_CHECKS: dict[str, tuple[str, Callable[[], None]]] = {
    "cpu_limit_rearm": ("getrusage + setrlimit(RLIMIT_CPU soft)", _check_cpu_limit),
    "lazy_import": ("import a stdlib module from its file", _check_lazy_import),
    "pipe_roundtrip": ("pickle over a pipe Connection with poll(timeout)", _check_pipe),
}


def _proc_status() -> dict[str, str]:
    fields = ("Seccomp", "Seccomp_filters", "NoNewPrivs", "CapEff", "Threads")
    try:
        with open("/proc/self/status") as fh:
            lines = [line.split(":", 1) for line in fh if ":" in line]
    except OSError as exc:
        return {"error": _why(exc)}
    return {key: value.strip() for key, value in lines if key in fields}


def probe_report(layers: Mapping[str, LayerStatus]) -> dict[str, Any]:
    """Check, live and from inside the confined process, what it can still do.

    Reports what the layers claim next to what the kernel actually allows:
    each probe tries one forbidden action in a way that does no harm if it
    succeeds (a closed port, a file in the empty working directory that is
    removed again, signal 0, an exec that the kernel must refuse for its
    argument length) and reads ``blocked (<errno>)`` or ``ALLOWED``. The checks
    are the things the worker needs, which must read ``works``.

    Args:
        layers: What :func:`confine_current_process` returned.

    Returns:
        A JSON-able dict: ``layers``, ``probes``, ``checks``,
        ``environment_keys`` (names only, never values), ``cwd``,
        ``cwd_entries``, ``proc_status``, ``pid``, ``uid``.
    """
    checks = {}
    for name, (_what, check) in _CHECKS.items():
        try:
            check()
            checks[name] = "works"
        except Exception as exc:
            checks[name] = f"BROKEN ({_why(exc)})"
    try:
        entries: list[str] | str = sorted(os.listdir(os.curdir))
    except OSError as exc:
        entries = f"unreadable: {_why(exc)}"
    return {
        "layers": {name: str(status) for name, status in layers.items()},
        "probes": {name: _run_probe(probe) for name, (_what, probe) in _PROBES.items()},
        "checks": checks,
        "environment_keys": sorted(os.environ),
        "cwd": os.getcwd(),
        "cwd_entries": entries,
        "proc_status": _proc_status(),
        "pid": os.getpid(),
        "uid": os.getuid(),
    }


def format_report(report: Mapping[str, Any]) -> str:
    """The report of :func:`probe_report` as a plain-text table (``sandbox doctor``)."""
    described = {name: what for name, (what, _) in {**_PROBES, **_CHECKS}.items()}
    results = {**report.get("probes", {}), **report.get("checks", {})}
    width = min(max((len(r) for r in results.values()), default=0), 40)

    def row(name: str, result: str) -> str:
        what = described.get(name, "")
        if len(result) > width:  # a long explanation: on its own, the action after it
            return f"  {name:<20} {result}  [{what}]"
        return f"  {name:<20} {result:<{width}}  {what}".rstrip()

    lines = [f"Sandbox worker confinement (pid {report.get('pid')}, uid {report.get('uid')})",
             "", "Layers:"]
    lines += [f"  {name:<20} {status}" for name, status in report.get("layers", {}).items()]
    lines += ["", "Probes (each should be blocked):"]
    lines += [row(name, result) for name, result in report.get("probes", {}).items()]
    lines += ["", "Needed by the worker (each should work):"]
    lines += [row(name, result) for name, result in report.get("checks", {}).items()]
    entries = report.get("cwd_entries")
    if entries == []:
        cwd_state = "empty"
    elif isinstance(entries, str):  # the probe could not list it (Landlock: no read access)
        cwd_state = entries
    else:
        cwd_state = f"NOT EMPTY: {entries}"
    status = " ".join(f"{k}={v}" for k, v in report.get("proc_status", {}).items())
    lines += ["", f"Environment variables: {', '.join(report.get('environment_keys', []))}",
              f"Working directory: {report.get('cwd')} ({cwd_state})",
              f"/proc/self/status: {status}"]
    return "\n".join(lines)
