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

from ansible_collections.rolling.openstack.plugins.module_utils import _upgrade_levels as ul
from ansible_collections.rolling.openstack.plugins.modules import nova_rpc_version_info as nrvi

# nova 33.0.2's SERVICE_VERSION_HISTORY compute_rpc column (service versions 0..72)
HISTORY = (['4.0'] * 55 + ['5.13'] + ['6.0'] * 8 + ['6.1', '6.1', '6.2', '6.3', '6.4', '6.4', '6.4', '6.5', '6.5'])
ALIASES = {'epoxy': '6.4', 'flamingo': '6.4', 'gazpacho': '6.5'}

LINE = ('2026-11-23 02:10:01.123 1234 INFO nova.compute.rpcapi [None req-6f0c1d2e-0b7a-4c5e-9f2a-1b2c3d4e5f60 - - - - '
        '- -] Automatically selected compute RPC version 6.4 from minimum service version 70')


def log_line(time, pid, rpc='6.4', service=70):
    return ('%s %d INFO nova.compute.rpcapi [None req-x - - - - - -] Automatically selected compute RPC version %s '
            'from minimum service version %d\n' % (time, pid, rpc, service))


# --- the log parser ------------------------------------------------------------------------------------------

def test_parse_selection_of_an_oslo_log_line():
    assert ul.parse_selection(LINE) == dict(time=datetime.datetime(2026, 11, 23, 2, 10, 1, 123000), pid=1234,
                                            rpc='6.4', service_version=70)


@pytest.mark.parametrize('line', [
    '2026-11-23 02:10:01.123 1234 INFO nova.service [-] Starting conductor node (version 33.0.2)',
    '2026-11-23 02:10:01.123 1234 DEBUG nova.compute.rpcapi [-] Not caching compute RPC version_cap, because min '
    'service_version is 0.',
    '',
    'Automatically selected compute RPC version',
])
def test_other_lines_are_not_selections(line):
    assert ul.parse_selection(line) is None


def test_a_line_in_another_format_has_no_time_or_pid():
    line = ('Nov 23 02:10:01 ctl1 nova-conductor[1234]: INFO nova.compute.rpcapi Automatically selected compute RPC '
            'version 6.5 from minimum service version 72')
    assert ul.parse_selection(line) == dict(time=None, pid=None, rpc='6.5', service_version=72)


def test_read_selections_since():
    lines = [log_line('2026-11-23 02:00:00.000', 10, '6.5', 72), 'noise\n',
             log_line('2026-11-23 02:10:00.000', 11), log_line('2026-11-23 02:10:00.500', 12),
             'Automatically selected compute RPC version 6.3 from minimum service version 67\n']
    assert [s['pid'] for s in ul.read_selections(lines)] == [10, 11, 12, None]
    since = datetime.datetime(2026, 11, 23, 2, 10)
    assert [s['pid'] for s in ul.read_selections(lines, since)] == [11, 12]  # at or after; no time: left out


def test_parse_since_forms():
    assert ul.parse_since(None) is None
    assert ul.parse_since('') is None
    assert ul.parse_since('2026-11-23T02:10:00') == datetime.datetime(2026, 11, 23, 2, 10)
    assert ul.parse_since('2026-11-23 02:10:00.250') == datetime.datetime(2026, 11, 23, 2, 10, 0, 250000)
    epoch = 1795400000
    local = datetime.datetime.fromtimestamp(epoch)
    assert ul.parse_since(str(epoch)) == local
    assert ul.parse_since('%d.5' % epoch) == local + datetime.timedelta(seconds=0.5)
    utc = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    assert ul.parse_since(utc.strftime('%Y-%m-%dT%H:%M:%SZ')) == local
    assert ul.parse_since(utc.isoformat()) == local
    with pytest.raises(ValueError, match='neither epoch seconds nor an ISO 8601 date-time'):
        ul.parse_since('yesterday')


# --- the selection, as nova/compute/rpcapi.py makes it ------------------------------------------------------------

@pytest.mark.parametrize('setting, minimum, expected', [
    ('', 70, ('6.5', None)),             # no option: the code's newest
    ('auto', 70, ('6.4', None)),         # the minimum compute's
    ('auto', 72, ('6.5', None)),
    ('auto', 66, ('6.2', None)),
    ('auto', 0, ('6.5', None)),          # no compute: the code's current, not cached
    ('6.3', 70, ('6.3', None)),          # explicit version, whatever the computes
    ('flamingo', 72, ('6.4', None)),     # release alias
])
def test_select_compute_rpc(setting, minimum, expected):
    assert ul.select_compute_rpc(setting, minimum, HISTORY, 72, ALIASES) == expected


def test_select_compute_rpc_with_computes_newer_than_the_code():
    selected, problem = ul.select_compute_rpc('auto', 73, HISTORY, 72, ALIASES)
    assert selected is None
    assert 'minimum nova-compute service version 73 is newer than this code knows' in problem
    assert 'ServiceTooOld' in problem


def test_select_compute_rpc_with_an_unknown_alias():
    selected, problem = ul.select_compute_rpc('hibiscus', 72, HISTORY, 72, ALIASES)
    assert selected == 'hibiscus'
    assert 'neither auto, a version nor a release alias this code knows' in problem


# --- the module, with the venv's python mocked ----------------------------------------------------------------------

def document(setting='auto', minimum=70, **extra):
    doc = dict(code=dict(version='33.0.2', service_version=72, compute_rpc_history=HISTORY), aliases=ALIASES,
               setting=setting, minimum_scope='all cells', minimum_compute_version=minimum, warnings=[])
    doc.update(extra)
    return doc


def output(doc):
    return 'a warning nova printed\n' + nrvi._MARKER + json.dumps(doc) + '\n'


@pytest.fixture
def warnings():
    """The module's warnings (the conftest's exit_json does not add them to the result)."""
    found = []
    with mock.patch.object(basic.AnsibleModule, 'warn', lambda self, text: found.append(text)):
        yield found


@pytest.fixture
def run(run_on_nova_host):
    """run(result, **args) -> (ModuleExit, run_command mock): the module, with the venv's python answering result."""
    return functools.partial(run_on_nova_host, nrvi.main)


def test_runs_the_snippet_with_the_venv_python(run, nova_host):
    res, run_command = run((0, output(document()), ''), config_dir=str(nova_host['logs']))
    assert not res.failed, res.result
    argv = run_command.call_args.args[0]
    assert argv == [nova_host['python'], '-', '--config-file', nova_host['conf'], '--config-dir',
                    str(nova_host['logs'])]
    assert run_command.call_args.kwargs['data'] == nrvi._SNIPPET
    r = res.result
    assert r['changed'] is False
    assert r['setting'] == 'auto'
    assert r['code'] == dict(version='33.0.2', service_version=72, compute_rpc='6.5')
    assert r['minimum_compute_version'] == 70
    assert r['minimum_scope'] == 'all cells'
    assert r['selected'] == '6.4'
    assert r['pinned'] is True
    assert r['log_selections'] == []
    assert r['log_latest'] == {}
    assert r['missing_log_files'] == []


@pytest.mark.parametrize('setting, minimum, selected, pinned', [
    ('', 70, '6.5', False),
    ('auto', 72, '6.5', False),   # every compute runs the code: auto holds nothing back
    ('auto', 0, '6.5', False),
    ('gazpacho', 70, '6.5', False),
    ('flamingo', 72, '6.4', True),
    ('6.4', 72, '6.4', True),
])
def test_selected_and_pinned(run, setting, minimum, selected, pinned):
    res, _rc = run((0, output(document(setting, minimum)), ''))
    assert (res.result['setting'], res.result['selected'], res.result['pinned']) == (setting, selected, pinned)


def test_computes_newer_than_the_code_warn_and_select_nothing(run, warnings):
    res, _rc = run((0, output(document('auto', 73)), ''))
    assert not res.failed
    assert res.result['selected'] is None
    assert res.result['pinned'] is None
    assert len(warnings) == 1 and 'ServiceTooOld' in warnings[0]


def test_cell_warnings_are_passed_on_scrubbed(run, nova_host, warnings):
    with open(nova_host['conf'], 'w') as handle:
        handle.write('[api_database]\nconnection = mysql+pymysql://nova_api:ApiSecret99@db/nova_api\n')
    doc = document(warnings=['Cell c569bcd6 did not respond when getting minimum service version ApiSecret99'])
    res, _rc = run((0, output(doc), ''))
    assert not res.failed
    assert warnings == ['Cell c569bcd6 did not respond when getting minimum service version ***']


def test_log_files_selections_latest_and_missing(run, nova_host, warnings):
    conductor = nova_host['logs'] / 'nova-conductor.log'
    scheduler = nova_host['logs'] / 'nova-scheduler.log'
    api = nova_host['logs'] / 'nova-api.log'
    conductor.write_text(log_line('2026-11-23 01:00:00.000', 100, '6.5', 72) + 'noise\n'
                         + log_line('2026-11-23 02:10:05.000', 200) + log_line('2026-11-23 02:10:09.000', 201))
    scheduler.write_text(log_line('2026-11-23 02:10:07.000', 300))
    api.write_text('2026-11-23 02:10:00.000 400 INFO nova.api [-] nothing to see\n')
    missing = str(nova_host['logs'] / 'nova-novncproxy.log')
    paths = [str(conductor), str(scheduler), str(api), missing]
    res, _rc = run((0, output(document()), ''), log_files=paths, since='2026-11-23T02:10:00')
    r = res.result
    assert not res.failed, r
    assert [(s['path'], s['pid']) for s in r['log_selections']] == [
        (str(conductor), 200), (str(scheduler), 300), (str(conductor), 201)]
    assert r['log_selections'][0] == dict(path=str(conductor), time='2026-11-23T02:10:05.000', pid=200, rpc='6.4',
                                          service_version=70)
    assert r['log_latest'] == {str(conductor): r['log_selections'][2], str(scheduler): r['log_selections'][1],
                               str(api): None, missing: None}
    assert r['missing_log_files'] == [missing]
    assert warnings == ['log file %s does not exist on this host' % missing]
    # without since every line counts
    res, _rc = run((0, output(document()), ''), log_files=[str(conductor)])
    assert [s['pid'] for s in res.result['log_selections']] == [100, 200, 201]


def test_bad_since_fails_before_running_anything(run):
    res, run_command = run((0, '', ''), since='last tuesday')
    assert res.failed
    assert "since 'last tuesday' is neither epoch seconds nor an ISO 8601 date-time" in res.result['msg']
    run_command.assert_not_called()


def test_missing_config_file_fails_before_running_anything(run):
    res, run_command = run((0, '', ''), config_files=['/nonexistent/nova.conf'])
    assert res.failed
    assert 'config file /nonexistent/nova.conf (option config_files) does not exist' in res.result['msg']
    run_command.assert_not_called()


def test_snippet_error_fails_scrubbed(run):
    doc = dict(error='cannot read the minimum nova-compute service version: OperationalError: '
                     'mysql+pymysql://nova_api:Sup3rSecret@db/nova_api')
    res, _rc = run((1, output(doc), ''))
    assert res.failed
    assert 'cannot read the minimum nova-compute service version' in res.result['msg']
    assert 'Sup3rSecret' not in repr(res.result)


def test_no_marker_fails_with_scrubbed_stderr(run):
    err = ('Traceback (most recent call last):\nModuleNotFoundError: No module named nova\n'
           'transport_url = rabbit://nova:RabbitPw9@10.77.0.10:5672/\n')
    res, _rc = run((1, '', err))
    assert res.failed
    assert 'No module named nova' in res.result['msg']
    assert 'RabbitPw9' not in repr(res.result)


def test_check_mode_runs_the_read(run):
    res, run_command = run((0, output(document()), ''), _ansible_check_mode=True)
    assert not res.failed
    assert res.result['changed'] is False
    assert res.result['selected'] == '6.4'
    run_command.assert_called_once()


# --- the snippet itself, run for real against a stand-in for the nova package ---------------------------------------
# Same names as nova 33/34: config.parse_args, conf.upgrade_levels.compute, compute.rpcapi.ComputeAPI.VERSION_ALIASES,
# objects.service.SERVICE_VERSION_HISTORY / get_minimum_version_all_cells, objects.Service.get_minimum_version.
# The modules every snippet needs (config, conf, monkey_patch, version, rpc) are the conftest's FAKE_NOVA_COMMON.

FAKE_NOVA = {
    'context.py': textwrap.dedent('''\
        def get_admin_context():
            return object()
        '''),
    'compute/__init__.py': '',
    'compute/rpcapi.py': textwrap.dedent('''\
        class ComputeAPI(object):
            VERSION_ALIASES = {'epoxy': '6.4', 'flamingo': '6.4', 'gazpacho': '6.5'}
        '''),
    'objects/__init__.py': textwrap.dedent('''\
        import nova.conf
        def register_all():
            pass
        class CellMapping(object):
            def __init__(self, **kw):
                self.__dict__.update(kw)
        class CellMappingList(object):
            @staticmethod
            def get_all(ctxt):
                return [CellMapping(**c) for c in nova.conf.CONF.scenario['cells']]
        class Service(object):
            @staticmethod
            def get_minimum_version(ctxt, binary):
                assert binary == 'nova-compute'
                return nova.conf.CONF.scenario['local_minimum']
        '''),
    'objects/service.py': textwrap.dedent('''\
        import logging
        import nova.conf
        LOG = logging.getLogger(__name__)
        SERVICE_VERSION = 72
        SERVICE_VERSION_HISTORY = tuple({'compute_rpc': v} for v in %r)
        def get_minimum_version_all_cells(ctxt, binaries, require_all=False):
            assert binaries == ['nova-compute']
            scenario = nova.conf.CONF.scenario
            if scenario.get('error'):
                raise RuntimeError(scenario['error'])
            for cell in scenario.get('silent_cells', []):
                LOG.warning('Cell %%s did not respond when getting minimum service version', cell)
            return scenario['minimum']
        ''' % (HISTORY,)),
}

DB_URL = 'mysql+pymysql://nova:Sup3rSecretDb@10.77.0.10/nova'
CELL_URL = 'mysql+pymysql://nova:CellPassw0rd@10.77.0.10/nova_cell1'


@pytest.fixture
def fake_nova(fake_nova_site):
    rabbit = 'rabbit://openstack:RabbitPassw0rd@10.77.0.10:5672/'
    return fake_nova_site(FAKE_NOVA, dict(
        db=DB_URL, api_db='mysql+pymysql://nova_api:ApiPassw0rd@10.77.0.10/nova_api', transport_url=rabbit,
        compute='auto', minimum=70, local_minimum=71,
        cells=[dict(uuid='00000000-0000-0000-0000-000000000000', database_connection=DB_URL + '_cell0',
                    transport_url='none:///'),
               dict(uuid='c569bcd6', database_connection=CELL_URL, transport_url=rabbit)]))


@pytest.fixture
def run_snippet(fake_nova, run_with_this_python):
    """run_snippet(scenario) -> ModuleExit: the module, its snippet run for real against the fake nova."""

    def run(scenario):
        fake_nova(scenario)
        return run_with_this_python(nrvi.main)

    return run


def test_snippet_against_a_fake_nova(run_snippet, warnings):
    res = run_snippet({})
    assert not res.failed, res.result
    r = res.result
    assert r['setting'] == 'auto'
    assert r['code'] == dict(version='33.0.2', service_version=72, compute_rpc='6.5')
    assert r['minimum_compute_version'] == 70
    assert r['minimum_scope'] == 'all cells'
    assert r['selected'] == '6.4'
    assert r['pinned'] is True
    assert warnings == []


def test_snippet_without_api_database_reads_the_local_cell(run_snippet):
    res = run_snippet(dict(api_db=None, compute=None))
    r = res.result
    assert not res.failed, r
    assert (r['setting'], r['minimum_scope'], r['minimum_compute_version']) == ('', 'local cell', 71)
    assert (r['selected'], r['pinned']) == ('6.5', False)


def test_snippet_passes_on_nova_warnings_scrubbed(run_snippet, warnings):
    res = run_snippet(dict(silent_cells=['c569bcd6 (%s)' % CELL_URL]))
    assert not res.failed, res.result
    # the whole cell URL is a secret the snippet learnt from the cell mappings
    assert warnings == ['Cell c569bcd6 (***) did not respond when getting minimum service version']


@pytest.mark.parametrize('error', [
    '(1045) Access denied with mysql+pymysql://nova:CellPassw0rd@10.77.0.10/nova_cell1',
    'bad password CellPassw0rd',  # not a URL: the snippet knows the cell's URL and replaces its password
])
def test_snippet_scrubs_database_errors(run_snippet, error):
    res = run_snippet(dict(error=error))
    assert res.failed
    assert 'cannot read the minimum nova-compute service version: RuntimeError: ' in res.result['msg']
    dumped = json.dumps(res.result)
    for secret in ('Sup3rSecretDb', 'CellPassw0rd', 'ApiPassw0rd', 'RabbitPassw0rd'):
        assert secret not in dumped
