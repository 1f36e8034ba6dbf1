# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import functools
import json
import textwrap
from unittest import mock

import pytest

from ansible.module_utils import basic

from ansible_collections.rolling.openstack.plugins.modules import nova_service_version_info as nsvi

CELL0 = '00000000-0000-0000-0000-000000000000'
CELL1 = 'c569bcd6-c48e-4700-918e-360a24ba397f'
CELL2 = '2b7e0c35-7a6e-4c8c-9e55-4b1b0b7b2a10'
NOW = '2026-11-23T10:00:00+00:00'


def svc(idx, binary, host, version=72, seen_ago=5, forced_down=False, disabled=False, never=False):
    """A service record as the snippet prints it; seen_ago in seconds before NOW."""
    now = datetime.datetime(2026, 11, 23, 10, 0, 0, tzinfo=datetime.timezone.utc)
    seen = None if never else (now - datetime.timedelta(seconds=seen_ago)).isoformat()
    return dict(id=idx, uuid='00000000-0000-4000-8000-%012d' % idx, host=host, binary=binary, version=version,
                disabled=disabled, disabled_reason='maintenance' if disabled else None, forced_down=forced_down,
                last_seen_up=seen, updated_at=seen, created_at='2026-11-01T08:00:00+00:00')


def document(cells=None, **extra):
    history = [dict(compute_rpc='4.0')] * 71 + [dict(compute_rpc='6.5'), dict(compute_rpc='6.5')]
    doc = dict(
        code=dict(version='33.0.2', service_version=72, compute_rpc='6.5',
                  compute_rpc_history=[h['compute_rpc'] for h in history][:70] + ['6.4', '6.5', '6.5'],
                  oldest_supported_release='Epoxy', oldest_supported_service_version=68),
        service_down_time=60, servicegroup_driver='db', now=NOW,
        cells=cells if cells is not None else [
            dict(uuid=CELL0, name='cell0', is_cell0=True, disabled=False, services=[], error=None),
            dict(uuid=CELL1, name='cell1', is_cell0=False, disabled=False, error=None, services=[
                svc(1, 'nova-conductor', 'ctl1'),
                svc(2, 'nova-scheduler', 'ctl1'),
                svc(3, 'nova-osapi_compute', 'ctl1', never=True),
                svc(4, 'nova-compute', 'cmp1'),
                svc(5, 'nova-compute', 'cmp2', version=70, seen_ago=30),
            ]),
        ])
    doc.update(extra)
    return doc


def output(doc):
    return 'some log line\n' + nsvi._MARKER + json.dumps(doc) + '\n'


@pytest.fixture
def run(run_on_nova_host):
    """run(result, **args) -> (ModuleExit, run_command mock): the module, with the venv's python answering result."""
    return functools.partial(run_on_nova_host, nsvi.main)


def by_host(services, binary):
    return {s['host']: s for s in services if s['binary'] == binary}


def test_runs_the_snippet_with_the_venv_python(run, nova_host):
    res, run_command = run((0, output(document()), ''))
    assert not res.failed, res.result
    argv = run_command.call_args.args[0]
    assert argv == [nova_host['python'], '-', '--config-file', nova_host['conf']]
    assert run_command.call_args.kwargs['data'] == nsvi._SNIPPET
    assert res.result['changed'] is False


def test_services_versions_and_minimums(run):
    res, _rc = run((0, output(document()), ''))
    r = res.result
    assert [(s['cell_name'], s['binary'], s['host']) for s in r['services']] == [
        ('cell1', 'nova-compute', 'cmp1'), ('cell1', 'nova-compute', 'cmp2'), ('cell1', 'nova-conductor', 'ctl1'),
        ('cell1', 'nova-osapi_compute', 'ctl1'), ('cell1', 'nova-scheduler', 'ctl1')]
    computes = by_host(r['services'], 'nova-compute')
    assert computes['cmp2']['version'] == 70
    assert computes['cmp2']['seconds_since_seen'] == 30
    assert computes['cmp2']['up'] is True
    assert computes['cmp2']['cell_uuid'] == CELL1
    assert r['cells'][0] == dict(uuid=CELL0, name='cell0', is_cell0=True, disabled=False, services=0,
                                 minimum_version={}, error=None)
    assert r['cells'][1]['minimum_version'] == {'nova-compute': 70, 'nova-conductor': 72, 'nova-scheduler': 72,
                                                'nova-osapi_compute': 72}
    assert r['minimum_compute_version'] == 70
    assert r['compute_rpc_version_for_minimum'] == '6.4'
    assert r['code'] == dict(version='33.0.2', service_version=72, compute_rpc='6.5',
                             oldest_supported_release='Epoxy', oldest_supported_service_version=68)
    assert r['service_down_time'] == 60
    assert r['stale'] == []
    assert r['summary'] == dict(total=5, up=4, down=0, disabled=0, forced_down=0, stale=0, cells=2)


def test_api_services_have_no_heartbeat_and_are_not_down(run):
    res, _rc = run((0, output(document()), ''))
    api = by_host(res.result['services'], 'nova-osapi_compute')['ctl1']
    assert api['up'] is None
    assert api['reports_heartbeat'] is False
    assert api['last_seen_up'] is None
    assert res.result['stale'] == []


def test_down_service_is_stale_with_the_fix(run):
    cells = document()['cells']
    cells[1]['services'].append(svc(6, 'nova-compute', 'cmp9', version=66, seen_ago=86400 - 1))
    cells[1]['services'].append(svc(7, 'nova-conductor', 'ctl9', version=66, seen_ago=3600))
    res, _rc = run((0, output(document(cells)), ''))
    r = res.result
    assert r['minimum_compute_version'] == 66  # the stale record keeps the minimum (and the pin) low
    assert r['compute_rpc_version_for_minimum'] == '4.0'
    assert [(s['binary'], s['host']) for s in r['stale']] == [('nova-compute', 'cmp9'), ('nova-conductor', 'ctl9')]
    cmp9 = r['stale'][0]
    assert cmp9['reasons'] == ['down for 86399 s (service_down_time 60 s)']
    assert cmp9['counts_in_minimum'] is True
    assert cmp9['fix'] == (
        'openstack compute service set --down cmp9 nova-compute; then, once no server is left on cmp9 (migrate or '
        'evacuate them), openstack --os-compute-api-version 2.53 compute service delete '
        '00000000-0000-4000-8000-000000000006')
    assert r['stale'][1]['fix'] == ('stop nova-conductor on ctl9 if it still runs there, then openstack '
                                    '--os-compute-api-version 2.53 compute service delete '
                                    '00000000-0000-4000-8000-000000000007')
    assert r['summary']['down'] == 2
    assert r['summary']['stale'] == 2


def test_forced_down_record_does_not_count_in_the_minimum(run):
    cells = document()['cells']
    cells[1]['services'].append(svc(6, 'nova-compute', 'cmp9', version=60, seen_ago=7200, forced_down=True))
    res, _rc = run((0, output(document(cells)), ''))
    r = res.result
    assert r['minimum_compute_version'] == 70
    cmp9 = by_host(r['services'], 'nova-compute')['cmp9']
    assert cmp9['up'] is False and cmp9['counts_in_minimum'] is False
    assert r['stale'][0]['fix'].startswith('once no server is left on cmp9')
    assert r['summary']['forced_down'] == 1


def test_forced_down_service_is_down_even_when_heartbeating(run):
    cells = document()['cells']
    cells[1]['services'][3]['forced_down'] = True
    res, _rc = run((0, output(document(cells)), ''))
    cmp1 = by_host(res.result['services'], 'nova-compute')['cmp1']
    assert cmp1['up'] is False
    assert res.result['stale'] == []  # heard from 5 s ago: not stale


def test_stale_after_ignores_briefly_down_services(run):
    cells = document()['cells']
    cells[1]['services'].append(svc(6, 'nova-compute', 'cmp3', seen_ago=120))
    res, _rc = run((0, output(document(cells)), ''))
    assert [s['host'] for s in res.result['stale']] == ['cmp3']
    res, _rc = run((0, output(document(cells)), ''), stale_after=600)
    assert res.result['stale'] == []
    assert by_host(res.result['services'], 'nova-compute')['cmp3']['up'] is False


def test_never_reported_service_counts_from_created_at(run):
    cells = document()['cells']
    cells[1]['services'].append(svc(6, 'nova-scheduler', 'ctl2', never=True))
    res, _rc = run((0, output(document(cells)), ''))
    ctl2 = by_host(res.result['services'], 'nova-scheduler')['ctl2']
    assert ctl2['up'] is False
    assert ctl2['seconds_since_seen'] == 22 * 86400 + 2 * 3600
    assert res.result['stale'][0]['host'] == 'ctl2'


def test_expected_hosts(run):
    res, _rc = run((0, output(document()), ''), expected_hosts=['ctl1', 'cmp1'])
    stale = res.result['stale']
    assert [(s['binary'], s['host'], s['reasons']) for s in stale] == [
        ('nova-compute', 'cmp2', ['host cmp2 is not in expected_hosts'])]
    res, _rc = run((0, output(document()), ''), expected_hosts=['cmp1', 'cmp2'])
    stale_binaries = sorted(s['binary'] for s in res.result['stale'])
    assert stale_binaries == ['nova-conductor', 'nova-osapi_compute', 'nova-scheduler']


def test_minimum_across_cells_ignores_zero_and_missing(run):
    cells = document()['cells']
    cells.append(dict(uuid=CELL2, name='cell2', is_cell0=False, disabled=True, error=None, services=[
        svc(1, 'nova-compute', 'cmp20', version=0), svc(2, 'nova-compute', 'cmp21', version=None),
        svc(3, 'nova-conductor', 'ctl20', version=68)]))
    res, _rc = run((0, output(document(cells)), ''))
    r = res.result
    assert r['cells'][2]['minimum_version'] == {'nova-compute': 0, 'nova-conductor': 68}
    assert r['cells'][2]['disabled'] is True
    assert r['minimum_version']['nova-compute'] == 70
    assert r['minimum_version']['nova-conductor'] == 68
    assert r['minimum_compute_version'] == 70


def test_no_computes_gives_zero_and_no_rpc_version(run):
    cells = [dict(uuid=CELL1, name='cell1', is_cell0=False, disabled=False, error=None,
                  services=[svc(1, 'nova-conductor', 'ctl1')])]
    res, _rc = run((0, output(document(cells)), ''))
    assert res.result['minimum_compute_version'] == 0
    assert res.result['compute_rpc_version_for_minimum'] is None


def test_a_failed_cell_fails_the_module_with_a_scrubbed_message(run):
    cells = document()['cells']
    cells[1]['services'] = []
    cells[1]['error'] = 'OperationalError: cannot connect to mysql+pymysql://nova:Sup3rSecret@10.77.0.10/nova'
    res, _rc = run((0, output(document(cells)), ''))
    assert res.failed
    assert 'could not read the services of cell cell1 (%s)' % CELL1 in res.result['msg']
    assert 'mysql+pymysql://***@10.77.0.10/nova' in res.result['msg']
    assert 'Sup3rSecret' not in repr(res.result)
    # The failed result still names the cell that did not answer, for the preflight's refusal.
    assert [c['name'] for c in res.result['cells'] if c['error']] == ['cell1']


def test_snippet_error_fails_scrubbed(run):
    doc = dict(error='cannot read the cell mappings of the API database: OperationalError: '
                     'mysql+pymysql://nova_api:Sup3rSecret@db/nova_api')
    res, _rc = run((1, output(doc), ''))
    assert res.failed
    assert 'cannot read the cell mappings' in res.result['msg']
    assert 'Sup3rSecret' not in repr(res.result)


def test_no_marker_fails_with_scrubbed_stderr(run):
    err = ('Traceback (most recent call last):\nModuleNotFoundError: No module named nova\n'
           'transport_url = rabbit://nova:RabbitPw9@10.77.0.10:5672/\n')
    res, _rc = run((1, '', err))
    assert res.failed
    assert 'No module named nova' in res.result['msg']
    assert 'RabbitPw9' not in repr(res.result)


def test_python_from_nova_manage_shebang_without_venv(run, tmp_path):
    manage = tmp_path / 'nova-manage'
    manage.write_text('#!/usr/bin/python3\nimport nova\n')
    with mock.patch.object(basic.AnsibleModule, 'get_bin_path', return_value=str(manage)):
        res, run_command = run((0, output(document()), ''), nova_venv=None)
    assert not res.failed
    assert run_command.call_args.args[0][0] == '/usr/bin/python3'


def test_no_python_found(run):
    with mock.patch.object(basic.AnsibleModule, 'get_bin_path', return_value=None):
        res, run_command = run((0, '', ''), nova_venv=None)
    assert res.failed
    run_command.assert_not_called()
    assert 'set nova_venv' in res.result['msg']


def test_bad_stale_after(run):
    res, run_command = run((0, '', ''), stale_after=-1)
    assert res.failed
    run_command.assert_not_called()


# ---------------------------------------------------------------------------------------------------------------
# The snippet itself, run for real by this test's Python against a small stand-in for the nova package that
# offers the calls the snippet makes (the same names as nova 33/34: config.parse_args, CellMappingList.get_all,
# context.target_cell, ServiceList.get_all, objects.service.SERVICE_VERSION_HISTORY ...).
# The modules every snippet needs (config, conf, monkey_patch, version, rpc) are the conftest's FAKE_NOVA_COMMON.

FAKE_NOVA = {
    'context.py': textwrap.dedent('''\
        import contextlib
        class Ctx(object):
            cell = None
        def get_admin_context():
            return Ctx()
        @contextlib.contextmanager
        def target_cell(ctxt, mapping):
            c = Ctx()
            c.cell = mapping
            yield c
        '''),
    'objects/__init__.py': textwrap.dedent('''\
        import datetime
        import nova.conf
        def register_all():
            pass
        class CellMapping(object):
            def __init__(self, **kw):
                self.__dict__.update(kw)
            def is_cell0(self):
                return self.uuid == '00000000-0000-0000-0000-000000000000'
        class CellMappingList(object):
            @staticmethod
            def get_all(ctxt):
                scenario = nova.conf.CONF.scenario
                if scenario.get('api_error'):
                    raise RuntimeError(scenario['api_error'])
                return [CellMapping(**c['mapping']) for c in scenario['cells']]
        class Service(object):
            def __init__(self, **kw):
                self.__dict__.update(kw)
            def obj_attr_is_set(self, name):
                return name in self.__dict__
        class ServiceList(object):
            @staticmethod
            def get_all(ctxt):
                for cell in nova.conf.CONF.scenario['cells']:
                    if cell['mapping']['uuid'] == ctxt.cell.uuid:
                        if cell.get('error'):
                            raise RuntimeError(cell['error'])
                        out = []
                        for s in cell['services']:
                            s = dict(s)
                            for k in ('last_seen_up', 'updated_at', 'created_at'):
                                if s.get(k):
                                    s[k] = datetime.datetime.strptime(s[k], '%Y-%m-%d %H:%M:%S')
                            out.append(Service(**s))
                        return out
                return []
        '''),
    'objects/service.py': textwrap.dedent('''\
        SERVICE_VERSION = 72
        SERVICE_VERSION_HISTORY = tuple({'compute_rpc': '6.%d' % (i // 20)} for i in range(73))
        OLDEST_SUPPORTED_SERVICE_VERSION = 'Epoxy'
        SERVICE_VERSION_ALIASES = {'Epoxy': 68, 'Flamingo': 70, 'Gazpacho': 72}
        '''),
}

DB_URL = 'mysql+pymysql://nova:Sup3rSecretDb@10.77.0.10/nova'
CELL_URL = 'mysql+pymysql://nova:CellPassw0rd@10.77.0.10/nova_cell1'


@pytest.fixture
def fake_nova(fake_nova_site):
    rabbit = 'rabbit://openstack:RabbitPassw0rd@10.77.0.10:5672/'
    services = [
        dict(id=1, uuid='u-1', host='cmp1', binary='nova-compute', version=72, disabled=False,
             disabled_reason=None, forced_down=False, last_seen_up='2026-11-23 10:00:00',
             updated_at='2026-11-23 10:00:00', created_at='2026-11-01 08:00:00'),
        dict(id=2, host='ctl1', binary='nova-osapi_compute', version=72, disabled=False, disabled_reason=None,
             forced_down=False, last_seen_up=None, updated_at=None, created_at='2026-11-01 08:00:00'),
    ]
    cells = [
        dict(mapping=dict(uuid=CELL0, name='cell0', database_connection=DB_URL + '_cell0',
                          transport_url='none:///'), services=[]),
        dict(mapping=dict(uuid=CELL1, name='cell1', database_connection=CELL_URL, transport_url=rabbit),
             services=services),
    ]
    return fake_nova_site(FAKE_NOVA, dict(
        db=DB_URL, api_db='mysql+pymysql://nova_api:ApiPassw0rd@10.77.0.10/nova_api', transport_url=rabbit,
        cells=cells))


@pytest.fixture
def run_snippet(fake_nova, run_with_this_python):
    """run_snippet(scenario) -> ModuleExit: the module, its snippet run for real against the fake nova."""

    def run(scenario):
        fake_nova(scenario)
        return run_with_this_python(nsvi.main)

    return run


def test_snippet_against_a_fake_nova(run_snippet):
    res = run_snippet({})
    assert not res.failed, res.result
    r = res.result
    assert [c['name'] for c in r['cells']] == ['cell0', 'cell1']
    assert r['cells'][0]['is_cell0'] is True
    cmp1 = by_host(r['services'], 'nova-compute')['cmp1']
    assert cmp1['uuid'] == 'u-1'
    assert cmp1['last_seen_up'] == '2026-11-23T10:00:00+00:00'  # naive DB times are UTC
    api = by_host(r['services'], 'nova-osapi_compute')['ctl1']
    assert api['uuid'] is None  # a record without a UUID: the fix falls back to the integer ID
    assert r['code'] == dict(version='33.0.2', service_version=72, compute_rpc='6.3', oldest_supported_release='Epoxy',
                             oldest_supported_service_version=68)
    assert r['compute_rpc_version_for_minimum'] == '6.3'
    assert r['minimum_compute_version'] == 72
    dumped = json.dumps(r)
    for secret in ('Sup3rSecretDb', 'CellPassw0rd', 'ApiPassw0rd', 'RabbitPassw0rd'):
        assert secret not in dumped


@pytest.mark.parametrize('scenario, words', [
    (dict(api_error='(1045) could not connect with mysql+pymysql://nova_api:ApiPassw0rd@10.77.0.10/nova_api'),
     ['cannot read the cell mappings of the API database: RuntimeError: (1045) could not connect with ***']),
    # a secret that does not look like a URL: the snippet knows the configured values and replaces them
    (dict(api_error='bad password ApiPassw0rd for nova_api'), ['bad password *** for nova_api']),
])
def test_snippet_scrubs_api_database_errors(run_snippet, scenario, words):
    res = run_snippet(scenario)
    assert res.failed
    for word in words:
        assert word in res.result['msg']
    assert 'ApiPassw0rd' not in repr(res.result)


def test_snippet_reports_a_failing_cell_scrubbed(run_snippet, fake_nova, tmp_path):
    fake_nova({})
    scenario = json.loads((tmp_path / 'scenario.json').read_text())
    scenario['cells'][1]['error'] = "Can't connect: nova:CellPassw0rd@10.77.0.10 refused"
    res = run_snippet(dict(cells=scenario['cells']))
    assert res.failed
    assert 'could not read the services of cell cell1' in res.result['msg']
    assert 'RuntimeError' in res.result['msg']
    assert 'CellPassw0rd' not in repr(res.result)


def test_config_secrets_are_scrubbed_but_do_not_mangle_the_document(run, nova_host):
    with open(nova_host['conf'], 'w') as handle:
        handle.write('[database]\nconnection = mysql+pymysql://nova:nova@db/nova\n'
                     '[api_database]\nconnection = nova_api:LongSecret123@db/nova_api\n')
    cells = document()['cells']
    cells.append(dict(uuid=CELL2, name='cell2', is_cell0=False, disabled=False, services=[],
                      error="ArgumentError: cannot parse 'nova_api:LongSecret123@db/nova_api'"))
    res, _rc = run((0, output(document(cells)), ''))
    assert res.failed
    assert "cell2 (%s): ArgumentError: cannot parse '***'" % CELL2 in res.result['msg']
    assert 'LongSecret123' not in repr(res.result)
    # the password "nova" is too short to replace on its own: the services keep their names
    assert {s['binary'] for s in res.result['services']} >= {'nova-compute', 'nova-conductor'}
