"""Create the PostgreSQL database named in DATABASE_URL when it is missing (the role needs CREATEDB, as
`make services` gives imgrec). Used by deploy/cluster.sh and the job benchmark; exits non-zero, saying
why, when PostgreSQL cannot be reached or the database cannot be made.

    DATABASE_URL=postgres://imgrec:imgrec@127.0.0.1:5432/imgrec python deploy/ensure_database.py
"""

from __future__ import annotations

import os
import sys

import dj_database_url
import psycopg
from psycopg import sql


def ensure_database(url: str) -> bool:
    """True when the database was created here, False when it already existed."""
    config = dj_database_url.parse(url)
    params = {
        "host": config["HOST"] or None,
        "port": config["PORT"] or None,
        "user": config["USER"] or None,
        "password": config["PASSWORD"] or None,
        "autocommit": True,
    }
    try:
        psycopg.connect(dbname=config["NAME"], **params).close()
        return False
    except psycopg.OperationalError as missing:
        if "does not exist" not in str(missing):
            sys.exit(f"ensure_database: cannot reach PostgreSQL at {config['HOST']}:{config['PORT']}: {missing}")
    try:
        with psycopg.connect(dbname="postgres", **params) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    except psycopg.Error as error:
        sys.exit(f"ensure_database: the database {config['NAME']} does not exist and cannot be created: {error}")
    print(f"ensure_database: created the database {config['NAME']}", file=sys.stderr)
    return True


if __name__ == "__main__":
    ensure_database(os.environ["DATABASE_URL"])
