# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nova_db_sync against a fake nova venv whose nova-manage (and placement-manage) really run: they print the schema
version of the database their configuration names, record their arguments and the configuration files they were
given, and sync. The venv's python runs the module's cell-mapping snippet against a fake nova package."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from ansible_collections.rolling.openstack.plugins.modules import nova_db_sync

CELL0 = '00000000-0000-0000-0000-000000000000'
CELL2 = '2b7e0c35-7a6e-4c8c-9e55-4b1b0b7b2a10'
CELL2_URL = 'mysql+pymysql://nova:Cell2Secret@10.77.0.20/nova_cell2'

NOVA_CONF = textwrap.dedent('''\
    [DEFAULT]
    transport_url = rabbit://openstack:RabbitPw9@10.77.0.10:5672/
    [database]
    connection = mysql+pymysql://nova:Sup3rSecret@10.77.0.10/nova
    [api_database]
    connection = mysql+pymysql://nova_api:ApiSecret9@10.77.0.10/nova_api
    ''')

# The fake tool: the database is the one of [database] connection of the last config file that sets it (as oslo.config
# reads them), "api" for api_db, "placement" for placement-manage.
FAKE_MANAGE = textwrap.dedent('''\
    #!%s
    import configparser, json, os, stat, sys
    argv = sys.argv[1:]
    confs, rest, i = [], [], 0
    while i < len(argv):
        if argv[i] in ('--config-file', '--config-dir'):
            path = argv[i + 1]
            entry = dict(option=argv[i], path=path, exists=os.path.isfile(path))
            if entry['exists']:
                entry['mode'] = stat.S_IMODE(os.stat(path).st_mode)
                entry['text'] = open(path).read()
            confs.append(entry)
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    tool = os.path.basename(sys.argv[0])
    if tool == 'placement-manage':
        key = 'placement'
    elif rest[0] == 'api_db':
        key = 'api'
    else:
        key = None
        for c in confs:
            parser = configparser.RawConfigParser(strict=False)
            parser.read(c['path'])
            if parser.has_option('database', 'connection'):
                key = parser.get('database', 'connection').rsplit('/', 1)[1]
    with open(os.environ['FAKE_MANAGE_LOG'], 'a') as log:
        log.write(json.dumps(dict(tool=tool, argv=sys.argv, confs=confs, rest=rest, key=key)) + '\\n')
    state = json.load(open(os.environ['FAKE_MANAGE_STATE']))
    if rest[1] == 'version':
        if state.get('version_rc'):
            sys.stderr.write(state.get('version_err', ''))
            sys.exit(state['version_rc'])
        print(state['versions'][key])
        sys.exit(0)
    if rest[1] == 'sync':
        sys.stdout.write(state.get('sync_out', ''))
        sys.stderr.write(state.get('sync_err', ''))
        if state.get('sync_rc'):
            sys.exit(state['sync_rc'])
        state['versions'][key] = state['heads'][key]
        json.dump(state, open(os.environ['FAKE_MANAGE_STATE'], 'w'))
        sys.exit(0)
    sys.exit(64)
    ''') % sys.executable

# The nova package the cell-mapping snippet (module_utils._nova_cells) imports.
FAKE_NOVA = {
    '__init__.py': '',
    'context.py': 'def get_admin_context():\n    return "admin"\n',
    'rpc.py': 'def cleanup():\n    pass\n',
    'conf/__init__.py': textwrap.dedent('''\
        class Group(object):
            def __init__(self, **kw):
                self.__dict__.update(kw)
        class Conf(object):
            def __getitem__(self, name):
                return getattr(self, name)
        CONF = Conf()
        '''),
    'config.py': textwrap.dedent('''\
        import configparser
        import nova.conf
        def parse_args(argv, default_config_files=None, configure_db=True, init_rpc=True, prog=None):
            files = [argv[i + 1] for i, a in enumerate(argv) if a == '--config-file']
            parser = configparser.RawConfigParser(strict=False)
            parser.read(files)
            conf = nova.conf.CONF
            conf.database = nova.conf.Group(connection=parser.get('database', 'connection', fallback=None))
            conf.api_database = nova.conf.Group(connection=parser.get('api_database', 'connection', fallback=None))
            conf.transport_url = parser.get('DEFAULT', 'transport_url', fallback=None)
        '''),
    'objects/__init__.py': textwrap.dedent('''\
        import json, os
        class CellMapping(object):
            def __init__(self, **kw):
                self.__dict__.update(kw)
        class CellMappingList(object):
            @staticmethod
            def get_all(ctxt):
                assert ctxt == 'admin'
                return [CellMapping(**m) for m in json.load(open(os.environ['FAKE_CELL_MAPPINGS']))]
        def register_all():
            pass
        '''),
}


class Host:
    """The fake nova host: venvs, config files, the tools' state and their log."""

    def __init__(self, root, monkeypatch):
        self.root = root
        self.venv = root / 'nova-34.0.0'
        self.placement_venv = root / 'placement-16.0.0'
        for venv, tool in ((self.venv, 'nova-manage'), (self.placement_venv, 'placement-manage')):
            (venv / 'bin').mkdir(parents=True)
            (venv / 'bin' / tool).write_text(FAKE_MANAGE)
            (venv / 'bin' / tool).chmod(0o755)
        python = self.venv / 'bin' / 'python'
        python.write_text('#!/bin/sh\nexec %s "$@"\n' % sys.executable)
        python.chmod(0o755)
        self.manage = str(self.venv / 'bin' / 'nova-manage')
        self.conf = root / 'nova.conf'
        self.conf.write_text(NOVA_CONF)
        self.placement_conf = root / 'placement.conf'
        self.placement_conf.write_text('[placement_database]\nconnection = mysql+pymysql://placement:PlacementPw1@db/placement\n')
        site = root / 'site'
        for name, text in FAKE_NOVA.items():
            path = site / 'nova' / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.state_path = root / 'state.json'
        self.log_path = root / 'manage.log'
        self.log_path.write_text('')
        self.mappings_path = root / 'mappings.json'
        self.mappings([dict(uuid=CELL0, name='cell0', database_connection='mysql+pymysql://nova:Sup3rSecret@10.77.0.10/nova_cell0'),
                       dict(uuid=CELL2, name='cell2', database_connection=CELL2_URL)])
        self.state()
        monkeypatch.setenv('PYTHONPATH', str(site))
        monkeypatch.setenv('FAKE_MANAGE_LOG', str(self.log_path))
        monkeypatch.setenv('FAKE_MANAGE_STATE', str(self.state_path))
        monkeypatch.setenv('FAKE_CELL_MAPPINGS', str(self.mappings_path))

    def state(self, **extra):
        doc = dict(versions=dict(api='b30f573d3377', nova='1b91788ec3a6', nova_cell2='1b91788ec3a6', placement='a082b8bb98d0'),
                   heads=dict(api='13863f4e1612', nova='13863f4e1612', nova_cell2='13863f4e1612', placement='fe3e8c1a1a11'))
        doc.update(extra)
        self.state_path.write_text(json.dumps(doc))

    def mappings(self, mappings):
        self.mappings_path.write_text(json.dumps(mappings))

    def calls(self):
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def run(run_module, host, **args):
    params = dict(nova_venv=str(host.venv), config_files=[str(host.conf)])
    params.update(args)
    return run_module(nova_db_sync.main, params, None)


def ok(res):
    assert not res.failed, res.result
    return res.result


@pytest.mark.parametrize('schema, args, version_args, sync_args, before, after', [
    ('api', ['api_db', 'version'], ['api_db', 'version'], ['api_db', 'sync'], 'b30f573d3377', '13863f4e1612'),
    ('cells', ['db', 'version'], ['db', 'version'], ['db', 'sync'], '1b91788ec3a6', '13863f4e1612'),
])
def test_sync_moves_the_schema(run_module, host, schema, args, version_args, sync_args, before, after):
    r = ok(run(run_module, host, schema=schema))
    name = 'nova-manage %s' % ' '.join(sync_args)
    assert r['changed'] is True
    assert r['before'] == before and r['after'] == after
    assert r['cmd'] == '%s --config-file %s %s' % (host.manage, host.conf, ' '.join(sync_args))
    assert r['name'] == name
    assert r['summary'] == r['msg'] == '%s %s -> %s' % (name, before, after)
    assert r['diff'] == dict(before=before + '\n', after=after + '\n')
    assert isinstance(r['seconds'], float) and r['seconds'] >= 0
    calls = host.calls()
    assert [c['rest'] for c in calls] == [version_args, sync_args, version_args]
    assert all(c['argv'][1:3] == ['--config-file', str(host.conf)] for c in calls)


def test_sync_at_head_is_no_change(run_module, host):
    host.state(versions=dict(api='13863f4e1612'))
    r = ok(run(run_module, host, schema='api'))
    assert r['changed'] is False
    assert r['before'] == r['after'] == '13863f4e1612'
    assert r['summary'] == 'nova-manage api_db sync (already at head 13863f4e1612)'


def test_sync_output_is_returned(run_module, host):
    host.state(sync_out='Running upgrade 1b91788ec3a6 -> 13863f4e1612, add instances.compute_id\n')
    r = ok(run(run_module, host, schema='cells'))
    assert r['stdout'] == 'Running upgrade 1b91788ec3a6 -> 13863f4e1612, add instances.compute_id\n'


def test_placement(run_module, host):
    r = ok(run(run_module, host, schema='placement', nova_venv=str(host.placement_venv),
               config_files=[str(host.placement_conf)]))
    assert r['name'] == 'placement-manage db sync'
    assert r['before'] == 'a082b8bb98d0' and r['after'] == 'fe3e8c1a1a11' and r['changed'] is True
    assert r['cmd'] == '%s --config-file %s db sync' % (host.placement_venv / 'bin' / 'placement-manage', host.placement_conf)
    assert {c['tool'] for c in host.calls()} == {'placement-manage'}


def test_one_cell_from_its_config_files(run_module, host):
    cell2_conf = host.root / 'cell2.conf'
    cell2_conf.write_text('[database]\nconnection = %s\n' % CELL2_URL)
    r = ok(run(run_module, host, schema='cell', config_files=[str(host.conf), str(cell2_conf)]))
    assert r['name'] == 'nova-manage db sync --local_cell'
    assert r['cmd'] == '%s --config-file %s --config-file %s db sync --local_cell' % (host.manage, host.conf, cell2_conf)
    calls = host.calls()
    assert [c['key'] for c in calls] == ['nova_cell2'] * 3
    assert calls[1]['rest'] == ['db', 'sync', '--local_cell']


def test_one_cell_from_its_mapping(run_module, host):
    r = ok(run(run_module, host, schema='cell', cell='cell2'))
    assert r['changed'] is True
    assert r['before'] == '1b91788ec3a6' and r['after'] == '13863f4e1612'
    assert r['name'] == 'nova-manage db sync --local_cell (cell cell2)'
    # the command shown is the module's own files: the temporary file is not named
    assert r['cmd'] == '%s --config-file %s db sync --local_cell (cell cell2)' % (host.manage, host.conf)
    calls = host.calls()
    assert [c['rest'] for c in calls] == [['db', 'version'], ['db', 'sync', '--local_cell'], ['db', 'version']]
    for call in calls:
        # after the module's config files, so that its [database] connection wins
        assert [c['option'] for c in call['confs']] == ['--config-file', '--config-file']
        assert call['confs'][0]['path'] == str(host.conf)
        extra = call['confs'][1]
        assert extra['exists'] and extra['mode'] == 0o600
        assert 'rolling-nova-cell-' in extra['path']
        assert '[database]\nconnection = %s\n' % CELL2_URL in extra['text']
        assert call['key'] == 'nova_cell2'
    paths = {c['confs'][1]['path'] for c in calls}
    assert len(paths) == 1
    path = paths.pop()
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))  # removed afterwards
    dumped = json.dumps(r)
    assert 'Cell2Secret' not in dumped and CELL2_URL not in dumped
    assert path not in dumped


def test_one_cell_by_uuid(run_module, host):
    r = ok(run(run_module, host, schema='cell', cell=CELL2))
    assert r['name'] == 'nova-manage db sync --local_cell (cell %s)' % CELL2
    assert host.calls()[0]['key'] == 'nova_cell2'


def test_dollar_signs_of_the_mapping_url_are_escaped_for_oslo_config(run_module, host):
    host.mappings([dict(uuid=CELL2, name='cell2', database_connection='mysql+pymysql://nova:Pa$word99@10.77.0.20/nova_cell2')])
    ok(run(run_module, host, schema='cell', cell='cell2'))
    assert 'connection = mysql+pymysql://nova:Pa$$word99@10.77.0.20/nova_cell2\n' in host.calls()[0]['confs'][1]['text']


def test_unknown_cell_fails_before_running_nova_manage(run_module, host):
    res = run(run_module, host, schema='cell', cell='cell9')
    assert res.failed
    assert res.result['msg'].startswith('could not read the cell mapping of cell9 with %s' % (host.venv / 'bin' / 'python'))
    assert 'no cell mapping has the uuid or name cell9' in res.result['msg']
    assert host.calls() == []


def test_cell_mapping_without_connection_fails(run_module, host):
    host.mappings([dict(uuid=CELL2, name='cell2', database_connection=None)])
    res = run(run_module, host, schema='cell', cell='cell2')
    assert res.failed
    assert res.result['msg'] == 'cell cell2: its mapping has no database connection'
    assert host.calls() == []


def test_cell_option_is_ignored_for_other_schemas(run_module, host):
    r = ok(run(run_module, host, schema='cells', cell='cell2'))
    assert r['name'] == 'nova-manage db sync' and '(cell' not in r['cmd']
    assert all(len(c['confs']) == 1 for c in host.calls())


def test_check_mode_reads_the_version_and_runs_no_sync(run_module, host):
    r = ok(run(run_module, host, schema='api', _ansible_check_mode=True))
    assert r['changed'] is False
    assert r['before'] == r['after'] == 'b30f573d3377'
    assert r['seconds'] == 0.0
    assert r['summary'] == 'nova-manage api_db sync: at b30f573d3377 (check mode: not run)'
    assert r['msg'] == 'check mode: would run %s --config-file %s api_db sync' % (host.manage, host.conf)
    assert [c['rest'] for c in host.calls()] == [['api_db', 'version']]


def test_check_mode_with_a_cell_mapping(run_module, host):
    r = ok(run(run_module, host, schema='cell', cell='cell2', _ansible_check_mode=True))
    assert r['changed'] is False and r['before'] == '1b91788ec3a6'
    calls = host.calls()
    assert [c['rest'] for c in calls] == [['db', 'version']]
    assert not os.path.exists(calls[0]['confs'][1]['path'])


def test_failing_sync_is_scrubbed(run_module, host):
    host.state(sync_rc=1,
               sync_out='Running upgrade 1b91788ec3a6 -> 13863f4e1612\nTraceback (most recent call last):\n',
               sync_err='sqlalchemy.exc.OperationalError: (pymysql.err.OperationalError) (1045, "Access denied") '
                        '(Background on this error at: mysql+pymysql://nova:Sup3rSecret@10.77.0.10/nova)\n'
                        'retrying with Sup3rSecret and rabbit://openstack:RabbitPw9@10.77.0.10:5672/\n')
    res = run(run_module, host, schema='cells')
    assert res.failed
    r = res.result
    # the configuration's secret values (whole URLs included) are replaced wherever they appear
    assert r['msg'].startswith('%s --config-file %s db sync exited 1: retrying with *** and ***\n' % (host.manage, host.conf))
    assert '(Background on this error at: ***)' in r['msg']
    assert r['rc'] == 1
    assert r['before'] == '1b91788ec3a6' and r['after'] == '1b91788ec3a6' and r['changed'] is False
    assert 'Running upgrade' in r['stdout']
    dumped = json.dumps(r)
    for secret in ('Sup3rSecret', 'RabbitPw9'):
        assert secret not in dumped
    assert [c['rest'] for c in host.calls()] == [['db', 'version'], ['db', 'sync']]


def test_failing_cell_sync_is_scrubbed_of_the_mapping_url_and_removes_the_file(run_module, host):
    # the credentials alone, in no URL: only the temporary file's secrets can scrub them
    host.state(sync_rc=1, sync_err='could not log in as nova:Cell2Secret to %s\n' % CELL2_URL)
    res = run(run_module, host, schema='cell', cell='cell2')
    assert res.failed
    dumped = json.dumps(res.result)
    assert 'Cell2Secret' not in dumped
    assert 'could not log in as *** to ***' in res.result['msg']
    path = host.calls()[0]['confs'][1]['path']
    assert not os.path.exists(os.path.dirname(path))


def test_failing_version_read(run_module, host):
    host.state(version_rc=2, version_err='error: connection to mysql+pymysql://nova_api:ApiSecret9@10.77.0.10 failed\n')
    res = run(run_module, host, schema='api')
    assert res.failed
    assert res.result['msg'].startswith('nova-manage api_db version exited 2: error: connection to '
                                        'mysql+pymysql://***@10.77.0.10 failed')
    assert 'ApiSecret9' not in json.dumps(res.result)
    assert len(host.calls()) == 1


def test_manage_cmd_overrides_the_venv(run_module, host):
    r = ok(run(run_module, host, schema='api', nova_venv=None, manage_cmd=host.manage))
    assert r['cmd'].startswith(host.manage + ' --config-file ')


def test_missing_venv(run_module, host):
    res = run(run_module, host, schema='api', nova_venv=str(host.root / 'nova-35.0.0'))
    assert res.failed and 'nova_venv %s does not exist' % (host.root / 'nova-35.0.0') in res.result['msg']
    assert host.calls() == []


def test_missing_config_file(run_module, host):
    res = run(run_module, host, schema='api', config_files=[str(host.root / 'none.conf')])
    assert res.failed and 'none.conf (option config_files) does not exist' in res.result['msg']
    assert host.calls() == []


def test_unknown_schema(run_module, host):
    res = run(run_module, host, schema='main')
    assert res.failed and 'value of schema must be one of: api, cells, cell, placement' in res.result['msg']
