"""The rules of docs/ARCHITECTURE.md that a test can hold: public imports only outside the
package, short functions, tests that mirror modules, one source for every default.

(Return annotations of the public API: tests/test_validation.py.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from minnet.settings import TrainSettings

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "minnet"
MAX_FUNCTION_LINES = 80
# suites that cut across modules keep their own files (docs/ARCHITECTURE.md)
CROSS_CUTTING = {"test_inputs_untouched.py", "test_argument_checks.py", "test_properties.py",
                 "test_integration.py", "test_real_data.py", "test_checkpoint.py",
                 "test_benchmarks_integration.py", "test_r_package.py", "test_architecture.py"}


def _code_lines(source: list[str], fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's body that hold code: no docstring, comments or blank lines."""
    body = fn.body
    has_doc = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
               and isinstance(body[0].value.value, str))
    if has_doc and len(body) == 1:
        return 0
    first = body[1].lineno if has_doc else body[0].lineno
    lines = (source[i - 1].strip() for i in range(first, fn.end_lineno + 1))
    return sum(1 for ln in lines if ln and not ln.startswith("#"))


def test_no_library_function_is_longer_than_it_can_be_read_at_once():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        source = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = _code_lines(source, node)
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({n})")
    assert long == []


def test_code_outside_the_package_imports_only_public_names():
    private = re.compile(r"(from\s+minnet(\.\w+)*\s+import\s+[^#\n]*\b_\w+)"
                         r"|(from\s+minnet(\.\w+)*\._\w+\s+import)|(import\s+minnet(\.\w+)*\._)")
    places = [ROOT / "benchmarks", ROOT / "vignettes", ROOT / "rpkg" / "inst" / "python",
              ROOT / "scripts"]
    offenders = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for place in places for p in sorted(place.rglob("*.py"))
        if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)
        for m in private.finditer(p.read_text())
    ]
    assert offenders == []


def test_every_library_module_has_its_test_file():
    # __main__.py is the command line's `python -m minnet` door: tests/test_cli.py
    modules = [p for p in PACKAGE.rglob("*.py")
               if p.name not in ("__init__.py", "__main__.py", "_utils.py")]
    missing = []
    for p in modules:
        rel = p.relative_to(PACKAGE)
        name = p.stem.lstrip("_")
        want = f"test_{name}.py" if len(rel.parts) == 1 else f"test_{rel.parts[0]}_{name}.py"
        if not (ROOT / "tests" / want).exists():
            missing.append(f"{rel} → tests/{want}")
    assert missing == []
    strays = [p.name for p in (ROOT / "tests").glob("test_*.py")
              if p.name not in CROSS_CUTTING and not _mirrors_a_module(p.name)]
    assert strays == []


def _mirrors_a_module(test_file: str) -> bool:
    stem = test_file.removeprefix("test_").removesuffix(".py")
    if (PACKAGE / f"{stem}.py").exists():
        return True
    pkg, _, name = stem.partition("_")
    return (PACKAGE / pkg / f"_{name}.py").exists()


def test_cli_defaults_come_from_the_settings():
    from minnet.cli import build_parser

    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # noqa: SLF001
    flat = TrainSettings().flat()
    checked = 0
    for action in train._actions:  # noqa: SLF001
        name = action.dest
        if name in flat and action.default is not None:
            assert action.default == flat[name], name
            checked += 1
    assert checked >= 3  # epochs, seed, device at least
