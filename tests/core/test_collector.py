"""The garbage collector is paused while the application is built and during an import, and handed back."""

import gc

import pytest

from config import TestingConfig
from crm.core.collector import collections_paused


@pytest.fixture
def collector_state():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("collector_on", [True, False])
def test_the_collector_is_paused_inside_and_handed_back_as_it_was(collector_state, collector_on):
    (gc.enable if collector_on else gc.disable)()
    with collections_paused():
        assert not gc.isenabled()
    assert gc.isenabled() is collector_on
    assert gc.get_freeze_count() == 0


def test_the_collector_is_handed_back_when_the_block_fails(collector_state):
    gc.enable()
    with pytest.raises(RuntimeError), collections_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_what_the_block_made_joins_the_oldest_generation(collector_state):
    gc.enable()
    with collections_paused():
        made = [[n] for n in range(10_000)]
    # Not left in the young generation for the first young collection to walk.
    assert any(o is made for o in gc.get_objects(generation=2))
    assert gc.get_freeze_count() == 0


def test_a_callers_frozen_objects_stay_frozen(collector_state):
    gc.freeze()
    try:
        with collections_paused():
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("collector_on", [True, False])
def test_building_the_app_hands_the_collector_back(tmp_path, collector_state, collector_on):
    from crm import create_app

    (gc.enable if collector_on else gc.disable)()
    create_app(TestingConfig({"CRM_INSTANCE_PATH": str(tmp_path)}))
    assert gc.isenabled() is collector_on
    assert gc.get_freeze_count() == 0


def test_an_import_hands_the_collector_back_even_when_refused(app, tmp_path, collector_state):
    gc.enable()
    path = tmp_path / "empty.csv"
    path.write_bytes("企业名称,统一社会信用代码\n".encode())
    result = app.test_cli_runner().invoke(args=["crm", "import-enterprises", str(path)])
    assert result.exit_code == 1
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_command_runs_with_the_application_frozen_and_hands_it_back():
    """``flask crm`` commands (``crm.core.cli``): the objects present at the start stay out of collections during the
    command and are handed back to the collector after it, so a process running many commands keeps no garbage."""
    from crm.core.collector import application_frozen

    with application_frozen():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
