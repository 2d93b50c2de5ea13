"""A run submitted from the panel to a real Airflow 3 deployment, followed live.

The deployment is the session's (tests/engines/airflow/airflow_deployment.py: PostgreSQL,
api-server, scheduler and dag-processor on loopback); tests/conftest.py's grouping puts
this module's JupyterLab and that deployment in one xdist group, so each starts once.
The panel's Submit form shows Airflow's host settings (the password as a password input,
never remembered), the submitted run is selected and its DAG turns green step by step
without a reload (the server asks Airflow through the engine, server/remote_runs.py),
with each step's log tail and a link to the DAG run's page in Airflow's UI.
"""

from __future__ import annotations

import json
import time

from tests.browser.lab import dialogs, open_notebook, shoot_panel
from tests.browser.test_panel import CHAIN

pytest_plugins = ("tests.browser.browser_setup",)

ORDER = ["load", "add", "report"]


def test_a_run_submitted_to_airflow_turns_the_dag_green_step_by_step(
        lab, page, airflow_deployment):
    (lab.root / "chain_af.ipynb").write_text(json.dumps(CHAIN))
    open_notebook(page, lab, "chain_af.ipynb")
    page.wait_for_selector('.liminal-dag-node[data-step="report"]')

    # The form: the Airflow engine's host settings; Submit waits for the required ones.
    page.select_option(".liminal-submit-engine", "airflow")
    field = "#liminal-submit-airflow-{}".format
    assert page.get_attribute(field("password"), "type") == "password"
    assert page.get_attribute(field("token"), "type") == "password"
    assert page.get_attribute(field("host"), "type") == "text"
    assert page.locator("button.liminal-submit").is_disabled()
    page.fill(field("host"), airflow_deployment.url)
    page.fill(field("dags_folder"), str(airflow_deployment.dags))
    page.fill(field("username"), airflow_deployment.username)
    page.fill(field("password"), airflow_deployment.password)
    assert page.locator("button.liminal-submit").is_enabled()
    page.click("button.liminal-submit")

    # The submitted run is selected (after Airflow parsed the DAG) and followed.
    page.locator(".liminal-engine-link").wait_for(timeout=180_000)
    seen: list[dict] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = dict(page.eval_on_selector_all(
            ".liminal-dag-node", "ns => ns.map(n => [n.dataset.step, n.dataset.status])"))
        if not seen or seen[-1] != states:
            seen.append(states)
        if all(states.get(s) == "succeeded" for s in ORDER):
            break
        time.sleep(0.3)
    greens = [[s for s in ORDER if states.get(s) == "succeeded"] for states in seen]
    assert greens[-1] == ORDER, seen
    assert ["load"] in greens and ["load", "add"] in greens, seen  # one step at a time
    assert any(states.get("add") == "running" for states in seen), seen
    page.locator('.liminal-run-detail[data-status="succeeded"]').wait_for(timeout=30_000)

    # The link opens the DAG run in Airflow's UI; a step's log tail is shown.
    run = lab.api("liminal/runs?path=chain_af.ipynb")["runs"][0]
    dag_id, dag_run_id = run["remote_id"].split("/", 1)
    assert (run["backend"], run["status"], run["host"]) == (
        "airflow", "succeeded", airflow_deployment.url)
    assert page.locator(".liminal-engine-link").get_attribute("href") == (
        f"{airflow_deployment.url}/dags/{dag_id}/runs/{dag_run_id}")
    assert page.locator(".liminal-engine-link").inner_text() == "Airflow run"
    page.locator('.liminal-step-row[data-step="add"]').click()
    page.locator(".liminal-log").wait_for(timeout=30_000)
    assert page.locator(".liminal-log").inner_text().strip()
    shoot_panel(page, "airflow-run-followed")

    # Remembered for the session: the host settings, never the password.
    remembered = page.evaluate(
        "() => sessionStorage.getItem('liminal-jupyter:submit-settings')")
    assert str(airflow_deployment.dags) in remembered
    assert airflow_deployment.password not in remembered
    # Nor is it anywhere in the runs ledger.
    ledger = b"".join(p.read_bytes() for p in (lab.root / ".liminal").rglob("*")
                      if p.is_file() and p.suffix in (".json", ".db", ".sqlite", ""))
    assert airflow_deployment.password.encode() not in ledger
    assert dialogs(page) == 0
