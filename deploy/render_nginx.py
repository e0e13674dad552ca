"""Render deploy/nginx.conf.template into a project-owned nginx config (standard library only).

    python deploy/render_nginx.py --dir var/front --listen 127.0.0.1:8000 \\
        --upstream unix:var/front/app.sock [--upstream 127.0.0.1:8002 ...] > var/front/nginx.conf

Every --upstream becomes one `server` of the balanced upstream (`make cluster`: one per app node).
Paths are made absolute, so the rendered file works from any directory (`nginx -t -c FILE`).
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
CHECKOUT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"@([A-Z_]+)@")
# Room above the app's upload cap for the multipart envelope and the other form fields.
ENVELOPE_MB = 1


def worker_user_line() -> str:
    """As root, nginx's workers need a user: the owner of the project, who owns the files they touch.

    (nginx's default, nobody, cannot reach a checkout under /root.) Not as root, the directive is
    ignored with a warning, so it is left out.
    """
    if os.geteuid() != 0:
        return "# not started as root: workers run as the invoking user"
    try:
        owner = pwd.getpwuid(CHECKOUT.stat().st_uid).pw_name
    except KeyError:  # a uid with no name here (a checkout mounted into a container): nginx's default
        return "# the checkout's owner has no user name here: workers run as nobody"
    return f"user {owner};  # the owner of the checkout"


def upstream_line(address: str) -> str:
    """One app node. Passive health: after one failed connection (or timeout) the node gets no
    requests for 5 s, then one to try it (nginx ignores both when there is a single node)."""
    if address.startswith("unix:"):
        address = "unix:" + str(Path(address.removeprefix("unix:")).resolve())
    return f"        server {address} max_fails=1 fail_timeout=5s;"


def render(
    *,
    front_dir: Path,
    listen: str,
    upstreams: list[str],
    client_timeout_s: int = 10,
    keepalive_timeout_s: int = 15,
    max_upload_mb: int = 10,
    batch_max_mb: int = 600,
) -> str:
    front_dir = front_dir.resolve()
    values = {
        "USER_LINE": worker_user_line(),
        "DIR": str(front_dir),
        "LISTEN": listen,
        "UPSTREAM_SERVERS": "\n".join(upstream_line(address) for address in upstreams),
        "CLIENT_TIMEOUT": str(client_timeout_s),
        "KEEPALIVE_TIMEOUT": str(keepalive_timeout_s),
        "MAX_UPLOAD_MB": str(max_upload_mb),
        "BODY_MAX_MB": str(max_upload_mb + ENVELOPE_MB),
        "BATCH_MAX_MB": str(batch_max_mb),
    }
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], TEMPLATE.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True, help="pid, logs and temporary files go here")
    parser.add_argument("--listen", required=True, help="HOST:PORT clients connect to")
    parser.add_argument("--upstream", action="append", required=True, help="an app node: unix:PATH or HOST:PORT")
    parser.add_argument("--client-timeout", type=int, default=10, help="header, body and send timeout, seconds")
    parser.add_argument("--keepalive-timeout", type=int, default=15, help="idle time between requests, seconds")
    parser.add_argument(
        "--max-upload-mb", type=int, default=int(os.environ.get("IMGREC_MAX_UPLOAD_MB", "10")), help="the app's cap"
    )
    parser.add_argument(
        "--batch-max-mb", type=int, default=600, help="cap on /api/v1/jobs, /batch/, /api/v1/custom-models and /train/"
    )
    args = parser.parse_args()
    sys.stdout.write(
        render(
            front_dir=args.dir,
            listen=args.listen,
            upstreams=args.upstream,
            client_timeout_s=args.client_timeout,
            keepalive_timeout_s=args.keepalive_timeout,
            max_upload_mb=args.max_upload_mb,
            batch_max_mb=args.batch_max_mb,
        )
    )


if __name__ == "__main__":
    main()
