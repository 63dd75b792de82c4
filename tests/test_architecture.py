"""The product's layout holds: no import cycle inside moderation/, the tools (emulator,
benchmarks) apart from it, and no module of it using another's private names.

Imports are read from the source (inside functions too), not from what happens to be loaded.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ROOT / "moderation"
TOOLS = ("rtc_emulator", "bench")


def product_modules() -> dict[str, Path]:
    modules = {}
    for path in PRODUCT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def imports_of(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every import in the file, relative ones made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([module] if module else []))
            found.append((module, [alias.name for alias in node.names]))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = product_modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for module, names in imports_of(name, path):
            for target in [f"{module}.{n}" for n in names] + [module]:
                if target in modules and target != name:
                    graph[name].add(target)
                    break
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_moderation_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 20  # the reader found the product's modules

    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_it_is_shown():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_product_imports_neither_the_emulator_nor_the_benchmarks():
    offending = [
        (name, module)
        for name, path in product_modules().items()
        for module, _names in imports_of(name, path)
        if module.split(".")[0] in TOOLS
    ]

    assert offending == []


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(name: str, path: Path, modules: dict[str, Path]) -> list[str]:
    """`from .x import _y` and `x._y`, where x is another module of the product."""
    tree = ast.parse(path.read_text())
    bound, found = {}, []
    for module, names in imports_of(name, path):
        for imported in names:
            if f"{module}.{imported}" in modules:
                bound[imported] = f"{module}.{imported}"
            elif module in modules and module != name and is_private(imported):
                found.append(f"{module}.{imported}")
    for node in ast.walk(tree):
        if isinstance(node, ast.alias) and node.asname and node.name in bound:
            bound[node.asname] = bound[node.name]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and is_private(node.attr)
        ):
            found.append(f"{bound[node.value.id]}.{node.attr}")
    return found


def test_no_product_module_uses_another_modules_private_names():
    modules = product_modules()

    offending = {
        name: uses for name, path in modules.items() if (uses := private_uses(name, path, modules))
    }

    assert offending == {}


def test_the_private_name_check_finds_uses_it_is_shown(tmp_path):
    shown = tmp_path / "shown.py"
    shown.write_text(
        "from . import services\nfrom .bancheck import _redis\n\n"
        "def f():\n    return services._claim([1]), _redis()\n"
    )
    modules = {"moderation.services": shown, "moderation.bancheck": shown}

    uses = private_uses("moderation.shown", shown, modules)

    assert sorted(uses) == ["moderation.bancheck._redis", "moderation.services._claim"]
