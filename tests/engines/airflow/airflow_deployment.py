"""A real Airflow 3 deployment on loopback, started once per test session and stopped by it.

PostgreSQL 15 from Debian's packages (`initdb` into a temporary folder, run as the
`postgres` user since initdb refuses root, listening on 127.0.0.1 on a free port), then
`airflow db migrate`, and the api-server, scheduler and dag-processor with the
LocalExecutor, each in its own process group, in a temporary AIRFLOW_HOME whose dags
folder the tests write into. The dag-processor rescans the folder every 2 s, so a new DAG
file shows in the REST API within seconds; a file it has parsed is parsed again only when
it changes (its mtime; Airflow's `modified_time` sort mode), not every few seconds: with a
DAG file per test, re-parsing them all every 2 s kept the dag-processor at 15 % of a core
for the whole test session (2 % now).

Auth: Airflow 3's SimpleAuthManager with one known user, `admin` (role admin), whose
password we write into the passwords file before the api-server starts (so tests log in
with /auth/token like a user would; not all-admins mode, which would accept anything).

Object storage: an S3-compatible server on 127.0.0.1 beside it, moto's server mode
(`python -m moto.server`, in its own process group). No real S3 server installs here:
Debian has no MinIO, SeaweedFS, Garage, versitygw or s3proxy, its rclone (1.60) predates
`rclone serve s3`, and Ceph's radosgw needs a cluster. The Airflow servers (so every
task) get AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
AWS_DEFAULT_REGION for it, as a platform team would give its workers; `deployment.s3_env`
holds the same for the test's own process (submit, watch and show read the bucket too).

At the end the three Airflow groups get SIGTERM (SIGKILL after 30 s) and PostgreSQL
`pg_ctl stop -m fast`. Run `python -m tests.engines.airflow.airflow_deployment` to start
one by hand (Ctrl-C or SIGTERM stops it) and print how long it took to start.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.process_groups import stop_group

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USERNAME = "admin"


@dataclass
class AirflowDeployment:
    url: str  # the api-server, e.g. http://127.0.0.1:PORT
    dags: Path  # the dags folder the dag-processor scans
    home: Path  # AIRFLOW_HOME (logs/ holds the task logs)
    username: str
    password: str
    startup_seconds: float = 0.0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: Path | None = None
    # AWS_* variables of the S3-compatible server the tasks reach (see the module's doc).
    s3_env: dict[str, str] = field(default_factory=dict)
    s3_bucket: str = "liminal-test"

    def log_tail(self, name: str, chars: int = 3000) -> str:
        """The end of one server's log (api-server, scheduler, dag-processor), for failures."""
        path = (self.logs or self.home) / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.is_file() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*command: str | Path, **kwargs) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *map(str, command)], check=True, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, **kwargs)


def _airflow_env(home: Path, dags: Path, pg_port: int, port: int, secret: str,
                 s3_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env.update(s3_env)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            f"postgresql+psycopg2://airflow@127.0.0.1:{pg_port}/airflow",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secret,
        "AIRFLOW__API__SECRET_KEY": secret,
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        "PYTHONWARNINGS": "ignore",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _wait_until(check, what: str, timeout: float, deployment: AirflowDeployment) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in deployment.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"Airflow {name} exited ({process.returncode}) while "
                                   f"waiting for {what}:\n{deployment.log_tail(name)}")
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def _api_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _components_healthy(url: str) -> bool:
    """The scheduler and dag-processor have heartbeat (health reports them 'healthy')."""
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as answer:
            health = json.loads(answer.read())
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return all((health.get(part) or {}).get("status") == "healthy"
               for part in ("metadatabase", "scheduler", "dag_processor"))


def s3_up(endpoint: str) -> bool:
    """Whether moto's server at `endpoint` answers."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def moto_server(log_path: Path) -> tuple[subprocess.Popen, str]:
    """moto's S3 server on a free loopback port, in its own process group (the caller
    stops it with stop_group), and its endpoint; not waited for (s3_up)."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def start_s3(logs: Path, deployment: AirflowDeployment) -> dict[str, str]:
    """moto's S3 server on a free loopback port, with one bucket; its AWS_* variables."""
    deployment.processes["s3"], endpoint = moto_server(logs / "s3.log")
    _wait_until(lambda: s3_up(endpoint), "the S3 server", 60, deployment)
    s3_env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "liminal-test-key",
              "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16),
              "AWS_DEFAULT_REGION": "us-east-1"}
    request = urllib.request.Request(f"{endpoint}/{deployment.s3_bucket}", method="PUT")
    urllib.request.urlopen(request, timeout=10).close()
    return s3_env


def processes_with(marker: str, where: str = "environ") -> list[int]:
    """Pids of this user's processes whose environment (or cmdline) holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / where).read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@dataclass
class _Stack:
    root: Path
    pg_data: Path
    deployment: AirflowDeployment | None = None

    def stop(self) -> None:
        if self.deployment is not None:
            for process in self.deployment.processes.values():
                stop_group(process)
            # A task's supervisor puts itself in a process group of its own: stop the
            # groups of every process still running with this deployment's AIRFLOW_HOME.
            for pid in processes_with(f"AIRFLOW_HOME={self.deployment.home}"):
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if (self.pg_data / "postmaster.pid").exists():
            try:
                _as_postgres(PG_BIN / "pg_ctl", "-D", self.pg_data, "-m", "fast", "-w", "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def start_deployment(root: Path) -> tuple[AirflowDeployment, _Stack]:
    """Start PostgreSQL and the three Airflow servers under `root`; stop with stack.stop()."""
    started = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)
    pg_root = root / "pg"
    pg_root.mkdir()
    pg_data = pg_root / "data"
    stack = _Stack(root, pg_data)
    try:
        if os.geteuid() == 0:
            shutil.chown(pg_root, "postgres", "postgres")
            os.chmod(root, 0o755)
        pg_port = free_port()
        _as_postgres(PG_BIN / "initdb", "-D", pg_data, "-U", "airflow", "--auth=trust",
                     "--no-sync")
        _as_postgres(PG_BIN / "pg_ctl", "-D", pg_data, "-o",
                     f"-p {pg_port} -h 127.0.0.1 -k {pg_root} -c fsync=off",
                     "-l", pg_root / "pg.log", "-w", "start")
        _as_postgres(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", str(pg_port), "-U",
                     "airflow", "airflow")

        home, dags, logs = root / "home", root / "home" / "dags", root / "server-logs"
        for folder in (home, dags, logs):
            folder.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(12)
        (home / "passwords.json").write_text(json.dumps({USERNAME: password}))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        deployment = AirflowDeployment(url, dags, home, USERNAME, password, logs=logs)
        stack.deployment = deployment
        deployment.s3_env = start_s3(logs, deployment)
        env = _airflow_env(home, dags, pg_port, port, secrets.token_hex(32),
                           deployment.s3_env)
        airflow = [sys.executable, "-m", "airflow"]
        migrate = subprocess.run([*airflow, "db", "migrate"], env=env, capture_output=True,
                                 text=True, stdin=subprocess.DEVNULL)
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-2000:]}"
                               f"{migrate.stderr[-3000:]}")
        commands = {
            "api-server": [*airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            "scheduler": [*airflow, "scheduler"],
            "dag-processor": [*airflow, "dag-processor"],
        }
        for name, command in commands.items():
            with open(logs / f"{name}.log", "wb") as log:
                deployment.processes[name] = subprocess.Popen(
                    command, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_until(lambda: _api_up(url), "the api-server", 120, deployment)
        _wait_until(lambda: _components_healthy(url), "scheduler and dag-processor", 120,
                    deployment)
        deployment.startup_seconds = time.monotonic() - started
        return deployment, stack
    except BaseException:
        stack.stop()
        raise


@pytest.fixture(scope="session")
def airflow_deployment() -> Iterator[AirflowDeployment]:
    """One real Airflow 3 deployment (PostgreSQL, api-server, scheduler, dag-processor,
    LocalExecutor) for the whole test session; stopped, process groups and all, at its end.
    """
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing): "
                    "apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="liminal-airflow-deployment-"))
    deployment, stack = start_deployment(root)
    try:
        yield deployment
    finally:
        stack.stop()


def _interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


if __name__ == "__main__":
    # A background job of a non-interactive shell ignores SIGINT: SIGTERM stops it too.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    root = Path(tempfile.mkdtemp(prefix="liminal-airflow-deployment-"))
    deployment, stack = start_deployment(root)
    print(f"up in {deployment.startup_seconds:.1f} s: {deployment.url} user "
          f"{deployment.username} password {deployment.password} dags {deployment.dags}",
          flush=True)
    try:
        if "--stop" in sys.argv:
            raise SystemExit(0)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
