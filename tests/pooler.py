"""PgBouncer in transaction mode in front of the suite's PostgreSQL, started once per run on a
free port (Debian's `pgbouncer`): a server connection serves one transaction of one client,
then another client's, so nothing may rely on session state."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.servers import free_port, stop_process

# Few server connections for many clients: transactions of different clients share them.
SERVER_CONNECTIONS = 2


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def pgbouncer_url(database_url) -> Iterator[str]:
    """The suite's database, reached through PgBouncer in transaction mode."""
    binary = shutil.which("pgbouncer") or shutil.which("/usr/sbin/pgbouncer")
    if binary is None:
        pytest.skip("pgbouncer is not installed (Debian's pgbouncer package)")
    url = sa.engine.make_url(database_url)
    directory = Path(tempfile.mkdtemp(prefix="boxoffice-pgbouncer-"))
    port = free_port()
    (directory / "users.txt").write_text(f'"{url.username}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        f"[databases]\n{url.database} = host={url.host} port={url.port or 5432} dbname={url.database}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {directory / 'users.txt'}\npool_mode = transaction\n"
        f"default_pool_size = {SERVER_CONNECTIONS}\nmax_client_conn = 500\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
    )
    # PgBouncer refuses to run as root: it switches to the postgres account then.
    as_user = ["-u", "postgres"] if os.geteuid() == 0 else []
    if as_user:
        account = pwd.getpwnam("postgres")
        for path in (directory, *directory.iterdir()):
            os.chown(path, account.pw_uid, account.pw_gid)
    process = subprocess.Popen([binary, *as_user, str(directory / "pgbouncer.ini")], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not _listening(port):
            assert process.poll() is None and time.monotonic() < deadline, "pgbouncer did not start"
            time.sleep(0.1)
        yield url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        stop_process(process, 10)
        shutil.rmtree(directory, ignore_errors=True)
