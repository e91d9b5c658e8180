"""The Grafana dashboard and the Prometheus alert rules in deploy/ name only metrics that the
services really export (a renamed metric would leave a panel empty and an alert silent)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import lb_common.metrics
import lb_common.retention
import lb_connectors.economic.metrics
import lb_ingest.connection_metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bledgerbridge_[a-z_]+\b")
_LOADED = (
    lb_common.metrics,
    lb_common.retention,
    lb_connectors.economic.metrics,
    lb_ingest.connection_metrics,
)


def _exported() -> set[str]:
    families = list(REGISTRY.collect())
    # A labelled metric has no samples until a label set is used: name its series by type.
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    return {sample.name for family in families for sample in family.samples} | {
        family.name + suffix for family in families for suffix in suffixes.get(family.type, ("",))
    }


def _expressions() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((DEPLOY / "grafana" / "ledgerbridge.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    return exprs


def test_every_metric_in_the_dashboard_and_the_alerts_is_exported() -> None:
    named = {m for expr in _expressions() for m in METRIC.findall(expr)}
    assert named, "no ledgerbridge metric found in deploy/"
    assert named - _exported() == set()


def test_every_alert_says_what_happened() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["alert"].startswith("Ledgerbridge")
            assert rule["annotations"]["summary"]
