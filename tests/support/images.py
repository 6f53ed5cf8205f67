"""Image fixtures made by independent tools (umoci, skopeo) — never by berth.

A busybox image (one layer, from Debian's busybox-static) and a multi-layer
image on top of it that exercises what an unpacker can get wrong: a deleted
file (whiteout), an opaque directory, a hardlink, a symlink, setuid, foreign
owners, an xattr, an empty dir and a fixed mtime. ``compare_trees`` checks
any unpacked root against ``umoci unpack``'s, file by file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXED_TIME = 981_158_400  # 2001-02-03T00:00:00Z
CREATED = "2001-02-03T00:00:00Z"
APPLETS = ["sh", "ls", "cat", "echo", "true", "false", "sleep", "id", "env", "mkdir", "touch", "rm", "wget", "nc",
           "ip", "ps", "hostname", "httpd", "grep", "test", "stat", "mount", "head", "dd", "kill", "chmod"]
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class OciImage:
    layout: Path
    tag: str
    manifest_digest: str
    config_digest: str
    layer_digests: list[str]
    diff_ids: list[str]

    @property
    def ref(self) -> str:
        return f"oci:{self.layout}:{self.tag}"


def run(*args: object, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({result.returncode}): {' '.join(map(str, args))}\n{result.stderr}")
    return result


def read_layout(layout: Path, tag: str) -> OciImage:
    index = json.loads((layout / "index.json").read_text())
    desc = next(m for m in index["manifests"]
                if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag)
    manifest = json.loads(_blob(layout, desc["digest"]))
    config = json.loads(_blob(layout, manifest["config"]["digest"]))
    return OciImage(layout, tag, desc["digest"], manifest["config"]["digest"],
                    [layer["digest"] for layer in manifest["layers"]], config["rootfs"]["diff_ids"])


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def _pin_times(root: Path) -> None:
    for path in [*root.rglob("*"), root]:
        os.utime(path, (FIXED_TIME, FIXED_TIME), follow_symlinks=False)


def _repack(layout: Path, tag: str, bundle: Path, created_by: str) -> None:
    _pin_times(bundle / "rootfs")
    run("umoci", "repack", "--refresh-bundle", "--image", f"{layout}:{tag}", "--history.created", CREATED,
        "--history.created_by", created_by, bundle)


def build_busybox_layout(workdir: Path, tag: str = "latest") -> OciImage:
    layout, bundle = workdir / "busybox-oci", workdir / "busybox-bundle"
    shutil.rmtree(layout, ignore_errors=True)
    shutil.rmtree(bundle, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:{tag}")
    run("umoci", "unpack", "--image", f"{layout}:{tag}", bundle)
    populate_busybox(bundle / "rootfs")
    _repack(layout, tag, bundle, "busybox-static rootfs")
    run("umoci", "config", "--image", f"{layout}:{tag}", "--config.cmd", "sh", "--config.env", PATH_ENV,
        "--architecture", "amd64", "--os", "linux", "--created", CREATED,
        "--no-history")
    run("umoci", "gc", "--layout", layout)
    shutil.rmtree(bundle)
    return read_layout(layout, tag)


def populate_busybox(rootfs: Path) -> None:
    for name in ("bin", "etc", "root", "proc", "sys", "dev", "var/cache/old", "usr/share", "home"):
        (rootfs / name).mkdir(parents=True, exist_ok=True)
    tmp = rootfs / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o1777)
    shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
    for applet in APPLETS:
        link = rootfs / "bin" / applet
        if not link.is_symlink():
            link.symlink_to("busybox")
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                       "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (rootfs / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (rootfs / "etc/motd").write_text("busybox fixture\n")
    (rootfs / "var/cache/old/a.txt").write_text("hidden by an opaque dir above\n")
    (rootfs / "usr/share/doomed.txt").write_text("deleted by a whiteout above\n")


# What the multi-layer image's merged root must show (paths relative to it).
MULTILAYER_EXPECTATIONS: dict[str, Any] = {
    "absent": ["usr/share/doomed.txt", "var/cache/old", "var/cache/old/a.txt"],
    "files": {
        "data/file.txt": {"content": b"hello\n", "mode": 0o644, "mtime": FIXED_TIME},
        "data/suid": {"content": b"#!/bin/sh\n", "mode": 0o4755},
        "data/owned": {"content": b"mine\n", "uid": 1000, "gid": 1000, "mode": 0o640},
        "var/cache/new.txt": {"content": b"after the opaque marker\n"},
        "bin/busybox": {},
    },
    "dirs": {"data/empty": {"mode": 0o750}},
    "hardlinks": [("data/file.txt", "data/hardlink")],
    "symlinks": {"data/symlink": "file.txt", "bin/sh": "busybox"},
    "xattrs": {"data/xattr.txt": {"user.berth": b"hello"}},
}


def build_multilayer_layout(workdir: Path, base: OciImage) -> OciImage:
    """busybox + a umoci-made layer (whiteout, links, owners, xattr) + a
    hand-made layer with an opaque directory (umoci never writes one)."""
    layout, bundle, tag = workdir / "multi-oci", workdir / "multi-bundle", "multi"
    shutil.rmtree(layout, ignore_errors=True)
    shutil.rmtree(bundle, ignore_errors=True)
    shutil.copytree(base.layout, layout)
    run("umoci", "tag", "--image", f"{layout}:{base.tag}", tag)
    run("umoci", "unpack", "--image", f"{layout}:{tag}", bundle)
    rootfs = bundle / "rootfs"
    (rootfs / "usr/share/doomed.txt").unlink()
    data = rootfs / "data"
    data.mkdir()
    (data / "file.txt").write_bytes(b"hello\n")
    os.link(data / "file.txt", data / "hardlink")
    (data / "symlink").symlink_to("file.txt")
    (data / "suid").write_bytes(b"#!/bin/sh\n")
    (data / "suid").chmod(0o4755)
    (data / "owned").write_bytes(b"mine\n")
    os.chown(data / "owned", 1000, 1000)
    (data / "owned").chmod(0o640)
    (data / "xattr.txt").write_bytes(b"x\n")
    os.setxattr(data / "xattr.txt", "user.berth", b"hello")
    (data / "empty").mkdir()
    (data / "empty").chmod(0o750)
    _repack(layout, tag, bundle, "multilayer fixture changes")
    shutil.rmtree(bundle)
    opaque = workdir / "opaque-layer.tar"
    opaque.write_bytes(_opaque_layer())
    run("umoci", "raw", "add-layer", "--image", f"{layout}:{tag}", "--history.created", CREATED,
        "--history.created_by", "opaque dir", opaque)
    run("umoci", "rm", "--image", f"{layout}:{base.tag}")
    run("umoci", "gc", "--layout", layout)
    return read_layout(layout, tag)


def _opaque_layer() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("var/cache/", None), ("var/cache/.wh..wh..opq", b""),
                           ("var/cache/new.txt", b"after the opaque marker\n")):
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime = FIXED_TIME
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# -- moving images with skopeo -------------------------------------------------------
def _skopeo_dest(registry: Any) -> list[str]:
    args = ["--dest-tls-verify=false"] if registry.cert_dir is None else ["--dest-cert-dir", str(registry.cert_dir)]
    if registry.username:
        args += ["--dest-creds", f"{registry.username}:{registry.password}"]
    return args


def push(image: OciImage, registry: Any, repo: str, tag: str) -> str:
    """skopeo copy to the registry, keeping the manifest bytes; returns the digest."""
    target = f"docker://{registry.host}/{repo}:{tag}"
    run("skopeo", "copy", "-q", "--preserve-digests", *_skopeo_dest(registry), image.ref, target)
    src = ["--tls-verify=false"] if registry.cert_dir is None else ["--cert-dir", str(registry.cert_dir)]
    if registry.username:
        src += ["--creds", f"{registry.username}:{registry.password}"]
    raw = run("skopeo", "inspect", "--raw", *src, target).stdout.encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def save_docker_archive(image: OciImage, path: Path, name: str) -> Path:
    run("skopeo", "copy", "-q", image.ref, f"docker-archive:{path}:{name}")
    return path


def save_oci_archive(image: OciImage, path: Path, tag: str) -> Path:
    run("skopeo", "copy", "-q", "--preserve-digests", image.ref, f"oci-archive:{path}:{tag}")
    return path


def umoci_unpack(image: OciImage, dest: Path) -> Path:
    run("umoci", "unpack", "--image", f"{image.layout}:{image.tag}", dest)
    return dest / "rootfs"


# -- checking unpacked roots -----------------------------------------------------------
def check_rootfs(rootfs: Path, expectations: dict[str, Any]) -> list[str]:
    """Mismatches between a merged root and MULTILAYER_EXPECTATIONS-like facts."""
    problems = [f"{p} should be absent" for p in expectations.get("absent", []) if os.path.lexists(rootfs / p)]
    for rel, want in {**expectations.get("files", {}), **expectations.get("dirs", {})}.items():
        path = rootfs / rel
        if not os.path.lexists(path):
            problems.append(f"{rel} is missing")
            continue
        st = path.lstat()
        checks = {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "mtime": int(st.st_mtime)}
        problems += [f"{rel}: {key} is {checks[key]!r}, want {value!r}" for key, value in want.items()
                     if key in checks and checks[key] != value]
        if "content" in want and path.read_bytes() != want["content"]:
            problems.append(f"{rel}: content differs")
    for a, b in expectations.get("hardlinks", []):
        if not (rootfs / a).exists() or (rootfs / a).stat().st_ino != (rootfs / b).lstat().st_ino:
            problems.append(f"{a} and {b} should be one inode")
    for rel, target in expectations.get("symlinks", {}).items():
        if not (rootfs / rel).is_symlink() or os.readlink(rootfs / rel) != target:
            problems.append(f"{rel} should link to {target}")
    for rel, attrs in expectations.get("xattrs", {}).items():
        for name, value in attrs.items():
            try:
                got = os.getxattr(rootfs / rel, name, follow_symlinks=False)
            except OSError:
                got = None
            if got != value:
                problems.append(f"{rel}: xattr {name} is {got!r}, want {value!r}")
    return problems


def tree_facts(root: Path) -> dict[str, tuple]:
    """Per path: type, mode, owner, size, mtime (non-dirs), content hash,
    link target, user xattrs and hardlink group — for file-by-file diffs."""
    facts: dict[str, tuple] = {}
    inodes: dict[int, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        st = path.lstat()
        kind = stat.S_IFMT(st.st_mode)
        content = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(kind) else None
        link = os.readlink(path) if stat.S_ISLNK(kind) else None
        group = None
        if stat.S_ISREG(kind) and st.st_nlink > 1:
            group = inodes.setdefault(st.st_ino, rel)
        xattrs = tuple(sorted((n, os.getxattr(path, n, follow_symlinks=False))
                              for n in _listxattr(path) if n.startswith("user.")))
        mtime = None if stat.S_ISDIR(kind) else int(st.st_mtime)
        facts[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                      st.st_size if not stat.S_ISDIR(kind) else None, mtime, content, link, group, xattrs)
    return facts


def _listxattr(path: Path) -> list[str]:
    try:
        return os.listxattr(path, follow_symlinks=False)
    except OSError:
        return []


def compare_trees(expected: Path, actual: Path) -> list[str]:
    """Differences between two unpacked roots (empty when identical)."""
    want, got = tree_facts(expected), tree_facts(actual)
    problems = [f"missing: {p}" for p in sorted(set(want) - set(got))]
    problems += [f"unexpected: {p}" for p in sorted(set(got) - set(want))]
    fields = ("type", "mode", "uid", "gid", "size", "mtime", "content", "link", "hardlink", "xattrs")
    for path in sorted(set(want) & set(got)):
        for name, a, b in zip(fields, want[path], got[path], strict=True):
            if a != b:
                problems.append(f"{path}: {name} {a!r} != {b!r}")
    return problems
