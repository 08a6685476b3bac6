"""Magic numbers of CRIU image files, and which header each image carries.

An image file starts with one or two little-endian u32 magics: every image
but the inventory carries a first magic (IMG_COMMON for normal images,
IMG_SERVICE for service files stats/irmap-cache) and then the magic of its
type; the inventory carries its own magic only; raw images (pages, ip tool
dumps, tarballs) have no header at all. Values are facts of CRIU's format
(criu/include/magic.h), which we must match byte for byte.
"""

from __future__ import annotations

CRTOOLS_IMAGES_V1 = 1
CRTOOLS_IMAGES_V1_1 = 2
RAW_IMAGE_MAGIC = 0x0

IMG_COMMON = 0x54564319
IMG_SERVICE = 0x55105940

# Image type name -> magic. Names are the ones crit prints in "magic".
BY_NAME: dict[str, int] = {
    "INVENTORY": 0x58313116,
    "PSTREE": 0x50273030,
    "FDINFO": 0x56213732,
    "PAGEMAP": 0x56084025,
    "CORE": 0x55053847,
    "IDS": 0x54432030,
    "VMAS": 0x54123737,
    "PIPES": 0x56513555,
    "PIPES_DATA": 0x56453709,
    "FIFO": 0x58364939,
    "FIFO_DATA": 0x59333054,
    "SIGACT": 0x55344201,
    "UNIXSK": 0x54373943,
    "INETSK": 0x56443851,
    "PACKETSK": 0x60454618,
    "ITIMERS": 0x57464056,
    "POSIX_TIMERS": 0x52603957,
    "SK_QUEUES": 0x56264026,
    "UTSNS": 0x54473203,
    "CREDS": 0x54023547,
    "IPC_VAR": 0x53115007,
    "IPCNS_SHM": 0x46283044,
    "IPCNS_MSG": 0x55453737,
    "IPCNS_SEM": 0x59573019,
    "REG_FILES": 0x50363636,
    "EXT_FILES": 0x59255641,
    "FS": 0x51403912,
    "MM": 0x57492820,
    "REMAP_FPATH": 0x59133954,
    "GHOST_FILE": 0x52583605,
    "TCP_STREAM": 0x51465506,
    "EVENTFD_FILE": 0x44523722,
    "EVENTPOLL_FILE": 0x45023858,
    "EVENTPOLL_TFD": 0x44433746,
    "SIGNALFD": 0x57323820,
    "INOTIFY_FILE": 0x48424431,
    "INOTIFY_WD": 0x54562009,
    "MNTS": 0x55563928,
    "NETDEV": 0x57373951,
    "NETNS": 0x55933752,
    "TTY_FILES": 0x59433025,
    "TTY_INFO": 0x59453036,
    "TTY_DATA": 0x59413026,
    "FILE_LOCKS": 0x54323616,
    "RLIMIT": 0x57113925,
    "FANOTIFY_FILE": 0x55096122,
    "FANOTIFY_MARK": 0x56506035,
    "SIGNAL": 0x59255647,
    "NETLINK_SK": 0x58005614,
    "NS_FILES": 0x61394011,
    "TUNFILE": 0x57143751,
    "CGROUP": 0x59383330,
    "TIMERFD": 0x50493712,
    "CPUINFO": 0x61404013,
    "USERNS": 0x55474906,
    "SECCOMP": 0x64413049,
    "BINFMT_MISC": 0x67343323,
    "AUTOFS": 0x49353943,
    "FILES": 0x56303138,
    "MEMFD_INODE": 0x48453499,
    "TIMENS": 0x43114433,
    "PIDNS": 0x61157326,
    "BPFMAP_FILE": 0x57506142,
    "BPFMAP_DATA": 0x64324033,
    "APPARMOR": 0x59423047,
    "PIDFD": 0x54435556,
    # Service files: IMG_SERVICE first magic.
    "STATS": 0x57093306,
    "IRMAP_CACHE": 0x57004059,
    # kerndat cache: a raw C struct after the magic, not protobuf entries.
    "KDAT": 0x57023458,
}

BY_VALUE: dict[int, str] = {value: name for name, value in BY_NAME.items()}

# Names magic.h defines as another magic's value: image kinds that share a
# format (and so a magic) with another, and the raw images, whose "magic"
# is RAW_IMAGE (no header). Not in BY_NAME, so BY_VALUE stays one-to-one.
ALIASES: dict[str, str] = {
    "SHMEM_PAGEMAP": "PAGEMAP",
    "PAGES": "RAW_IMAGE",
    "PSIGNAL": "SIGNAL",
    "IFADDR": "RAW_IMAGE",
    "ROUTE": "RAW_IMAGE",
    "ROUTE6": "RAW_IMAGE",
    "RULE": "RAW_IMAGE",
    "TMPFS_IMG": "RAW_IMAGE",
    "TMPFS_DEV": "RAW_IMAGE",
    "IPTABLES": "RAW_IMAGE",
    "IP6TABLES": "RAW_IMAGE",
    "NFTABLES": "RAW_IMAGE",
    "NETNF_CT": "RAW_IMAGE",
    "NETNF_EXP": "RAW_IMAGE",
    "PAGES_OLD": "PAGEMAP",
    "SHM_PAGES_OLD": "PAGEMAP",
    "BINFMT_MISC_OLD": "BINFMT_MISC",
}

SERVICE_IMAGES = frozenset({"STATS", "IRMAP_CACHE"})

# File names (as CRIU formats them) of images that are raw data, not entries.
RAW_IMAGE_PATTERNS = (
    "pages-", "ifaddr-", "route-", "route6-", "rule-", "iptables-",
    "ip6tables-", "nftables-", "tmpfs-", "netns-ct-", "netns-exp-",
)


def header_magics(name: str) -> tuple[int, ...]:
    """The u32 magics that start an image of type `name`, in file order."""
    value = BY_NAME[name]
    if name == "INVENTORY":
        return (value,)
    if name in SERVICE_IMAGES:
        return (IMG_SERVICE, value)
    return (IMG_COMMON, value)
