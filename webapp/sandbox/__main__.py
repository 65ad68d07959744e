"""``python -m webapp.sandbox --port 8001``: run the provider sandbox on werkzeug's threaded server."""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from werkzeug.serving import make_server

from webapp.sandbox.app import create_sandbox_app
from webapp.sandbox.runner import SandboxInProduction, refuse_in_production


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m webapp.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every provider call")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="0..1 share of faulty calls")
    parser.add_argument("--seed", type=int, default=0, help="seed for the fault injector")
    parser.add_argument("--timeout-hold", type=float, default=30.0,
                        help="seconds a 'timeout' holds the request before closing the connection")
    parser.add_argument("--webhook-base", default=None,
                        help="send webhooks to <this>/webhooks/<gateway> instead of the callback URL's origin")
    parser.add_argument("--termii-webhook-url", default=None,
                        help="where Termii delivery reports go (the webhook URL of Termii's console)")
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        refuse_in_production()
    except SandboxInProduction as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s sandbox: %(message)s")
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_sandbox_app({"latency": args.latency, "fault_rate": args.fault_rate, "seed": args.seed,
                              "timeout_hold": args.timeout_hold, "webhook_base": args.webhook_base,
                              "termii_webhook_url": args.termii_webhook_url})
    server = make_server(args.host, args.port, app, threaded=True)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"Provider sandbox listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
