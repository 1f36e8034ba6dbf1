"""Lab virt driver: nova's FakeDriver made restartable and migration-clean.

This file is copied into each lab nova venv as ``nova/virt/labfake.py`` and
computes run with ``compute_driver = labfake.LabFakeDriver``: nova's loader
imports ``nova.virt.<compute_driver>``, so the module is ``nova.virt.labfake``.

Upstream ``nova.virt.fake.FakeDriver`` is built for in-process tests: its node
UUIDs are random per process, it never writes the ``compute_id`` file, and its
guests live in memory. A rolling upgrade restarts every nova-compute, so the
lab needs a fake hypervisor that survives that. This subclass adds only that:

* a stable node UUID per node name, written to ``$state_path/compute_id``;
* guests persisted to ``$state_path/labfake-guests.json`` and reloaded;
* the live-migration source forgetting the guest it handed over;
* a real ``cache_image`` that downloads from glance into the image cache.

Everything else (resources, capabilities, console, ...) is the parent's. The
module only uses nova APIs present in nova 32 (2025.2) to 34 (2026.2).
"""

import hashlib
import json
import os
import threading
import uuid

from oslo_log import log as logging

import nova.conf
from nova import exception
from nova.virt import fake
from nova.virt import images
import nova.virt.node

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

# Fixed namespace: node UUID = uuid5(NODE_NAMESPACE, nodename), so the same
# lab host name always gets the same compute node UUID, on every release.
NODE_NAMESPACE = uuid.UUID('24762201-2309-5169-8f78-5ebc0656d653')
GUESTS_FILE = 'labfake-guests.json'
FORMAT_VERSION = 1


def node_uuid(nodename):
    """Return the stable compute node UUID of ``nodename``."""
    return str(uuid.uuid5(NODE_NAMESPACE, nodename))


def image_cache_path(image_id):
    """Where ``cache_image`` keeps ``image_id``: libvirt's layout.

    ``$instances_path/$[image_cache]subdirectory_name/<sha1(image_id)>``,
    i.e. ``/var/lib/nova/instances/_base/<sha1>`` with default options, the
    same file a libvirt compute would have after a pre-cache.
    """
    name = hashlib.sha1(image_id.encode('utf-8')).hexdigest()
    return os.path.join(CONF.instances_path,
                        CONF.image_cache.subdirectory_name, name)


class LabFakeDriver(fake.FakeDriver):
    """FakeDriver whose node identity and guests survive a restart."""

    def __init__(self, virtapi, *args, **kwargs):
        """Reload the guests a previous process of this compute persisted.

        Loading here (not in init_host) means that list_instances() and
        get_info() answer for them from the first call nova makes.
        """
        super().__init__(virtapi, *args, **kwargs)
        # RLock: spawn() is re-entered from post_live_migration_at_destination
        # and finish_migration. nova 34 runs the compute with native threads.
        self._lock = threading.RLock()
        self._cache_lock = threading.Lock()
        self._guests_path = os.path.join(CONF.state_path, GUESTS_FILE)
        self._load()

    # -- node identity -----------------------------------------------------

    def init_host(self, host):
        """Write the node identity file nova checks on every later start.

        nova-compute refuses to start ("No local node identity found ...")
        when its service record exists but ``$state_path/compute_id`` does
        not. Upstream FakeDriver never writes it; we write our stable UUID.
        An existing file with another UUID means this state_path belongs to
        another node: refuse, as nova does for a renamed host.
        """
        super().init_host(host)
        wanted = node_uuid(self._nodes[0])
        found = nova.virt.node.read_local_node_uuid()
        if found is None:
            nova.virt.node.write_local_node_uuid(wanted)
        elif found != wanted:
            raise exception.InvalidConfiguration(
                'Node identity %s in compute_id does not match %s, the '
                'LabFakeDriver UUID of node %s; refusing to start'
                % (found, wanted, self._nodes[0]))

    def get_nodenames_by_uuid(self, refresh=False):
        """Report the stable UUIDs (the parent's are random per process)."""
        return {node_uuid(n): n for n in self.get_available_nodes()}

    def get_available_resource(self, nodename):
        """Parent's fake resources, with the stable UUID of the node."""
        resources = super().get_available_resource(nodename)
        if resources:
            resources['uuid'] = node_uuid(nodename)
        return resources

    # -- guest persistence -------------------------------------------------

    def _load(self):
        """Rebuild ``self.instances`` (and resource claims) from disk.

        A missing file means no guests. An unreadable one raises: starting
        with no guests would make nova stop every server of this host.
        """
        path = self._guests_path
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            return
        for guest_uuid, g in data['guests'].items():
            guest = fake.FakeInstance(g['name'], g['state'], guest_uuid)
            guest.lab_claim = g.get('claim')
            if guest.lab_claim:
                self.resources.claim(*guest.lab_claim)
            self.instances[guest_uuid] = guest
        LOG.info('Reloaded %d guest(s) from %s', len(self.instances), path)

    def _save(self):
        """Write all guests atomically (temp file, fsync, rename)."""
        path = self._guests_path
        data = {'version': FORMAT_VERSION, 'guests': {
            guest_uuid: {'name': g.name, 'state': g.state,
                         'claim': getattr(g, 'lab_claim', None)}
            for guest_uuid, g in self.instances.items()}}
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = '%s.tmp.%d' % (path, os.getpid())
        with open(tmp, 'w') as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _changing(self, method, *args, **kwargs):
        """Run a parent method that changes guests, then persist them."""
        with self._lock:
            try:
                return method(*args, **kwargs)
            finally:
                self._save()

    # Every parent path that adds, removes or changes a guest goes through
    # one of these: reboot/finish_migration/post_live_migration_at_destination
    # call spawn or power_on, confirm_migration calls destroy.

    def spawn(self, context, instance, *args, **kwargs):
        """Persist the new guest, with the flavor it claimed."""
        with self._lock:
            try:
                super().spawn(context, instance, *args, **kwargs)
                flavor = instance.flavor
                self.instances[instance.uuid].lab_claim = [
                    flavor.vcpus, flavor.memory_mb, flavor.root_gb]
            finally:
                self._save()

    def destroy(self, *args, **kwargs):
        """Persist the removal (delete, confirm/revert resize, evacuate)."""
        return self._changing(super().destroy, *args, **kwargs)

    def power_off(self, *args, **kwargs):
        """Persist SHUTDOWN so a restart does not bring the guest back up."""
        return self._changing(super().power_off, *args, **kwargs)

    def power_on(self, *args, **kwargs):
        """Persist RUNNING."""
        return self._changing(super().power_on, *args, **kwargs)

    def unrescue(self, *args, **kwargs):
        """Persist RUNNING after unrescue."""
        return self._changing(super().unrescue, *args, **kwargs)

    def finish_revert_migration(self, *args, **kwargs):
        """Persist the guest re-created on the source of a reverted resize."""
        return self._changing(super().finish_revert_migration,
                              *args, **kwargs)

    def list_instances(self):
        """Parent's answer, under the lock (native threads in nova 34)."""
        with self._lock:
            return super().list_instances()

    def list_instance_uuids(self):
        """Parent's answer, under the lock (native threads in nova 34)."""
        with self._lock:
            return super().list_instance_uuids()

    # -- live migration ----------------------------------------------------

    def post_live_migration(self, context, instance, block_device_info,
                            migrate_data=None):
        """Forget the guest on the source once it runs on the destination.

        The parent keeps a ghost guest on the source (a real hypervisor's
        domain is gone); it would be reported as a guest of this host and
        break a later evacuate or migration back. Missing is fine.
        """
        with self._lock:
            if instance.uuid in self.instances:
                self.destroy(context, instance, None,
                             block_device_info=block_device_info)

    # -- image cache -------------------------------------------------------

    def cache_image(self, context, image_id):
        """Download ``image_id`` into the image cache, as libvirt does.

        Called by ComputeManager.cache_images for the aggregate image
        pre-cache API: True means "cached" (downloaded now), False means
        "existing"; an exception means "error". The parent raises
        NotImplementedError, which nova reports as "unsupported".
        The download goes through nova.virt.images.fetch, i.e. nova's glance
        API client and its disk_ops semaphore, into a temporary file renamed
        into place, so a failed download never looks cached.
        """
        path = image_cache_path(image_id)
        with self._cache_lock:
            if os.path.exists(path):
                LOG.info('Image %s already cached; updating timestamp',
                         image_id)
                os.utime(path)
                return False
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = '%s.part' % path
            LOG.info('Caching image %s by request into %s', image_id, path)
            images.fetch(context, image_id, tmp)
            os.replace(tmp, path)
            return True
