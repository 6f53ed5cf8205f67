"""An image's files as the container will see them, read from its layers
without mounting them.

An image is a stack of snapshot directories (``lowerdirs``, top first) in
overlayfs form: a 0/0 character device is a whiteout (the name was deleted),
``trusted.overlay.opaque=y`` on a directory hides everything below it. This
module answers "what is at this path in the merged view?" the way overlayfs
and a chroot would together:

* each path component is looked up in the merged directory: the top-most
  layer holding the name decides (a whiteout: absent; a non-directory: that
  entry); a directory merges with the same directory in the layers below
  until one of them is opaque or holds a non-directory there;
* symlinks are followed *inside the image*: an absolute target starts again
  at the image root, ``..`` never climbs above it, more than
  ``MAX_SYMLINK_HOPS`` links is an error naming the image;
* every lookup is ``*at()`` relative to a directory descriptor opened with
  ``O_NOFOLLOW``, starting from ``saferoot.open_root`` on each layer, so no
  host path outside the layer directories is ever named or followed.

User lookup (``userdb``) reads /etc/passwd and /etc/group through it and
volume copy-up (``volumes/copyup``) walks the image's directory through it:
one resolver for both, and check mode needs no mount.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import InvalidInput
from .saferoot import MAX_SYMLINK_HOPS, open_root, read_in_root

OPAQUE_XATTR = "trusted.overlay.opaque"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class MergedDir:
    """A directory of the merged view: its descriptor in each layer that
    contributes to it, top first (owned: ``close`` them)."""

    def __init__(self, fds: list[int]) -> None:
        self.fds = fds

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def names(self) -> list[str]:
        """Every name some contributing layer holds (whiteouts included: a
        lookup decides what each one is)."""
        found: dict[str, None] = {}
        for fd in self.fds:
            found.update(dict.fromkeys(os.listdir(fd)))
        return sorted(found)

    def __enter__(self) -> MergedDir:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Leaf:
    """A non-directory of the merged view: the top-most layer's entry
    ``name`` in the directory ``dir_fd`` (owned), with its lstat."""

    def __init__(self, dir_fd: int, name: str, info: os.stat_result) -> None:
        self.dir_fd, self.name, self.info = dir_fd, name, info

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def __enter__(self) -> Leaf:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def is_whiteout(info: os.stat_result) -> bool:
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def _is_opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


class LayeredRoot:
    """The image root made of ``lowerdirs`` (top first); ``label`` names the
    image in errors. Use as a context manager: it holds one descriptor per layer."""

    def __init__(self, lowerdirs: list[Path], label: str = "the image") -> None:
        self.label = label
        fds: list[int] = []
        try:
            for layer in lowerdirs:
                fds.append(open_root(layer))
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        self._root = MergedDir(fds)

    def close(self) -> None:
        self._root.close()

    def __enter__(self) -> LayeredRoot:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- one step ------------------------------------------------------------------
    def lookup(self, directory: MergedDir, name: str) -> MergedDir | Leaf | None:
        """``name`` in the merged ``directory`` (no symlink followed); None when absent."""
        fds: list[int] = []
        try:
            for fd in directory.fds:
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if not fds and not stat.S_ISDIR(info.st_mode):
                    # the top-most entry is a file, link or whiteout: it hides all below
                    return None if is_whiteout(info) else Leaf(os.dup(fd), name, info)
                if not stat.S_ISDIR(info.st_mode):
                    break  # a non-directory under a directory ends the merge
                fds.append(os.open(name, _DIR_FLAGS, dir_fd=fd))
                if _is_opaque(fds[-1]):
                    break
        except BaseException:
            MergedDir(fds).close()
            raise
        return MergedDir(fds) if fds else None

    # -- a whole path --------------------------------------------------------------
    def resolve(self, path: str, *, follow_last: bool = True) -> MergedDir | Leaf | None:
        """What ``path`` names in the image (symlinks re-rooted at the image
        root); None when it does not exist or a parent is not a directory."""
        todo = _components(path)
        stack: list[MergedDir] = []  # directories walked below the root (owned)
        hops = 0
        try:
            while todo:
                part = todo.pop(0)
                if part == "..":
                    if stack:
                        stack.pop().close()
                    continue
                node = self.lookup(stack[-1] if stack else self._root, part)
                if node is None:
                    return None
                if isinstance(node, MergedDir):
                    stack.append(node)
                    continue
                if stat.S_ISLNK(node.info.st_mode) and (todo or follow_last):
                    with node:
                        target = os.readlink(node.name, dir_fd=node.dir_fd)
                    hops += 1
                    if hops > MAX_SYMLINK_HOPS or not target:
                        return self._bad_link(path, hops)
                    if target.startswith("/"):
                        while stack:
                            stack.pop().close()
                    todo = _components(target) + todo
                    continue
                if todo:
                    node.close()
                    return None  # a file where a directory was needed (ENOTDIR): absent
                return node
            if stack:
                return stack.pop()
            return MergedDir([os.dup(fd) for fd in self._root.fds])
        finally:
            for directory in stack:
                directory.close()

    def _bad_link(self, path: str, hops: int) -> None:
        if hops <= MAX_SYMLINK_HOPS:
            return None  # an empty link target names nothing (ENOENT, as Linux)
        raise InvalidInput(f"/{path.lstrip('/')} in {self.label}: more than {MAX_SYMLINK_HOPS} symbolic "
                           "links on the way (a symlink loop)", field="image",
                           hint="fix the image's symlinks, or use an image without the loop")

    def read_file(self, path: str, limit: int) -> bytes | None:
        """At most ``limit`` bytes of the regular file at ``path``; None when it
        is absent or not a regular file (a FIFO or device is never opened for
        reading). Larger files are an InvalidInput naming the file and image."""
        node = self.resolve(path)
        if node is None:
            return None
        with node:
            if not isinstance(node, Leaf) or not stat.S_ISREG(node.info.st_mode):
                return None
            if node.info.st_size > limit:
                raise self._too_large(path, limit)
            try:
                return read_in_root(node.dir_fd, node.name, limit)
            except ValueError:
                raise self._too_large(path, limit) from None
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOENT, errno.ENOTDIR):
                    return None  # changed under us: treat as absent, never follow
                raise

    def _too_large(self, path: str, limit: int) -> InvalidInput:
        return InvalidInput(f"/{path.lstrip('/')} in {self.label} is larger than {limit} bytes", field="image",
                            hint="berth reads at most that much of it; use an image with a sane file there")

    def walk_children(self, directory: MergedDir) -> Iterator[tuple[str, MergedDir | Leaf]]:
        """Each visible entry of ``directory`` with its node (owned by the
        caller: close each), whiteouts and hidden names left out."""
        for name in directory.names():
            node = self.lookup(directory, name)
            if node is not None:
                yield name, node
