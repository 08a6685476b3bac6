"""Unix sockets (AF_UNIX stream, dgram, seqpacket): a unix_sk_entry in
files.img (file_entry.usk), and the messages queued to each socket in
sk-queues.img (an sk_packet_entry per message, its bytes after it), as
CRIU writes them.

Dump.  sock_diag (unix_diag.py) gives each socket's type, state, peer,
name, listen queue and shutdown state; criu's own fd of the task's socket
(pidfd_getfd) gives the options and a look at the queued messages
(unix_opts.py).  A socket's peer must be a socket of the dumped tree; a
client still waiting in a listen queue gets the listening socket as its
peer (CRIU's convention: it connects there again at restore).

Restore.  Sockets that refer to each other (peers, a listening socket and
the connections it accepted) form one group, named by shared_key(): a
group is made all at once, in one process, by the first of its sockets
opened there; the other sockets of the group take their fd from that.
When a group's sockets are held by several tasks, files.collect() opens
them all in criu, before the tree is forked.  Making a group:

  1. sockets: a socketpair for two peers connected to each other
     (stream, seqpacket or dgram), a socket otherwise.  A dgram socket
     with queued messages is first filled from a throw-away socket of a
     pair, disconnected from it (connect AF_UNSPEC), so that it can later
     connect anywhere with its queue in place.  A stream socket whose
     peer was closed (shut down both ways) is filled by the other end of a
     pair, then that end is closed: the reader gets the data, then EOF.
  2. names: bind (a stale socket file left at a path name is unlinked
     first; mode and owner set again), listen with the backlog.  A name
     unlinked since it was bound is bound, connected to and unlinked
     again first, on its own.
  3. connections a listening socket accepted: the client connects to the
     listening socket's name and the listening socket accepts, so both
     ends keep their names as the kernel gave them (CRIU makes these a
     socketpair and loses the names).
  4. dgram sockets connect to their peer's name; then the clients still
     waiting in a listen queue connect (in inode order).
  5. queues: each peer sends the other's queued messages again.
  6. options, shutdown.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import socket
import stat
from typing import Any, Hashable, Iterator, Optional

from compel.native import pidfd as npidfd
from criu.dump import proc
from criu.errors import DumpError, RestoreError
from criu.resources import files
from criu.resources.base import DumpContext, DumpTask, RestoreContext, RestoreTask
from criu.resources.fdtypes import unix_diag, unix_opts
from criu.resources.fdtypes.unix_diag import (RCV_SHUTDOWN, TCP_CLOSE,
                                              TCP_ESTABLISHED, TCP_LISTEN,
                                              UnixSock)

FD_TYPE = 5                         # fd_types.UNIXSK

QUEUES_IMG = "sk-queues.img"
QUEUES_MAGIC = "SK_QUEUES"

STREAM, DGRAM, SEQPACKET = (int(socket.SOCK_STREAM), int(socket.SOCK_DGRAM),
                            int(socket.SOCK_SEQPACKET))
TYPES: dict[int, str] = {STREAM: "stream", DGRAM: "dgram",
                         SEQPACKET: "seqpacket"}
STATES = (TCP_ESTABLISHED, TCP_CLOSE, TCP_LISTEN)
SHUT_BOTH = 3                       # sk_shutdown.BOTH

# ioctl on a unix socket: an O_PATH fd of the file its path name made.
SIOCUNIXFILE = 0x89E0

_DUMP_KEY = "fdtypes.unix.dump"
_RESTORE_KEY = "fdtypes.unix.restore"


def match(info: proc.FdInfo) -> bool:
    """AF_UNIX sockets only (sock_diag knows their inode); sockets of other
    families stay refused by files.kind_of()."""
    return stat.S_ISSOCK(info.st.st_mode) and \
        unix_diag.is_unix(info.st.st_ino)


# ---------------------------------------------------------------- dump side
@dataclasses.dataclass
class _DumpState:
    """Read once per dump, when the first socket is dumped (the tree is
    frozen by then)."""

    diag: dict[int, UnixSock]
    held: dict[int, tuple[int, int]]    # socket inode -> (pid, fd) in tree
    listener_of: dict[int, int]         # waiting client -> listening socket
    packets: list[tuple[Any, bytes]] = dataclasses.field(
        default_factory=list)


def _dump_state(ctx: DumpContext) -> _DumpState:
    st = ctx.registry.get(_DUMP_KEY)
    if st is not None:
        return st
    try:
        diag = unix_diag.sockets()
    except OSError as e:
        raise DumpError(f"cannot list unix sockets (sock_diag): "
                        f"{e.strerror}") from e
    listener_of = {icon: sk.ino for sk in diag.values()
                   if sk.state == TCP_LISTEN for icon in sk.icons if icon}
    st = ctx.registry[_DUMP_KEY] = _DumpState(diag, _tree_sockets(ctx),
                                              listener_of)
    return st


def _tree_sockets(ctx: DumpContext) -> dict[int, tuple[int, int]]:
    """Every socket held by an fd of the dumped tree: a peer outside it
    cannot come back with the tree."""
    held: dict[int, tuple[int, int]] = {}
    for task in ctx.tasks:
        if task.zombie:
            continue
        for fd in proc.fds(task.pid):
            try:
                target = os.readlink(f"/proc/{task.pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                held.setdefault(int(target[8:-1]), (task.pid, fd))
    return held


def dump(ctx: DumpContext, task: DumpTask, info: proc.FdInfo) -> int:
    from images.pb import sk_packet_pb2, sk_unix_pb2
    st = _dump_state(ctx)
    where = f"{files.where(task.pid, info.fd)}: {info.target}"
    sk = st.diag.get(info.st.st_ino)
    if sk is None:
        raise DumpError(f"{where}: sock_diag does not list this unix socket")
    if sk.type not in TYPES:
        raise DumpError(f"{where}: unix socket of type {sk.type} is not "
                        "supported (only stream, dgram and seqpacket)")
    if sk.state not in STATES:
        raise DumpError(f"{where}: unix socket in state {sk.state} is not "
                        "supported")
    entry = sk_unix_pb2.unix_sk_entry(
        id=files.new_id(ctx), ino=sk.ino, type=sk.type, state=sk.state,
        flags=files.file_flags(info), uflags=0,
        backlog=sk.wqueue if sk.state == TCP_LISTEN else 0,
        peer=_peer(st, sk, where), fown=files.fown(), name=sk.name)
    if sk.shutdown:
        entry.shutdown = sk.shutdown
    with socket.socket(fileno=_own_copy(task.pid, info.fd, where)) as own:
        try:
            entry.opts.CopyFrom(unix_opts.dump_opts(own))
        except unix_opts.FilterAttached:
            raise DumpError(f"{where}: a BPF socket filter is attached: "
                            "not supported yet") from None
        except OSError as e:
            raise DumpError(f"{where}: cannot read its options: "
                            f"{e.strerror}") from e
        if sk.path_name:
            _dump_file(entry, own, task.pid, where)
        msgs = _peek(sk, own, where)
    for msg in msgs:
        st.packets.append((sk_packet_pb2.sk_packet_entry(
            id_for=entry.id, length=len(msg)), msg))
    ctx.log.info("%s: unix %s socket, state %d, peer %d, name %r, %d "
                 "queued messages (%d bytes)", where, TYPES[sk.type],
                 sk.state, entry.peer, sk.name, len(msgs),
                 sum(map(len, msgs)))
    return files.add_file(ctx, FD_TYPE, usk=entry)


def _peer(st: _DumpState, sk: UnixSock, where: str) -> int:
    """The peer inode to image, after checking the peer comes back with
    the tree: for a client waiting in a listen queue, the listening
    socket."""
    def outside(ino: int, what: str) -> DumpError:
        return DumpError(f"{where}: {what} socket:[{ino}] is outside the "
                         "dumped tree (external unix sockets, "
                         "--ext-unix-sk, are not supported)")

    if sk.state == TCP_LISTEN:
        for icon in sk.icons:
            if icon == 0:
                raise DumpError(f"{where}: a connection waiting in its "
                                "listen queue was closed by its client: "
                                "not supported")
            if icon not in st.held:
                raise outside(icon, "a connection waiting in its listen "
                              "queue comes from")
        return 0
    if sk.peer:
        if sk.peer not in st.held:
            raise outside(sk.peer, "its peer")
        peer = st.diag.get(sk.peer)
        if peer is not None and sk.type == DGRAM and \
                peer.peer != sk.ino and not peer.name:
            # Connected to an unnamed socket that is not connected back:
            # only a socketpair made that, and it can be made again only
            # if that socket's own peer (if any) can be found by name.
            other = st.diag.get(peer.peer) if peer.peer else None
            if peer.peer and (other is None or not other.name):
                raise DumpError(f"{where}: connected to unnamed socket:"
                                f"[{sk.peer}], itself connected to another "
                                "unnamed socket: cannot be made again")
        return sk.peer
    if sk.state == TCP_ESTABLISHED and sk.type != DGRAM:
        listener = st.listener_of.get(sk.ino)
        if listener is not None:
            if listener not in st.held:
                raise outside(listener, "the listening")
            if sk.wqueue:
                raise DumpError(f"{where}: data sent on a connection that "
                                f"socket:[{listener}] has not accepted yet: "
                                "not supported")
            return listener
        if sk.shutdown != SHUT_BOTH:
            raise DumpError(f"{where}: connected to a socket that no "
                            "longer exists, yet not shut down")
    return 0


def _own_copy(pid: int, fd: int, where: str) -> int:
    """criu's own fd of the task's socket."""
    try:
        return npidfd.fd_of(pid, fd)
    except OSError as e:
        raise DumpError(f"{where}: cannot get the socket: {e.strerror}") \
            from e


def _dump_file(entry: Any, own: socket.socket, pid: int, where: str) -> None:
    """The socket file a path name made: its mode and owner, whether it
    was unlinked since, and for a relative name the directory it is in."""
    from images.pb import sk_unix_pb2
    try:
        pfd = fcntl.ioctl(own.fileno(), SIOCUNIXFILE)
    except OSError as e:
        raise DumpError(f"{where}: cannot open its socket file: "
                        f"{e.strerror}") from e
    try:
        fst = os.fstat(pfd)
        link = os.readlink(f"/proc/self/fd/{pfd}")
    finally:
        os.close(pfd)
    entry.file_perms.CopyFrom(sk_unix_pb2.file_perms_entry(
        mode=fst.st_mode, uid=fst.st_uid, gid=fst.st_gid))
    if fst.st_nlink == 0:
        entry.deleted = True
    name = os.fsdecode(_path_of(entry.name))
    if not name.startswith("/"):
        entry.name_dir = _name_dir(name, link, pid)


def _name_dir(name: str, link: str, pid: int) -> str:
    """The directory a relative name was bound in: the socket file's path
    (from the kernel) without the name; else the task's cwd."""
    path = link.removesuffix(" (deleted)")
    rel = os.path.normpath(name)
    if not rel.startswith("../") and path.endswith("/" + rel):
        return path[:len(path) - len(rel)].rstrip("/") or "/"
    return proc.link(pid, "cwd")


def _peek(sk: UnixSock, own: socket.socket, where: str) -> list[bytes]:
    """The messages queued to the socket (none for a listening one, whose
    queue holds connections, or an unconnected stream)."""
    if sk.state == TCP_LISTEN or (sk.type != DGRAM and
                                  sk.state != TCP_ESTABLISHED):
        return []
    try:
        return unix_opts.peek_queue(own, sk.type, sk.rqueue,
                                    bool(sk.shutdown & RCV_SHUTDOWN))
    except unix_opts.FdsInFlight:
        raise DumpError(f"{where}: a queued message carries file "
                        "descriptors (SCM_RIGHTS): not supported yet") \
            from None
    except OSError as e:
        raise DumpError(f"{where}: cannot read its queue: {e.strerror}") \
            from e


def dump_finish(ctx: DumpContext) -> None:
    """sk-queues.img: every queued message, socket by socket."""
    st = ctx.registry.get(_DUMP_KEY)
    if st is not None and st.packets:
        ctx.images.write(QUEUES_IMG, st.packets, magic=QUEUES_MAGIC)


# ------------------------------------------------------------- restore side
@dataclasses.dataclass
class _RestoreState:
    socks: dict[int, Any]               # inode -> unix_sk_entry
    queues: dict[int, list[bytes]]      # file id -> queued messages
    group: dict[int, int]               # inode -> its group (least inode)
    accepted: dict[int, int]            # accepted socket -> listening one


# shared_key() has no restore context: the groups of the restore in
# progress, set by collect() (criu restores one image set per process).
_groups: dict[int, int] = {}


def collect(ctx: RestoreContext) -> None:
    """The unix sockets of files.img, their queues, and their groups."""
    global _groups
    socks = {e.usk.ino: e.usk for e in ctx.images.read("files.img")
             if e.type == FD_TYPE}
    queues: dict[int, list[bytes]] = {}
    if socks and ctx.images.exists(QUEUES_IMG):
        for e in ctx.images.entries(QUEUES_IMG, QUEUES_MAGIC):
            if e.msg.scm:
                raise RestoreError(f"{QUEUES_IMG}: a message for file "
                                   f"{e.msg.id_for} carries file "
                                   "descriptors: not supported yet")
            queues.setdefault(e.msg.id_for, []).append(bytes(e.extra or b""))
    accepted = accepted_connections(socks)
    groups = group_sockets(socks, accepted)
    ctx.registry[_RESTORE_KEY] = _RestoreState(socks, queues, groups,
                                               accepted)
    _groups = groups


def accepted_connections(socks: dict[int, Any]) -> dict[int, int]:
    """Connected stream/seqpacket sockets named like a listening socket of
    the images (an accepted socket has its listener's name), with the
    listening socket: they are made again by connect() and accept()."""
    listeners = {(s.type, bytes(s.name), s.deleted): s.ino
                 for s in socks.values()
                 if s.state == TCP_LISTEN and s.name}
    out: dict[int, int] = {}
    for s in sorted(socks.values(), key=lambda s: s.ino):
        peer = socks.get(s.peer)
        if s.type == DGRAM or s.state != TCP_ESTABLISHED or \
                peer is None or peer.peer != s.ino or peer.ino in out:
            continue
        listener = listeners.get((s.type, bytes(s.name), s.deleted))
        if listener is not None:
            out[s.ino] = listener
    return out


def group_sockets(socks: dict[int, Any],
                  accepted: dict[int, int]) -> dict[int, int]:
    """Sockets that must be made together: linked by a peer, or by a
    listening socket and the connections it accepted (union-find); each
    group named by its least inode."""
    parent = {ino: ino for ino in socks}

    def root(ino: int) -> int:
        while parent[ino] != ino:
            parent[ino] = parent[parent[ino]]
            ino = parent[ino]
        return ino

    def union(a: int, b: int) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for s in socks.values():
        if s.peer in socks:
            union(s.ino, s.peer)
    for a, listener in accepted.items():
        union(a, listener)
    return {ino: root(ino) for ino in socks}


def shared_key(entry: Any) -> Optional[Hashable]:
    """The group of sockets this one is made with."""
    group = _groups.get(entry.usk.ino)
    return None if group is None else ("unix", group)


def inherit_key(entry: Any) -> str:
    return f"socket:[{entry.usk.ino}]"


def open(ctx: RestoreContext, task: RestoreTask, entry: Any, fd: int,
         opening: files.Opening) -> int:
    """The socket of `entry`; its whole group is made on the first call
    (opening.made[(UNIXSK, group)]: inode -> fd above the base)."""
    rs: _RestoreState = ctx.registry[_RESTORE_KEY]
    usk = entry.usk
    where = f"{files.where(task.pid, fd)}: socket:[{usk.ino}]"
    if usk.uflags:
        raise RestoreError(f"{where}: external or criu-service unix socket "
                           f"(uflags {usk.uflags:#x}): not supported")
    key = (FD_TYPE, rs.group[usk.ino])
    if key not in opening.made:
        made = _Group(ctx, rs, rs.group[usk.ino], where).make()
        made = {ino: files.above(sk, opening.base) for ino, sk in made.items()}
        opening.made[key] = made
        opening.on_close(lambda: _close_all(made))
    new = fcntl.fcntl(opening.made[key][usk.ino], fcntl.F_DUPFD_CLOEXEC,
                      opening.base)
    fcntl.fcntl(new, fcntl.F_SETFL, usk.flags & ~files.OPEN_ONLY_FLAGS)
    return new


def _close_all(made: dict[int, int]) -> None:
    for fd in made.values():
        try:
            os.close(fd)
        except OSError:
            pass


def _path_of(name: bytes) -> bytes:
    """A path name without the NUL the kernel keeps after it."""
    return bytes(name).split(b"\0", 1)[0]


def _is_path(usk: Any) -> bool:
    return bool(usk.name) and usk.name[0] != 0


def _address(usk: Any) -> bytes:
    """What bind() and connect() take: the path, or the abstract name with
    every byte (its NULs included)."""
    return _path_of(usk.name) if _is_path(usk) else bytes(usk.name)


def _full_path(usk: Any) -> bytes:
    path = _path_of(usk.name)
    if path.startswith(b"/") or not usk.name_dir:
        return path
    return os.path.join(os.fsencode(usk.name_dir), path)


@contextlib.contextmanager
def _in_name_dir(usk: Any) -> Iterator[None]:
    """In the directory a relative name was bound in: a full path might not
    fit in sun_path (108 bytes).  criu's (or the task's) cwd is put back."""
    if not _is_path(usk) or usk.name.startswith(b"/") or not usk.name_dir:
        yield
        return
    cwd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.chdir(usk.name_dir)
        yield
    finally:
        os.fchdir(cwd)
        os.close(cwd)


class _Group:
    """Makes every socket of one group (see the module docstring)."""

    def __init__(self, ctx: RestoreContext, rs: _RestoreState, group: int,
                 where: str) -> None:
        self.ctx, self.rs, self.where = ctx, rs, where
        self.members = sorted(i for i, g in rs.group.items() if g == group)
        self.e = {ino: rs.socks[ino] for ino in self.members}
        self.sk: dict[int, socket.socket] = {}
        self.filled: set[int] = set()       # queue already in place
        self.connected: set[int] = set()    # peer already set
        self.bound: list[tuple[int, bytes]] = []    # paths made
        self.moved: list[tuple[bytes, bytes]] = []  # (aside, path)
        self.step = ""

    def make(self) -> dict[int, int]:
        """inode -> fd of every socket of the group (the caller owns them)."""
        try:
            self._run()
        except OSError as e:
            self._abort()
            raise RestoreError(f"{self.where}: {self.step}: "
                               f"{e.strerror or e}") from e
        except BaseException:
            self._abort()
            raise
        return {ino: s.detach() for ino, s in self.sk.items()}

    def _run(self) -> None:
        for ino in self.members:
            self._create(ino)
        # A name unlinked since it was bound: bound again (whatever is at
        # that path now set aside), every connection to it made, unlinked
        # again, the path given back; one at a time, before the other
        # names, so that no connection meant for a live socket of the
        # same path lands on it.
        deleted = [ino for ino in self.members if ino in self.sk and
                   _is_path(self.e[ino]) and self.e[ino].deleted]
        for ino in deleted:
            self._bind(ino)
            self._connect_into({ino})
            for bound_ino, path in self.bound:
                if bound_ino == ino:
                    self.step = f"socket:[{ino}]: unlink {path!r}"
                    os.unlink(path)
            while self.moved:
                os.rename(*self.moved.pop())
        for ino in self.members:
            if ino in self.sk and ino not in deleted:
                self._bind(ino)
        self._connect_into(set(self.members) - set(deleted))
        for ino in self.members:
            self._refill(ino)
        for ino in self.members:
            e = self.e[ino]
            self.step = f"socket:[{ino}]: options"
            unix_opts.restore_opts(self.sk[ino], e.opts)
            if e.HasField("shutdown") and e.shutdown:
                self.step = f"socket:[{ino}]: shutdown"
                self.sk[ino].shutdown(e.shutdown - 1)   # READ=1 -> SHUT_RD

    def _connect_into(self, targets: set[int]) -> None:
        """The connections to the sockets `targets`, bound by now: those a
        listening socket accepted, then dgram sockets connecting to their
        peer, then the clients waiting in a listen queue (inode order)."""
        for ino, listener in sorted(self.rs.accepted.items()):
            if ino in self.e and listener in targets:
                self._accept(ino, listener)
        # A dgram socket accepts a connection only while it has no peer of
        # its own, or that peer is the one connecting: each connects out
        # once every socket connecting to it did.
        pending = [ino for ino in self.members
                   if self.e[ino].type == DGRAM and
                   self.e[ino].peer in targets and ino not in self.connected]
        while pending:
            ready = [ino for ino in pending
                     if not any(self.e[o].peer == ino for o in pending)]
            for ino in ready or pending[:1]:
                self._connect(ino, self.e[ino].peer)
                pending.remove(ino)
        for ino in self.members:
            e = self.e[ino]
            peer = self.e.get(e.peer)
            if e.type != DGRAM and e.peer in targets and \
                    peer is not None and peer.state == TCP_LISTEN and \
                    e.state == TCP_ESTABLISHED:
                self._connect(ino, e.peer)

    # -- 1. sockets
    def _new(self, ino: int, sk: socket.socket) -> socket.socket:
        if ino in self.sk:
            raise RestoreError(f"{self.where}: socket:[{ino}] would be made "
                               "twice: its connections cannot be made again")
        sk.setblocking(False)
        self.sk[ino] = sk
        return sk

    def _pair(self, a: int, b: int, sk_type: int) -> tuple[socket.socket,
                                                            socket.socket]:
        self.step = f"socket:[{a}]: socketpair"
        x, y = socket.socketpair(socket.AF_UNIX, sk_type)
        return self._new(a, x), self._new(b, y)

    def _create(self, ino: int) -> None:
        if ino in self.sk or ino in self.rs.accepted:
            return                  # made with its peer, or by accept()
        e = self.e[ino]
        peer = self.e.get(e.peer) if e.peer else None
        if e.peer and peer is None:
            raise RestoreError(f"{self.where}: socket:[{ino}]: its peer "
                               f"socket:[{e.peer}] is not in the images")
        mutual = peer is not None and peer.peer == ino
        client = any(self.e[a].peer == ino for a in self.rs.accepted
                     if a in self.e)
        if e.type != DGRAM and e.state == TCP_ESTABLISHED:
            if peer is None:
                self._filled_alone(ino, e)  # its peer closed: EOF after data
            elif mutual and not client:
                self._pair(ino, peer.ino, e.type)
                self.connected.update((ino, peer.ino))
            elif client or peer.state == TCP_LISTEN:
                self.step = f"socket:[{ino}]: socket"   # connects later
                self._new(ino, socket.socket(socket.AF_UNIX, e.type))
            else:
                raise RestoreError(f"{self.where}: socket:[{ino}]: its peer "
                                   f"socket:[{peer.ino}] is connected "
                                   "elsewhere: cannot be connected again")
        elif e.type == DGRAM and peer is not None and mutual:
            self._pair(ino, peer.ino, e.type)
            self.connected.update((ino, peer.ino))
        elif e.type == DGRAM and peer is not None and not peer.name:
            self._one_way(ino, peer)
        elif e.type == DGRAM and self._queue(ino):
            self._filled_alone(ino, e)
        else:
            self.step = f"socket:[{ino}]: socket"
            self._new(ino, socket.socket(socket.AF_UNIX, e.type))

    def _queue(self, ino: int) -> list[bytes]:
        return self.rs.queues.get(self.e[ino].id, [])

    def _filled_alone(self, ino: int, e: Any) -> None:
        """A socket whose queue is filled by a socket of a pair that goes
        away: a dgram one is disconnected from it first (any socket may
        then send to it, and it may connect elsewhere with its queue in
        place); a stream one keeps it as its closed peer."""
        self.step = f"socket:[{ino}]: socketpair"
        x, helper = socket.socketpair(socket.AF_UNIX, e.type)
        with helper:
            self._new(ino, x)
            if e.type == DGRAM:
                self.step = f"socket:[{ino}]: disconnect"
                unix_opts.disconnect(x)
            self._send(helper, ino)

    def _one_way(self, ino: int, peer: Any) -> None:
        """A dgram socket connected to an unnamed socket that is not
        connected back: a socketpair whose second end disconnects.  Its
        queue is sent before, the other's after."""
        x, z = self._pair(ino, peer.ino, DGRAM)
        self.connected.add(ino)
        self._send(z, ino)
        self.step = f"socket:[{peer.ino}]: disconnect"
        unix_opts.disconnect(z)
        self._send(x, peer.ino)

    # -- 2. names
    def _bind(self, ino: int) -> None:
        e, sk = self.e[ino], self.sk[ino]
        if not e.name or (e.type != DGRAM and e.state == TCP_ESTABLISHED):
            # A connected stream socket has a name only as one accepted
            # from a listening socket: accept() gives it.
            return
        self.step = f"socket:[{ino}]: bind {bytes(e.name)!r}"
        if not _is_path(e):
            sk.bind(_address(e))
        else:
            self._bind_path(ino, e, sk)
        if e.state == TCP_LISTEN:
            self.step = f"socket:[{ino}]: listen"
            sk.listen(e.backlog)

    def _bind_path(self, ino: int, e: Any, sk: socket.socket) -> None:
        path, full = _address(e), _full_path(e)
        with _in_name_dir(e):
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                st = None
            if st is not None and e.deleted:
                # Not ours (ours was unlinked): set aside while ours is
                # bound, connected to and unlinked again.
                aside = full + b".criu-unix-" + str(ino).encode()
                os.rename(path, aside)
                self.moved.append((aside, full))
            elif st is not None:
                if not stat.S_ISSOCK(st.st_mode):
                    raise RestoreError(f"{self.where}: socket:[{ino}]: "
                                       f"{os.fsdecode(full)} exists and is "
                                       "not a socket")
                os.unlink(path)         # stale: its socket is gone
            sk.bind(path)
            self.bound.append((ino, full))
            if e.HasField("file_perms"):
                perms = e.file_perms
                os.chmod(path, stat.S_IMODE(perms.mode))
                os.lchown(path, perms.uid, perms.gid)

    # -- 3, 4. connections
    def _address_of(self, ino: int) -> Any:
        target = self.e[ino]
        if not target.name:
            raise RestoreError(f"{self.where}: socket:[{ino}] has no name "
                               "to connect to")
        return target

    def _connect(self, ino: int, target_ino: int) -> None:
        target = self._address_of(target_ino)
        self.step = (f"socket:[{ino}]: connect to "
                     f"{bytes(target.name)!r}")
        with _in_name_dir(target):
            self.sk[ino].connect(_address(target))
        self.connected.add(ino)

    def _accept(self, ino: int, listener: int) -> None:
        """The connection listener accepted as socket ino, made again:
        its client connects, the listening socket accepts."""
        client = self.e[ino].peer
        self._connect(client, listener)
        self.step = f"socket:[{listener}]: accept"
        sk, _ = self.sk[listener].accept()
        self._new(ino, sk)
        self.connected.add(ino)

    # -- 5. queues
    def _refill(self, ino: int) -> None:
        if ino in self.filled or not self._queue(ino):
            return
        e = self.e[ino]
        peer = self.e.get(e.peer)
        if peer is None or peer.peer != ino:
            raise RestoreError(f"{self.where}: socket:[{ino}]: no socket "
                               "to send its queued messages from")
        self._send(self.sk[peer.ino], ino)

    def _send(self, sender: socket.socket, ino: int) -> None:
        msgs = self._queue(ino)
        self.step = (f"socket:[{ino}]: queue {len(msgs)} messages "
                     f"({sum(map(len, msgs))} bytes)")
        unix_opts.send_all(sender, msgs, self.e[ino].type)
        self.filled.add(ino)

    def _abort(self) -> None:
        """A failed group leaves no socket, socket file or moved file."""
        for sk in self.sk.values():
            sk.close()
        for _, path in self.bound:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.unlink(path)
        for aside, path in self.moved:
            with contextlib.suppress(OSError):
                os.rename(aside, path)
