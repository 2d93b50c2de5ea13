"""Kale's notebook metadata (`kubeflow_notebook`, Kale 1.x and 2.x) read as our settings."""

from __future__ import annotations

from tests.conftest import code, codes


def kale(**meta) -> dict:
    return {"kubeflow_notebook": {"pipeline_name": "p", "experiment_name": "e", **meta}}


def test_kale_1_docker_image_and_kale_2_base_image_both_set_the_image(parse):
    assert parse([code("a = 1", "step:one")],
                 kale(docker_image="reg/old:1")).settings["image"] == "reg/old:1"
    assert parse([code("a = 1", "step:one")],
                 kale(base_image="python:3.12")).settings["image"] == "python:3.12"
    # both present: the Kale 2.x spelling wins; an empty one (Kale's default "") is unset
    both = parse([code("a = 1", "step:one")], kale(docker_image="old:1", base_image="new:2"))
    assert both.settings["image"] == "new:2"
    assert "image" not in parse([code("a = 1", "step:one")], kale(base_image="")).settings
    # ours wins over Kale's
    ours = parse([code("a = 1", "step:one")],
                 {**kale(base_image="new:2"), "liminal": {"image": "mine:3"}})
    assert ours.settings["image"] == "mine:3"


def test_kale_pvc_volumes_become_ours_and_expose_as_env_var_sets_kales_variable(parse):
    p = parse([code("a = 1", "step:one"), code("b = a", "step:two")], kale(volumes=[
        {"name": "raw-data", "type": "pvc", "mount_point": "/data", "expose_as_env_var": True},
        {"name": "models.v1", "type": "pvc", "mount_point": "/models", "annotations": [],
         "size": 1, "size_type": "Gi", "snapshot": False},
    ]))
    assert codes(p) == [] and codes(p, "warning") == []
    assert p.settings["volumes"] == [{"pvc": "raw-data", "mount_path": "/data"},
                                     {"pvc": "models.v1", "mount_path": "/models"}]
    for step in ("one", "two"):
        assert p.step(step).options.env == {"KALE_VOLUME_RAW_DATA": "/data"}


def test_kale_volume_types_other_than_pvc_are_a_warning_not_a_silent_drop(parse):
    p = parse([code("a = 1", "step:one")], kale(volumes=[
        {"name": "scratch", "type": "new_pvc", "mount_point": "/scratch", "size": 5,
         "size_type": "Gi"},
        {"name": "data", "type": "pvc", "mount_point": "/data"},
    ]))
    assert codes(p) == [] and codes(p, "warning") == ["unsupported-setting"]
    assert "volumes[0]" in p.warnings[0].message and "new_pvc" in p.warnings[0].message
    assert p.settings["volumes"] == [{"pvc": "data", "mount_path": "/data"}]


def test_a_malformed_kale_volume_is_an_error(parse):
    p = parse([code("a = 1", "step:one")], kale(volumes=[{"type": "pvc", "mount_point": "/d"}]))
    assert codes(p) == ["bad-setting"]
    assert "kubeflow_notebook.volumes[0]" in p.errors[0].message
    p = parse([code("a = 1", "step:one")], kale(volumes=[
        {"name": "d", "type": "pvc", "mount_point": "relative"}]))
    assert codes(p) == ["bad-setting"]


def test_our_volumes_replace_kales_and_drop_its_variables(parse):
    p = parse([code("a = 1", "step:one")], {
        **kale(volumes=[{"name": "raw", "type": "pvc", "mount_point": "/raw",
                         "expose_as_env_var": True}]),
        "liminal": {"volumes": [{"pvc": "mine", "mount_path": "/mine"}],
                    "steps_defaults": ["cpu:1"]}})
    assert p.settings["volumes"] == [{"pvc": "mine", "mount_path": "/mine"}]
    assert p.step("one").options.env == {} and p.step("one").options.cpu == "1"


def test_kale_enable_caching_false_turns_caching_off_unless_a_step_says_otherwise(parse):
    p = parse([code("a = 1", "step:one", "cache:enabled"), code("b = a", "step:two")],
              kale(enable_caching=False, steps_defaults=["limit:cpu:2"]))
    assert (p.step("one").options.cache, p.step("two").options.cache) == (True, False)
    assert p.step("two").options.cpu == "2"
    # the same under our own steps_defaults, which replace Kale's list
    p = parse([code("a = 1", "step:one")],
              {**kale(enable_caching=False), "liminal": {"steps_defaults": ["cpu:1"]}})
    assert p.step("one").options.cache is False and p.step("one").options.cpu == "1"
    assert parse([code("a = 1", "step:one")], kale(enable_caching=True)).step(
        "one").options.cache is True


def test_kale_katib_run_is_a_warning(parse):
    p = parse([code("a = 1", "step:one")], kale(katib_run=True, kfp_host="http://kfp:8888"))
    assert codes(p) == [] and codes(p, "warning") == ["unsupported-setting"]
    assert "Katib" in p.warnings[0].message
    assert p.settings["kfp_host"] == "http://kfp:8888"
