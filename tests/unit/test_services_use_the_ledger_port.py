"""Services reach ledgers through the ledger port (lb_connectors.ledger), never a ledger's own
package: adding a ledger must not mean editing a service (docs/ledger-port.md).

Every service module is held to it: one that imports a ledger package fails this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

from lb_connectors.ledger.registry import ADAPTERS

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"

#: Every ledger package: the registered adapters' packages, and the ones being written.
LEDGER_PACKAGES = frozenset(
    {path.partition(":")[0].rpartition(".")[0] for path in ADAPTERS.values()}
    | {"lb_connectors.economic", "lb_connectors.quickbooks"}
)


def ledger_imports(path: Path) -> list[str]:
    """The ledger packages (or modules in them) `path` imports, at any depth of the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if any(name == p or name.startswith(p + ".") for p in LEDGER_PACKAGES):
                found.append(name)
                break
    return found


def service_modules() -> list[Path]:
    return sorted(p for p in SERVICES.rglob("*.py") if "tests" not in p.relative_to(SERVICES).parts)


def test_no_service_module_imports_a_ledger_package() -> None:
    offenders = {
        str(path.relative_to(ROOT)): imports
        for path in service_modules()
        if (imports := ledger_imports(path))
    }
    assert not offenders, (
        f"these service modules import a ledger package directly: {offenders}. Use the ledger "
        "port (lb_connectors.ledger, LedgerDirectory.ledger(connection)); see docs/ledger-port.md."
    )


def test_the_rule_sees_every_way_of_importing(tmp_path: Path) -> None:
    """The check itself: each spelling of an import of a ledger package is caught."""
    for source in (
        "import lb_connectors.economic\n",
        "from lb_connectors.economic.client import EconomicClient\n",
        "from lb_connectors import economic\n",
        "def f():\n    from lb_connectors.quickbooks import client\n",
    ):
        module = tmp_path / "m.py"
        module.write_text(source)
        assert ledger_imports(module), source
    module.write_text(
        "from lb_connectors.ledger import Ledger\nfrom lb_connectors import ledgers\n"
    )
    assert ledger_imports(module) == []
