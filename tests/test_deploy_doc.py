"""docs/deploy.md cannot drift from the command line (issue 21 §2).

Every ``reviewops …`` command in the page's code blocks — shell lines, cron lines (after the five schedule fields),
systemd ``ExecStart=`` values — is parsed like a shell would (continuations, ``$(…)``, redirections, ``;``/``&&``/
``|``, ``sudo -u …`` and ``VAR=value`` prefixes) and checked against the real click command tree of
:mod:`reviewops.cli`: the sub-commands exist, every option exists on that command, an option that takes a value has
one, choices and numbers are valid, and the positional arguments fit. The checker itself is tested on wrong commands,
so a test that passes means something. The nginx block and the units must also agree with each other (ports, the
trusted header, websocket headers, stickiness).
"""

from __future__ import annotations

import math
import re
import shlex
from pathlib import Path

import click
import pytest
from reviewops.cli import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "{", "}", "!"}
REDIRECT = re.compile(r"(?:\d*>>?|&>|<)\s*(?:&\d+|[^\s;|&)]+)")
SUBST = re.compile(r"\$\([^()]*\)")


# ------------------------------------------------------------------------------------- extraction
def blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return [(lang, body) for lang, body in FENCE.findall(text)]


def _logical_lines(body: str) -> list[str]:
    return [ln for ln in re.sub(r"\\\n\s*", " ", body).splitlines() if ln.strip()]


def _strip_comment(line: str) -> str:
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0]


def shell_lines(lang: str, body: str) -> list[str]:
    """The shell command lines of a block: bash/sh lines, cron commands, systemd ExecStart values."""
    out = []
    for line in _logical_lines(body):
        s = line.strip()
        if lang in ("bash", "sh", "shell", "console"):
            out.append(_strip_comment(s))
        elif lang == "cron":
            if s.startswith("#") or re.match(r"^[A-Z_]+=", s):
                continue
            out.append(_strip_comment(s.split(None, 5)[5] if len(s.split(None, 5)) == 6 else ""))
        elif lang == "ini" and s.startswith("ExecStart="):
            out.append(s[len("ExecStart="):])
    return [x for x in out if x.strip()]


def commands_in(line: str) -> list[list[str]]:
    """The argument lists of every ``reviewops`` command in one shell line."""
    line = SUBST.sub("SUBST", line)
    line = re.sub(r"\$\{(\w+)\}", r"$\1", line)  # ${VAR} → $VAR (braces are shell grouping below)
    line = REDIRECT.sub(" ", line)
    lex = shlex.shlex(line, posix=True, punctuation_chars=";&|(){}!")
    lex.whitespace_split = True
    tokens = list(lex)
    found, current = [], []
    for tok in [*tokens, ";"]:
        if tok in SEPARATORS or re.fullmatch(r"[;&|]+", tok):
            if current:
                found.append(current)
            current = []
        else:
            current.append(tok)
    out = []
    for words in found:
        i = 0
        while i < len(words):  # VAR=value prefixes, sudo [-u USER] …
            w = words[i]
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w):
                i += 1
            elif w == "sudo":
                i += 1
                while i < len(words) and words[i].startswith("-"):
                    i += 2 if words[i] in ("-u", "-g") else 1
            elif w in ("exec", "nohup", "time"):
                i += 1
            else:
                break
        if i < len(words) and words[i].rsplit("/", 1)[-1] == "reviewops":
            out.append(words[i + 1:])
    return out


def doc_commands(text: str) -> list[list[str]]:
    return [cmd for lang, body in blocks(text) for line in shell_lines(lang, body) for cmd in commands_in(line)]


def prose_commands(text: str) -> list[list[str]]:
    """``reviewops …`` commands quoted in the text outside the code blocks (not ``reviewops …`` itself)."""
    prose = FENCE.sub("", text)
    return [c for span in re.findall(r"`(reviewops [^`]+)`", prose) for c in commands_in(span) if c and c[0] != "…"]


# ---------------------------------------------------------------------------------------- checking
def _unresolved(value: str) -> bool:
    return "$" in value or "%" in value or value == "SUBST" or "…" in value


def _check_value(path: str, opt: click.Option, name: str, value: str) -> list[str]:
    if _unresolved(value):
        return []
    t = opt.type
    if isinstance(t, click.Choice):
        return [] if value in t.choices else [f"{path}: {name} {value!r} is not one of {list(t.choices)}"]
    if isinstance(t, (click.types.IntParamType, click.types.FloatParamType)):  # ranges too
        try:
            t.convert(value, opt, None)
        except click.BadParameter as e:
            return [f"{path}: {name} {value!r}: {e.format_message()}"]
    return []


def check(args: list[str], *, positional_count: bool = True) -> list[str]:
    """Problems of ``reviewops <args>`` against the CLI (empty = fine); ``positional_count=False`` for a
    command named in prose, which may leave out its arguments."""
    cmd: click.Command = cli
    path = "reviewops"
    i = 0
    while isinstance(cmd, click.Group):
        if i >= len(args):
            return [f"{path}: a sub-command is missing"]
        tok = args[i]
        if tok in ("-h", "--help", "--version"):
            return []
        sub = cmd.commands.get(tok)
        if sub is None:
            return [f"{path}: no sub-command {tok!r} (has {sorted(cmd.commands)})"]
        cmd, path, i = sub, f"{path} {tok}", i + 1
    opts: dict[str, click.Option] = {}
    for p in cmd.params:
        if isinstance(p, click.Option):
            for o in (*p.opts, *p.secondary_opts):
                opts[o] = p
    problems: list[str] = []
    positional: list[str] = []
    rest = args[i:]
    j = 0
    while j < len(rest):
        tok = rest[j]
        if tok == "--":
            positional += rest[j + 1:]
            break
        if tok.startswith("-") and len(tok) > 1 and not re.fullmatch(r"-\d+(\.\d+)?", tok):
            name, eq, value = tok.partition("=")
            if name in ("-h", "--help"):
                j += 1
                continue
            opt = opts.get(name)
            if opt is None:
                problems.append(f"{path}: no option {name!r}")
            elif opt.is_flag or opt.count:
                if eq:
                    problems.append(f"{path}: {name} takes no value")
            else:
                if not eq:
                    if j + 1 >= len(rest):
                        problems.append(f"{path}: {name} needs a value")
                        break
                    j += 1
                    value = rest[j]
                problems += _check_value(path, opt, name, value)
            j += 1
        else:
            positional.append(tok)
            j += 1
    arguments = [p for p in cmd.params if isinstance(p, click.Argument)]
    most = math.inf if any(p.nargs == -1 for p in arguments) else sum(p.nargs for p in arguments)
    least = sum(p.nargs for p in arguments if p.required and p.nargs > 0)
    if positional_count and not least <= len(positional) <= most:
        problems.append(f"{path}: {len(positional)} positional argument(s) {positional}, expected "
                        f"{least}{'' if most == least else f'..{most}'}")
    return problems


# ------------------------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_reviewops_command_in_deploy_md_exists(doc: str) -> None:
    cmds = doc_commands(doc)
    assert len(cmds) >= 20, cmds  # the page's commands were found at all
    assert {c[0] for c in cmds} >= {"serve", "watch", "run", "backup", "restore", "status", "users", "policy"}
    problems = [f"reviewops {' '.join(c)}\n    {p}" for c in cmds for p in check(c)]
    problems += [f"reviewops {' '.join(c)} (in the text)\n    {p}" for c in prose_commands(doc)
                 for p in check(c, positional_count=False)]
    assert len(prose_commands(doc)) >= 5
    assert not problems, "docs/deploy.md names commands or options the CLI does not have:\n" + "\n".join(problems)


def test_each_kind_of_block_is_read(doc: str) -> None:
    """The units, the cron table and the shell blocks each contribute commands (none is silently skipped)."""
    kinds = {lang for lang, body in blocks(doc) for line in shell_lines(lang, body) if commands_in(line)}
    assert kinds >= {"bash", "ini", "cron"}
    serve = [c for c in doc_commands(doc) if c[0] == "serve"]
    watch = [c for c in doc_commands(doc) if c[0] == "watch" and "--http" in c]
    assert serve and len(watch) >= 2  # the serve unit, the watch unit and app1's drop-folder override


@pytest.mark.parametrize(("args", "why"), [
    (["serve", "--no-such-flag"], "no option"),
    (["srve"], "no sub-command"),
    (["users", "ad", "x"], "no sub-command"),
    (["watch", "--poll"], "needs a value"),
    (["watch", "--poll", "0.001"], "0.001"),
    (["watch", "--platform", "ebay"], "not one of"),
    (["run"], "positional"),
    (["backup", "a.zip", "b.zip"], "positional"),
    (["serve", "--allow-remote=yes"], "takes no value"),
    (["serve", "--port", "99999"], "99999"),
    (["serve", "--ip", "$LISTEN_IP", "--bogus", "$X"], "no option"),
    ([], "missing"),
])
def test_the_checker_refuses_wrong_commands(args: list[str], why: str) -> None:
    problems = check(args)
    assert problems and why in " ".join(problems), problems


@pytest.mark.parametrize(("lang", "text", "want"), [
    ("bash", "sudo -u reviewops reviewops serve --port 1 2>&1 | tee /tmp/x  # c", [["serve", "--port", "1"]]),
    ("bash", "sudo -u postgres createdb --owner reviewops reviewops", []),
    ("bash", "X=1 reviewops status && reviewops watch --status", [["status"], ["watch", "--status"]]),
    ("bash", "reviewops backup \\\n   /b/x.zip --overwrite", [["backup", "/b/x.zip", "--overwrite"]]),
    ("cron", "0 8 * * 1  /opt/r/bin/reviewops run weekly_top3 --out /r/$(date +\\%G-W\\%V) >> /l 2>&1",
     [["run", "weekly_top3", "--out", "/r/SUBST"]]),
    ("cron", "CRON_TZ=Asia/Shanghai", []),
    ("ini", "ExecStart=/opt/r/bin/reviewops watch --http ${LISTEN_IP}:8877\nExecStart=",
     [["watch", "--http", "$LISTEN_IP:8877"]]),
    ("nginx", "upstream reviewops_serve {\n    server 10.0.0.11:8866;\n}", []),
])
def test_commands_are_found_as_a_shell_would_see_them(lang: str, text: str, want: list[list[str]]) -> None:
    got = [c for line in shell_lines(lang, text + "\n") for c in commands_in(line)]
    assert got == want


def test_the_units_and_the_nginx_block_agree(doc: str) -> None:
    """The proxy sets the header serve trusts, reaches the ports serve and watch listen on, passes websockets and
    keeps one user on one instance."""
    nginx = "\n".join(body for lang, body in blocks(doc) if lang == "nginx")
    cmds = doc_commands(doc)
    serve = next(c for c in cmds if c[0] == "serve" and "--trusted-header" in c)
    header = serve[serve.index("--trusted-header") + 1]
    port = serve[serve.index("--port") + 1]
    assert re.search(rf"proxy_set_header\s+{re.escape(header)}\s+\$\w+;", nginx)
    serve_pool = re.search(r"upstream reviewops_serve \{(.*?)\}", nginx, re.DOTALL).group(1)
    assert re.search(r"^\s*(hash \$\w+ consistent|ip_hash);", serve_pool, re.MULTILINE)  # sticky
    servers = re.findall(r"server [\d.]+:(\d+)", serve_pool)
    assert len(servers) >= 2 and set(servers) == {port}
    push_port = {c[c.index("--http") + 1].rsplit(":", 1)[1] for c in cmds if c[0] == "watch" and "--http" in c}
    push_pool = re.search(r"upstream reviewops_push \{(.*?)\}", nginx, re.DOTALL).group(1)
    assert set(re.findall(r"server [\d.]+:(\d+)", push_pool)) == push_port and len(push_port) == 1
    for need in ("proxy_set_header Upgrade $http_upgrade;", "proxy_set_header Connection $connection_upgrade;",
                 "proxy_set_header Host $host;", "proxy_http_version 1.1;"):
        assert need in nginx
    proxy = serve[serve.index("--trusted-proxy") + 1]
    assert f"web1 {proxy}" in doc  # the trusted proxy is the nginx host of the layout
