# -*- coding: utf-8 -*-

# Copyright (c) rolling.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""haproxy_server against a fake haproxy: a thread answering the runtime API on a real UNIX socket."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from unittest import mock

import pytest

from ansible.module_utils import basic

from ansible_collections.rolling.openstack.plugins.modules import haproxy_server as hs

# "show stat" header of HAProxy 2.6.12 (Debian 12), as the lab's load balancer prints it.
STAT_HEADER = (
    '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,'
    'bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,'
    'check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,'
    'req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,'
    'rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,'
    'agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,'
    'wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,'
    'idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,'
    'agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,'
    'h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,'
    'h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,'
    'h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,'
    'h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,'
)
STAT_FIELDS = STAT_HEADER[2:].split(',')

# Real lines of that haproxy: a server coming up (one check passed of rise 2) and one refusing connections.
STAT_REAL = STAT_HEADER + '\n' + (
    'neutron_back,ctl1,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN 1/2,1,1,0,1,1,127,127,,1,10,1,,0,,2,0,,0,L7OK,200,1712,0,0,0,0,'
    '0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,Layer7 check passed,,2,2,1,,,,10.77.0.11:9696,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,'
    '0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n'
    'nova_back,ctl2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,1,1,126,126,,1,12,2,,0,,2,0,,0,L4CON,,0,0,0,0,0,0,0,,,,0,0,'
    '0,,,,,-1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,2,2,0,,,,10.77.0.12:8774,,http,,,,,,,,0,0,0,,,'
    '0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n\n')

SERVERS_STATE_HEADER = (
    '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight '
    'srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state '
    'bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr '
    'srv_agent_addr srv_agent_port\n')


def server(status='UP', admin=0, scur=0, qcur=0, weight=1, uweight=1, check_status='L7OK',
           check_desc='Layer7 check passed', last_chk='', script=()):
    """A fake server; script is a list of field updates applied one per "show stat" (a changing server)."""
    return dict(status=status, admin=admin, scur=scur, qcur=qcur, weight=weight, uweight=uweight,
                check_status=check_status, check_desc=check_desc, last_chk=last_chk, script=list(script))


class FakeHAProxy:
    """Answers haproxy's runtime API on a UNIX socket, one command per connection, like haproxy."""

    def __init__(self, path, servers, level='admin', servers_state=True):
        self.path = path
        self.servers = servers  # {(backend, server): server(...)}
        self.level = level
        self.servers_state = servers_state
        self.commands = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def sets(self):
        return [c for c in self.commands if c.startswith('set ')]

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                data = b''
                while not data.endswith(b'\n'):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                command = data.decode().strip()
                self.commands.append(command)
                conn.sendall(self.answer(command).encode())

    def answer(self, command):
        if ';' in command:
            # haproxy runs ";"-separated commands of one line one after the other and answers each in turn
            return ''.join(self.answer(part.strip()) for part in command.split(';'))
        words = command.split()
        if command == 'show stat -1 4 -1':
            return self._stat()
        if command == 'show cli level':
            return self.level + '\n\n'
        if words[:3] == ['show', 'servers', 'state'] and len(words) == 4:
            if not self.servers_state:
                return 'Unknown command. Please enter one of the following commands only :\n  help\n\n'
            if not any(be == words[3] for be, _sv in self.servers):
                return "Can't find backend.\n\n"
            return self._servers_state(words[3])
        if words[:2] == ['set', 'server'] and len(words) == 5 and words[3] == 'state':
            if self.level != 'admin':
                return 'Permission denied\n\n'
            backend, _sep, name = words[2].partition('/')
            if not any(be == backend for be, _sv in self.servers):
                return 'No such backend.\n\n'
            srv = self.servers.get((backend, name))
            if srv is None:
                return 'No such server.\n\n'
            self._set_state(srv, words[4])
            return '\n'
        return 'Unknown command.\n\n'

    @staticmethod
    def _set_state(srv, state):
        """HAProxy 2.6: ready clears FMAINT and FDRAIN, drain sets FDRAIN and clears FMAINT, maint the reverse."""
        flags = srv['admin'] & ~(hs._FMAINT | hs._FDRAIN)
        if state == 'drain':
            flags |= hs._FDRAIN
            if srv['status'].startswith(('UP', 'MAINT')):
                srv['status'] = 'DRAIN'
        elif state == 'maint':
            flags |= hs._FMAINT
            srv.update(status='MAINT', check_status='', check_desc='', last_chk='')
        elif srv['status'] in ('MAINT', 'DRAIN'):
            srv['status'] = 'UP 1/2' if srv['status'] == 'MAINT' else 'UP'
        srv['admin'] = flags

    def _stat(self):
        lines = [STAT_HEADER]
        for (backend, name), srv in self.servers.items():
            if srv['script']:
                srv.update(srv['script'].pop(0))
            row = dict.fromkeys(STAT_FIELDS, '')
            row.update(pxname=backend, svname=name, status=srv['status'], scur=srv['scur'], qcur=srv['qcur'],
                       weight=srv['weight'], uweight=srv['uweight'], check_status=srv['check_status'],
                       check_desc=srv['check_desc'], last_chk=srv['last_chk'])
            lines.append(','.join(str(row[f]) for f in STAT_FIELDS))
        return '\n'.join(lines) + '\n\n'

    def _servers_state(self, backend):
        lines = []
        for i, ((be, name), srv) in enumerate(self.servers.items()):
            if be == backend:
                lines.append('3 %s %d %s 10.77.0.%d 2 %d %d 1 5 15 3 3 6 0 0 0 - 8778 - 0 0 - - 0'
                             % (be, i + 1, name, 11 + i, srv['admin'], srv['uweight']))
        return SERVERS_STATE_HEADER + '\n'.join(lines) + '\n\n'


class FakeClock:
    """time for the module: sleep() advances monotonic() at once."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def sockdir():
    # A short directory: UNIX socket paths are limited to 107 bytes, pytest's tmp_path can be longer.
    path = tempfile.mkdtemp(prefix='hs-', dir='/tmp')
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(hs, 'time', fake)
    return fake


@pytest.fixture
def haproxy(sockdir, clock):
    """Start a FakeHAProxy: haproxy(servers, **options) -> FakeHAProxy on sockdir/admin.sock."""
    started = []

    def start(servers, **options):
        fake = FakeHAProxy(os.path.join(sockdir, 'admin.sock'), servers, **options)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.close()


def lab_servers(ctl2=None, ctl1=None):
    return {('placement_back', 'ctl1'): ctl1 or server(), ('placement_back', 'ctl2'): ctl2 or server(),
            ('nova_back', 'ctl1'): server(), ('nova_back', 'ctl2'): server()}


def run(run_module, fake, **args):
    base = dict(socket=fake.path, backend='placement_back', server='ctl2')
    base.update(args)
    with mock.patch.object(basic.AnsibleModule, 'warn') as warn:
        res = run_module(hs.main, base, None)
    res.warn = warn
    return res


# --- parsing real haproxy output ---------------------------------------------------------------------------------

def test_parse_stat_real_lines():
    backends = hs._parse_stat(STAT_REAL)
    assert sorted(backends) == ['neutron_back', 'nova_back']
    assert backends['neutron_back']['ctl1']['status'] == 'DOWN 1/2'
    assert backends['nova_back']['ctl2']['last_chk'] == 'Connection refused'
    assert backends['nova_back']['ctl2']['check_desc'] == 'Layer4 connection problem'


def test_parse_stat_rejects_other_answers():
    with pytest.raises(hs._HAProxyError, match="unexpected answer to \"show stat\": 'Unknown command.'"):
        hs._parse_stat('Unknown command.\n\n')


def test_parse_servers_state_real_text():
    text = SERVERS_STATE_HEADER + (
        '5 slowbe 1 s1 127.0.0.1 2 8 1 1 42 15 3 3 6 0 0 0 - 18082 - 0 0 - - 0\n'
        '5 slowbe 2 s2 127.0.0.1 0 5 1 1 44 15 3 3 6 0 0 0 - 18082 - 0 0 - - 0\n\n')
    assert hs._parse_servers_state(text, 'slowbe') == {'s1': 8, 's2': 5}
    assert hs._parse_servers_state("Can't find backend.\n\n", 'slowbe') == {}


@pytest.mark.parametrize('flags, status, expected', [
    (0, 'UP', 'ready'), (0x08, 'DOWN', 'drain'), (0x10, 'DRAIN', 'drain'), (0x01, 'MAINT', 'maint'),
    (0x05, 'MAINT', 'maint'), (0x04, 'UP', 'ready'), (0x02, 'MAINT (via b/s)', 'maint'),
    (0x20, 'MAINT (resolution)', 'maint'), (0x09, 'MAINT', 'maint'),
    (None, 'DRAIN 1/2', 'drain'), (None, 'MAINT (via b/s)', 'maint'), (None, 'UP 1/2', 'ready'),
    (None, 'no check', 'ready'), (None, 'NOLB', 'ready'),
])
def test_admin_state(flags, status, expected):
    assert hs._admin_state(flags, status) == expected


# --- changes, idempotence and waits --------------------------------------------------------------------------------

def test_drain_waits_until_sessions_end(run_module, haproxy, clock):
    script = [{}, {}, dict(scur=2), dict(scur=1, qcur=1), dict(scur=0, qcur=0)]
    fake = haproxy(lab_servers(ctl2=server(scur=3, script=script)))
    res = run(run_module, fake, state='drain')
    assert not res.failed, res.result
    r = res.result
    assert r['changed'] is True
    assert r['command'] == 'set server placement_back/ctl2 state drain'
    assert fake.sets() == ['set server placement_back/ctl2 state drain']
    assert r['before']['status'] == 'UP' and r['before']['admin_state'] == 'ready' and r['before']['scur'] == 3
    assert r['after']['status'] == 'DRAIN' and r['after']['admin_state'] == 'drain'
    assert r['after']['admin_flags'] == ['FDRAIN']
    assert r['after']['scur'] == 0 and r['after']['qcur'] == 0
    assert clock.sleeps == [0.5, 0.5, 0.5]
    assert r['waited'] == 1.5
    assert fake.servers[('placement_back', 'ctl1')]['admin'] == 0


def test_drain_is_idempotent_and_still_waits(run_module, haproxy, clock):
    fake = haproxy(lab_servers(ctl2=server(status='DRAIN', admin=hs._FDRAIN, scur=1, script=[{}, dict(scur=0)])))
    res = run(run_module, fake, state='drain')
    assert not res.failed, res.result
    assert res.result['changed'] is False
    assert res.result['command'] is None
    assert fake.sets() == []
    assert 'show cli level' not in fake.commands
    assert res.result['waited'] == 0.5
    assert res.result['msg'].startswith('placement_back/ctl2 already drain: status DRAIN, 0 current session(s)')


def test_drain_of_a_down_server_uses_the_flags_not_the_status(run_module, haproxy):
    # haproxy shows DOWN, not DRAIN, for a drained server whose check fails: idempotence must use the flags.
    fake = haproxy(lab_servers(ctl2=server(status='DOWN', admin=hs._FDRAIN, check_status='L4CON')))
    res = run(run_module, fake, state='drain')
    assert not res.failed, res.result
    assert res.result['changed'] is False
    assert res.result['before']['admin_state'] == 'drain'


def test_ready_waits_for_full_health_not_up_1_2(run_module, haproxy, clock):
    fake = haproxy(lab_servers(ctl2=server(status='MAINT', admin=hs._FMAINT, check_status='', check_desc='',
                                           script=[{}, {}, dict(status='UP 1/2'), dict(status='UP')])))
    res = run(run_module, fake, state='ready')
    assert not res.failed, res.result
    r = res.result
    assert r['changed'] is True
    assert fake.sets() == ['set server placement_back/ctl2 state ready']
    assert r['before']['admin_state'] == 'maint' and r['before']['admin_flags'] == ['FMAINT']
    assert r['after']['status'] == 'UP' and r['after']['admin_state'] == 'ready' and r['after']['admin_flags'] == []
    assert len(clock.sleeps) == 2
    assert r['waited'] == 1.0


def test_ready_after_a_restart_in_drain_waits_through_down(run_module, haproxy, clock):
    fake = haproxy(lab_servers(ctl2=server(
        status='DOWN', admin=hs._FDRAIN, check_status='L4CON', check_desc='Layer4 connection problem',
        last_chk='Connection refused',
        script=[{}, {}, dict(status='DOWN 1/2', check_status='L7OK', last_chk=''), dict(status='UP')])))
    res = run(run_module, fake, state='ready')
    assert not res.failed, res.result
    assert res.result['changed'] is True
    assert res.result['after']['status'] == 'UP'
    assert res.result['waited'] == 1.0


def test_ready_without_health_check_is_done_at_once(run_module, haproxy, clock):
    fake = haproxy(lab_servers(ctl2=server(status='no check', check_status='', check_desc='')))
    res = run(run_module, fake, state='ready')
    assert not res.failed, res.result
    assert res.result['changed'] is False
    assert res.result['waited'] == 0.0
    assert clock.sleeps == []


def test_ready_with_weight_0_warns(run_module, haproxy):
    fake = haproxy(lab_servers(ctl2=server(weight=0, uweight=0)))
    res = run(run_module, fake, state='ready')
    assert not res.failed, res.result
    res.warn.assert_called_once()
    assert 'weight is 0' in res.warn.call_args.args[0]
    assert 'set weight placement_back/ctl2 100%' in res.warn.call_args.args[0]


def test_maint_from_ready(run_module, haproxy):
    fake = haproxy(lab_servers())
    res = run(run_module, fake, state='maint')
    assert not res.failed, res.result
    assert res.result['changed'] is True
    assert res.result['after']['status'] == 'MAINT'
    assert res.result['after']['admin_flags'] == ['FMAINT']


def test_maint_clears_a_leftover_forced_drain(run_module, haproxy):
    fake = haproxy(lab_servers(ctl2=server(status='MAINT', admin=hs._FMAINT | hs._FDRAIN)))
    res = run(run_module, fake, state='maint')
    assert res.result['changed'] is True
    assert fake.servers[('placement_back', 'ctl2')]['admin'] == hs._FMAINT
    res = run(run_module, fake, state='maint')
    assert res.result['changed'] is False


def test_ready_is_idempotent(run_module, haproxy):
    fake = haproxy(lab_servers())
    res = run(run_module, fake, state='ready')
    assert not res.failed, res.result
    assert res.result['changed'] is False
    assert res.result['before'] == res.result['after']
    assert fake.sets() == []
    assert res.result['msg'] == ('placement_back/ctl2 already ready: status UP, 0 current session(s), 0 queued, last '
                                 'check L7OK (Layer7 check passed)')


def test_configuration_disabled_server_counts_as_ready_once_enabled(run_module, haproxy):
    # "disabled" in haproxy.cfg: FMAINT|CMAINT; "state ready" clears FMAINT, CMAINT stays and means nothing more.
    fake = haproxy(lab_servers(ctl2=server(status='MAINT', admin=0x05)))
    res = run(run_module, fake, state='ready', wait=False)
    assert res.result['changed'] is True
    assert res.result['after']['admin_flags'] == ['CMAINT'] and res.result['after']['admin_state'] == 'ready'
    res = run(run_module, fake, state='ready', wait=False)
    assert res.result['changed'] is False


def test_no_wait(run_module, haproxy, clock):
    fake = haproxy(lab_servers(ctl2=server(scur=5)))
    res = run(run_module, fake, state='drain', wait=False)
    assert not res.failed, res.result
    assert res.result['changed'] is True
    assert res.result['after']['scur'] == 5
    assert res.result['waited'] == 0.0
    assert clock.sleeps == []


def test_without_servers_state_the_status_decides(run_module, haproxy):
    fake = haproxy(lab_servers(ctl2=server(status='DRAIN')), servers_state=False)
    res = run(run_module, fake, state='drain')
    assert not res.failed, res.result
    assert res.result['changed'] is False
    assert res.result['before']['admin_flags'] == []
    res = run(run_module, fake, state='ready')
    assert res.result['changed'] is True


# --- timeouts ------------------------------------------------------------------------------------------------------

def test_ready_timeout_says_what_and_last_status(run_module, haproxy, clock):
    fake = haproxy(lab_servers(ctl2=server(status='DOWN', admin=hs._FDRAIN, check_status='L4CON',
                                           check_desc='Layer4 connection problem', last_chk='Connection refused')))
    res = run(run_module, fake, state='ready', timeout=3)
    assert res.failed
    r = res.result
    assert r['msg'] == ('placement_back/ctl2 is ready but haproxy did not report it UP within 3 seconds; last seen: '
                        'status DOWN, 0 current session(s), 0 queued, last check L4CON (Layer4 connection problem: '
                        'Connection refused). The service may not be answering its health check.')
    assert r['changed'] is True
    assert r['after']['status'] == 'DOWN' and r['after']['admin_state'] == 'ready'
    assert r['waited'] == 3.0
    assert sum(clock.sleeps) == 3.0
    assert len(clock.sleeps) == 6


def test_ready_timeout_names_an_inherited_maintenance(run_module, haproxy):
    fake = haproxy(lab_servers(ctl2=server(status='MAINT (via placement_back/ctl1)', admin=0x02)))
    res = run(run_module, fake, state='ready', timeout=1)
    assert res.failed
    assert res.result['changed'] is False
    assert 'inherits maintenance or drain from the server it tracks: set that one ready' in res.result['msg']


def test_drain_timeout_says_sessions_remain(run_module, haproxy, clock):
    fake = haproxy(lab_servers(ctl2=server(scur=4)))
    res = run(run_module, fake, state='drain', timeout=2)
    assert res.failed
    assert res.result['msg'] == ('placement_back/ctl2 is in drain but still has sessions after 2 seconds; last seen: '
                                 'status DRAIN, 4 current session(s), 0 queued, last check L7OK (Layer7 check '
                                 'passed). Requests in flight may be long (raise timeout), or persistent connections '
                                 'keep it busy.')
    assert res.result['after']['admin_state'] == 'drain'
    assert res.result['waited'] == 2.0


def test_timeout_0_looks_once(run_module, haproxy, clock):
    fake = haproxy(lab_servers(ctl2=server(scur=1)))
    res = run(run_module, fake, state='drain', timeout=0)
    assert res.failed and 'after 0 seconds' in res.result['msg']
    assert clock.sleeps == []
    fake.servers[('placement_back', 'ctl2')]['scur'] = 0
    res = run(run_module, fake, state='drain', timeout=0)
    assert not res.failed and res.result['changed'] is False


# --- check mode and diff -------------------------------------------------------------------------------------------

def test_check_mode_changes_nothing_and_does_not_wait(run_module, haproxy, clock):
    fake = haproxy(lab_servers(ctl2=server(scur=2)))
    res = run(run_module, fake, state='drain', _ansible_check_mode=True, _ansible_diff=True)
    assert not res.failed, res.result
    r = res.result
    assert r['changed'] is True
    assert r['command'] == 'set server placement_back/ctl2 state drain'
    assert r['msg'].startswith('check mode: would set placement_back/ctl2 drain (now status UP, 2 current session(s)')
    assert r['after']['admin_state'] == 'drain' and r['after']['status'] == 'UP'
    assert r['diff'] == dict(before=dict(admin_state='ready'), after=dict(admin_state='drain'),
                             before_header='placement_back/ctl2', after_header='placement_back/ctl2')
    assert fake.sets() == []
    assert fake.servers[('placement_back', 'ctl2')]['admin'] == 0
    assert clock.sleeps == []


def test_check_mode_idempotent(run_module, haproxy):
    fake = haproxy(lab_servers(ctl2=server(status='MAINT', admin=hs._FMAINT, scur=1)))
    res = run(run_module, fake, state='maint', _ansible_check_mode=True)
    assert not res.failed, res.result
    assert res.result['changed'] is False
    assert 'diff' not in res.result


def test_diff_mode(run_module, haproxy):
    fake = haproxy(lab_servers(ctl2=server(status='DRAIN', admin=hs._FDRAIN)))
    res = run(run_module, fake, state='ready', _ansible_diff=True)
    assert res.result['diff']['before'] == dict(admin_state='drain')
    assert res.result['diff']['after'] == dict(admin_state='ready')


# --- errors: names, socket, access level ---------------------------------------------------------------------------

def test_unknown_backend_lists_backends(run_module, haproxy):
    fake = haproxy(lab_servers())
    res = run(run_module, fake, backend='nova_api', state='drain')
    assert res.failed
    assert res.result['msg'] == ("backend 'nova_api' not found in haproxy (show stat on %s); backends with servers: "
                                 "nova_back, placement_back" % fake.path)
    assert fake.sets() == []


def test_unknown_server_lists_servers(run_module, haproxy):
    fake = haproxy(lab_servers())
    res = run(run_module, fake, server='ctl3', state='maint')
    assert res.failed
    assert res.result['msg'] == "server 'ctl3' not found in backend placement_back; its servers: ctl1, ctl2"
    assert fake.sets() == []


@pytest.mark.parametrize('option, value', [('server', 'ctl2; shutdown sessions server nova_back/ctl1'),
                                           ('backend', 'nova back'), ('server', 'placement_back/ctl2'),
                                           ('server', '')])
def test_bad_names_are_refused_before_talking_to_haproxy(run_module, haproxy, option, value):
    fake = haproxy(lab_servers())
    res = run(run_module, fake, state='drain', **{option: value})
    assert res.failed
    assert res.result['msg'].startswith('%s=%r is not a haproxy name' % (option, value))
    assert fake.commands == []


def test_negative_timeout(run_module, haproxy):
    fake = haproxy(lab_servers())
    res = run(run_module, fake, state='drain', timeout=-1)
    assert res.failed
    assert res.result['msg'] == 'timeout=-1 is negative: give the seconds to wait, 0 or more.'
    assert fake.commands == []


def test_user_level_socket_fails_before_any_change_even_in_check_mode(run_module, haproxy):
    fake = haproxy(lab_servers(), level='user')
    for check_mode in (True, False):
        res = run(run_module, fake, state='drain', _ansible_check_mode=check_mode)
        assert res.failed
        assert res.result['msg'] == (
            'haproxy refuses "set server placement_back/ctl2 state drain" on socket %s (option socket): the '
            'socket\'s level is user. The socket needs "level admin" in its line in haproxy.cfg (stats socket %s '
            'mode 660 level admin).' % (fake.path, fake.path))
    assert fake.sets() == []


def test_permission_denied_answer(run_module, haproxy):
    # An older haproxy without "show cli level": the refusal of the set command itself is explained.
    fake = haproxy(lab_servers(), level='Unknown command.')
    res = run(run_module, fake, state='maint')
    assert res.failed
    assert ': Permission denied. The socket needs "level admin"' in res.result['msg']


def test_other_refusal_is_shown(run_module, haproxy):
    fake = haproxy(lab_servers())
    answer = fake.answer
    fake.answer = lambda c: ('Server is in a state which does not allow this.\n\n' if c.startswith('set ')
                             else answer(c))
    res = run(run_module, fake, state='drain')
    assert res.failed
    assert res.result['msg'] == ('haproxy refused "set server placement_back/ctl2 state drain": Server is in a state '
                                 'which does not allow this.')


def test_missing_socket(run_module, sockdir):
    path = os.path.join(sockdir, 'admin.sock')
    res = run_module(hs.main, dict(socket=path, backend='nova_back', server='ctl1', state='drain'), None)
    assert res.failed
    assert res.result['msg'].startswith('socket %s (option socket) does not exist: is haproxy running' % path)
    assert 'stats socket %s mode 660 level admin' % path in res.result['msg']


def test_not_a_socket(run_module, sockdir):
    path = os.path.join(sockdir, 'haproxy.cfg')
    with open(path, 'w') as f:
        f.write('global\n')
    res = run_module(hs.main, dict(socket=path, backend='nova_back', server='ctl1', state='drain'), None)
    assert res.failed
    assert res.result['msg'].startswith('%s (option socket) is not a UNIX socket' % path)


def test_stale_socket(run_module, sockdir):
    path = os.path.join(sockdir, 'admin.sock')
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # bound, never listening: what a dead haproxy leaves behind
    try:
        res = run_module(hs.main, dict(socket=path, backend='nova_back', server='ctl1', state='drain'), None)
    finally:
        stale.close()
    assert res.failed
    assert res.result['msg'] == ('nothing answers on socket %s (option socket): haproxy is not running, or the socket '
                                 'is left over from an old process.' % path)


def test_permission_denied_on_the_socket(run_module, haproxy, monkeypatch):
    fake = haproxy(lab_servers())

    def refuse(self, address):
        raise PermissionError(13, 'Permission denied')

    monkeypatch.setattr(socket.socket, 'connect', refuse)
    res = run(run_module, fake, state='drain')
    assert res.failed
    assert res.result['msg'] == (
        'permission denied on socket %s (option socket): run the task as root (become: true) or as a member of the '
        'socket\'s group; the socket also needs "level admin" to change a server\'s state.' % fake.path)


def test_no_answer_in_time(run_module, sockdir, monkeypatch):
    path = os.path.join(sockdir, 'admin.sock')
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(path)
    mute.listen(1)  # accepts (in the kernel) but never answers
    monkeypatch.setattr(hs, '_IO_TIMEOUT', 0.2)
    try:
        res = run_module(hs.main, dict(socket=path, backend='nova_back', server='ctl1', state='drain'), None)
    finally:
        mute.close()
    assert res.failed
    assert res.result['msg'] == 'haproxy did not answer "show stat -1 4 -1" on socket %s within 0.2 seconds.' % path


# --- drain_others: the API tier is exclusive (old API nodes leave as the first new one comes back) -----------------

def api_servers(ctl1=None, ctl2=None, ctl3=None):
    """nova_api_back with ctl1 (just restarted on the new code, drained) and two old nodes, plus another backend."""
    return {('nova_api_back', 'ctl1'): ctl1 or server(status='DRAIN', admin=hs._FDRAIN),
            ('nova_api_back', 'ctl2'): ctl2 or server(),
            ('nova_api_back', 'ctl3'): ctl3 or server(),
            ('placement_back', 'ctl2'): server()}


def run_api(run_module, fake, **args):
    return run(run_module, fake, backend='nova_api_back', server='ctl1', state='ready', **args)


def test_drain_others_once_the_server_is_up_in_one_command(run_module, haproxy, clock):
    fake = haproxy(api_servers())
    res = run_api(run_module, fake, drain_others=['ctl2', 'ctl3'])
    assert not res.failed, res.result
    r = res.result
    assert r['changed'] is True
    command = ('set server nova_api_back/ctl1 state ready;set server nova_api_back/ctl2 state drain;'
               'set server nova_api_back/ctl3 state drain')
    assert r['command'] == command
    # this server first; the others in one line once it is UP (they leave the rotation at the same moment)
    assert fake.sets() == ['set server nova_api_back/ctl1 state ready',
                           'set server nova_api_back/ctl2 state drain;set server nova_api_back/ctl3 state drain']
    assert r['after']['admin_state'] == 'ready' and r['after']['status'] == 'UP'
    assert sorted(r['others']) == ['ctl2', 'ctl3']
    for name in ('ctl2', 'ctl3'):
        assert r['others'][name]['admin_state'] == 'drain'
        assert r['others'][name]['admin_flags'] == ['FDRAIN']
        assert fake.servers[('nova_api_back', name)]['admin'] == hs._FDRAIN
    assert fake.servers[('placement_back', 'ctl2')]['admin'] == 0  # another backend's server of the same name
    assert clock.sleeps == []


def test_drain_others_waits_until_the_server_is_up(run_module, haproxy, clock):
    # Seen on the lab: ctl1 was still DOWN 1/2 (its health check had not passed) when ctl2 was drained with it in one
    # line: the backend had no server for ~0.7 s and answered 503. The others leave only once ctl1 is UP.
    fake = haproxy(api_servers(ctl1=server(status='DRAIN', admin=hs._FDRAIN,
                                           script=[{}, {}, dict(status='DOWN 1/2'), {}, {}, dict(status='UP')])))
    seen = []
    answer = fake.answer

    def spy(command):
        if 'state drain' in command:
            seen.append(fake.servers[('nova_api_back', 'ctl1')]['status'])
        return answer(command)

    fake.answer = spy
    res = run_api(run_module, fake, drain_others=['ctl2'])
    assert not res.failed, res.result
    assert seen == ['UP'], seen
    assert clock.sleeps, 'it did not wait for ctl1 to come UP'
    assert res.result['others']['ctl2']['admin_state'] == 'drain'


def test_drain_others_diff_names_every_server(run_module, haproxy):
    fake = haproxy(api_servers())
    res = run_api(run_module, fake, drain_others=['ctl2', 'ctl3'], _ansible_diff=True)
    assert not res.failed, res.result
    assert res.result['diff'] == dict(
        before={'nova_api_back/ctl1': 'drain', 'nova_api_back/ctl2': 'ready', 'nova_api_back/ctl3': 'ready'},
        after={'nova_api_back/ctl1': 'ready', 'nova_api_back/ctl2': 'drain', 'nova_api_back/ctl3': 'drain'},
        before_header='nova_api_back', after_header='nova_api_back')


def test_drain_others_leaves_drained_and_maintained_servers_alone(run_module, haproxy):
    fake = haproxy(api_servers(ctl2=server(status='DRAIN', admin=hs._FDRAIN),
                               ctl3=server(status='MAINT', admin=hs._FMAINT)))
    res = run_api(run_module, fake, drain_others=['ctl2', 'ctl3'])
    assert not res.failed, res.result
    assert res.result['command'] == 'set server nova_api_back/ctl1 state ready'
    assert fake.servers[('nova_api_back', 'ctl3')]['admin'] == hs._FMAINT  # not turned into drain
    assert res.result['others']['ctl3']['admin_state'] == 'maint'
    assert res.result['others']['ctl2']['admin_state'] == 'drain'


def test_drain_others_when_the_server_is_ready_already(run_module, haproxy):
    fake = haproxy(api_servers(ctl1=server()))
    res = run_api(run_module, fake, drain_others=['ctl2'])
    assert not res.failed, res.result
    assert res.result['changed'] is True
    assert res.result['command'] == 'set server nova_api_back/ctl2 state drain'
    assert fake.servers[('nova_api_back', 'ctl3')]['admin'] == 0


def test_drain_others_nothing_to_do(run_module, haproxy):
    fake = haproxy(api_servers(ctl1=server(), ctl2=server(status='DRAIN', admin=hs._FDRAIN)))
    res = run_api(run_module, fake, drain_others=['ctl2'])
    assert not res.failed, res.result
    assert res.result['changed'] is False and res.result['command'] is None
    assert fake.sets() == []
    assert 'show cli level' not in fake.commands


def test_drain_others_without_servers_state_uses_the_status(run_module, haproxy):
    fake = haproxy(api_servers(ctl2=server(status='DRAIN')), servers_state=False)
    res = run_api(run_module, fake, drain_others=['ctl2', 'ctl3'])
    assert not res.failed, res.result
    assert res.result['command'] == 'set server nova_api_back/ctl1 state ready;set server nova_api_back/ctl3 state drain'


def test_drain_others_waits_for_their_sessions(run_module, haproxy, clock):
    # every "show stat" applies one step of each server's script. 8 reads before the wait (ctl1, ctl2, ctl3 before the
    # change, ctl1 after it, ctl2, ctl3 once ctl1 is UP and after their drain), then one per poll of ctl2; ctl3 has
    # no session
    fake = haproxy(api_servers(ctl2=server(scur=4, script=[{}] * 8 + [dict(scur=2), dict(scur=1), dict(scur=0)])))
    res = run_api(run_module, fake, drain_others=['ctl2', 'ctl3'])
    assert not res.failed, res.result
    r = res.result
    assert r['others']['ctl2']['scur'] == 0 and r['others']['ctl2']['admin_state'] == 'drain'
    assert r['after']['status'] == 'UP'
    assert clock.sleeps == [0.5, 0.5, 0.5]
    assert r['waited'] == 1.5  # the whole wait, the others' included


def test_drain_others_sessions_that_do_not_end_fail_naming_the_server(run_module, haproxy, clock):
    fake = haproxy(api_servers(ctl3=server(scur=3)))
    res = run_api(run_module, fake, drain_others=['ctl2', 'ctl3'], timeout=2)
    assert res.failed
    r = res.result
    assert r['msg'] == ('nova_api_back/ctl3 was drained but still has sessions after 2 seconds; last seen: status DRAIN, '
                        '3 current session(s), 0 queued, last check L7OK (Layer7 check passed).')
    assert r['changed'] is True
    assert r['others']['ctl3']['scur'] == 3
    assert fake.servers[('nova_api_back', 'ctl1')]['admin'] == 0  # the change is made; only the wait failed
    assert sum(clock.sleeps) == 2.0
    assert r['waited'] == 2.0  # what was waited, also when the others' wait fails


def test_drain_others_timeout_bounds_the_whole_wait(run_module, haproxy, clock):
    # ctl1 takes 1.5 s to come UP; ctl3 keeps its sessions: the others get what is left of timeout, not a new timeout
    fake = haproxy(api_servers(ctl1=server(status='DRAIN', admin=hs._FDRAIN,
                                           script=[{}, {}, dict(status='DOWN'), {}, {}, {}, dict(status='UP')]),
                               ctl3=server(scur=3)))
    res = run_api(run_module, fake, drain_others=['ctl3'], timeout=2)
    assert res.failed
    assert res.result['msg'].startswith('nova_api_back/ctl3 was drained but still has sessions after 2 seconds')
    assert res.result['after']['status'] == 'UP'
    assert sum(clock.sleeps) == 2.0
    assert res.result['waited'] == 2.0


def test_drain_others_without_wait_is_refused_before_any_change(run_module, haproxy, clock):
    fake = haproxy(api_servers(ctl2=server(scur=3)))
    res = run_api(run_module, fake, drain_others=['ctl2'], wait=False)
    assert res.failed
    assert res.result['msg'].startswith('drain_others needs wait=true: the others are drained only once this server is UP')
    assert fake.commands == []
    assert clock.sleeps == []


def test_drain_others_check_mode(run_module, haproxy, clock):
    fake = haproxy(api_servers())
    res = run_api(run_module, fake, drain_others=['ctl2'], _ansible_check_mode=True)
    assert not res.failed, res.result
    assert res.result['changed'] is True
    assert res.result['command'] == 'set server nova_api_back/ctl1 state ready;set server nova_api_back/ctl2 state drain'
    assert fake.sets() == []
    assert fake.servers[('nova_api_back', 'ctl2')]['admin'] == 0
    assert clock.sleeps == []


def test_drain_others_unknown_server_fails_before_any_change(run_module, haproxy):
    fake = haproxy(api_servers())
    res = run_api(run_module, fake, drain_others=['ctl2', 'ctl9'])
    assert res.failed
    assert res.result['msg'] == "server 'ctl9' not found in backend nova_api_back; its servers: ctl1, ctl2, ctl3"
    assert fake.sets() == []


@pytest.mark.parametrize('state', ['drain', 'maint'])
def test_drain_others_refused_unless_state_ready(run_module, haproxy, state):
    fake = haproxy(api_servers())
    res = run(run_module, fake, backend='nova_api_back', server='ctl1', state=state, drain_others=['ctl2'])
    assert res.failed
    assert res.result['msg'] == 'drain_others needs state=ready (it drains those servers as this one comes back).'
    assert fake.commands == []


@pytest.mark.parametrize('other', ['ctl1', 'ctl2;shutdown sessions server nova_api_back/ctl3', 'nova_api_back/ctl2', ''])
def test_drain_others_bad_names_are_refused_before_talking_to_haproxy(run_module, haproxy, other):
    fake = haproxy(api_servers())
    res = run_api(run_module, fake, drain_others=[other])
    assert res.failed
    assert res.result['msg'] == 'drain_others: %r is not another haproxy server name of backend nova_api_back.' % other
    assert fake.commands == []


def test_drain_others_refused_by_haproxy(run_module, haproxy):
    fake = haproxy(api_servers())
    answer = fake.answer
    fake.answer = lambda c: ('No such server.\n\n' if c.startswith('set ') else answer(c))
    res = run_api(run_module, fake, drain_others=['ctl2'])
    assert res.failed
    assert res.result['msg'].startswith('haproxy refused "set server nova_api_back/ctl1 state ready": No such server.')
    assert fake.servers[('nova_api_back', 'ctl2')]['admin'] == 0  # not drained: ctl1 never came back
