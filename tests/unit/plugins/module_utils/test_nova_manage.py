# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.rolling.openstack.plugins.module_utils import _nova_manage as nm

# What nova-manage 33 prints (nova/cmd/manage.py: per-migration lines, then a prettytable).
ODM_OUTPUT = """\
2 rows matched query migrate_instances_add_request_spec, 0 migrated
2 rows matched query populate_queued_for_delete, 2 migrated
+---------------------------------------------+--------------+-----------+
|                  Migration                  | Total Needed | Completed |
+---------------------------------------------+--------------+-----------+
|         create_incomplete_consumers         |      0       |     0     |
|      migrate_instances_add_request_spec     |      2       |     0     |
|          populate_queued_for_delete         |      2       |     2     |
+---------------------------------------------+--------------+-----------+
"""

ODM_FAILED = """\
Error attempting to run <function populate_user_id at 0x7f0c>
+-------------------+--------------+-----------+
|     Migration     | Total Needed | Completed |
+-------------------+--------------+-----------+
|  populate_user_id |      0       |     0     |
+-------------------+--------------+-----------+
Some migrations failed unexpectedly. Check log for details.
"""

# What nova-status 33 prints (oslo.upgradecheck's table: details wrapped at 60 columns, indented 2).
STATUS_OUTPUT = """\
+-------------------------------------------------------------------+
| Upgrade Check Results                                             |
+-------------------------------------------------------------------+
| Check: Cells v2                                                   |
| Result: Success                                                   |
| Details: None                                                     |
+-------------------------------------------------------------------+
| Check: Placement API                                              |
| Result: Failure                                                   |
| Details: Placement API does not seem to be running. Check that    |
|   the placement service is running.                               |
+-------------------------------------------------------------------+
| Check: Older than N-1 computes                                    |
| Result: Warning                                                   |
| Details: Current Nova version does not support computes older     |
|   than Epoxy but the minimum compute service level in your system |
|   is 66.                                                          |
+-------------------------------------------------------------------+
"""


@pytest.mark.parametrize('text, leaked', [
    ('connect to mysql+pymysql://nova:S3cretPw@10.0.0.1/nova failed', 'S3cretPw'),
    ("(pymysql.err) url='mysql+pymysql://nova_api:p@ss/w0rd@db:3306/nova_api?charset=utf8'", 'ss/w0rd'),
    ('transport rabbit://openstack:RabbitPw1@10.0.0.1:5672,openstack:RabbitPw1@10.0.0.2:5672/', 'RabbitPw1'),
    ('auth failed: password=hunter22&user=nova', 'hunter22'),
    ('{"password": "hunter22"}', 'hunter22'),
])
def test_scrub_removes_credentials(text, leaked):
    scrubbed = nm.scrub(text)
    assert leaked not in scrubbed
    assert '***' in scrubbed


def test_scrub_keeps_the_scheme_and_host_and_other_text():
    assert (nm.scrub('cannot reach mysql+pymysql://nova:pw@db1/nova: timeout')
            == 'cannot reach mysql+pymysql://***@db1/nova: timeout')
    assert nm.scrub('Check: Service User Token Configuration') == 'Check: Service User Token Configuration'
    assert nm.scrub('see https://docs.openstack.org/nova/latest/') == 'see https://docs.openstack.org/nova/latest/'
    assert nm.scrub(None) is None


def test_scrub_replaces_given_secrets_even_without_a_url():
    assert nm.scrub("could not parse 'nova:S3cretPw@db/nova'", secrets=['S3cretPw']) == \
        "could not parse 'nova:***@db/nova'"
    # too short to replace safely on its own: a password "nova" must not turn nova-compute into ***-compute
    assert nm.scrub('nova-compute on cmp1', secrets=['nova']) == 'nova-compute on cmp1'
    # but URL credentials go whatever their length
    assert nm.scrub('mysql+pymysql://nova:nova@db/nova', secrets=['nova']) == 'mysql+pymysql://***@db/nova'


def test_config_args():
    assert nm.config_args(dict(config_files=['/etc/nova/nova.conf', '/etc/nova/cell2.conf'], config_dir=None)) == [
        '--config-file', '/etc/nova/nova.conf', '--config-file', '/etc/nova/cell2.conf']
    assert nm.config_args(dict(config_files=[], config_dir='/etc/nova/nova.conf.d')) == [
        '--config-dir', '/etc/nova/nova.conf.d']


def test_parse_table():
    tables = nm.parse_table('noise\n' + ODM_OUTPUT + 'more noise\n')
    assert len(tables) == 1
    assert tables[0]['header'] == ['Migration', 'Total Needed', 'Completed']
    assert tables[0]['rows'][1] == ['migrate_instances_add_request_spec', '2', '0']
    assert nm.parse_table('') == []


def test_parse_online_migrations():
    rows, errors = nm.parse_online_migrations(ODM_OUTPUT)
    assert rows == [
        dict(name='create_incomplete_consumers', total_needed=0, completed=0),
        dict(name='migrate_instances_add_request_spec', total_needed=2, completed=0),
        dict(name='populate_queued_for_delete', total_needed=2, completed=2),
    ]
    assert errors == []
    rows, errors = nm.parse_online_migrations(ODM_FAILED)
    assert rows == [dict(name='populate_user_id', total_needed=0, completed=0)]
    assert errors == ['Error attempting to run <function populate_user_id at 0x7f0c>',
                      'Some migrations failed unexpectedly. Check log for details.']
    assert nm.parse_online_migrations('An error has occurred:\nTraceback ...') == ([], [])


def test_sum_migrations():
    totals = {}
    nm.sum_migrations(totals, [dict(name='a', total_needed=5, completed=2)])
    nm.sum_migrations(totals, [dict(name='a', total_needed=3, completed=3),
                               dict(name='b', total_needed=0, completed=0)])
    assert totals == {'a': dict(name='a', total_needed=8, completed=5),
                      'b': dict(name='b', total_needed=0, completed=0)}


def test_parse_upgrade_check_table():
    checks = nm.parse_upgrade_check('some warning on stdout\n' + STATUS_OUTPUT)
    assert checks == [
        dict(check='Cells v2', result='Success', details=None),
        dict(check='Placement API', result='Failure',
             details='Placement API does not seem to be running. Check that the placement service is running.'),
        dict(check='Older than N-1 computes', result='Warning',
             details='Current Nova version does not support computes older than Epoxy but the minimum compute '
                     'service level in your system is 66.'),
    ]


def test_parse_upgrade_check_json():
    doc = dict(name='Upgrade Check Results', checks=[dict(check='Cells v2', result=0, details=None),
                                                     dict(check='Placement API', result=2, details='down')])
    assert nm.parse_upgrade_check(json.dumps(doc)) == [
        dict(check='Cells v2', result='Success', details=None),
        dict(check='Placement API', result='Failure', details='down'),
    ]


def test_parse_upgrade_check_error_output():
    assert nm.parse_upgrade_check('Error:\nTraceback (most recent call last):\n  ...') == []


@pytest.mark.parametrize('line, interpreter', [
    ('#!/opt/openstack/venvs/nova-33.0.2/bin/python3\n', '/opt/openstack/venvs/nova-33.0.2/bin/python3'),
    ('#!/usr/bin/env python3\n', 'python3'),
    ('#! /usr/bin/python3 -s\n', '/usr/bin/python3'),
    ('import sys\n', None),
])
def test_shebang_interpreter(tmp_path, line, interpreter):
    script = tmp_path / 'nova-manage'
    script.write_text(line + 'print(1)\n')
    assert nm.shebang_interpreter(str(script)) == interpreter


def test_shebang_interpreter_missing_file(tmp_path):
    assert nm.shebang_interpreter(str(tmp_path / 'nope')) is None


def test_tail_and_command_text():
    assert nm.tail('\n'.join(str(i) for i in range(10)), lines=3) == '[... 7 lines before]\n7\n8\n9'
    assert nm.command_text(['/bin/nova-manage', '--config-file', '/etc/a b.conf']) == \
        "/bin/nova-manage --config-file '/etc/a b.conf'"


NOVA_CONF = """\
[DEFAULT]
transport_url = rabbit://openstack:RabbitPw1@10.0.0.1:5672,openstack:RabbitPw1@10.0.0.2:5672/
service_down_time = 60
[database]
connection = nova:NotAUrlPw9@10.0.0.1/nova
connection_recycle_time = 3600
[keystone_authtoken]
password = KsPassword7
memcache_secret_key = MemcacheKey5
token_cache_time = 300
[placement]
auth_url = http://10.0.0.1:5000/v3
"""


def test_config_secrets_reads_passwords_and_urls_not_other_values(tmp_path):
    conf = tmp_path / 'nova.conf'
    conf.write_text(NOVA_CONF)
    confd = tmp_path / 'nova.conf.d'
    confd.mkdir()
    (confd / '10-cell2.conf').write_text('[database]\nconnection = mysql+pymysql://nova:Cell2Pw@db2/nova\n')
    (confd / 'README').write_text('[x]\npassword = not-a-conf-file\n')
    secrets = nm.config_secrets(dict(config_files=[str(conf), str(tmp_path / 'missing.conf')],
                                     config_dir=str(confd)))
    for secret in ('RabbitPw1', 'nova:NotAUrlPw9@10.0.0.1/nova', 'KsPassword7', 'MemcacheKey5',
                   'mysql+pymysql://nova:Cell2Pw@db2/nova', 'Cell2Pw'):
        assert secret in secrets
    for value in ('3600', '300', '60', 'http://10.0.0.1:5000/v3', 'not-a-conf-file'):
        assert value not in secrets
    text = 'parse error for nova:NotAUrlPw9@10.0.0.1/nova after 3600 s, key MemcacheKey5'
    assert nm.scrub(text, secrets) == 'parse error for *** after 3600 s, key ***'


def test_config_secrets_a_doubled_dollar_is_scrubbed_as_printed(tmp_path):
    # oslo.config reads '$$' as '$': a tool prints 'Pa$word', the file says 'Pa$$word'.
    conf = tmp_path / 'nova.conf'
    conf.write_text('[keystone_authtoken]\npassword = Pa$$word\n'
                    '[database]\nconnection = mysql+pymysql://nova:Db$$pw@db/nova\n')
    secrets = nm.config_secrets(dict(config_files=[str(conf)]))
    assert nm.scrub('auth failed with Pa$word on mysql+pymysql://nova:Db$pw@db/nova', secrets) == \
        'auth failed with *** on ***'
    assert nm.scrub('nova:Db$pw@db', secrets) == '***@db'


def test_config_secrets_of_a_broken_file(tmp_path):
    conf = tmp_path / 'nova.conf'
    conf.write_text('no section header\npassword = x\n')
    assert nm.config_secrets(dict(config_files=[str(conf)])) == []


def test_run_tool_scrubs_config_secrets(tmp_path):
    from unittest import mock
    conf = tmp_path / 'nova.conf'
    conf.write_text(NOVA_CONF)
    module = mock.MagicMock()
    module.params = dict(config_files=[str(conf)], config_dir=None)
    module.run_command.return_value = (255, "Could not parse URL 'nova:NotAUrlPw9@10.0.0.1/nova'", 'KsPassword7')
    rc, out, err, secrets = nm.run_tool(module, ['nova-manage', 'db', 'version'])
    assert (rc, out, err) == (255, "Could not parse URL '***'", '***')
    assert 'KsPassword7' in secrets
    rc, out, err, secrets = nm.run_tool(module, ['nova-manage', 'db', 'version'], scrub_output=False)
    assert err == 'KsPassword7'
    kwargs = module.run_command.call_args.kwargs
    assert kwargs['environ_update'] == dict(LC_ALL='C.UTF-8', LANG='C.UTF-8', LANGUAGE='C')
    assert kwargs['expand_user_and_vars'] is False


def test_last_line():
    assert nm.last_line('Traceback:\n  File x\nOperationalError: boom\n\n') == 'OperationalError: boom'
    assert nm.last_line('') == ''
