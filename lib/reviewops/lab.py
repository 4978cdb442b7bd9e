"""JupyterLab for analysts (issue 14, point 6): ``reviewops lab``.

An analyst opens the playbooks interactively in JupyterLab, on a **working folder of copies** — the
installed playbooks (found by :func:`reviewops.runner.playbooks_dir`) are never edited in place:

* :func:`prepare_lab_dir` copies every installed playbook pair (``<name>.ipynb`` + its Jupytext
  ``<name>.py``) that the folder does not have yet, and refreshes a copy the analyst has not touched
  when the installed version changed. A pair the analyst changed (either file differs from what was
  copied, or from the installed file when no record exists) is never overwritten: it is reported as
  kept. What was copied is recorded in ``.reviewops-lab.json`` (file name → SHA-256) in the folder.
  A ``jupytext.toml`` (``formats = "ipynb,py:percent"``) is written when the folder has none, so every
  notebook there, new ones included, is paired.
* :func:`lab_argv` is the server configuration: loopback only (``127.0.0.1``), a random token (never
  empty), Jupytext's contents manager (saving the ``.ipynb`` rewrites the paired ``.py``), the folder
  as root, no browser when asked or when there is no display.
* :func:`lab_env` is the kernels' environment: ``REVIEWOPS_DB`` is the chosen store's URL, so a
  playbook's empty ``db`` parameter (``Store.open(None)``) opens that store — exactly what
  ``reviewops run --db URL`` hands the playbook — and the figures are the same.
* :func:`run_lab` puts these together and runs JupyterLab in this process until Ctrl-C or SIGTERM.

The default folder is ``reviewops-playbooks`` in the user's documents folder
(``platformdirs.user_documents_dir()``, e.g. ``~/Documents/reviewops-playbooks``).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .core.environ import patched_environ
from .core.errors import ConfigError

LAB_DIR_NAME = "reviewops-playbooks"
MANIFEST = ".reviewops-lab.json"
JUPYTEXT_TOML = "jupytext.toml"
JUPYTEXT_CONFIG = '# ReviewOps：本文件夹中的笔记本都与 py:percent 文本文件配对 / every notebook here is paired\n' \
                  'formats = "ipynb,py:percent"\n'
CONTENTS_MANAGER = "jupytext.AsyncTextFileContentsManager"
DEFAULT_PORT = 8890
LOOPBACK = "127.0.0.1"
DB_ENV = "REVIEWOPS_DB"
_PORT_TRIES = 20


def default_lab_dir() -> Path:
    """``<documents>/reviewops-playbooks`` (``platformdirs.user_documents_dir()``, e.g. ``~/Documents``)."""
    import platformdirs

    return Path(platformdirs.user_documents_dir()) / LAB_DIR_NAME


@dataclass
class LabFolder:
    """What :func:`prepare_lab_dir` did; file names are relative to ``path``."""

    path: Path
    installed: Path
    copied: list[str] = field(default_factory=list)      # were missing, copied
    updated: list[str] = field(default_factory=list)     # untouched copies of a changed installed version
    kept: list[str] = field(default_factory=list)        # changed by the analyst: not overwritten
    unchanged: list[str] = field(default_factory=list)   # same as installed
    config_written: bool = False                         # jupytext.toml created

    def lines(self) -> list[str]:
        """The report in plain words (Chinese / English), one line per fact worth telling."""
        out = [f"工作文件夹 working folder: {self.path}（剧本副本 copies of {self.installed}）"]
        if self.copied:
            out.append(f"  已复制 copied: {', '.join(self.copied)}")
        if self.updated:
            out.append(f"  已更新为新安装的版本（你没有改过）updated to the installed version (untouched): "
                       f"{', '.join(self.updated)}")
        if self.kept:
            out.append(f"  你改过的副本已保留、未覆盖 kept your edited copies, not overwritten: {', '.join(self.kept)}"
                       f"；要取回安装的版本，删除这些文件后重新运行 reviewops lab / delete them and run "
                       f"reviewops lab again to get the installed version")
        if self.config_written:
            out.append(f"  已写入 wrote {JUPYTEXT_TOML}（ipynb 与 py:percent 配对 / pairing)")
        return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _installed_pairs(source: Path) -> dict[str, list[Path]]:
    """Playbook name → its installed files (the ``.ipynb`` first, then the paired ``.py`` if there is one)."""
    pairs: dict[str, list[Path]] = {}
    for nb in sorted(source.glob("*.ipynb")):
        files = [nb]
        py = nb.with_suffix(".py")
        if py.is_file():
            files.append(py)
        pairs[nb.stem] = files
    return pairs


def prepare_lab_dir(folder: str | os.PathLike[str] | None = None, *,
                    source: str | os.PathLike[str] | None = None) -> LabFolder:
    """Create ``folder`` (default :func:`default_lab_dir`) and bring the playbook copies in.

    ``source`` defaults to :func:`reviewops.runner.playbooks_dir`. Each playbook pair is handled as a
    unit: if the analyst changed either file, neither is touched (``kept``); otherwise missing files
    are copied and untouched outdated ones replaced — the ``.ipynb`` first and the ``.py`` last with
    the same time stamp, so Jupytext never finds the text file older than the notebook.
    """
    from .runner import playbooks_dir

    src = Path(source) if source is not None else playbooks_dir()
    pairs = _installed_pairs(src) if src.is_dir() else {}
    if not pairs:
        raise ConfigError(f"找不到已安装的剧本 / no installed playbooks in {src}. 请重新安装 reviewops，或把 "
                          f"REVIEWOPS_PLAYBOOKS 设为剧本文件夹 / reinstall reviewops or point REVIEWOPS_PLAYBOOKS "
                          f"at a playbooks folder")
    dest = (Path(folder).expanduser() if folder is not None else default_lab_dir()).absolute()
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"工作文件夹不是文件夹 / the working folder is not a folder: {dest}. 请用 --dir 换一个 / "
                          f"choose another with --dir")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"无法创建工作文件夹 cannot create the working folder {dest}: {e.strerror}. "
                          f"请用 --dir 换一个 / choose another with --dir") from None
    if dest.resolve() == src.resolve():
        raise ConfigError(f"工作文件夹就是安装的剧本文件夹 / the working folder is the installed playbooks folder "
                          f"{src}; 请用 --dir 选另一个文件夹 / choose another folder with --dir")
    manifest_path = dest / MANIFEST
    try:
        recorded: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        recorded = {}
    result = LabFolder(path=dest, installed=src)
    for _name, files in pairs.items():
        state = []  # (file name, installed sha, copy sha or None)
        for f in files:
            target = dest / f.name
            state.append((f.name, _sha(f), _sha(target) if target.is_file() else None))
        edited = [n for n, new, have in state
                  if have is not None and have != new and have != recorded.get(n)]
        if edited or any((dest / n).exists() and not (dest / n).is_file() for n, _, _ in state):
            result.kept.extend(n for n, new, have in state if have is not None)
            continue
        stamp = time.time()
        for f, (n, new, have) in zip(files, state):
            if have == new:
                result.unchanged.append(n)
            else:
                tmp = dest / f".{n}.tmp"
                shutil.copyfile(f, tmp)
                os.utime(tmp, (stamp, stamp))
                os.replace(tmp, dest / n)
                (result.copied if have is None else result.updated).append(n)
            recorded[n] = new
    manifest_path.write_text(json.dumps({"source": str(src), "files": recorded}, ensure_ascii=False, indent=1),
                             encoding="utf-8")
    toml = dest / JUPYTEXT_TOML
    if not toml.exists():
        toml.write_text(JUPYTEXT_CONFIG, encoding="utf-8")
        result.config_written = True
    return result


# ---------------------------------------------------------------- the server

def has_display() -> bool:
    """Whether a browser could be shown: always on macOS and Windows; elsewhere only with X11 or Wayland."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def new_token() -> str:
    """A random access token (48 hex characters); the server never runs without one."""
    return secrets.token_hex(24)


def lab_url(port: int, token: str) -> str:
    """The one address to open: JupyterLab on loopback with the token."""
    return f"http://{LOOPBACK}:{port}/lab?token={token}"


def lab_argv(root: str | os.PathLike[str], *, port: int, token: str, open_browser: bool,
             allow_root: bool = False) -> list[str]:
    """JupyterLab's command-line configuration (which outranks any config file of the user).

    Loopback only and no remote access, the given non-empty ``token``, no port fallback (the port was
    checked), Jupytext's contents manager (pairing on save), ``root`` as the folder.
    """
    if not token or not token.strip():
        raise ConfigError("令牌不能为空 / the access token must not be empty")
    return [
        f"--ServerApp.ip={LOOPBACK}",
        f"--ServerApp.port={int(port)}",
        "--ServerApp.port_retries=0",
        "--ServerApp.allow_remote_access=False",
        f"--ServerApp.root_dir={Path(root).resolve()}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.contents_manager_class={CONTENTS_MANAGER}",
        f"--ServerApp.open_browser={bool(open_browser)}",
        f"--ServerApp.allow_root={bool(allow_root)}",
    ]


def lab_env(url: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's (and so every kernel's) environment: ``REVIEWOPS_DB`` = the chosen store's URL.

    ``REVIEWOPS_RUN_DIR`` is dropped: outside ``reviewops run`` a playbook writes no run files.
    """
    from .runner import RUN_DIR_ENV

    env = dict(os.environ if base is None else base)
    env[DB_ENV] = url
    env.pop(RUN_DIR_ENV, None)
    return env


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def choose_port(port: int | None) -> int:
    """``port`` if free (else :class:`ConfigError`); without one, the first free of 8890, 8891, …"""
    if port is not None:
        if not 0 < int(port) < 65536:
            raise ConfigError(f"端口应在 1–65535 之间，收到 {port!r} / the port must be 1-65535, got {port!r}")
        if not _port_free(int(port)):
            raise ConfigError(f"端口 {port} 已被占用，请用 --port 换一个 / port {port} is in use: choose another "
                              f"with --port")
        return int(port)
    for p in range(DEFAULT_PORT, DEFAULT_PORT + _PORT_TRIES):
        if _port_free(p):
            return p
    raise ConfigError(f"端口 {DEFAULT_PORT}–{DEFAULT_PORT + _PORT_TRIES - 1} 都被占用，请用 --port 指定 / "
                      f"ports {DEFAULT_PORT}-{DEFAULT_PORT + _PORT_TRIES - 1} are in use: give one with --port")


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def run_lab(folder: str | os.PathLike[str] | None = None, *, db: str | None = None, port: int | None = None,
            open_browser: bool = True, allow_root: bool = False, echo=print) -> None:
    """Prepare the working folder and run JupyterLab on it until Ctrl-C or SIGTERM.

    ``db`` is what ``--db`` takes (``None``: ``REVIEWOPS_DB`` or the default store); the store is opened
    (and migrated) once here, so a wrong URL fails now, not in the first cell. ``echo`` prints the report
    and, once, the address with the token.
    """
    from .core.redact import mask_url
    from .core.store import Store

    if _is_root() and not allow_root:
        raise ConfigError("不建议以 root 运行 JupyterLab；确需如此请加 --allow-root / running JupyterLab as root is "
                          "not recommended; add --allow-root if you must")
    with Store.open(db) as store:
        url = store.url
    prepared = prepare_lab_dir(folder)
    chosen = choose_port(port)
    token = new_token()
    show = bool(open_browser) and has_display()
    argv = lab_argv(prepared.path, port=chosen, token=token, open_browser=show, allow_root=allow_root)
    for line in prepared.lines():
        echo(line)
    echo(f"  数据库 database: {mask_url(url)}（剧本的 db 参数留空即用此库 / a playbook's empty db parameter means "
         f"this store)")
    echo(f"JupyterLab: {lab_url(chosen, token)}")
    echo("  只在本机 127.0.0.1 监听；地址中的令牌即密码，请勿外传 / loopback only; the token in the address is the "
         "password — do not share it. 按 Ctrl-C 停止 / press Ctrl-C to stop")

    from jupyter_server.serverapp import ServerApp
    from jupyterlab.labapp import LabApp

    env = lab_env(url)
    # kernels inherit the server's environment: exactly lab_env's, for as long as the server runs
    changes = {k: env.get(k) for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k)}
    import warnings

    # a Jupyter extension reads the deprecated ServerApp.token; the token is set where it belongs
    warnings.filterwarnings("ignore", message="ServerApp.token config is deprecated", category=DeprecationWarning)
    try:
        with patched_environ(changes):
            LabApp.launch_instance(argv=argv)
    except KeyboardInterrupt:
        pass
    finally:
        LabApp.clear_instance()
        ServerApp.clear_instance()
    echo("JupyterLab 已停止 / stopped")
