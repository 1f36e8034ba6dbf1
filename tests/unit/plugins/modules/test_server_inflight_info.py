# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
from unittest import mock

import pytest

from openstack.compute.v2.server import Server

from ansible_collections.rolling.openstack.plugins.modules import server_inflight_info

pytestmark = pytest.mark.filterwarnings('ignore::openstack.warnings.RemovedInSDK50Warning')

FIELDS = {'id', 'name', 'project_id', 'status', 'task_state', 'host'}


def server(idx, status='ACTIVE', task_state=None, host='cmp1', **extra):
    """A Server resource built from a GET /servers/detail body (admin, all projects)."""
    body = {
        'id': '00000000-0000-4000-8000-%012d' % idx,
        'name': 'vm%d' % idx,
        'tenant_id': 'project%d' % (idx % 3),
        'status': status,
        'OS-EXT-STS:task_state': task_state,
        'OS-EXT-STS:vm_state': 'active',
        'OS-EXT-SRV-ATTR:host': host,
        'OS-EXT-SRV-ATTR:hypervisor_hostname': host,
        'OS-EXT-SRV-ATTR:user_data': 'I2Nsb3VkLWNvbmZpZwpwYXNzd29yZDogaHVudGVyMgo=',  # #cloud-config password: hunter2
        'metadata': {'owner': 'alice', 'db_password': 'TenantSecret1'},
        'addresses': {'private': [{'addr': '10.0.0.%d' % idx, 'version': 4}]},
        'adminPass': 'AdminPass77',
        'key_name': 'alice-key',
    }
    body.update(extra)
    return Server.existing(**body)


def connection(servers):
    conn = mock.MagicMock()
    conn.compute.servers.return_value = iter(servers)
    return conn


def run(run_module, servers, **args):
    conn = connection(servers)
    return run_module(server_inflight_info.main, args, conn), conn


def cloud():
    return [
        server(9, 'ACTIVE'),
        server(8, 'MIGRATING', 'migrating', host='cmp2'),
        server(7, 'VERIFY_RESIZE', None, host='cmp3'),
        server(6, 'ACTIVE', 'resize_prep'),
        server(5, 'SHUTOFF', None),
        server(4, 'REBUILD', 'rebuild_spawning', host='cmp4'),
        server(3, 'ERROR', None, host=None),
        server(2, 'active', 'resize_migrating'),       # lower-case status as some clouds return it
        server(1, 'ACTIVE', 'image_snapshot'),        # a task, but not a move
        server(10, 'revert_resize', None),
        server(11, 'RESIZE', 'resize_finish'),
    ]


def test_only_servers_in_flight_sorted_by_id(run_module):
    res, conn = run(run_module, cloud())
    assert not res.failed, res.result
    assert res.result['changed'] is False
    conn.compute.servers.assert_called_once_with(details=True, all_projects=True)
    servers = res.result['servers']
    assert [s['name'] for s in servers] == ['vm2', 'vm4', 'vm6', 'vm7', 'vm8', 'vm10', 'vm11']
    assert servers[4] == dict(id='00000000-0000-4000-8000-000000000008', name='vm8', project_id='project2',
                              status='MIGRATING', task_state='migrating', host='cmp2')
    assert servers[3]['task_state'] is None and servers[3]['status'] == 'VERIFY_RESIZE'


def test_only_the_six_fields_never_user_data(run_module):
    res, _conn = run(run_module, cloud())
    assert all(set(s) == FIELDS for s in res.result['servers'])
    dumped = json.dumps(res.result)
    for secret in ('I2Nsb3VkLWNvbmZpZw', 'TenantSecret1', 'AdminPass77', 'alice-key', '10.0.0.', 'owner'):
        assert secret not in dumped


@pytest.mark.parametrize('status, task_state', [
    ('MIGRATING', None), ('RESIZE', None), ('VERIFY_RESIZE', None), ('REVERT_RESIZE', None), ('REBUILD', None),
    ('ACTIVE', 'migrating'), ('ACTIVE', 'resize_prep'), ('ACTIVE', 'resize_migrating'), ('ACTIVE', 'resize_migrated'),
    ('ACTIVE', 'resize_finish'), ('ACTIVE', 'resize_reverting'), ('ACTIVE', 'resize_confirming'),
    ('ERROR', 'rebuilding'), ('ACTIVE', 'rebuild_block_device_mapping'), ('ACTIVE', 'rebuild_spawning'),
])
def test_in_flight(status, task_state):
    assert server_inflight_info.inflight(server(1, status, task_state)) is not None


@pytest.mark.parametrize('status, task_state', [
    ('ACTIVE', None), ('SHUTOFF', None), ('ERROR', None), ('BUILD', 'spawning'), ('ACTIVE', 'image_snapshot'),
    ('SHELVED_OFFLOADED', None), (None, None), ('ACTIVE', ''),
])
def test_not_in_flight(status, task_state):
    assert server_inflight_info.inflight(server(1, status, task_state)) is None


def test_no_server_in_flight_is_an_empty_list(run_module):
    res, _conn = run(run_module, [server(1), server(2, 'SHUTOFF')])
    assert not res.failed and res.result['servers'] == []
    res, _conn = run(run_module, [])
    assert not res.failed and res.result['servers'] == []


def test_check_mode(run_module):
    res, conn = run(run_module, cloud(), _ansible_check_mode=True)
    assert not res.failed and len(res.result['servers']) == 7
    conn.compute.servers.assert_called_once_with(details=True, all_projects=True)
