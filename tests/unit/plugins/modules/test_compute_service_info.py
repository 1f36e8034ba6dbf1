# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from unittest import mock

import pytest

from openstack import exceptions
from openstack.compute.v2.service import Service

from ansible_collections.rolling.openstack.plugins.modules import compute_service_info

# openstacksdk 4.x warns from inside its own Resource constructor; nothing this module can change.
pytestmark = pytest.mark.filterwarnings('ignore::openstack.warnings.RemovedInSDK50Warning')


def api_service(binary, host, state='up', status='enabled', forced_down=False, reason=None, idx=0):
    """A Service resource built from an os-services API body (microversion 2.69 field names)."""
    return Service.existing(**{
        'id': '00000000-0000-4000-8000-%012d' % idx,
        'binary': binary,
        'host': host,
        'zone': 'internal' if binary != 'nova-compute' else 'nova',
        'status': status,
        'state': state,
        'forced_down': forced_down,
        'disabled_reason': reason,
        'updated_at': '2026-11-22T10:15:02.000000',
    })


def cloud():
    """The services of a small cloud, in the unsorted order an API may return them."""
    return [
        api_service('nova-conductor', 'ctl1', idx=1),
        api_service('nova-scheduler', 'ctl1', idx=2),
        api_service('nova-compute', 'cmp10', idx=3),
        api_service('nova-compute', 'cmp1', idx=4),
        api_service('nova-compute', 'cmp2', state='down', status='disabled', forced_down=True,
                    reason='fenced', idx=5),
    ]


def connection(services, server_side_filter=True):
    """A mocked openstacksdk connection whose compute.services() answers like Nova would."""
    conn = mock.MagicMock()

    def services_call(**query):
        if not server_side_filter:
            return iter(services)
        return iter([s for s in services if all(getattr(s, k) == v for k, v in query.items())])

    conn.compute.services.side_effect = services_call
    return conn


def test_lists_all_services_sorted_with_api_field_names(run_module):
    res = run_module(compute_service_info.main, {}, connection(cloud()))
    assert not res.failed
    assert res.result['changed'] is False
    services = res.result['compute_services']
    assert [(s['binary'], s['host']) for s in services] == [
        ('nova-compute', 'cmp1'), ('nova-compute', 'cmp10'), ('nova-compute', 'cmp2'),
        ('nova-conductor', 'ctl1'), ('nova-scheduler', 'ctl1'),
    ]
    assert set(services[0]) == {'id', 'binary', 'host', 'zone', 'status', 'state', 'forced_down',
                                'disabled_reason', 'updated_at'}
    cmp2 = services[2]
    assert cmp2['zone'] == 'nova'
    assert cmp2['forced_down'] is True
    assert cmp2['disabled_reason'] == 'fenced'
    assert cmp2['id'] == '00000000-0000-4000-8000-000000000005'


def test_summary_and_services_down(run_module):
    res = run_module(compute_service_info.main, {}, connection(cloud()))
    assert res.result['summary'] == dict(total=5, up=4, down=1, disabled=1, forced_down=1)
    assert [(s['binary'], s['host']) for s in res.result['services_down']] == [('nova-compute', 'cmp2')]


def test_filters_are_passed_to_the_api(run_module):
    conn = connection(cloud())
    run_module(compute_service_info.main, {'binary': 'nova-compute', 'host': 'cmp1'}, conn)
    conn.compute.services.assert_called_once_with(binary='nova-compute', host='cmp1')


@pytest.mark.parametrize('server_side_filter', [True, False])
def test_host_matches_exactly_never_as_substring(run_module, server_side_filter):
    conn = connection(cloud(), server_side_filter=server_side_filter)
    res = run_module(compute_service_info.main, {'binary': 'nova-compute', 'host': 'cmp1'}, conn)
    assert [s['host'] for s in res.result['compute_services']] == ['cmp1']
    assert res.result['summary']['total'] == 1


def test_no_match_returns_empty_lists_and_does_not_fail(run_module):
    res = run_module(compute_service_info.main, {'host': 'no-such-host'}, connection(cloud()))
    assert not res.failed
    assert res.result['compute_services'] == []
    assert res.result['services_down'] == []
    assert res.result['summary'] == dict(total=0, up=0, down=0, disabled=0, forced_down=0)


def test_check_mode_is_supported(run_module):
    res = run_module(compute_service_info.main, {'_ansible_check_mode': True}, connection(cloud()))
    assert not res.failed
    assert res.result['summary']['total'] == 5


def test_sdk_error_fails_with_message(run_module):
    conn = mock.MagicMock()
    conn.compute.services.side_effect = exceptions.HttpException('Service Unavailable (HTTP 503)')
    res = run_module(compute_service_info.main, {}, conn)
    assert res.failed
    assert 'Service Unavailable' in res.result['msg']
