"""What the alert rules, recording rules, dashboards and promtool tests use, checked against a
scrape of the running services (tests-e2e/test_operational_truth.py) and the metrics catalog.

A PromQL selector here is a metric name (`paycore_…`, a recorded `paycore:…`, `up`,
`rabbitmq_…`) with its label matchers; that is all these checks need of PromQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
ALERTS_FILE = ROOT / "infra" / "prometheus" / "alerts.yml"
RULE_TESTS_FILE = ROOT / "infra" / "prometheus" / "rules.test.yml"
DASHBOARDS_DIR = ROOT / "infra" / "grafana" / "dashboards"
CATALOG_FILE = ROOT / "docs" / "metrics.md"

# Series Prometheus makes itself (`up`) or scrapes from RabbitMQ's own exporter: not ours.
EXTERNAL = re.compile(r"^(up|rabbitmq_[a-z0-9_]+)$")
# Labels Prometheus adds from the target, never in a service's own scrape.
TARGET_LABELS = frozenset({"job", "instance"})
SELECTOR = re.compile(
    r"(?<![\w:$])(?P<name>paycore_[a-z0-9_]+|paycore:[a-z0-9_:]+|up|rabbitmq_[a-z0-9_]+)"
    r"\s*(?P<matchers>\{[^}]*\})?"
)
MATCHER = re.compile(r'(?P<label>[a-zA-Z_]\w*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>[^"]*)"')
LITERAL_ALTERNATIVES = re.compile(r"^[\w\-]+(\|[\w\-]+)*$")


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def alternatives(self) -> list[str]:
        """The literal values a positive matcher names (`a|b` names a and b)."""
        if self.op == "=":
            return [self.value]
        if self.op == "=~" and LITERAL_ALTERNATIVES.match(self.value):
            return self.value.split("|")
        return []


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[Matcher, ...]
    source: str

    def __str__(self) -> str:
        inner = ",".join(f'{m.label}{m.op}"{m.value}"' for m in self.matchers)
        return f"{self.source}: {self.name}{{{inner}}}"


def selectors(expr: str, source: str) -> list[Selector]:
    """The vector selectors of a PromQL expression (dashboard variables ignored)."""
    found = []
    for match in SELECTOR.finditer(expr):
        matchers = tuple(
            Matcher(m["label"], m["op"], m["value"])
            for m in MATCHER.finditer(match["matchers"] or "")
            if "$" not in m["value"]
        )
        found.append(Selector(match["name"], matchers, source))
    return found


@dataclass
class Scrape:
    """Samples by service: (sample name, labels)."""

    samples: dict[str, list[tuple[str, dict[str, str], float]]] = field(default_factory=dict)
    families: set[str] = field(default_factory=set)

    def all(self) -> Iterable[tuple[str, dict[str, str], float]]:
        for samples in self.samples.values():
            yield from samples

    def has(self, name: str, **labels: str) -> bool:
        return any(
            sample == name and all(got.get(k) == v for k, v in labels.items())
            for sample, got, _ in self.all()
        )

    def counted(self, name: str, **labels: str) -> bool:
        """A sample of `name` with these labels and a value above 0, in any service."""
        return any(
            sample == name and value > 0 and all(got.get(k) == v for k, v in labels.items())
            for sample, got, value in self.all()
        )

    def value(self, service: str, name: str, **labels: str) -> float | None:
        for sample, got, value in self.samples.get(service, []):
            if sample == name and all(got.get(k) == v for k, v in labels.items()):
                return value
        return None

    def label_values(self, name: str, label: str) -> set[str]:
        return {got[label] for sample, got, _ in self.all() if sample == name and label in got}

    def metric_families(self) -> set[str]:
        return {name for name in self.families if name.startswith("paycore_")}

    def dump(self) -> str:
        return "\n".join(
            f"{service} {name}{json.dumps(labels, sort_keys=True)} {value}"
            for service, samples in sorted(self.samples.items())
            for name, labels, value in samples
        )


def parse_scrape(texts: Mapping[str, str]) -> Scrape:
    scrape = Scrape()
    for service, text in texts.items():
        samples = scrape.samples.setdefault(service, [])
        for family in text_string_to_metric_families(text):
            if family.name.endswith("_created"):
                continue  # prometheus_client's creation timestamps of counters and histograms
            # Counters are exposed as <name>_total; the family drops the suffix.
            scrape.families.add(family.name + ("_total" if family.type == "counter" else ""))
            for sample in family.samples:
                samples.append((sample.name, dict(sample.labels), sample.value))
    return scrape


def rule_and_panel_selectors(
    alerts_file: Path = ALERTS_FILE, dashboards_dir: Path = DASHBOARDS_DIR
) -> tuple[list[Selector], set[str]]:
    """Every selector of every alert, recording rule and panel; and the recorded names."""
    found: list[Selector] = []
    recorded: set[str] = set()
    for group in yaml.safe_load(alerts_file.read_text())["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            if "record" in rule:
                recorded.add(rule["record"])
            found += selectors(rule["expr"], f"rule {name}")
    for path in sorted(dashboards_dir.glob("*.json")):
        for panel in _panels(json.loads(path.read_text())):
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    found += selectors(target["expr"], f"{path.name}: {panel.get('title')}")
    return found, recorded


def _panels(dashboard: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for panel in dashboard.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def catalog_metrics(catalog: Path = CATALOG_FILE) -> set[str]:
    """Metric names the catalog documents (each in a `### name` heading)."""
    return set(re.findall(r"^### `(paycore_[a-z0-9_]+)`", catalog.read_text(), re.MULTILINE))


def catalog_values(catalog: Path = CATALOG_FILE) -> dict[tuple[str, str], set[str]]:
    """Documented label values: lines `- label: a, b, c` under a metric's heading."""
    values: dict[tuple[str, str], set[str]] = {}
    metric = None
    for line in catalog.read_text().splitlines():
        heading = re.match(r"^### `(paycore_[a-z0-9_]+)`", line)
        if heading:
            metric = heading[1]
            continue
        item = re.match(r"^- `(\w+)`: (.+)$", line)
        if metric and item:
            names = re.findall(r"`([^`]+)`", item[2])
            values.setdefault((metric, item[1]), set()).update(names)
    return values


def _family_of(sample: str) -> str:
    for suffix in ("_bucket", "_count", "_sum", "_created"):
        if sample.endswith(suffix):
            return sample.removesuffix(suffix)
    return sample


def check_selectors_against_scrape(
    found: tuple[list[Selector], set[str]],
    scrape: Scrape,
    catalog: Path = CATALOG_FILE,
) -> list[str]:
    """Each selector selects something in the scrape; every value a matcher names is in the
    scrape, or (alternatives of a regex, such as the gateway's error codes) documented. A
    counter or histogram series counts only once it has counted something (> 0): series exposed
    at 0 in advance prove nothing. Nothing is excused: a value only a fault produces is
    produced by causing that fault in the running system."""
    selected, recorded = found
    documented = catalog_values(catalog)
    errors = []
    for selector in selected:
        if EXTERNAL.match(selector.name):
            continue
        if selector.name.startswith("paycore:"):
            if selector.name not in recorded:
                errors.append(f"{selector}: no recording rule makes it")
            continue
        family = _family_of(selector.name)
        counts = selector.name.endswith(("_total", "_bucket", "_count", "_sum"))
        candidates = [
            labels
            for name, labels, value in scrape.all()
            if name == selector.name and (value > 0 or not counts)
        ]
        if not candidates:
            errors.append(f"{selector}: no such series in the scrape (or never counted)")
            continue
        if not any(all(m.matches(labels) for m in selector.matchers) for labels in candidates):
            errors.append(f"{selector}: selects nothing in the scrape")
        for matcher in selector.matchers:
            seen = {labels.get(matcher.label) for labels in candidates}
            allowed = documented.get((family, matcher.label), set())
            for value in matcher.alternatives():
                if value in seen:
                    continue
                if matcher.op == "=~" and value in allowed:
                    continue
                errors.append(f"{selector}: {matcher.label}={value} is not in the scrape")
    return errors


def check_rule_tests_against_scrape(
    scrape: Scrape,
    tests_file: Path = RULE_TESTS_FILE,
) -> list[str]:
    """The promtool tests feed only label values a running system emits."""
    errors = []
    for test in yaml.safe_load(tests_file.read_text())["tests"]:
        for series in test.get("input_series") or []:
            parsed = selectors(series["series"], "rules.test.yml")
            if len(parsed) != 1:
                errors.append(f"rules.test.yml: cannot read {series['series']}")
                continue
            selector = parsed[0]
            if EXTERNAL.match(selector.name):
                continue
            for matcher in selector.matchers:
                if matcher.label in TARGET_LABELS:
                    continue
                seen = scrape.label_values(selector.name, matcher.label)
                if matcher.value not in seen:
                    errors.append(
                        f"rules.test.yml: {selector.name} {matcher.label}={matcher.value!r} "
                        f"never seen (scrape has {sorted(seen)})"
                    )
    return errors
