"""Infection: run a parasite blob inside a seized task, talk to it, cure.

The blob, its argument area and its stack live in ONE memfd that both the
task (MAP_SHARED, created there by remote syscalls) and we (through
/proc/PID/fd) map: arguments and results are plain memory on both sides,
never copied word by word through ptrace.  Commands go over a SEQPACKET
unix socket the parasite connects to (file descriptors ride along with
SCM_RIGHTS).  Cure stops the parasite, unmaps it and leaves registers and
signal mask to Task.detach(), which puts the saved ones back.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import mmap
import os
import secrets
import select
import signal
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar, cast

from compel.blob import Blob
from compel.errors import CompelError, ParasiteError, TaskError
from compel.native import memory, ns
from compel.native import ptrace as pt
from compel.native.wait import WNOHANG, WaitStatus, waitpid

if TYPE_CHECKING:
    from compel.task import Task

PAGE = memory.PAGE_SIZE
PARASITE_MAGIC = 0x50524153
PARASITE_VERSION = 1
MAX_FDS = 16
CMD_FINI = 1
CMD_PING = 2
USER_CMD_BASE = 16
ENTRY = "__compel_parasite_entry"
STATUS_PENDING = 1
_MSG = struct.Struct("<IiII")
_CRASH_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE,
                  signal.SIGTRAP, signal.SIGSYS, signal.SIGABRT)
# What Parasite.area_struct() lays over the command area.
_CT = TypeVar("_CT", bound="ctypes.Structure | ctypes.Array[Any]")


class ParasiteHeader(ctypes.Structure):
    """The start of the shared args area (compel/include/compel/parasite.h).

    struct compel_parasite_header {
        uint32_t magic;
        uint32_t version;
        int32_t status;             /* 0, or -errno of socket()/connect() */
        uint32_t addr_len;
        uint16_t sun_family;        /* where to connect: the host's socket */
        char sun_path[108];
        uint16_t pad;
        uint64_t cmd_area_offset;   /* from the start of this header */
        uint64_t cmd_area_size;
    };
    """

    _fields_ = [("magic", ctypes.c_uint32), ("version", ctypes.c_uint32),
                ("status", ctypes.c_int32), ("addr_len", ctypes.c_uint32),
                ("sun_family", ctypes.c_uint16),
                ("sun_path", ctypes.c_char * 108), ("pad", ctypes.c_uint16),
                ("cmd_area_offset", ctypes.c_uint64),
                ("cmd_area_size", ctypes.c_uint64)]


assert ctypes.sizeof(ParasiteHeader) == 144


def _socket_in_netns_of(pid: int) -> socket.socket:
    """A SEQPACKET unix socket in the task's network namespace: abstract
    addresses are per namespace, and the parasite connects from there."""
    if ns.same_namespace(pid, "net"):
        return socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    made: list[socket.socket | BaseException] = []

    def in_their_netns() -> None:
        # setns moves only this short-lived thread; the socket keeps the
        # namespace it was created in.
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                ns.setns(fd, ns.CLONE_NEWNET)
            finally:
                os.close(fd)
            made.append(socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET))
        except BaseException as e:  # handed to the caller's thread
            made.append(e)

    worker = threading.Thread(target=in_their_netns, name="compel-netns")
    worker.start()
    worker.join()
    if isinstance(made[0], BaseException):
        raise ParasiteError(f"task {pid}: cannot make the control socket in "
                            f"its network namespace: {made[0]}")
    return made[0]


def _page_up(n: int) -> int:
    return (n + PAGE - 1) & ~(PAGE - 1)


class Parasite:
    """A running parasite in a seized task.  Use Task.infect() to start one;
    `with` cures it at the end (Task.detach() also does)."""

    def __init__(self, task: Task, blob: Blob) -> None:
        self.task = task
        self.blob = blob
        self.remote_base = 0
        self.length = 0
        self.args_offset = 0
        self.cmd_area_size = 0
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._running = False
        self._cured = False

    # ---- start -----------------------------------------------------------

    @classmethod
    def start(cls, task: Task, blob: Blob | str | os.PathLike,
              cmd_area_size: int = 1 << 20, stack_size: int = 64 << 10,
              name: str = "compel-parasite") -> "Parasite":
        if not isinstance(blob, Blob):
            blob = Blob.load(blob)
        blob.symbol(ENTRY)  # BlobError if not a parasite blob
        parasite = cls(task, blob)
        try:
            parasite._map_into_task(cmd_area_size, stack_size, name)
            parasite._run()
        except BaseException:
            parasite.cure()
            raise
        return parasite

    def _map_into_task(self, cmd_area_size: int, stack_size: int,
                       name: str) -> None:
        task = self.task
        image = _page_up(self.blob.size)
        self.args_offset = image
        self.cmd_area_size = _page_up(cmd_area_size)
        stack_offset = image + PAGE + self.cmd_area_size
        self.length = stack_offset + _page_up(stack_size)

        scratch = task.remote_mmap(0, PAGE, memory.PROT_READ | memory.PROT_WRITE,
                                   memory.MAP_PRIVATE | memory.MAP_ANONYMOUS)
        try:
            task.write_memory(scratch, name.encode()[:200] + b"\0")
            remote_fd = task.remote_syscall_checked("memfd_create", scratch, 0)
        finally:
            task.remote_munmap(scratch, PAGE)
        try:
            self._fd = os.open(f"/proc/{task.pid}/task/{task.main_tid}/fd/"
                               f"{remote_fd}", os.O_RDWR)
            os.ftruncate(self._fd, self.length)
            self.remote_base = task.remote_mmap(
                0, self.length,
                memory.PROT_READ | memory.PROT_WRITE | memory.PROT_EXEC,
                memory.MAP_SHARED, remote_fd, 0)
        finally:
            task.remote_syscall("close", remote_fd)
        self._map = mmap.mmap(self._fd, self.length, mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE)
        image_bytes = self.blob.relocated(self.remote_base)
        self._map[:len(image_bytes)] = image_bytes
        self.stack_top = self.remote_base + self.length

    def _run(self) -> None:
        task = self.task
        self._listener = _socket_in_netns_of(task.main_tid)
        address = f"\0compel-{os.getpid()}-{task.pid}-{secrets.token_hex(6)}"
        self._listener.bind(address)
        self._listener.listen(1)
        raw = address.encode()

        hdr = self.header
        hdr.magic = PARASITE_MAGIC
        hdr.version = PARASITE_VERSION
        hdr.status = STATUS_PENDING
        hdr.sun_family = socket.AF_UNIX
        # Abstract address: the leading NUL is part of it; addr_len ends it.
        ctypes.memmove(ctypes.addressof(hdr) + ParasiteHeader.sun_path.offset,
                       raw, len(raw))
        hdr.addr_len = 2 + len(raw)
        hdr.cmd_area_offset = PAGE
        hdr.cmd_area_size = self.cmd_area_size
        del hdr

        regs = task.saved_regs()
        regs.set_call(self.remote_base + self.blob.symbol(ENTRY),
                      self.stack_top, self.remote_base + self.args_offset)
        pt.set_sigmask(task.main_tid, 0xFFFFFFFFFFFFFFFF)
        task.set_regs(regs)
        pt.cont(task.main_tid)
        self._running = True
        while True:
            if self._wait_readable(self._listener, 0.05):
                self._conn, _ = self._listener.accept()
                break
            status = self.header.status
            if status not in (STATUS_PENDING, 0):
                raise ParasiteError(f"task {task.pid}: parasite cannot connect "
                                    f"to the host: {os.strerror(-status)}")
        self._listener.close()
        self._listener = None

    # ---- shared memory ---------------------------------------------------

    @property
    def header(self) -> ParasiteHeader:
        assert self._map is not None
        return ParasiteHeader.from_buffer(self._map, self.args_offset)

    @property
    def area(self) -> memoryview:
        """The command area: arguments in, results out (shared memory)."""
        assert self._map is not None
        start = self.args_offset + PAGE
        return memoryview(self._map)[start:start + self.cmd_area_size]

    @property
    def area_address(self) -> int:
        """Where the command area is in the task."""
        return self.remote_base + self.args_offset + PAGE

    def area_struct(self, ctype: type[_CT], offset: int = 0) -> _CT:
        """A ctypes view of the command area (no copy; valid until the next
        call())."""
        assert self._map is not None
        # from_buffer() returns the class it is called on; the stubs, given
        # a type variable bound by a union, only know it is one of them.
        return cast(_CT, ctype.from_buffer(self._map,
                                           self.args_offset + PAGE + offset))

    # ---- commands --------------------------------------------------------

    def call(self, cmd: int, args: bytes = b"",
             fds: list[int] | tuple[int, ...] = ()) -> tuple[int, list[int]]:
        """Run command `cmd` in the parasite: `args` are copied to the start
        of the command area, `fds` sent along.  Returns the command's return
        value and the fds it sent back (ours to close).  Results the command
        wrote are in self.area."""
        if not self._running or self._conn is None:
            raise ParasiteError(f"task {self.task.pid}: parasite not running")
        if len(args) > self.cmd_area_size:
            raise ParasiteError("arguments larger than the command area")
        if len(fds) > MAX_FDS:
            raise ParasiteError(f"at most {MAX_FDS} fds per command")
        if args:
            self.area[:len(args)] = args
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                array.array("i", fds).tobytes())] if fds else []
        try:
            self._conn.sendmsg([_MSG.pack(cmd, 0, len(fds), 0)], anc)
            self._wait_reply()
            data, ancdata, _, _ = self._conn.recvmsg(
                _MSG.size, socket.CMSG_SPACE(MAX_FDS * 4),
                socket.MSG_CMSG_CLOEXEC)
        except OSError as e:
            self._running = self._running and not self.task._gone()
            raise ParasiteError(f"task {self.task.pid}: control socket: "
                                f"{e.strerror or e}") from None
        if len(data) != _MSG.size:
            raise ParasiteError(f"task {self.task.pid}: parasite sent a "
                                "malformed reply")
        got_cmd, ret, _, _ = _MSG.unpack(data)
        out: list[int] = []
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                out += array.array("i", payload[:len(payload) - len(payload) % 4])
        if got_cmd != cmd:
            raise ParasiteError(f"task {self.task.pid}: reply to command "
                                f"{got_cmd}, expected {cmd}")
        return ret, out

    def call_checked(self, cmd: int, args: bytes = b"",
                     fds: list[int] | tuple[int, ...] = ()) -> tuple[int, list[int]]:
        """call() that raises ParasiteError on a negative return value."""
        ret, out = self.call(cmd, args, fds)
        if ret < 0:
            for fd in out:
                os.close(fd)
            raise ParasiteError(f"task {self.task.pid}: parasite command {cmd}"
                                f" failed: {os.strerror(-ret)}")
        return ret, out

    def ping(self) -> None:
        self.call_checked(CMD_PING)

    def _wait_hangup(self, limit: float = 5.0) -> None:
        """After FINI: until the parasite has closed its end of the control
        socket (end of file here).  Stopped before that, the task would
        keep the socket as an fd of its own."""
        assert self._conn is not None
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self._wait_readable(self._conn, 0.05) and \
                    not self._conn.recv(1):
                return

    def _wait_reply(self) -> None:
        assert self._conn is not None
        while not self._wait_readable(self._conn, 0.05):
            pass

    def _wait_readable(self, sock: socket.socket, timeout: float) -> bool:
        """Wait for `sock`, watching the task: a stop means the parasite
        crashed (or got SIGSTOP, which we keep for later and go on)."""
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLHUP)
        if poller.poll(int(timeout * 1000)):
            return True
        st = waitpid(self.task.main_tid, WNOHANG)
        if st is None:
            return False
        self._handle_stop(st)
        return False

    def _handle_stop(self, st: WaitStatus) -> None:
        pid = self.task.pid
        if st.exited:
            self._running = False
            self.task.dead = True
            raise TaskError(f"task {pid}: {st.describe()} while the parasite ran")
        if st.is_event_stop or (st.is_signal_delivery and
                                st.stop_signal not in _CRASH_SIGNALS):
            if st.is_signal_delivery:
                self.task._intercepted.append((self.task.main_tid,
                                               st.stop_signal))
            pt.cont(self.task.main_tid)
            return
        self._running = False
        raise ParasiteError(f"task {pid}: parasite {st.describe()} at "
                            f"{self.task.get_regs().ip:#x}")

    @property
    def running(self) -> bool:
        return self._running

    @contextlib.contextmanager
    def suspended(self):
        """Stop the parasite's thread for a while (to run remote syscalls in
        the task), then let the parasite go on where it was."""
        tid = self.task.main_tid
        pt.interrupt(tid)
        while True:
            st = waitpid(tid)
            assert st is not None
            if st.is_event_stop:
                break
            self._handle_stop(st)
        regs = self.task.get_regs()
        try:
            yield
        finally:
            # From the syscall-exit stop we leave, the kernel won't restart
            # the parasite's interrupted recvmsg: do what it would do.
            self.task.set_regs(regs.restarted())
            pt.set_sigmask(tid, 0xFFFFFFFFFFFFFFFF)
            pt.cont(tid)

    # ---- cure ------------------------------------------------------------

    def _stop_parasite(self) -> None:
        """Bring the thread back into a ptrace stop, out of the parasite."""
        pid = self.task.pid
        if self._running:
            if self._conn is not None:
                try:
                    self.call(CMD_FINI)
                    self._wait_hangup()
                except (OSError, ParasiteError):
                    pass
            if self._running:
                pt.interrupt(self.task.main_tid)
                while True:
                    st = waitpid(self.task.main_tid)
                    assert st is not None
                    if st.exited:
                        self.task.dead = True
                        raise TaskError(f"task {pid}: {st.describe()} while "
                                        "the parasite ran")
                    if st.is_event_stop or st.stopped:
                        break
            self._running = False

    def cure(self) -> None:
        """Stop the parasite and unmap it.  Registers and the signal mask go
        back when the task is detached (Task.detach)."""
        if self._cured:
            return
        self._cured = True
        errors = []
        try:
            self._stop_parasite()
        except (OSError, CompelError) as e:
            errors.append(str(e))
        for sock in (self._conn, self._listener):
            if sock is not None:
                sock.close()
        self._conn = self._listener = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:
                pass  # a view of the area is still held: unmapped when freed
            self._map = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self.remote_base and not self.task.dead:
            try:
                self.task.remote_munmap(self.remote_base, self.length)
            except (OSError, CompelError) as e:
                errors.append(f"unmapping the parasite: {e}")
            self.remote_base = 0
        if self in self.task._parasites:
            self.task._parasites.remove(self)
        if errors and not self.task._gone():
            raise ParasiteError(f"task {self.task.pid}: cure: " + "; ".join(errors))

    def __enter__(self) -> "Parasite":
        return self

    def __exit__(self, *exc: object) -> None:
        self.cure()
