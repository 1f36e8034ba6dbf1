"""Unit tests of the lab virt driver (tests/lab/virt/labfake.py).

They need nova itself, so they run inside a nova venv (see
tests/lab/virt/README.md) and are skipped anywhere nova is not importable.
The driver is loaded the way nova-compute loads it: the file is copied into a
directory on ``nova.virt.__path__`` and resolved by nova's own
``load_compute_driver('labfake.LabFakeDriver')``.
"""

import concurrent.futures
import hashlib
import os
import shutil
import sys
import uuid
from unittest import mock

import pytest

pytest.importorskip("nova")

# nova imports below need nova installed: keep them after importorskip.
import nova.conf  # noqa: E402
import nova.virt  # noqa: E402
import nova.virt.node  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import exception  # noqa: E402
from nova import objects  # noqa: E402
from nova.compute import manager as compute_manager  # noqa: E402
from nova.compute import power_state  # noqa: E402
from nova.virt import driver as virt_driver  # noqa: E402
from nova.virt import fake  # noqa: E402
from oslo_config import fixture as config_fixture  # noqa: E402

CONF = nova.conf.CONF
DRIVER_FILE = os.path.join(os.path.dirname(__file__), '..', 'virt',
                           'labfake.py')

objects.register_all()


@pytest.fixture(scope='module')
def labfake(tmp_path_factory):
    """The driver module, imported as nova.virt.labfake from a copy."""
    pkg_dir = tmp_path_factory.mktemp('nova_virt')
    shutil.copy(DRIVER_FILE, pkg_dir / 'labfake.py')
    nova.virt.__path__.append(str(pkg_dir))
    try:
        import nova.virt.labfake as module
        yield module
    finally:
        nova.virt.__path__.remove(str(pkg_dir))
        sys.modules.pop('nova.virt.labfake', None)


@pytest.fixture
def conf(tmp_path):
    """Minimal nova config; returns a function to switch the host."""
    CONF([], project='nova', default_config_files=[])
    fix = config_fixture.Config(CONF)
    fix.setUp()

    def host(name):
        state = tmp_path / name
        state.mkdir(exist_ok=True)
        fix.config(host=name, state_path=str(state))
        return state

    yield host
    fix.cleanUp()


@pytest.fixture
def ctx():
    return nova_context.get_admin_context()


def new_driver(labfake, conf, host):
    """Start a compute driver for ``host`` the way nova-compute does."""
    conf(host)
    drv = virt_driver.load_compute_driver(fake.FakeVirtAPI(),
                                          'labfake.LabFakeDriver')
    assert isinstance(drv, labfake.LabFakeDriver)
    drv.init_host(host)
    return drv


def make_instance(num):
    return objects.Instance(
        id=num, uuid=str(uuid.uuid4()), host='cmp1', node='cmp1',
        flavor=objects.Flavor(vcpus=1, memory_mb=64, root_gb=1))


def spawn(drv, ctx, inst, power_on=True):
    drv.spawn(ctx, inst, None, None, None, None, power_on=power_on)


def states(drv):
    return {u: drv.get_info(objects.Instance(uuid=u)).state
            for u in drv.list_instance_uuids()}


def test_loader_resolves_labfake_as_nova_virt_module(labfake, conf):
    drv = new_driver(labfake, conf, 'cmp1')
    assert type(drv).__module__ == 'nova.virt.labfake'
    assert isinstance(drv, fake.FakeDriver)


def test_node_uuid_is_stable_per_node_name(labfake, conf):
    first = new_driver(labfake, conf, 'cmp1')
    second = new_driver(labfake, conf, 'cmp1')
    other = new_driver(labfake, conf, 'cmp2')

    expected = labfake.node_uuid('cmp1')
    assert first.get_nodenames_by_uuid() == {expected: 'cmp1'}
    assert second.get_nodenames_by_uuid() == {expected: 'cmp1'}
    assert first.get_available_resource('cmp1')['uuid'] == expected
    assert other.get_nodenames_by_uuid() == {
        labfake.node_uuid('cmp2'): 'cmp2'}
    assert labfake.node_uuid('cmp2') != expected
    # Resources stay the parent's fake ones.
    res = first.get_available_resource('cmp1')
    assert (res['vcpus'], res['memory_mb'], res['local_gb']) == (
        fake.FakeDriver.vcpus, fake.FakeDriver.memory_mb,
        fake.FakeDriver.local_gb)


def _ensure_existing_node_identity():
    """nova's start-up check for an existing (restarted) compute service."""
    service_ref = mock.Mock(version=objects.service.NODE_IDENTITY_VERSION)
    compute_manager.ComputeManager._ensure_existing_node_identity(
        mock.Mock(host=CONF.host), service_ref)


def test_init_host_writes_compute_id(labfake, conf):
    state = conf('cmp1')
    CONF.set_override('compute_driver', 'labfake.LabFakeDriver')
    # Upstream FakeDriver: a restarted compute refuses to start.
    fake.FakeDriver(fake.FakeVirtAPI()).init_host('cmp1')
    with pytest.raises(exception.InvalidConfiguration,
                       match='No local node identity found'):
        _ensure_existing_node_identity()

    new_driver(labfake, conf, 'cmp1')
    _ensure_existing_node_identity()
    compute_id = state / 'compute_id'
    assert compute_id.read_text() == labfake.node_uuid('cmp1')
    # What ComputeManager._ensure_existing_node_identity reads on restart.
    assert nova.virt.node.read_local_node_uuid() == labfake.node_uuid('cmp1')
    # A restart finds the file and keeps it.
    new_driver(labfake, conf, 'cmp1')
    assert compute_id.read_text() == labfake.node_uuid('cmp1')


def test_init_host_refuses_foreign_compute_id(labfake, conf):
    state = conf('cmp1')
    (state / 'compute_id').write_text(str(uuid.uuid4()))
    with pytest.raises(exception.InvalidConfiguration):
        new_driver(labfake, conf, 'cmp1')


def test_guests_survive_a_restart(labfake, conf, ctx):
    drv = new_driver(labfake, conf, 'cmp1')
    running, stopped, deleted = (make_instance(n) for n in (1, 2, 3))
    for inst in (running, stopped, deleted):
        spawn(drv, ctx, inst)
    drv.power_off(stopped)
    drv.destroy(ctx, deleted, None)
    used = drv.get_available_resource('cmp1')['vcpus_used']

    again = new_driver(labfake, conf, 'cmp1')
    assert states(again) == {running.uuid: power_state.RUNNING,
                             stopped.uuid: power_state.SHUTDOWN}
    assert sorted(again.list_instances()) == sorted(
        [running.name, stopped.name])
    assert again.get_available_resource('cmp1')['vcpus_used'] == used == 2

    again.power_on(ctx, stopped, None)
    again.destroy(ctx, running, None)
    third = new_driver(labfake, conf, 'cmp1')
    assert states(third) == {stopped.uuid: power_state.RUNNING}
    assert third.get_available_resource('cmp1')['vcpus_used'] == 1
    assert not [f for f in os.listdir(conf('cmp1')) if '.tmp.' in f]


def test_concurrent_changes_are_all_persisted(labfake, conf, ctx):
    """nova 34 drives the driver from native threads."""
    drv = new_driver(labfake, conf, 'cmp1')
    insts = [make_instance(n) for n in range(1, 41)]

    def work(inst):
        spawn(drv, ctx, inst)
        if inst.id % 2:
            drv.power_off(inst)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, insts))
    assert states(new_driver(labfake, conf, 'cmp1')) == {
        i.uuid: power_state.SHUTDOWN if i.id % 2 else power_state.RUNNING
        for i in insts}


def test_live_migration_moves_the_guest(labfake, conf, ctx):
    src = new_driver(labfake, conf, 'cmp1')
    inst = make_instance(1)
    spawn(src, ctx, inst)
    dst = new_driver(labfake, conf, 'cmp2')

    # The order ComputeManager uses: live_migration() on the source calls
    # _post_live_migration, which runs post_live_migration (source),
    # cleanup (source, only for unshared storage) and then
    # post_live_migration_at_destination (destination).
    def post_method(context, instance, dest, block_migration, migrate_data):
        src.post_live_migration(context, instance, None, migrate_data)
        src.cleanup(context, instance, None)  # raised InstanceExists before
        dst.post_live_migration_at_destination(context, instance, None)

    src.live_migration(ctx, inst, 'cmp2', post_method, None)

    assert src.list_instance_uuids() == []
    assert states(dst) == {inst.uuid: power_state.RUNNING}
    assert states(new_driver(labfake, conf, 'cmp1')) == {}
    assert states(new_driver(labfake, conf, 'cmp2')) == {
        inst.uuid: power_state.RUNNING}


def _cold_migrate(labfake, conf, ctx):
    src = new_driver(labfake, conf, 'cmp1')
    inst = make_instance(1)
    spawn(src, ctx, inst)
    dst = new_driver(labfake, conf, 'cmp2')
    migration = objects.Migration(source_compute='cmp1', dest_compute='cmp2')
    src.migrate_disk_and_power_off(ctx, inst, 'cmp2', inst.flavor, None)
    dst.finish_migration(ctx, migration, inst, None, None, None, True, None)
    return src, dst, inst, migration


def test_cold_migrate_confirm(labfake, conf, ctx):
    src, dst, inst, migration = _cold_migrate(labfake, conf, ctx)
    src.confirm_migration(ctx, migration, inst, None)
    assert states(new_driver(labfake, conf, 'cmp1')) == {}
    assert states(new_driver(labfake, conf, 'cmp2')) == {
        inst.uuid: power_state.RUNNING}


def test_cold_migrate_revert(labfake, conf, ctx):
    src, dst, inst, migration = _cold_migrate(labfake, conf, ctx)
    dst.destroy(ctx, inst, None)  # ComputeManager.revert_resize on dest
    src.finish_revert_migration(ctx, inst, None, migration)
    assert states(new_driver(labfake, conf, 'cmp2')) == {}
    assert states(new_driver(labfake, conf, 'cmp1')) == {
        inst.uuid: power_state.RUNNING}


def test_evacuate_then_source_comes_back(labfake, conf, ctx):
    src = new_driver(labfake, conf, 'cmp1')
    inst = make_instance(1)
    spawn(src, ctx, inst)
    # Source is down; the default rebuild spawns on the destination, and
    # microversion >= 2.95 then powers it off.
    dst = new_driver(labfake, conf, 'cmp2')
    spawn(dst, ctx, inst)
    dst.power_off(inst)
    # The source restarts, still has the guest, and destroys it
    # (ComputeManager._destroy_evacuated_instances).
    back = new_driver(labfake, conf, 'cmp1')
    assert back.list_instance_uuids() == [inst.uuid]
    back.destroy(ctx, inst, None)
    assert states(new_driver(labfake, conf, 'cmp1')) == {}
    assert states(new_driver(labfake, conf, 'cmp2')) == {
        inst.uuid: power_state.SHUTDOWN}


def _fake_download(context, image_id, data=None, dest_path=None,
                   trusted_certs=None):
    with open(dest_path, 'wb') as f:
        f.write(b'image ' + image_id.encode())


def test_cache_image_downloads_into_the_image_cache(labfake, conf, ctx):
    drv = new_driver(labfake, conf, 'cmp1')
    state = conf('cmp1')
    image_id = str(uuid.uuid4())
    path = (state / 'instances' / '_base' /
            hashlib.sha1(image_id.encode()).hexdigest())
    assert labfake.image_cache_path(image_id) == str(path)

    with mock.patch('nova.image.glance.API.download', autospec=True,
                    side_effect=lambda self, *a, **k: _fake_download(*a, **k)
                    ) as download:
        assert drv.cache_image(ctx, image_id) is True
        assert path.read_bytes() == b'image ' + image_id.encode()
        assert drv.cache_image(ctx, image_id) is False
    assert download.call_count == 1
    assert os.listdir(path.parent) == [path.name]


def test_cache_image_failure_leaves_nothing_cached(labfake, conf, ctx):
    drv = new_driver(labfake, conf, 'cmp1')
    image_id = str(uuid.uuid4())
    with mock.patch('nova.image.glance.API.download',
                    side_effect=exception.ImageNotFound(image_id=image_id)):
        with pytest.raises(exception.ImageNotFound):
            drv.cache_image(ctx, image_id)
    assert not os.path.exists(labfake.image_cache_path(image_id))
    assert os.listdir(os.path.dirname(labfake.image_cache_path(image_id))) \
        == []


def test_compute_manager_reports_cached_then_existing(labfake, conf, ctx):
    """nova's own ComputeManager.cache_images maps the results."""
    drv = new_driver(labfake, conf, 'cmp1')
    image_id = str(uuid.uuid4())
    manager = mock.Mock(driver=drv)
    with mock.patch('nova.image.glance.API.download',
                    side_effect=_fake_download):
        first = compute_manager.ComputeManager.cache_images(
            manager, ctx, [image_id])
        second = compute_manager.ComputeManager.cache_images(
            manager, ctx, [image_id])
    assert first == {image_id: 'cached'}
    assert second == {image_id: 'existing'}
    # The upstream FakeDriver is what the lab had before: "unsupported".
    manager.driver = fake.FakeDriver(fake.FakeVirtAPI())
    assert compute_manager.ComputeManager.cache_images(
        manager, ctx, [image_id]) == {image_id: 'unsupported'}
