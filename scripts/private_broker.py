"""A RabbitMQ node of your own, for running the end-to-end tests beside other work.

The machine's node on 5672 is shared: many parallel test runs declare many quorum queues and
can exhaust its file descriptors. Start one per worktree instead and point the tests at it:

    python scripts/private_broker.py start --name mywork      # prints the AMQP URL
    export LEDGERBRIDGE_AMQP_URL=amqp://guest:guest@127.0.0.1:<port>/
    python scripts/private_broker.py stop --name mywork

Its data lives under data/brokers/<name>/ (the same node set-up `make chaos` uses).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `scripts.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.chaos_stack import ROOT, Broker, free_port, port_open


def _folder(name: str) -> Path:
    return ROOT / "data" / "brokers" / name


def _broker(name: str) -> Broker:
    folder = _folder(name)
    state = folder / "broker.json"
    if state.exists():
        saved = json.loads(state.read_text())
        return Broker(node=saved["node"], port=saved["port"], home=folder / "rabbitmq")
    folder.mkdir(parents=True, exist_ok=True)
    broker = Broker(node=f"lbdev{name}@localhost", port=free_port(), home=folder / "rabbitmq")
    assert broker.home is not None
    broker.home.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"node": broker.node, "port": broker.port}))
    return broker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop", "url"))
    parser.add_argument("--name", required=True, help="letters and digits: the node's name")
    args = parser.parse_args()
    if not args.name.isalnum():
        raise SystemExit("--name takes letters and digits only")
    broker = _broker(args.name)
    if args.action == "start" and not port_open(broker.port):
        broker.start()
    elif args.action == "stop":
        broker.stop()
        return
    print(broker.amqp_url)


if __name__ == "__main__":
    main()
