"""`python -m comfydeploy.simulator --port 8188`: serve a simulated ComfyUI machine."""
from __future__ import annotations

import argparse
import time

from .machine import SimulatedMachine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8188)
    parser.add_argument("--node-delay", type=float, default=0.3, help="Seconds each node takes (default 0.3).")
    args = parser.parse_args()
    machine = SimulatedMachine(args.host, args.port, node_delay=args.node_delay).start()
    print(f"Simulated ComfyUI machine listening on {machine.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        machine.stop()


if __name__ == "__main__":
    main()
