"""The layers point down, and no import hides inside a function (DESIGN.md §1).

Every module under playground/, accounts/ and config/ is read with ast, not
imported: a lower layer (models, lifecycle, services, contracts, providers,
webhooks, outbound, catalog, ...) never imports the HTTP layers (api/,
pages/), and no module imports inside a function body, where a cycle would
hide, except the few listed below with their reason.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("playground", "accounts", "config")

# The HTTP layers, and the modules above them that route to them or render for them.
UPPER_LAYERS = (
    "playground.api",
    "playground.pages",
    # The operators' probes and request-id middleware (the rest of ops/ sits low).
    "playground.ops.views",
    "playground.ops.middleware",
)
MAY_IMPORT_UPPER = (
    *UPPER_LAYERS,
    "playground.urls",
    "config.urls",
    # Template tags are the pages' presentation helpers.
    "playground.templatetags",
)

# (module, function) → why its imports are made when it runs, not when the module loads.
LAZY_IMPORTS = {
    ("accounts.apps", "ready"): "Django's place to connect signal receivers: the apps are loaded",
    ("playground.apps", "ready"): "Django's place to register system checks: the apps are loaded",
    ("playground.management.commands.serve", "gunicorn_argv"): (
        "the command reports a missing gunicorn as a problem instead of failing to load"
    ),
    ("playground.providers.localrender.encode", "_x264_instruction_set"): (
        "numpy's private CPU-feature table, which moved in numpy 2: tried where it is used"
    ),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
}


def package_of(module: str) -> list[str]:
    parts = module.split(".")
    return parts if MODULES[module].name == "__init__.py" else parts[:-1]


def imported_names(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    """The modules an import statement may load (`from a import b` may load a.b)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative to the importing module's package
        package = package_of(module)[: len(package_of(module)) - node.level + 1]
        base = ".".join([*package, *([base] if base else [])])
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def is_within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def imports_of(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def lazy_imports(tree: ast.AST):
    """(function name, import node) for every import inside a function body."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield node.name, inner


@pytest.mark.parametrize("module", sorted(MODULES))
def test_lower_layers_do_not_import_api_or_pages(module):
    if is_within(module, MAY_IMPORT_UPPER):
        return
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    upward = [
        f"line {node.lineno}: {name}"
        for node in imports_of(tree)
        for name in imported_names(node, module)
        if is_within(name, UPPER_LAYERS)
    ]
    assert upward == [], f"{module} imports the HTTP layer"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_inside_a_function(module):
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    hidden = sorted(
        f"line {node.lineno}, in {function}()"
        for function, node in lazy_imports(tree)
        if (module, function) not in LAZY_IMPORTS
    )
    assert hidden == [], f"{module} imports inside a function; import at the top instead"


def test_every_allowed_lazy_import_is_still_there():
    """An entry whose import went away is taken out, not left to excuse a new one."""
    found = {
        (module, function)
        for module, path in MODULES.items()
        for function, _ in lazy_imports(ast.parse(path.read_text(), str(path)))
    }
    assert set(LAZY_IMPORTS) - found == set()
