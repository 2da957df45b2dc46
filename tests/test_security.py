"""Issue 8, security: no shell strings, concat lists that name exactly the segments, an embedded
Ray on loopback without a dashboard, and model files never unpickled by torch.load.

The source scans read vidcolor's own code with ``ast``; each rule is first shown to catch a
snippet that breaks it, so a scan that finds nothing is not a scan that sees nothing.
"""

from __future__ import annotations

import ast
import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from media import ClipSpec, decode_all_luma, make_clip

import vidcolor
from vidcolor.assemble import ffmpeg_exe, write_concat_list
from vidcolor.distributed.session import start_local_ray

PACKAGE = Path(vidcolor.__file__).parent
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# ---- source scans ---------------------------------------------------------------------------

# Each of these runs its argument through /bin/sh, whatever it is.
SHELL_ALWAYS = {
    "os.system",
    "os.popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "asyncio.create_subprocess_shell",
}
SUBPROCESS = {
    "subprocess.run",
    "subprocess.Popen",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
}
# Unpickling without a find_class that refuses unknown globals runs whatever the file names.
UNPICKLE = {"pickle.load", "pickle.loads", "pickle.Unpickler", "pickle._loads", "pickle._load"}
SAFE_YAML_LOADERS = {"yaml.SafeLoader", "yaml.CSafeLoader"}


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a name or attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (base := dotted(node.value)):
        return f"{base}.{node.attr}"
    return None


def imported_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> what it was imported as: ``sp`` -> ``subprocess``, ``run`` ->
    ``subprocess.run``."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.partition(".")[0]
                names[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def resolved(node: ast.expr, names: dict[str, str]) -> str | None:
    """The full dotted name ``node`` refers to, import aliases resolved."""
    name = dotted(node)
    if name is None:
        return None
    head, dot, rest = name.partition(".")
    return names.get(head, head) + dot + rest


def calls(tree: ast.Module) -> Iterator[tuple[str, ast.Call]]:
    """Every call with a resolvable target, as ``(full dotted name, node)``."""
    names = imported_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (name := resolved(node.func, names)):
            yield name, node


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def is_text(node: ast.expr | None) -> bool:
    """A command that is a string: a literal, an f-string, ``+``/``%`` on one, ``.format()``."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.BinOp):
        return is_text(node.left) or is_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format"
    return isinstance(node, ast.JoinedStr)


def safe_yaml_loaders(tree: ast.Module, names: dict[str, str]) -> set[str]:
    """yaml's safe loaders, plus the module's own subclasses of one."""
    safe = set(SAFE_YAML_LOADERS)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(resolved(b, names) in safe for b in node.bases):
            safe.add(node.name)
    return safe


def violations(source: str, where: str = "<snippet>") -> list[str]:
    """Every place in ``source`` that runs a shell or unpickles without a whitelist."""
    tree = ast.parse(source)
    names = imported_names(tree)
    yaml_ok = safe_yaml_loaders(tree, names)
    found = []
    for name, call in calls(tree):
        at = f"{where}:{call.lineno}: {name}"
        if name in SHELL_ALWAYS:
            found.append(f"{at} runs a shell")
        elif name in SUBPROCESS:
            shell = keyword(call, "shell")
            if shell is not None and not is_constant(shell, False):
                found.append(f"{at} with shell=")
            elif is_text(call.args[0] if call.args else keyword(call, "args")):
                found.append(f"{at} with a string command")
        elif name == "torch.load" and not is_constant(keyword(call, "weights_only"), True):
            found.append(f"{at} without weights_only=True")
        elif name in UNPICKLE:
            found.append(f"{at}: unpickling without a restricted find_class")
        elif name in ("yaml.load", "yaml.load_all"):
            loader = keyword(call, "Loader") or (call.args[1] if len(call.args) > 1 else None)
            if loader is None or resolved(loader, names) not in yaml_ok:
                found.append(f"{at} without a SafeLoader")
        elif name in ("yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all"):
            found.append(f"{at} builds arbitrary objects")
        elif name == "numpy.load":
            allow = keyword(call, "allow_pickle")
            if allow is not None and not is_constant(allow, False):
                found.append(f"{at} with allow_pickle")
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            resolved(b, names) == "pickle.Unpickler" for b in node.bases
        ):
            methods = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
            if "find_class" not in methods:
                found.append(f"{where}:{node.lineno}: {node.name} unpickles without find_class")
    return found


def package_sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE.parent)): p.read_text() for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize(
    "snippet",
    [
        "import os\nos.system('ffmpeg -i ' + name)",
        "from os import popen\npopen('ls')",
        "import subprocess\nsubprocess.run('ffmpeg -i x', shell=True)",
        "import subprocess as sp\nsp.Popen(['ffmpeg'], shell=flag)",
        "from subprocess import check_output\ncheck_output(f'ffprobe {path}')",
        "import subprocess\nsubprocess.call('ffmpeg -i %s' % path)",
        "import subprocess\nsubprocess.run(args='ffmpeg -i {}'.format(path))",
        "import subprocess\nsubprocess.getoutput(['ls'])",
        "import torch\ntorch.load(path)",
        "import torch\ntorch.load(path, weights_only=False)",
        "from torch import load\nload(path, map_location='cpu')",
        "import pickle\npickle.loads(data)",
        "import pickle\npickle.Unpickler(f).load()",
        "import pickle\nclass U(pickle.Unpickler):\n    def persistent_load(self, pid): ...",
        "import yaml\nyaml.load(text, Loader=yaml.Loader)",
        "import yaml\nyaml.unsafe_load(text)",
        "import numpy as np\nnp.load(path, allow_pickle=True)",
    ],
)
def test_the_scan_catches(snippet: str) -> None:
    assert violations(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "import subprocess\nsubprocess.run(['ffmpeg', '-i', path], check=False)",
        "import subprocess\nsubprocess.run(cmd, capture_output=True, shell=False)",
        "import torch\ntorch.load(path, map_location='cpu', weights_only=True)",
        "import pickle\nclass U(pickle.Unpickler):\n    def find_class(self, m, n): raise KeyError",
        "import yaml\nclass L(yaml.SafeLoader): pass\nyaml.load(text, Loader=L)",
        "import numpy as np\nnp.load(path)",
    ],
)
def test_the_scan_passes(snippet: str) -> None:
    assert violations(snippet) == []


def test_no_shell_strings_and_no_unrestricted_unpickling_in_vidcolor() -> None:
    sources = package_sources()
    found = [v for where, source in sources.items() for v in violations(source, where)]
    assert found == []
    # The scan sees what it must judge: ffmpeg's one subprocess call, the trainer's torch.load.
    seen = {name for source in sources.values() for name, _ in calls(ast.parse(source))}
    assert {"subprocess.run", "torch.load"} <= seen


# ---- concat lists ---------------------------------------------------------------------------

SEGMENT_SPEC = ClipSpec(frames=3, size=(64, 32), codec="ffv1")


def join(folder: Path, names: list[str]) -> Path:
    """Two lossless segments under ``names``, listed by write_concat_list, joined by ffmpeg."""
    for name, scene, frames in zip(names, (0, 2), (3, 4), strict=True):
        make_clip(folder / name, SEGMENT_SPEC, frames=frames, scenes=(scene, scene))
    listing = folder / "segments.ffconcat"
    # Relative names, as the pipeline writes them: the demuxer resolves them in the list's folder.
    write_concat_list(listing, [Path(n) for n in names], [125_000, 166_667])
    out = folder / "joined.mkv"
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "concat",
           "-safe", "0", "-i", str(listing), "-c", "copy", str(out)]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize(
    "names",
    [
        ["-it's a segment.mkv", "b 'two' #\\.mkv"],
        ["-.mkv", "über $HOME `x`;.mkv"],
    ],
)
def test_concat_list_names_exactly_its_segments(tmp_path: Path, names: list[str]) -> None:
    out = join(tmp_path, names)
    first, second = (decode_all_luma(tmp_path / n) for n in names)
    assert (len(first), len(second)) == (3, 4)
    assert not (first[0] == second[0]).all()  # the scenes differ: order is checked below
    joined = decode_all_luma(out)
    assert len(joined) == 7
    assert all((a == b).all() for a, b in zip(joined, first + second, strict=True))


def test_concat_list_refuses_a_newline_in_a_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="newline"):
        write_concat_list(tmp_path / "l.ffconcat", [Path("a\nfile 'b.mkv"), Path("c.mkv")], [1, 1])


# ---- the embedded Ray -----------------------------------------------------------------------

DASHBOARD_PORT = 8265  # Ray's default


def process_tree(root: int) -> set[int]:
    """``root`` and every process descended from it (Ray's gcs_server, raylet, workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def listening_sockets(pids: set[int]) -> set[tuple[IPAddress, int]]:
    """``(address, port)`` of every TCP socket in LISTEN state owned by one of ``pids``."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue  # a worker that exited meanwhile
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: TCP_LISTEN
                address, port = fields[1].split(":")
                found.add((_address(bytes.fromhex(address)), int(port, 16)))
    return found


def _address(raw: bytes) -> IPAddress:
    """/proc/net/tcp* print an address as 32-bit words, each in host byte order."""
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def is_loopback(ip: IPAddress) -> bool:
    """127.0.0.0/8, ::1, or 127.x mapped into IPv6 (how Ray's gRPC servers bind)."""
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
def test_embedded_ray_listens_on_loopback_only_and_starts_no_dashboard() -> None:
    ray.shutdown()  # no-op, unless an earlier test left a Ray of its own: not the one under test
    start_local_ray(1)  # as the pipeline starts it when no address is given
    try:
        assert ray.util.get_node_ip_address() == "127.0.0.1"
        assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
        assert [node["NodeManagerAddress"] for node in ray.nodes()] == ["127.0.0.1"]
        assert ray._private.worker.get_dashboard_url() == ""
        sockets = listening_sockets(process_tree(os.getpid()))
        assert sockets, "found no socket of Ray's: the scan is blind"
        assert all(is_loopback(address) for address, _ in sockets), sockets
        assert DASHBOARD_PORT not in {port for _, port in sockets}
    finally:
        ray.shutdown()
