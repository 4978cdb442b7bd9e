"""S-04 static rule for the operator forms: data reaches an HTML widget only through ``esc``.

An AST check over ``widgets/*.py``. An expression is **safe HTML** when it is

* a string (or number) constant;
* a call of ``esc(...)`` (``widgets/common.py``'s ``html.escape`` wrapper) or of a function whose name
  ends in ``_html`` *defined in widgets/* — every such function is itself checked: each value it
  returns must be safe, its parameters counting as unsafe data;
* an f-string whose every ``{…}`` is safe, a ``+`` of safe parts, ``a if c else b`` of safe parts;
* ``"sep".join(...)`` of a list/tuple or a comprehension whose element is safe;
* a local name every assignment of which is safe.

Checked places: the value (first argument or ``value=``) of every ``HTML(...)``/``HTMLMath(...)`` call
(no ``*args``/``**kwargs`` there); every ``X.value = …`` unless ``X`` is known (by its name anywhere
in widgets/) to be only a text/input widget (Text, Textarea, Label, Dropdown …); unknown receivers must
get safe values too. Forbidden outright: ``description_allow_html``, ``setattr``/``set_trait``/
``set_state``, trait links (``link``/``dlink``/``jslink``/``jsdlink``) and IPython's ``Javascript``/
``Markdown``/``display_html``.
"""

from __future__ import annotations

import ast
import html
from pathlib import Path

import ipywidgets
import pytest

ROOT = Path(__file__).resolve().parents[1]
WIDGETS = ROOT / "widgets"
HTML_CTORS = {"HTML", "HTMLMath"}
WIDGET_CLASSES = {n for n in dir(ipywidgets) if isinstance(getattr(ipywidgets, n), type)
                  and issubclass(getattr(ipywidgets, n), ipywidgets.Widget)} - HTML_CTORS
FACTORIES_NON_HTML = {"button", "section"}  # widgets/common.py helpers returning Button / VBox
FORBIDDEN_CALLS = {"setattr", "set_trait", "set_state", "link", "dlink", "jslink", "jsdlink", "Javascript",
                   "Markdown", "display_html", "append_display_data"}
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module, ast.ListComp, ast.SetComp, ast.DictComp,
          ast.GeneratorExp)
UNSAFE = object()


def _files() -> list[Path]:
    return sorted(p for p in WIDGETS.glob("*.py"))


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _key(target: ast.expr) -> str | None:
    return target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else None


class Module:
    """One parsed module: parents, scopes and what each name is bound to."""

    def __init__(self, path: Path, html_funcs: set[str]):
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.html_funcs = html_funcs
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node
        self.bindings: dict[ast.AST, dict[str, list]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, SCOPES):
                self.bindings[node] = self._bind(node)

    def scope_of(self, node: ast.AST) -> ast.AST:
        cur = self.parent.get(node)
        while cur is not None and not isinstance(cur, SCOPES):
            cur = self.parent.get(cur)
        return cur if cur is not None else self.tree

    def _bind(self, scope: ast.AST) -> dict[str, list]:
        out: dict[str, list] = {}

        def add(name: str, value: object) -> None:
            out.setdefault(name, []).append(value)

        def targets(t: ast.expr, value: object) -> None:
            if isinstance(t, ast.Name):
                add(t.id, value)
            elif isinstance(t, (ast.Tuple, ast.List)):
                vals = value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(t.elts) \
                    else [UNSAFE] * len(t.elts)
                for sub, v in zip(t.elts, vals):
                    targets(sub, v)
            elif isinstance(t, ast.Starred):
                targets(t.value, UNSAFE)

        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = scope.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, *([a.vararg] if a.vararg else []),
                        *([a.kwarg] if a.kwarg else [])]:
                add(arg.arg, UNSAFE)
        if isinstance(scope, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for gen in scope.generators:
                targets(gen.target, UNSAFE)
            return out
        body = [scope.body] if isinstance(scope, ast.Lambda) else scope.body
        stack = list(body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                add(node.name, UNSAFE)
                if isinstance(node, ast.ClassDef):
                    stack.extend(node.body)  # class bodies bind into no function scope we read; keep walking
                continue
            if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    targets(t, node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                add(node.target.id, node.value if node.value is not None else UNSAFE)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                add(node.target.id, node.value if isinstance(node.op, ast.Add) else UNSAFE)
            elif isinstance(node, ast.NamedExpr):
                add(node.target.id, node.value)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets(node.target, UNSAFE)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars, UNSAFE)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                add(node.name, UNSAFE)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    add((alias.asname or alias.name).split(".")[0], UNSAFE)
            stack.extend(ast.iter_child_nodes(node))
        return out

    def lookup(self, name: str, at: ast.AST) -> list | None:
        scope: ast.AST | None = self.scope_of(at)
        while scope is not None:
            found = self.bindings.get(scope, {}).get(name)
            if found is not None:
                return found
            if scope is self.tree:
                return None
            scope = self.scope_of(scope)
        return None

    def safe(self, e: object, seen: frozenset = frozenset()) -> bool:
        if e is UNSAFE or e is None:
            return False
        if isinstance(e, ast.Constant):
            return isinstance(e.value, (str, int, float)) and not isinstance(e.value, bool) or e.value is None
        if isinstance(e, ast.JoinedStr):
            return all(isinstance(v, ast.Constant) or (isinstance(v, ast.FormattedValue) and self.safe(v.value, seen)
                                                       and (v.format_spec is None or self.safe(v.format_spec, seen)))
                       for v in e.values)
        if isinstance(e, ast.BinOp):
            return isinstance(e.op, ast.Add) and self.safe(e.left, seen) and self.safe(e.right, seen)
        if isinstance(e, ast.IfExp):
            return self.safe(e.body, seen) and self.safe(e.orelse, seen)
        if isinstance(e, ast.Call):
            name = _name(e.func)
            if name == "esc" or name in self.html_funcs:
                return True
            if name == "join" and isinstance(e.func, ast.Attribute) and self.safe(e.func.value, seen) \
                    and len(e.args) == 1 and not e.keywords:
                arg = e.args[0]
                if isinstance(arg, (ast.ListComp, ast.GeneratorExp)):
                    return self.safe(arg.elt, seen)
                if isinstance(arg, (ast.List, ast.Tuple)):
                    return all(self.safe(x, seen) for x in arg.elts)
                return self.safe(arg, seen)
            return False
        if isinstance(e, ast.Name):
            key = (e.id, id(self.scope_of(e)))
            if key in seen:
                return True  # a cycle adds nothing unsafe by itself
            values = self.lookup(e.id, e)
            return bool(values) and all(self.safe(v, seen | {key}) for v in values)
        return False


def _html_funcs(extra: Path | None = None) -> set[str]:
    out = set()
    for p in [*_files(), *([extra] if extra else [])]:
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.endswith("_html"):
                out.add(node.name)
    return out


def _widget_kinds(extra: Path | None = None) -> dict[str, set[str]]:
    """name/attribute → {"html", "other", "unknown"}: what it is assigned from, anywhere in widgets/."""
    kinds: dict[str, set[str]] = {}
    for p in [*_files(), *([extra] if extra else [])]:
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
                ctor = _name(node.value.func)
                kind = "html" if ctor in HTML_CTORS else "other" if (ctor in WIDGET_CLASSES or ctor in
                                                                     FACTORIES_NON_HTML) else None
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                    k = _key(t)
                    if k is not None:
                        kinds.setdefault(k, set()).add(kind or "unknown")
    return kinds


def check(path: Path) -> list[str]:
    html_funcs = _html_funcs(path)
    kinds = _widget_kinds(path)
    m = Module(path, html_funcs)
    problems = []

    def where(node: ast.AST) -> str:
        return f"{path.name}:{node.lineno}: {ast.unparse(node)[:120]}"

    for node in ast.walk(m.tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name in HTML_CTORS:
                if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                    problems.append(f"HTML widget built from *args/**kwargs: {where(node)}")
                values = node.args[:1] + [k.value for k in node.keywords if k.arg == "value"]
                for v in values:
                    if not m.safe(v):
                        problems.append(f"unescaped HTML value: {where(node)}")
            if name in FORBIDDEN_CALLS:
                problems.append(f"forbidden call {name}: {where(node)}")
            for k in node.keywords:
                if k.arg == "description_allow_html":
                    problems.append(f"description_allow_html: {where(node)}")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, (ast.Tuple, ast.List)) and any(isinstance(x, ast.Attribute) and x.attr == "value"
                                                                for x in ast.walk(t)):
                    problems.append(f".value assigned by unpacking: {where(node)}")
                if isinstance(t, ast.Attribute) and t.attr == "value":
                    receiver = _key(t.value)
                    if kinds.get(receiver or "", set()) != {"other"} and not m.safe(node.value):
                        problems.append(f"unescaped value assigned to {ast.unparse(t)} (an HTML or unknown widget): "
                                        f"{where(node)}")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.endswith("_html"):
            for r in ast.walk(node):
                if isinstance(r, ast.Return) and m.scope_of(r) is node and not m.safe(r.value):
                    problems.append(f"{node.name} returns unescaped data: {where(r)}")
    return problems


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_html_values_are_escaped(path: Path) -> None:
    assert check(path) == []


def test_there_are_forms_to_check() -> None:
    names = {p.name for p in _files()}
    assert {"common.py", "queue.py", "case.py", "approvals.py", "followups.py", "app.py"} <= names


# ------------------------------------------------------------- the checker itself catches what it must
BAD = {
    "html_ctor": "import ipywidgets as widgets\ndef f(review):\n    return widgets.HTML(review)\n",
    "html_fstring": "import ipywidgets as widgets\ndef f(r):\n    return widgets.HTML(value=f'<b>{r}</b>')\n",
    "value_assign": "import ipywidgets as widgets\nclass F:\n    def __init__(self):\n        self.box = widgets.HTML('')\n"
                    "    def show(self, r):\n        self.box.value = '<p>' + r + '</p>'\n",
    "unknown_receiver": "def show(form, r):\n    form.mystery.value = r\n",
    "join": "import ipywidgets as widgets\ndef f(rows):\n    return widgets.HTML(''.join(f'<td>{x}</td>' for x in rows))\n",
    "name": "import ipywidgets as widgets\ndef f(r):\n    s = '<b>'\n    s += r\n    return widgets.HTML(s)\n",
    "bad_helper": "def row_html(r):\n    return f'<td>{r}</td>'\n",
    "allow_html": "import ipywidgets as widgets\nb = widgets.Checkbox(description='x', description_allow_html=True)\n",
    "kwargs": "import ipywidgets as widgets\ndef f(**kw):\n    return widgets.HTML(**kw)\n",
    "link": "import ipywidgets as widgets\nwidgets.link((a, 'value'), (b, 'value'))\n",
    "setattr": "def f(w, r):\n    setattr(w, 'value', r)\n",
}
GOOD = {
    "esc": "import ipywidgets as widgets\nfrom .common import esc\ndef f(r):\n"
           "    return widgets.HTML(f'<b>{esc(r)}</b>' + ''.join(f'<i>{esc(x)}</i>' for x in r))\n",
    "helper": "def cell_html(r):\n    x = f'<td>{esc(r)}</td>'\n    return '<tr>' + x + '</tr>'\n",
    "text_widget": "import ipywidgets as widgets\nclass F:\n    def __init__(self):\n        self.note = widgets.Textarea()\n"
                   "    def show(self, r):\n        self.note.value = r\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_checker_flags_unescaped(name: str, tmp_path: Path) -> None:
    p = tmp_path / f"{name}.py"
    p.write_text(BAD[name], encoding="utf-8")
    assert check(p), name


@pytest.mark.parametrize("name", sorted(GOOD))
def test_checker_accepts_escaped(name: str, tmp_path: Path) -> None:
    p = tmp_path / f"{name}.py"
    p.write_text(GOOD[name], encoding="utf-8")
    assert check(p) == [], name


def test_esc_is_html_escape() -> None:
    from reviewops_widgets.common import esc

    payload = '<img src=x onerror=alert(1)>"\'&'
    assert esc(payload) == html.escape(payload, quote=True)
    assert "<" not in esc(payload) and '"' not in esc(payload) and "'" not in esc(payload)
    assert esc(None) == ""
